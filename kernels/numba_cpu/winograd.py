"""conv2d by Winograd's minimal filtering F(4x2, 3x3): 3x3 windows at stride 1 in 24 multiply-adds per 4x2 outputs
and channel pair, where the direct convolution takes 72; float32.

The idea (Lavin and Gray, 2016): a 6x4 patch d of the image and the 3x3 kernel g give the 4x2 outputs
Y = A_H^T [(G_H g G_W^T) * (B_H^T d B_W)] A_W, where * multiplies entry by entry: F(4, 3) down the columns and F(2, 3)
along the rows, each a 1-D algorithm given by its three matrices (_BT_H, _G_H, _AT_H; _BT_W, _G_W, _AT_W). Summed over
channels, each of the 24 entries p = (i, j) is a matrix product: M[p] (O, tiles) = U[p] (O, C) @ V[p] (C, tiles), with
U = G_H g G_W^T (the weight, transformed once a call) and V = B_H^T d B_W (each patch; the patches overlap by 2). The
transforms are additions and multiplications by constants, so the products carry the work: a third of a direct
convolution's multiply-adds (F(2x2, 3x3), 16 per 2x2 outputs, took 4/9).
The backward is the same idea read backwards, from dM = A_H dY A_W^T of each tile's 4x2 gradient dY: the weight's
gradient dU[p] (O, C) = sum over tiles of dM[p] @ V[p]^T, then dW = G_H^T dU G_W; the input's dV[p] = U[p]^T @ dM[p],
then each patch's B_H dV B_W^T added onto the image where it came from (the patches overlap).

Why here: conv2d's direct kernels already ran at the tiles' peak (conv.py: ~185 GMAC/s on 2 cores), so fewer
multiply-adds was the way left to go faster. Accuracy against float64 (relative to the largest output; weights at
1/sqrt(fan-in), 3 shapes): 4.5e-7 to 9.1e-7 forward and in both gradients, the direct kernel's 3.1e-7 to 6.5e-7;
F(2x2, 3x3) had 1.7e-7 to 3.9e-7. F(4, 3)'s points 0, 1, -1, 2, -1/2 (and infinity) halved the error of the usual
0, +-1, +-2; F(4x4, 3x3) had 15x the direct kernel's, and F(2x2, 3x3) took 1.1x this one's time (conv2d's shapes).
One difference a learner may meet: a NaN or an infinity in the input spreads to the outputs of every tile whose
patch holds it (and an infinity may come out as NaN), where a direct convolution marks only the outputs whose
windows hold it; Winograd's algorithms in cuDNN and NNPACK, which PyTorch calls on some machines, do the same.

The transforms are written in LLVM's vector IR (as tile.py's products), emitted from the matrices: 16 tiles side by
side in a vector, the even and odd columns of a row split apart by shuffles. Written as numba loops they stayed
scalar (a row of 14 tiles is shorter than a vector, and the two columns of a tile interleave), and took longer than
the products. M = U V and dV = U^T dM are tile.gemm's; dU += dM V^T is _nt_block's, as both its operands run along
the tiles.
Layouts: each sample zero-padded into (C, Hs, Ws), Hs = 4 * tile rows + 2, Ws = 2 * LANES * chunks + LANES, where a
chunk is a vector's LANES tiles of a row (16 with AVX-512, 8 with AVX2; a row of tiles is padded to whole chunks);
V (24, C, T) and M (24, O, T) with T the tiles of a band of tile rows, row after row, each of the 24 planes aligned
and an odd count of vectors from the next.

Measured on conv2d's shapes ((64, 16, 28, 28) * (32, 16, 3, 3), pad 1; one core, per sample): the forward 23 us
(F(2x2, 3x3): 25.6; the direct kernel: 37), the backward, both gradients, 42 (F(2x2, 3x3): 48).
On AVX2 (no AVX-512; the AMD EPYC, Zen 2, of 2026-12-07, 2 threads) it is the one kernel that beats im2col and
OpenBLAS: forward and backward 0.56x their time on conv2d's shapes, 0.57x for (64, 32, 32, 32) * (64, 32, 3, 3), 0.66x
for (32, 128, 16, 16) * (128, 128, 3, 3), 0.69x for (64, 16, 14, 14) * (32, 16, 3, 3) and 0.94x for lesson 08's second
layer, (64, 32, 13, 13) * (64, 32, 3, 3) unpadded; the in-place direct kernel took 1.2-1.9x BLAS's time there (5x5
and 1x1 windows, 256 x 256 channels), so on AVX2 Winograd alone reads windows in place. Chunks of 16 tiles there
(vectors of 16 split in two) left 8x8 and 16x16 outputs half empty: 1.7x as long as chunks of 8 on (64, 32, 13, 13)
and 1.6x on (32, 64, 16, 16).
"""

from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from kernels.numba_cpu.by_name import ByName, call_by_name, data_pointer
from kernels.numba_cpu.common import add_row_sums, numba, range_kernel
from kernels.numba_cpu.dot import tiles_run
from kernels.numba_cpu.tile import LANES as TILE_LANES
from kernels.numba_cpu.tile import gemm_gathered, splat

LANES = TILE_LANES  # tiles per vector: the CPU's vector of float32
# The two 1-D algorithms, as matrices (Lavin and Gray's B^T, G and A^T): F(4, 3) down the columns, on points 0, 1, -1,
# 2, -1/2 and infinity (its float32 error was half that of the usual 0, +-1, +-2), and F(2, 3) along the rows.
_BT_H = ((1, 1.5, -2, -1.5, 1, 0), (0, -1, -2.5, -0.5, 1, 0), (0, 1, 0.5, -2.5, 1, 0), (0, -0.5, -1, 0.5, 1, 0),
         (0, 2, -1, -2, 1, 0), (0, 1, 1.5, -2, -1.5, 1))  # fmt: skip
_G_H = ((1, 0, 0), (-1 / 3, -1 / 3, -1 / 3), (1 / 3, -1 / 3, 1 / 3), (1 / 15, 2 / 15, 4 / 15),
        (-16 / 15, 8 / 15, -4 / 15), (0, 0, 1))  # fmt: skip
_AT_H = ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -0.5, 0), (0, 1, 1, 4, 0.25, 0), (0, 1, -1, 8, -0.125, 1))
_BT_W = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
_G_W = ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1))
_AT_W = ((1, 1, 1, 0), (0, 1, -1, -1))


def _transposed(matrix):
    return tuple(zip(*matrix))


TILE_H, TILE_W = len(_AT_H), len(_AT_W)  # a tile's outputs: 4 rows of 2
PATCH_H, PATCH_W = len(_BT_H), len(_BT_W)  # its patch of the image: 6 rows of 4
PLANES = PATCH_H * PATCH_W  # V, M, U: one matrix each per entry p = PATCH_W * i + j of a patch
# The entry whose dM is the sum of its tile's output gradient (the rows of A that are all ones): the bias's gradient.
_BIAS_PLANE = PATCH_W * _transposed(_AT_H).index((1,) * TILE_H) + _transposed(_AT_W).index((1,) * TILE_W)
# The most (output, input) channel pairs Winograd takes: U, 24 numbers a pair, is read again for every band of tile
# rows, from L2 while it fits. Beyond, the direct kernel was faster: forward and backward, with F(2x2, 3x3)'s 16 numbers
# a pair, (8, 256, 28, 28) * (256, 256, 3, 3) took 1.21x its time and (4, 512, 16, 16) * (512, 512) 2.57x. At 128 x 128
# (1.5 MB of U) Winograd still took 0.64x its time for (32, 128, 16, 16) and 0.61-0.74x for (8, 128, 28, 28)
# (2 threads, 2026-12-05).
MAX_CHANNEL_PAIRS = 128 * 128
# V and M of a band of tile rows fit in this many bytes: the products read them from the core's L2. (Half of it took
# 1.1x as long forward and 1.18x backward, measured with F(2x2, 3x3)'s tiles: bands of 8 and 6 of 14 tile rows.)
BAND_BYTES = 768 * 1024


class _Vectors:
    """The vector instructions the transforms use, in one function's IR."""

    def __init__(self, builder, lanes: int = LANES, small: int = 4):
        self.builder, number, self.lanes = builder, ir.FloatType(), lanes
        self.vector, self.index = ir.VectorType(number, lanes), ir.IntType(64)
        self.pointer, self.alignment = self.vector.as_pointer(), ir.IntType(32)(4)
        self.zero = ir.Constant(self.vector, [0.0] * lanes)
        self._lanes, kind = ir.Constant(ir.VectorType(self.index, lanes), list(range(lanes))), f"v{lanes}f32"
        mask = ir.VectorType(ir.IntType(1), lanes)
        module = builder.module

        def function(name, returns, arguments):
            return cgutils.get_or_insert_function(module, ir.FunctionType(returns, arguments), name)

        pointer, alignment = self.pointer, self.alignment.type
        self._load = function(f"llvm.masked.load.{kind}.p0{kind}", self.vector, [pointer, alignment, mask, self.vector])
        self._store = function(f"llvm.masked.store.{kind}.p0{kind}", ir.VoidType(), [self.vector, pointer, alignment,
                                                                                    mask])  # fmt: skip
        self._fma = function(f"llvm.fma.{kind}", self.vector, [self.vector] * 3)
        self._small, small_mask = ir.VectorType(number, small), ir.VectorType(ir.IntType(1), small)
        small_pointer, small_kind = self._small.as_pointer(), f"v{small}f32"
        self._load_small = function(f"llvm.masked.load.{small_kind}.p0{small_kind}", self._small,
                                    [small_pointer, alignment, small_mask, self._small])  # fmt: skip
        self._store_small = function(f"llvm.masked.store.{small_kind}.p0{small_kind}", ir.VoidType(),
                                     [self._small, small_pointer, alignment, small_mask])  # fmt: skip

    def mask(self, count, first: int = 0):
        """Lanes first .. first + lanes - 1 below count."""
        lanes = ir.Constant(self._lanes.type, [first + q for q in range(self.lanes)])
        return self.builder.icmp_signed("<", lanes, splat(self.builder, count, self.lanes))

    def small_mask(self, count):
        """The first count lanes of a small vector."""
        small = self._small.count
        lanes = ir.Constant(ir.VectorType(self.index, small), list(range(small)))
        return self.builder.icmp_signed("<", lanes, splat(self.builder, count, small))

    def both(self, mask, flag):
        """mask's lanes where flag (a bool) holds, else none."""
        return self.builder.select(flag, mask, ir.Constant(mask.type, [0] * mask.type.count))

    def address(self, data, offset):
        return self.builder.bitcast(self.builder.gep(data, [offset]), self.pointer)

    def load(self, data, offset, mask=None):
        """A vector's numbers from data + offset; lanes outside mask read as 0 (and are not read)."""
        if mask is None:
            return self.builder.load(self.address(data, offset), align=4)
        return self.builder.call(self._load, [self.address(data, offset), self.alignment, mask, self.zero])

    def store(self, value, data, offset, mask=None):
        """value into a vector's numbers from data + offset, the lanes in mask alone where one is given."""
        if mask is None:
            self.builder.store(value, self.address(data, offset), align=4)
        else:
            self.builder.call(self._store, [value, self.address(data, offset), self.alignment, mask])

    def store_below(self, value, data, offset, count, first: int = 0):
        """value's lanes first .. first + lanes - 1 that are below count into a vector's numbers from data + offset:
        a plain store where all are, a masked one otherwise (a masked store is microcode on AMD's Zen 2: conv2d's
        forward took 1.27x as long with masked stores alone, (64, 16, 28, 28) * (32, 16, 3, 3))."""
        whole = self.builder.icmp_signed(">=", count, self.index(first + self.lanes))
        with self.builder.if_else(whole) as (plain, masked):
            with plain:
                self.store(value, data, offset)
            with masked:
                self.store(value, data, offset, self.mask(count, first))

    def fma(self, a, b, c):
        """a * b + c, fused, lane by lane."""
        return self.builder.call(self._fma, [a, b, c])

    def load_small(self, data, offset, mask):
        """A small vector's numbers from data + offset, lanes outside mask 0 (and not read)."""
        pointer = self.builder.bitcast(self.builder.gep(data, [offset]), self._small.as_pointer())
        zeros = ir.Constant(self._small, [0.0] * self._small.count)
        return self.builder.call(self._load_small, [pointer, self.alignment, mask, zeros])

    def store_small(self, value, data, offset, mask):
        """value's lanes in mask into a small vector's numbers from data + offset."""
        pointer = self.builder.bitcast(self.builder.gep(data, [offset]), self._small.as_pointer())
        self.builder.call(self._store_small, [value, pointer, self.alignment, mask])

    def split(self, low, high):
        """The even and the odd numbers of two vectors' numbers."""
        b, lanes = self.builder, self.lanes
        picks = ir.VectorType(ir.IntType(32), lanes)
        even = b.shuffle_vector(low, high, ir.Constant(picks, list(range(0, 2 * lanes, 2))))
        return even, b.shuffle_vector(low, high, ir.Constant(picks, list(range(1, 2 * lanes, 2))))

    def join(self, even, odd):
        """split's inverse: the two vectors of even[0], odd[0], even[1], odd[1], ..."""
        b, lanes = self.builder, self.lanes
        picks, half = ir.VectorType(ir.IntType(32), lanes), lanes // 2
        low = [q // 2 + (q % 2) * lanes for q in range(lanes)]
        high = [half + q // 2 + (q % 2) * lanes for q in range(lanes)]
        return b.shuffle_vector(even, odd, ir.Constant(picks, low)), b.shuffle_vector(
            even, odd, ir.Constant(picks, high)
        )

    def combine(self, coefficients, values):
        """The sum of coefficient * value, in order: zeros left out, ones and minus ones added and subtracted."""
        total = None
        for coefficient, value in zip(coefficients, values, strict=True):
            if total is None and coefficient in (1, -1):
                total = value if coefficient == 1 else self.neg(value)
            elif coefficient in (1, -1):
                total = self.add(total, value) if coefficient == 1 else self.sub(total, value)
            elif coefficient != 0:
                times = ir.Constant(self.vector, [float(coefficient)] * self.lanes)
                total = self.builder.fmul(times, value) if total is None else self.fma(times, value, total)
        return total

    def add(self, *values):
        total = values[0]
        for value in values[1:]:
            total = self.builder.fadd(total, value)
        return total

    def sub(self, a, b):
        return self.builder.fsub(a, b)

    def neg(self, a):
        return self.builder.fneg(a)


_FLOATS = types.CPointer(types.float32)


def describe() -> str:
    """What `tinynet info` shows: which convolutions take Winograd's tiles here."""
    if not tiles_run(np.dtype(np.float32)):
        return "not used here (its transforms and products are vector code for CPUs with AVX2 or AVX-512)"
    return (
        "conv2d with 3x3 kernels at stride 1 and dilation 1, float32, with windows of conv.IN_PLACE_FROM values and "
        f"outputs of conv.IN_PLACE_PIXELS pixels a sample or more, and output x input channels at most "
        f"{MAX_CHANNEL_PAIRS}: F(4x2, 3x3), 24 multiply-adds per 4x2 outputs where the direct kernel takes 72 "
        f"(vectors of {LANES} tiles)"
    )


@intrinsic
def _input_tiles(typingctx, image, start, row, v, at, step):
    """V[p][at + q] = (B_H^T d_q B_W)[p] for the LANES tiles q whose 6x4 patches d_q start at image + start + 2q, rows
    ``row`` numbers apart; V[p] starts at v + p * step (float32 pointers; offsets in numbers). The patches' 6 rows of
    2 * LANES + 2 columns are read, the padded image holds them; tiles past the output's edge are computed too."""
    index = types.intp
    sig = types.void(_FLOATS, index, index, _FLOATS, index, index)

    def codegen(context, builder, signature, args):
        image, start, row, v, at, step = args
        x = _Vectors(builder)
        rows = []
        for r in range(PATCH_H):
            first = builder.add(start, builder.mul(row, x.index(r)))
            d0, d1 = x.split(x.load(image, first), x.load(image, builder.add(first, x.index(LANES))))
            shifted = builder.add(first, x.index(2))
            d2, d3 = x.split(x.load(image, shifted), x.load(image, builder.add(shifted, x.index(LANES))))
            rows.append([x.combine(b, (d0, d1, d2, d3)) for b in _BT_W])  # d B_W, along the row
        for j in range(PATCH_W):  # B_H^T (d B_W), down the column
            column = [rows[r][j] for r in range(PATCH_H)]
            for i, b in enumerate(_BT_H):
                x.store(x.combine(b, column), v, builder.add(at, builder.mul(step, x.index(PATCH_W * i + j))))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _output_tiles(typingctx, m, at, step, out, start, row, columns, rows, bias):
    """out[start + r * row + 2q + s] = (A_H^T M_q A_W)[r, s] + bias for the LANES tiles q, M_q[p] at
    m + p * step + at + q; the first ``columns`` numbers of each of the first ``rows`` (1 to 4) output rows written
    (the tiles past the output's edge are dropped, and the rows past its last)."""
    index = types.intp
    sig = types.void(_FLOATS, index, index, _FLOATS, index, index, index, index, types.float32)

    def codegen(context, builder, signature, args):
        m, at, step, out, start, row, columns, rows, bias = args
        x = _Vectors(builder)
        values = [x.load(m, builder.add(at, builder.mul(step, x.index(p)))) for p in range(PLANES)]
        across = []  # A_H^T M, down the columns: TILE_H rows of PATCH_W
        for j in range(PATCH_W):
            column = [values[PATCH_W * i + j] for i in range(PATCH_H)]
            across.append([x.combine(a, column) for a in _AT_H])
        shift = splat(builder, bias, LANES)
        for r in range(TILE_H):
            even, odd = (x.add(x.combine(a, [across[j][r] for j in range(PATCH_W)]), shift) for a in _AT_W)
            low, high = x.join(even, odd)  # (A_H^T M) A_W, along the row
            here = builder.select(builder.icmp_signed(">", rows, x.index(r)), columns, x.index(0))
            first = builder.add(start, builder.mul(row, x.index(r)))
            x.store_below(low, out, first, here)
            x.store_below(high, out, builder.add(first, x.index(LANES)), here, LANES)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _gradient_tiles(typingctx, grad, start, row, columns, rows, m, at, step):
    """M[p][at + q] = (A_H dY_q A_W^T)[p] for the LANES tiles q, dY_q the 4x2 gradient at grad + start + 2q (rows
    ``row`` apart; its first ``columns`` numbers of the first ``rows`` rows, zeros past them, so that tiles past the
    edge are zeros); M[p] starts at m + p * step: the output gradient in the transformed space, for the weight
    gradient."""
    index = types.intp
    sig = types.void(_FLOATS, index, index, index, index, _FLOATS, index, index)

    def codegen(context, builder, signature, args):
        grad, start, row, columns, rows, m, at, step = args
        x = _Vectors(builder)
        along = []
        for r in range(TILE_H):
            here = builder.select(builder.icmp_signed(">", rows, x.index(r)), columns, x.index(0))
            first = builder.add(start, builder.mul(row, x.index(r)))
            low = x.load(grad, first, x.mask(here))
            g0, g1 = x.split(low, x.load(grad, builder.add(first, x.index(LANES)), x.mask(here, LANES)))
            along.append([x.combine(a, (g0, g1)) for a in _transposed(_AT_W)])  # dY A_W^T, along the row
        for j in range(PATCH_W):  # A_H (dY A_W^T), down the column
            column = [along[r][j] for r in range(TILE_H)]
            for i, a in enumerate(_transposed(_AT_H)):
                x.store(x.combine(a, column), m, builder.add(at, builder.mul(step, x.index(PATCH_W * i + j))))
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _input_tiles_adjoint(typingctx, v, at, step, image, start, row, top, last):
    """image[start + a * row + 2q + b] += (B_H dV_q B_W^T)[a, b] for the LANES tiles q, dV_q[p] at v + p * step + at
    + q: _input_tiles's adjoint, which takes a gradient of V back to the image's. Neighbouring patches overlap by two
    columns and two rows: within a vector the columns are added in registers, the two columns past the vector onto
    the next chunk's (written before this one: chunks go right to left), and the first two rows onto what the tile
    row above left there. Rows and columns that nothing wrote before are stored, not added to, so the image needs
    no zeros first: the patch's last four rows, its first two where ``top`` (the first tile row), and the two columns
    past the vector where ``last`` (the last chunk of a row) as well."""
    index = types.intp
    sig = types.void(_FLOATS, index, index, _FLOATS, index, index, types.boolean, types.boolean)

    def codegen(context, builder, signature, args):
        v, at, step, image, start, row, top, last = args
        x, picks = _Vectors(builder), ir.VectorType(ir.IntType(32), LANES)
        values = [x.load(v, builder.add(at, builder.mul(step, x.index(p)))) for p in range(PLANES)]

        def put(value, here, adding):  # image[here:] = value, or += value where adding
            before = x.load(image, here)
            x.store(builder.select(adding, x.add(before, value), value), image, here)

        down = []  # B_H dV, down the columns
        for j in range(PATCH_W):
            column = [values[PATCH_W * i + j] for i in range(PATCH_H)]
            down.append([x.combine(b, column) for b in _transposed(_BT_H)])
        false = ir.Constant(ir.IntType(1), 0)
        for a in range(PATCH_H):
            d0, d1, d2, d3 = (x.combine(b, [down[j][a] for j in range(PATCH_W)]) for b in _transposed(_BT_W))
            low, high = x.join(d0, d1)  # (B_H dV) B_W^T along row a: tile q's columns 0 and 1 at 2q, 2q + 1
            later_low, later_high = x.join(d2, d3)  # its columns 2 and 3, two columns on
            # (later_low, later_high) two lanes on: what falls past the second vector goes to the two columns after it.
            on = ir.Constant(picks, [LANES - 2, LANES - 1, *range(LANES, 2 * LANES - 2)])
            low = x.add(low, builder.shuffle_vector(x.zero, later_low, on))
            high = x.add(high, builder.shuffle_vector(later_low, later_high, on))
            first = builder.add(start, builder.mul(row, x.index(a)))
            adding = builder.not_(top) if a < PATCH_H - TILE_H else false  # rows the tile row above wrote
            put(low, first, adding)
            put(high, builder.add(first, x.index(LANES)), adding)
            past, adding_past = builder.add(first, x.index(2 * LANES)), builder.or_(adding, builder.not_(last))
            for q in range(2):  # one number at a time: a masked store of two lanes is microcode on Zen 2
                value = builder.extract_element(later_high, ir.IntType(32)(LANES - 2 + q))
                pointer = builder.gep(image, [builder.add(past, x.index(q))])
                before = builder.load(pointer)
                builder.store(builder.select(adding_past, builder.fadd(before, value), value), pointer)
        return context.get_dummy_value()

    return sig, codegen


# The weight gradient's products, dU += dM V^T, run in vectors of the CPU's width (tile.LANES): a block of NT_ROWS x
# NT_COLUMNS sums is NT_ROWS * NT_COLUMNS vectors, half the vector registers (AVX-512: 4 x 4 sums of 16 lanes; AVX2:
# 4 x 2 of 8). 4 x 4 blocks of 8 lanes on the AMD EPYC (Zen 2) of 2026-12-07 spilled their sums to the stack.
NT_LANES = TILE_LANES
NT_ROWS, NT_COLUMNS = 4, TILE_LANES // 4


@intrinsic
def _nt_block(typingctx, a, b, c, row, c_row, i, j, m, n, depth):
    """c[i + r, j + s] += sum over k < depth of a[i + r, k] b[j + s, k] for r < NT_ROWS, s < NT_COLUMNS (rows past m
    or n left alone): a block of a @ b^T, a and b with rows ``row`` numbers apart, depth a multiple of NT_LANES. Each
    sum runs as a vector, then they fold into one vector in rounds of shuffles and adds (dot.dot_nt's vectors each
    fold on their own, which cost Winograd's weight gradient a quarter of its products' time). Blocks inside c are
    added with plain loads and stores, those at its edge with masked ones (microcode on Zen 2)."""
    index = types.intp
    sig = types.void(_FLOATS, _FLOATS, _FLOATS, index, index, index, index, index, index, index)

    def codegen(context, builder, signature, args):
        a, b, c, row, c_row, i, j, m, n, depth = args
        x = _Vectors(builder, NT_LANES, NT_COLUMNS)
        picks, last = ir.VectorType(ir.IntType(32), NT_LANES), x.index(1)

        def start(first, r, count):  # the row's first number; rows past the edge read the last row again
            here = builder.add(first, x.index(r))
            return builder.mul(
                builder.select(builder.icmp_signed("<", here, count), here, builder.sub(count, last)), row
            )

        a_rows, b_rows = [start(i, r, m) for r in range(NT_ROWS)], [start(j, s, n) for s in range(NT_COLUMNS)]
        entry = builder.block
        loop, done = builder.append_basic_block("nt_loop"), builder.append_basic_block("nt_done")
        builder.branch(loop)
        builder.position_at_end(loop)
        k = builder.phi(x.index)
        sums = [builder.phi(x.vector) for _ in range(NT_LANES)]
        a_k = [x.load(a, builder.add(first, k)) for first in a_rows]
        b_k = [x.load(b, builder.add(first, k)) for first in b_rows]
        updated = [x.fma(a_k[r], b_k[s], sums[NT_COLUMNS * r + s]) for r in range(NT_ROWS) for s in range(NT_COLUMNS)]
        k_next = builder.add(k, x.index(NT_LANES))
        k.add_incoming(x.index(0), entry)
        k.add_incoming(k_next, loop)
        for phi, value in zip(sums, updated):
            phi.add_incoming(x.zero, entry)
            phi.add_incoming(value, loop)
        builder.cbranch(builder.icmp_signed("<", k_next, depth), loop, done)
        builder.position_at_end(done)
        folded, group = updated, NT_LANES // 2
        while group:  # pairs of vectors, each lane of the result the sum of two of a vector's
            low = [block * 2 * group + e for block in range(NT_LANES // group) for e in range(group)]
            high = [q + group for q in low]
            folded = [builder.fadd(builder.shuffle_vector(u, w, ir.Constant(picks, low)),
                                   builder.shuffle_vector(u, w, ir.Constant(picks, high)))
                      for u, w in zip(folded[::2], folded[1::2])]  # fmt: skip
            group //= 2
        total = folded[0]  # lane NT_COLUMNS * r + s: the sum of row r with row s
        small = ir.VectorType(ir.IntType(32), NT_COLUMNS)
        picks_r = [ir.Constant(small, [NT_COLUMNS * r + s for s in range(NT_COLUMNS)]) for r in range(NT_ROWS)]
        rows = [builder.shuffle_vector(total, total, picks_r[r]) for r in range(NT_ROWS)]
        at = [builder.add(builder.mul(builder.add(i, x.index(r)), c_row), j) for r in range(NT_ROWS)]
        inside = builder.and_(
            builder.icmp_signed("<=", builder.add(i, x.index(NT_ROWS)), m),
            builder.icmp_signed("<=", builder.add(j, x.index(NT_COLUMNS)), n),
        )
        with builder.if_else(inside) as (whole, edge):
            with whole:
                for r in range(NT_ROWS):
                    pointer = builder.bitcast(builder.gep(c, [at[r]]), x._small.as_pointer())
                    builder.store(builder.fadd(builder.load(pointer, align=4), rows[r]), pointer, align=4)
            with edge:
                columns = x.small_mask(builder.sub(n, j))
                for r in range(NT_ROWS):
                    mask = x.both(columns, builder.icmp_signed("<", builder.add(i, x.index(r)), m))
                    x.store_small(builder.fadd(x.load_small(c, at[r], mask), rows[r]), c, at[r], mask)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _to_alignment(typingctx, pointer):
    """How many float32 numbers from ``pointer`` to the next 64-byte boundary (0 to 15)."""
    if not isinstance(pointer, types.CPointer):
        return None

    def codegen(context, builder, signature, args):
        address = builder.ptrtoint(args[0], ir.IntType(64))
        return builder.lshr(builder.and_(builder.sub(ir.Constant(address.type, 0), address), address.type(63)),
                            address.type(2))  # fmt: skip

    return types.intp(pointer), codegen


@numba.njit(cache=True, inline="always")
def _pad_into(x, n, ph, pw, image, hs, ws, into_image=True):
    """image[c, ph + y, pw + col] = x[n, c, y, col]: the sample into the padded image (C, hs, ws), whose border
    stays zero; or, not into_image, x[n] = the image's interior (the border dropped). Flat and unsigned offsets:
    indexing x by four signed indices did not vectorize (4 us a sample of (16, 28, 28), 0.6 flat)."""
    channels, h, w = x.shape[1], x.shape[2], x.shape[3]
    flat = x.reshape(-1)
    for c in range(channels):
        for y in range(h):
            inside, start = (c * hs + ph + y) * ws + pw, ((n * channels + c) * h + y) * w
            if into_image:
                for col in range(w):
                    image[numba.uint64(inside + col)] = flat[numba.uint64(start + col)]
            else:
                for col in range(w):
                    flat[numba.uint64(start + col)] = image[numba.uint64(inside + col)]


@numba.njit(cache=True, inline="always")
def _add_products_nt(a, b, c):
    """c += a @ b^T in blocks of _nt_block: a (M, K), b (N, K), c (M, N), C-contiguous, K a multiple of NT_LANES."""
    m, n, depth = c.shape[0], c.shape[1], a.shape[1]
    a_at, b_at, c_at = data_pointer(a), data_pointer(b), data_pointer(c)
    for i in range(0, m, NT_ROWS):
        for j in range(0, n, NT_COLUMNS):
            _nt_block(a_at, b_at, c_at, depth, n, i, j, m, n, depth)


@numba.njit(cache=True, inline="always")
def _planes(size, count):
    """A flat float32 buffer for ``count`` planes of ``size`` numbers, 64-byte aligned, and the step from one plane to
    the next: ``size`` rounded up to whole vectors (a cache line with AVX-512, half of one with AVX2), and an odd
    count of them. The transforms touch every plane at once: at a step of whole pages they fell into one set of the
    L1 cache (a 28 x 32 image's gradient transform took 4.5x as long)."""
    lines = (size + LANES - 1) // LANES
    step = (lines + 1 - lines % 2) * LANES
    buffer = np.empty(count * step + LANES, np.float32)
    return buffer[_to_alignment(data_pointer(buffer)) :], step


class _Layout(NamedTuple):
    """Where one convolution of a sample keeps its numbers (_layout): the padded image (C, hs, ws), V's planes
    (16 x C tiles) and M's (16 x O tiles) with their steps, and the tiles: tile rows, chunks of LANES tiles per
    row, bands of tile rows."""

    image: np.ndarray
    hs: int
    ws: int
    v: np.ndarray
    v_step: int
    m: np.ndarray
    m_step: int
    tiles_h: int
    chunks: int
    band: int


@numba.njit(cache=True, inline="always")
def _layout(channels, o, oh, ow):
    """The scratch arrays of a convolution of ``channels`` -> ``o`` channels with (oh, ow) outputs, its padded image
    zeros (only its interior is written, sample after sample)."""
    tiles_h, chunks = (oh + TILE_H - 1) // TILE_H, (ow + 2 * LANES - 1) // (2 * LANES)
    row_tiles = LANES * chunks  # a row of tiles padded to whole vectors: every vector of V and M starts aligned
    hs, ws = TILE_H * tiles_h + 2, 2 * row_tiles + LANES  # (the padded image's rows start aligned too)
    band = max(1, min(tiles_h, BAND_BYTES // (PLANES * (channels + o) * row_tiles * 4)))
    (v, v_step), (m, m_step) = _planes(channels * band * row_tiles, PLANES), _planes(o * band * row_tiles, PLANES)
    return _Layout(np.zeros(channels * hs * ws, np.float32), hs, ws, v, v_step, m, m_step, tiles_h, chunks, band)


@numba.njit(cache=True, inline="always")
def _transform_input(layout, channels, ty0, ty1):
    """V of the band of tile rows ty0 .. ty1 - 1, from the padded image; returns its tiles, T."""
    chunks, ws, row_tiles = layout.chunks, layout.ws, LANES * layout.chunks
    tb, image_at, v_at = (ty1 - ty0) * row_tiles, data_pointer(layout.image), data_pointer(layout.v)
    for c in range(channels):
        for ty in range(ty0, ty1):
            for k in range(chunks):
                first, at = (
                    (c * layout.hs + TILE_H * ty) * ws + 2 * LANES * k,
                    c * tb + (ty - ty0) * row_tiles + LANES * k,
                )
                _input_tiles(image_at, first, ws, v_at, at, layout.v_step)
    return tb


@numba.njit(cache=True, inline="always")
def _transform_input_adjoint(layout, image, channels, ty0, ty1):
    """image (C, hs, ws) += the patches of dV (held in V's planes) for the band of tile rows ty0 .. ty1 - 1; the
    first band writes the image afresh (no zeros needed: _input_tiles_adjoint)."""
    chunks, ws, row_tiles = layout.chunks, layout.ws, LANES * layout.chunks
    tb, image_at, v_at = (ty1 - ty0) * row_tiles, data_pointer(image), data_pointer(layout.v)
    for c in range(channels):
        for ty in range(ty0, ty1):
            for k in range(chunks - 1, -1, -1):  # right to left: each chunk adds its last columns onto the next's
                first, at = (
                    (c * layout.hs + TILE_H * ty) * ws + 2 * LANES * k,
                    c * tb + (ty - ty0) * row_tiles + LANES * k,
                )
                _input_tiles_adjoint(v_at, at, layout.v_step, image_at, first, ws, ty == 0, k == chunks - 1)


@numba.njit(cache=True, inline="always")
def _each_output_vector(layout, o, oh, ow, n, ty0, ty1, values, to_m, bias):
    """For each output channel and chunk of a tile row in the band: ``values`` (out) [n] from M with the bias (bias
    empty for none), or with to_m M from ``values`` (grad) [n]."""
    chunks, row_tiles, m_at = layout.chunks, LANES * layout.chunks, data_pointer(layout.m)
    tb, values_at = (ty1 - ty0) * row_tiles, data_pointer(values)
    for q in range(o):
        shift = bias[q] if bias.size else np.float32(0)
        for ty in range(ty0, ty1):
            row, rows = (n * o + q) * oh + TILE_H * ty, min(TILE_H, oh - TILE_H * ty)  # its first output row, its rows
            for k in range(chunks):
                at, first, columns = (
                    q * tb + (ty - ty0) * row_tiles + LANES * k,
                    row * ow + 2 * LANES * k,
                    ow - 2 * LANES * k,
                )
                if to_m:
                    _gradient_tiles(values_at, first, ow, min(2 * LANES, columns), rows, m_at, at, layout.m_step)
                else:
                    _output_tiles(m_at, at, layout.m_step, values_at, first, ow, min(2 * LANES, columns), rows, shift)


@numba.njit(cache=True, inline="always")
def _winograd_samples(x, u, grad, padding, out, partial, bias, bias_partial, start, stop):
    """_winograd_batch for samples start .. stop - 1, on this thread: partial is this thread's (PLANES, O, C), or
    (0, 0, 0); bias_partial its (O,) or (0,). Each transform is written once, for both passes: compiling the body
    took 3.1 s with them twice."""
    forward, channels = partial.size == 0, x.shape[1]
    values = out if forward else grad  # what M turns into, or what it comes from
    o, oh, ow = values.shape[1], values.shape[2], values.shape[3]
    layout = _layout(channels, o, oh, ow)
    v, m, v_step, m_step = layout.v, layout.m, layout.v_step, layout.m_step
    u_rows, c_rows = np.arange(o) * channels, np.arange(channels)  # where U[p]'s rows start, and its columns'
    v_rows, m_rows = np.empty(channels, np.int64), np.empty(o, np.int64)  # where V[p]'s and M[p]'s rows start
    back = not forward and out.size > 0  # the input's gradient too, from dM
    image_grad = np.empty(channels * layout.hs * layout.ws if back else 0, np.float32)  # (written afresh a sample)
    for n in range(start, stop):
        _pad_into(x, n, padding[0], padding[1], layout.image, layout.hs, layout.ws)
        for ty0 in range(0, layout.tiles_h, layout.band):
            ty1 = min(layout.tiles_h, ty0 + layout.band)
            tb = _transform_input(layout, channels, ty0, ty1)  # V[p]: (C, tb); M[p]: (O, tb)
            for c in range(channels):  # (loops: an arange and a product made two arrays a band)
                v_rows[c] = c * tb
            for q in range(o):
                m_rows[q] = q * tb
            for p in range(PLANES if forward else 0):  # M = U V
                product = m[p * m_step : p * m_step + o * tb].reshape((o, tb))
                gemm_gathered(u[p], u_rows, 1, v[p * v_step :], v_rows, product)
            _each_output_vector(layout, o, oh, ow, n, ty0, ty1, values, not forward, bias if forward else bias[:0])
            for p in range(0 if forward else PLANES):  # dU += dM V^T
                gradient = m[p * m_step : p * m_step + o * tb].reshape((o, tb))
                _add_products_nt(
                    gradient, v[p * v_step : p * v_step + channels * tb].reshape((channels, tb)), partial[p]
                )
            # One entry of a tile's dM is the sum of its output gradient: the bias's gradient.
            add_row_sums(m[_BIAS_PLANE * m_step : _BIAS_PLANE * m_step + o * tb].reshape((o, tb)), bias_partial)
            for p in range(PLANES if back else 0):  # dV = U^T dM, over V (read for the last time above)
                adjoint = v[p * v_step : p * v_step + channels * tb].reshape((channels, tb))
                gemm_gathered(u[p], c_rows, channels, m[p * m_step :], m_rows, adjoint)
            if back:
                _transform_input_adjoint(layout, image_grad, channels, ty0, ty1)
        if back:
            _pad_into(out, n, padding[0], padding[1], image_grad, layout.hs, layout.ws, False)


def _by_pointers(x, u, grad, out, partial, bias, bias_partial, sizes, start, stop):
    """_winograd_samples on arrays rebuilt from their first numbers and the table of winograd_samples."""
    s = numba.carray(sizes, 22)
    _winograd_samples(
        numba.carray(x, (s[0], s[1], s[2], s[3])), numba.carray(u, (s[4], s[5], s[6])),
        numba.carray(grad, (s[7], s[8], s[9], s[10])), (s[20], s[21]), numba.carray(out, (s[11], s[12], s[13], s[14])),
        numba.carray(partial, (s[15], s[16], s[17])), numba.carray(bias, s[18]), numba.carray(bias_partial, s[19]),
        start, stop,
    )  # fmt: skip


_INDEX = types.intp
WINOGRAD = ByName(
    "tinynet_conv_winograd_float32",
    types.void(*[_FLOATS] * 7, types.CPointer(types.int64), _INDEX, _INDEX),
    _by_pointers,
    error_model="numpy",
)


def winograd_samples(x, u, grad, padding, out, partial, bias, bias_partial, start, stop):
    """_winograd_samples, which the kernel calls through its C function (WINOGRAD). As plain Python, itself (never
    reached: the intrinsics are compiled code; conv.py takes this path only where dot.tiles_run)."""
    _winograd_samples(x, u, grad, padding, out, partial, bias, bias_partial, start, stop)


call_by_name(winograd_samples, WINOGRAD)


@range_kernel()
def winograd_batch(start, stop, x, u, grad, padding, out, partial, bias, bias_partial):
    """conv2d at stride 1 with 3x3 kernels (dilation 1) by F(4x2, 3x3), samples in parallel, forward or backward:
    forward:  out[n] = A_H^T [U * V(x[n])] A_W + bias, with u = U: (PLANES, O, C) (weight_tiles);
    backward: partial[t][p] (O, C) += dM(grad[n])[p] @ V(x[n])[p]^T over thread t's samples (the weight's gradient
              in tiles: weight_from_tiles), bias_partial[t] (O,) += the sums of grad[n] where it is not empty, and
              where out is not empty, out[n] = the input's gradient, from dV = U^T dM.

    x: (N, C, H, W); padding: (ph, pw); u: (PLANES, O, C), or (0, 0, 0) for the weight gradient alone; grad:
    (N, O, OH, OW), or (0, 1, 1, 1) for the forward; out: (N, O, OH, OW) forward, (N, C, H, W) backward, or
    (0, 1, 1, 1); partial: (threads, PLANES, O, C), zeros, or (threads, 0, 0, 0) for the forward; bias: (O,) or (0,);
    bias_partial: (threads, O), zeros, or (threads, 0). Each thread takes a contiguous share of the samples.
    (The backward's two gradients share dM: the input's, taken as a forward pass of the flipped weight over the
    padded gradient, took 1.06x as long, conv2d's backward.)"""
    batch, threads = x.shape[0], partial.shape[0]
    for t in range(start, stop):
        first, last = t * batch // threads, (t + 1) * batch // threads
        winograd_samples(x, u, grad, padding, out, partial[t], bias, bias_partial[t], first, last)


_G_H_ARRAY, _G_W_ARRAY = np.array(_G_H), np.array(_G_W)
# Channel pairs transformed at a time: their taps and partial sums stay in L1, each row of them a run of numbers the
# loops take in vectors. (Pair by pair, U's 24 stores of a pair, one plane apart, fell into one cache set: the
# weight of 128 x 128 channels took 1.65 ms, single-threaded, where this takes 0.17.) Written as plain loops over
# the pairs, each sum's terms spelled out: with slices of 2-D arrays and helpers for the sums the two transforms
# took 4.6 s to compile, a quarter of the convolutions' float32 warm-up (the AMD EPYC of 2026-12-07); so, 1.8 s.
_PAIRS_AT_A_TIME = 128


@numba.njit(cache=True)
def weight_tiles(w):
    """U = G_H g G_W^T for every kernel g = w[o, c]: w (O, C, 3, 3) -> (PLANES, O, C), entry p = PATCH_W * i + j; in
    float64, rounded once."""
    o, c = w.shape[0], w.shape[1]
    pairs, flat, g_h, g_w = o * c, np.ascontiguousarray(w).reshape((o * c, 9)), _G_H_ARRAY, _G_W_ARRAY
    u = np.empty((PLANES, pairs), np.float32)
    taps, along = np.empty((9, _PAIRS_AT_A_TIME)), np.empty((3 * PATCH_W, _PAIRS_AT_A_TIME))  # g; g G_W^T
    for first in range(0, pairs, _PAIRS_AT_A_TIME):
        count = min(_PAIRS_AT_A_TIME, pairs - first)
        for q in range(count):
            for t in range(9):
                taps[t, q] = flat[first + q, t]
        for k in range(3):
            for j in range(PATCH_W):
                g0, g1, g2 = g_w[j, 0], g_w[j, 1], g_w[j, 2]
                for q in range(count):
                    along[PATCH_W * k + j, q] = g0 * taps[3 * k, q] + g1 * taps[3 * k + 1, q] + g2 * taps[3 * k + 2, q]
        for i in range(PATCH_H):  # G_H (g G_W^T)
            g0, g1, g2 = g_h[i, 0], g_h[i, 1], g_h[i, 2]
            for j in range(PATCH_W):
                for q in range(count):
                    u[PATCH_W * i + j, first + q] = (
                        g0 * along[j, q] + g1 * along[PATCH_W + j, q] + g2 * along[2 * PATCH_W + j, q]
                    )
    return u.reshape((PLANES, o, c))


@numba.njit(cache=True)
def weight_from_tiles(du):
    """dW = G_H^T dU G_W for every (o, c), weight_tiles's adjoint: du (PLANES, O, C) -> (O, C, 3, 3) float32; in
    float64, rounded once."""
    o, c = du.shape[1], du.shape[2]
    pairs, flat, g_h, g_w = o * c, np.ascontiguousarray(du).reshape((PLANES, o * c)), _G_H_ARRAY, _G_W_ARRAY
    grad = np.empty((pairs, 9), np.float32)
    along, taps = np.empty((3 * PATCH_H, _PAIRS_AT_A_TIME)), np.empty((9, _PAIRS_AT_A_TIME))  # dU G_W; G_H^T dU G_W
    for first in range(0, pairs, _PAIRS_AT_A_TIME):
        count = min(_PAIRS_AT_A_TIME, pairs - first)
        for i in range(PATCH_H):
            row = PATCH_W * i
            for k in range(3):
                g0, g1, g2, g3 = g_w[0, k], g_w[1, k], g_w[2, k], g_w[3, k]
                for q in range(count):
                    at = first + q
                    along[3 * i + k, q] = (
                        g0 * np.float64(flat[row, at]) + g1 * np.float64(flat[row + 1, at])
                        + g2 * np.float64(flat[row + 2, at]) + g3 * np.float64(flat[row + 3, at])
                    )  # fmt: skip
        for r in range(3):
            for k in range(3):
                for q in range(count):
                    taps[3 * r + k, q] = 0.0
                for i in range(PATCH_H):
                    g = g_h[i, r]
                    for q in range(count):
                        taps[3 * r + k, q] += g * along[3 * i + k, q]
        for q in range(count):
            for t in range(9):
                grad[first + q, t] = taps[t, q]
    return grad.reshape((o, c, 3, 3))
