"""A matrix product held in vector registers: c = a @ b (or c += a @ b), one 8 x 32 tile of c at a time (6 x 16 on
CPUs with AVX2 and no AVX-512: ROWS, LANES); float32.

Why: numba's np.dot calls SciPy's OpenBLAS, which an environment may hold to older kernels (this machine's sets
OPENBLAS_CORETYPE=Haswell: AVX2 on a CPU with AVX-512), and numba's own loops cannot keep a block of c in
registers: written the usual way, every multiply-add loads and stores its partial sum (dot.py), and LLVM does not
pack scalar sums into vectors. So the tile is written here in LLVM's vector IR, as BLAS libraries write theirs in
assembly. An 8 x 32 tile of c is 16 vectors of 16 numbers, kept in registers for the whole sum; each step k loads the 2
vectors of b[k, j:j+32], broadcasts a[i+r, k] for the 8 rows and does 16 fused multiply-adds (AVX-512 has 32 vector
registers: 16 sums, 2 of b, 1 broadcast). Edges: a tile of fewer columns reads b from a copy padded with zeros and
stores its columns of c masked, and there is a variant per count of rows below 8 (c's whole blocks are stored plainly: a
masked store is microcode on AMD's Zen 2). Blocks of 16 columns or fewer take tiles of one vector (8 x 16): a 2-vector
tile's masked second vector still ran its multiply-adds (an attention head's (64, 64) @ (64, 16) took 2.0 us, 1.16 by
1-vector tiles; lesson 14's attention, one thread, forward and backward 0.93x and 0.78x). (Tiles of 6 rows took
1.07-1.12x as long on F(2x2, 3x3)'s products in winograd.py, (32, 16) @ (16, 224) and (16, 32) @ (32, 224), whose 32 and
16 rows made 6 tiles of 5.3 rows and 3 of 5.3.)

Measured on one core of the AMD EPYC (Zen 5) of 2026-12-05, float32, GMAC/s, against SciPy's OpenBLAS (Haswell):
(2048, 64) @ (64, 192) 117 against 60; (24, 75) @ (75, 512), a group of the MNIST-1D CNN's convolution, 107
against 37; (60, 16) @ (16, 64), an attention head, 88 against 35; (60, 288) @ (288, 128) 129 against 49.

- ``gemm(a, b, c)``: arrays; ``gemm_gathered``: rows of a and b from tables of offsets, so that a convolution
  reads its windows where they lie in the image (conv._in_place_batch).
- Both call one C function, compiled once (``_gemm_float32``, by_name.ByName) and called by name: a kernel that
  called the tiles' code directly compiled it again, four times over in a threaded kernel. ``add_dot_nt`` calls
  dot.dot_nt the same way.
- Inside kernels, ``dot``, ``times_transposed`` and ``add_dot_nt`` take tiles (or dot_nt) for float32 where the
  caller says (dot.beats_blas: a CPU with AVX-512), BLAS otherwise; float64 kernels compile the BLAS's way alone.
  Winograd's convolutions (winograd.py) take tiles on AVX2 too, where their short sums (16 to 64 terms) ran at
  1.4-2.2x OpenBLAS's speed, and so do (dot.tiles_run) ``small_dot`` and ``small_times_transposed`` (attention's
  heads, a convolution's forward products), the recurrent layers' steps and a classifier head's weight gradient
  (linalg._transposed_times), where OpenBLAS's Haswell kernels lost to them.

Kernels that call these C functions are cached with this file's stamp too (cache_lock.stamp_with_package_sources):
a cached kernel calling a C function whose arguments have since changed would crash.
"""

import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

from kernels.numba_cpu.by_name import ByName, data_pointer
from kernels.numba_cpu.common import numba
from kernels.numba_cpu.dot import dot_nt, has_avx512, tiles_run, vector_floats

# A tile's sums fill half the vector registers or fewer: on AVX-512 (32 registers of 16 float32) 8 rows of 2 vectors,
# on AVX2 (16 of 8) 6 rows of 2 vectors, 12 sums, 2 vectors of b and a broadcast. The 8 x 32 tile on AVX2 kept
# 32 registers' worth of sums and spilled them: one core of the AMD EPYC (Zen 2) of 2026-12-07, GMAC/s, 8 x 32 / 6 x
# 16 (OpenBLAS's Haswell kernels): (32, 144) @ (144, 784) 26 / 42 (26), (32, 16) @ (16, 112) 12 / 28 (20), (256,
# 256) @ (256, 256) 44 / 46 (46). Other CPUs, and plain Python, take AVX2's sizes.
LANES = vector_floats() or 8  # float32 numbers per vector
ROWS = 8 if LANES == 16 else 6  # rows of c per tile
WIDTH = 2 * LANES  # columns of c per tile
SUM_BLOCK = 256  # terms of the sum per pass over c: a block of b (256 x 2 vectors of float32, <= 32 KB) stays in L1
# From this many tiles of c's rows, where c is wider than a tile, b's block is first copied end to end (a panel of
# SUM_BLOCK x WIDTH numbers, on the stack), as BLAS libraries pack theirs: b's rows a power of two apart fell on the
# same few sets of the L1 cache. One core of the Intel Xeon, GMAC/s, b as it lies against a panel: (352, 128) @ (128,
# 1024) 52 / 70, (1024, 64) @ (64, 256) 59 / 71, (1024, 256) @ (256, 64) 64 / 74, (350, 128) @ (128, 512) 60 / 72;
# other widths level, (350, 128) @ (128, 1000) 66 / 68. Products of fewer tiles, or no wider than a tile, read b
# where it lies: the copy is made on every call, and a convolution's products (4 tiles of rows, its output channels,
# over one output row a call) would read it only 4 times. From half as many tiles where the sum is a whole block or
# longer: one core, both ways timed in turn in one process (three runs, which moved b as it lies by up to 25 % with
# where the arrays fell, the panel by 2 %), time of the panel against b as it lies: (64, 512) @ (512, 784) 0.89,
# (64, 784) @ (784, 256) 0.89, (120, 512) @ (512, 256) 0.83, (64, 288) @ (288, 784) 0.91, (96, 2048) @ (2048, 64)
# 0.94 (halves of a batch of 128 in an MLP's products, weight gradients); shorter sums keep b as it lies: (64, 144) @
# (144, 196) took 1.11x as long with a panel. (Where the arrays fell: a row of b that starts off a 64-byte cache line
# reads two lines per load of a tile's 2 vectors, and a deep block then outgrows L1. One core of the AMD EPYC (Zen 2)
# of 2026-12-07, GMAC/s, b's rows on a line / 16 bytes off / 32 bytes off: (36, 256) @ (256, 64) 49 / 37 / 41; the
# panel is aligned to a line.) Each row of a block a tile wide is copied as one vector (_copy_width): copied number
# by number, (64, 800) @ (800, 64) with a panel ran at 40 GMAC/s there, now 44-45.
PACK_FROM_TILES = 16
_PANEL = SUM_BLOCK * WIDTH  # numbers in a copy of b's block


def splat(builder, value, count: int):
    """<count x T> with every lane ``value``."""
    vector, lanes = ir.VectorType(value.type, count), ir.VectorType(ir.IntType(32), count)
    one = builder.insert_element(ir.Constant(vector, ir.Undefined), value, ir.IntType(32)(0))
    return builder.shuffle_vector(one, ir.Constant(vector, ir.Undefined), ir.Constant(lanes, [0] * count))


def _make_tile(vectors: int):
    """The intrinsic for tiles of ``vectors`` vectors of columns and a given count of rows, 1 to ROWS: a switch over
    the counts, each a call of its own function (_call_tile; see _tile_codegen for the arguments)."""

    @intrinsic
    def tile(typingctx, rows, a, a_rows, a_step, b, b_rows, c, c_row, i, count, j, k0, k1, columns, accumulate, bias,
             biased):  # fmt: skip
        index, flag = types.intp, types.boolean
        sig = types.void(index, a, a_rows, index, b, b_rows, c, *[index] * 7, flag, bias, flag)
        return sig, lambda context, builder, signature, args: _switch_rows(vectors, context, builder, args)

    return tile


def _switch_rows(vectors, context, builder, args):
    rows, operands = args[0], args[1:]
    done = builder.append_basic_block("tile_called")
    switch = builder.switch(rows, done)
    for count in range(1, ROWS + 1):
        case = builder.append_basic_block(f"tile_rows{count}")
        switch.add_case(ir.Constant(rows.type, count), case)
        builder.position_at_end(case)
        _call_tile(count, vectors, context, builder, operands)
        builder.branch(done)
    builder.position_at_end(done)
    return context.get_dummy_value()


def _call_tile(rows, vectors, context, builder, args):
    """A call of the tile's own LLVM function, defined in the caller's module on first use and never inlined: inlined
    into gemm's loops beside the other counts of rows, its loop ran out of general registers and reloaded row offsets
    from the stack, 64 GMAC/s on one core of the Intel Xeon against 76 on its own."""
    name = f"tinynet_tile{rows}x{vectors}_f32"
    function = builder.module.globals.get(name)
    if function is None:
        types_ = [a.type for a in args]
        function = ir.Function(builder.module, ir.FunctionType(ir.VoidType(), types_), name)
        function.linkage = "internal"
        function.attributes.add("noinline")
        body = ir.IRBuilder(function.append_basic_block("entry"))
        _tile_codegen(rows, vectors, context, body, function.args)
        body.ret_void()
    builder.call(function, args)
    return context.get_dummy_value()


def _tile_codegen(rows, vectors, context, builder, args):
    """c[i+r, j+q] = (c's value if accumulate else 0, or bias[j+q] where biased) + sum over k0 <= k < k1 of a[i+r, k]
    b[k, j+q], for i = first (args[7]), r < rows * count and q < columns <= vectors * LANES: ``count`` tiles of ``rows``
    rows, one after another; a[r, k] at a + a_rows[r] + k*a_step, b[k, q] at b + b_rows[k] + q (read in whole vectors: q
    < vectors * LANES), c[r, q] at c + r*c_row + q (float32 pointers; a_rows and b_rows are tables of where each row
    starts; all in numbers). A call makes a column of tiles: one call a tile cost ~100 cycles of calling, masks and
    branches, a fifth of a tile's work for a sum of 64 terms and more for shorter ones ((1024, 16) @ (16, 256), a sum of
    16, one core of the Intel Xeon: 49 GMAC/s against PyTorch's 70 with a call a tile)."""
    a_data, a_rows, a_step, b_data, b_rows, c_data, c_row, first, count, j, k0, k1, columns, accumulate = args[:14]
    bias, biased = args[14:]
    number = ir.FloatType()
    vector, index, size = ir.VectorType(number, LANES), ir.IntType(64), 4
    add, mul = builder.add, builder.mul

    # LLVM's intrinsics: masked loads and stores (the columns past ``columns`` are left alone), fused multiply-add.
    kind = f"v{LANES}f32"
    pointer, alignment, zero = vector.as_pointer(), ir.IntType(32)(size), ir.Constant(vector, [0.0] * LANES)
    lane = [ir.Constant(ir.VectorType(index, LANES), [v * LANES + q for q in range(LANES)]) for v in range(vectors)]
    masks = [builder.icmp_signed("<", lane[v], splat(builder, columns, LANES)) for v in range(vectors)]
    mask = masks[0].type
    whole = builder.icmp_signed(">=", columns, index(vectors * LANES))

    def function(name, returns, arguments):
        return cgutils.get_or_insert_function(builder.module, ir.FunctionType(returns, arguments), name)

    load = function(f"llvm.masked.load.{kind}.p0{kind}", vector, [pointer, alignment.type, mask, vector])
    store = function(f"llvm.masked.store.{kind}.p0{kind}", ir.VoidType(), [vector, pointer, alignment.type, mask])
    fma = function(f"llvm.fma.{kind}", vector, [vector] * 3)

    def row_vectors(data, row_start):
        """Pointers to the vectors of the row that starts at data + row_start, from column j on."""
        start = builder.gep(data, [add(row_start, j)])
        return [builder.bitcast(builder.gep(start, [index(v * LANES)]), pointer) for v in range(vectors)]

    # The loop over the tiles; its phi carries the tile's first row.
    before, tiles_done = builder.block, builder.append_basic_block("tiles_done")
    next_tile = builder.append_basic_block("tile")
    builder.cbranch(builder.icmp_signed(">", count, index(0)), next_tile, tiles_done)
    builder.position_at_end(next_tile)
    i = builder.phi(index)
    i.add_incoming(first, before)

    # The loop over k. b's vectors are loaded plainly: a block of c's edge (fewer columns than the tile's vectors
    # hold) reads b from a copy padded with zeros (_gemm_float32). Masked loads there took twice a tile's time on
    # AMD's Zen 2 (one core, (64, 800) @ (800, 121): 201 us against 161 for 128 columns, OpenBLAS 187), and a micro-op
    # of the two ports that multiply-add on the Intel Xeon. The phis carry k and the vectors * rows sums.
    a_at = [builder.gep(a_data, [builder.load(builder.gep(a_rows, [add(i, index(r))]))]) for r in range(rows)]
    entry = builder.block
    loop, done = builder.append_basic_block("tile_loop"), builder.append_basic_block("tile_done")
    builder.cbranch(builder.icmp_signed("<", k0, k1), loop, done)
    builder.position_at_end(loop)
    k = builder.phi(index)
    sums = [builder.phi(vector) for _ in range(vectors * rows)]
    b_k = [builder.load(p, align=size) for p in row_vectors(b_data, builder.load(builder.gep(b_rows, [k])))]
    updated = []
    for r in range(rows):
        a_rk = builder.load(builder.gep(a_at[r], [mul(k, a_step)]))
        updated += [
            builder.call(fma, [splat(builder, a_rk, LANES), b_k[v], sums[vectors * r + v]]) for v in range(vectors)
        ]
    k_next = add(k, index(1))
    k.add_incoming(k0, entry)
    k.add_incoming(k_next, loop)
    for phi, value in zip(sums, updated):
        phi.add_incoming(zero, entry)
        phi.add_incoming(value, loop)
    builder.cbranch(builder.icmp_signed("<", k_next, k1), loop, done)

    # The sums into c: added to what is there with accumulate.
    builder.position_at_end(done)
    totals = []
    for v in range(vectors * rows):  # the sums as they left the loop, or zeros where it did not run
        total = builder.phi(vector)
        total.add_incoming(zero, entry)
        total.add_incoming(updated[v], loop)
        totals.append(total)
    # (Two ways, not a select: a select still loads c, 12 loads and adds a tile that short sums, as Winograd's, felt.)
    c_vectors = [row_vectors(c_data, mul(add(i, index(r)), c_row)) for r in range(rows)]

    def write(plain: bool):
        """Plain loads and stores where the block has all its columns, masked ones at c's edge alone: on AMD's Zen 2
        a masked store is microcode, and 12 of them a tile took as long as a sum of 16 terms."""

        def get(p, m):
            return builder.load(p, align=size) if plain else builder.call(load, [p, alignment, m, zero])

        def put(value, p, m):
            if plain:
                builder.store(value, p, align=size)
            else:
                builder.call(store, [value, p, alignment, m])

        with builder.if_else(accumulate) as (adding, storing):
            with adding:
                for r in range(rows):
                    for v, (p, m) in enumerate(zip(c_vectors[r], masks)):
                        put(builder.fadd(get(p, m), totals[vectors * r + v]), p, m)
            with storing:  # the bias, where there is one, with the first block of the sum: no pass over c after
                with builder.if_else(biased) as (with_bias, without):
                    with with_bias:
                        biases = [get(p, m) for p, m in zip(row_vectors(bias, index(0)), masks)]
                        for r in range(rows):
                            for v, (p, m) in enumerate(zip(c_vectors[r], masks)):
                                put(builder.fadd(totals[vectors * r + v], biases[v]), p, m)
                    with without:
                        for r in range(rows):
                            for v, (p, m) in enumerate(zip(c_vectors[r], masks)):
                                put(totals[vectors * r + v], p, m)

    with builder.if_else(whole) as (plain, masked):
        with plain:
            write(True)
        with masked:
            write(False)
    i_next = add(i, index(rows))
    i.add_incoming(i_next, builder.block)
    last = add(first, mul(count, index(rows)))
    builder.cbranch(builder.icmp_signed("<", i_next, last), next_tile, tiles_done)
    builder.position_at_end(tiles_done)


_wide, _narrow = _make_tile(2), _make_tile(1)


@numba.njit(inline="always")
def _tiles(a, a_rows, a_step, b, b_rows, c, c_row, run, j, k0, k1, columns, accumulate, bias, biased):
    """``count`` tiles of ``rows`` rows (<= ROWS) each, c's rows i .. i + count * rows - 1 (run: (i, rows, count)): of 2
    vectors of columns, or of 1 where the block has LANES columns or fewer: a 2-vector tile's second vector is masked
    off there, but its multiply-adds still run (products 16 columns wide, an attention head's, ran at half speed)."""
    i, rows, count = run
    operands = (a, a_rows, a_step, b, b_rows, c, c_row, i, count, j, k0, k1, columns, accumulate, bias, biased)
    if columns > LANES:
        _wide(rows, *operands)
    else:
        _narrow(rows, *operands)


_FLOATS, _OFFSETS = types.CPointer(types.float32), types.CPointer(types.intp)
_SIGNATURE = types.void(
    _FLOATS, _OFFSETS, types.intp, _FLOATS, _OFFSETS, _FLOATS, types.intp,  # a, b, c; where rows start, steps
    types.intp, types.intp, types.intp, types.boolean, _FLOATS, types.boolean,  # m, n, k, accumulate, bias, biased
)  # fmt: skip


def _gemm_float32(a, a_rows, a_step, b, b_rows, c, c_row, m, n, depth, accumulate, bias, biased):
    """gemm on pointers and strides, compiled once as a C function: kernels call it by name (_GEMM), so that each
    does not compile the tiles again (a threaded kernel optimizes what it calls four times over: attention's two
    took 3.5 s more to compile with gemm inside them)."""
    if depth == 0 and not accumulate:  # an empty sum: zeros, or the bias
        for i in range(m):
            for q in range(n):
                c[i * c_row + q] = bias[q] if biased else 0
    tiles = -(-m // ROWS)
    pack = n > WIDTH and (tiles >= PACK_FROM_TILES or (tiles >= PACK_FROM_TILES // 2 and depth >= SUM_BLOCK))
    panel, panel_rows = _on_stack(types.float32, _PANEL), _on_stack(types.intp, SUM_BLOCK)
    for k0 in range(0, depth, SUM_BLOCK):
        k1, add = min(depth, k0 + SUM_BLOCK), accumulate or k0 > 0
        for j in range(0, n, WIDTH):  # a block of b's columns is read by every tile of c's rows
            columns = min(WIDTH, n - j)
            block, block_rows = b, b_rows
            if pack or columns < WIDTH:  # (c's edge: the tiles load b's vectors whole, so from a padded copy)
                _pack(b, b_rows, j, k0, k1, columns, panel, panel_rows)
                block, block_rows = panel, _offset(panel_rows, -k0)  # the tiles read block_rows[k] for k from k0
            t = 0
            while t < tiles:  # rows shared out evenly: a tile of few rows leaves the multiply-adds waiting
                run = _run_of_tiles(t, tiles, m)
                _tiles(a, a_rows, a_step, block, block_rows, c, c_row, run, j, k0, k1, columns, add, bias, biased)
                t += run[2]


@numba.njit(inline="always")
def _run_of_tiles(t, tiles, m):
    """(first row, rows, count): tile t of ``tiles`` that share m rows out evenly, and those after it of as many rows,
    which one call of the tile's function makes."""
    i = t * m // tiles
    rows = (t + 1) * m // tiles - i
    count = 1
    while t + count < tiles and (t + count + 1) * m // tiles - (t + count) * m // tiles == rows:
        count += 1
    return i, rows, count


@numba.njit(inline="always")
def _pack(b, b_rows, j, k0, k1, columns, panel, panel_rows):
    """panel = b's rows k0 .. k1 - 1, columns j .. j + columns - 1, end to end (WIDTH apart, zeros after ``columns``),
    and panel_rows[k - k0] the offsets that make the tiles read it where they read b (b + b_rows[k] + j)."""
    for k in range(k0, k1):
        start, row = b_rows[k] + j, (k - k0) * WIDTH
        if columns == WIDTH:
            _copy_width(_offset(b, start), _offset(panel, row))
        else:
            for q in range(columns):
                panel[row + q] = b[start + q]
            for q in range(columns, WIDTH):  # (lanes never stored; zeros, as the stack's numbers could be subnormals)
                panel[row + q] = 0
        panel_rows[k - k0] = row - j


@intrinsic
def _copy_width(typingctx, source, target):
    """target[:WIDTH] = source[:WIDTH] as one vector load (any alignment) and one store (target aligned to 64 bytes)."""

    def codegen(context, builder, signature, args):
        vector = ir.VectorType(ir.FloatType(), WIDTH).as_pointer()
        value = builder.load(builder.bitcast(args[0], vector), align=4)
        builder.store(value, builder.bitcast(args[1], vector), align=64)
        return context.get_dummy_value()

    return types.void(source, target), codegen


@intrinsic(prefer_literal=True)
def _on_stack(typingctx, dtype, count):
    """A pointer to room for ``count`` (a constant) numbers of ``dtype`` on the function's stack, made once on entry:
    no allocation per call (gemm is called per output row of a convolution)."""
    if not isinstance(count, types.IntegerLiteral):
        return None
    number = dtype.instance_type

    def codegen(context, builder, signature, args):
        with builder.goto_entry_block():  # (not cgutils.alloca_once: it zeroes the room, 34 KB a call)
            room = builder.alloca(ir.ArrayType(context.get_data_type(number), count.literal_value))
        room.align = 64  # a cache line
        return builder.bitcast(room, context.get_data_type(number).as_pointer())

    return types.CPointer(number)(dtype, count), codegen


@intrinsic
def _offset(typingctx, pointer, by):
    """pointer + by, in numbers."""

    def codegen(context, builder, signature, args):
        return builder.gep(args[0], [args[1]])

    return pointer(pointer, by), codegen


# The C functions by name, for kernels compiled in any process (numba's disk cache keeps the name, not the address),
# compiled at import: every float32 product calls them on AVX-512, Winograd's convolutions on AVX2 (and tests force
# the tiles anywhere).
_GEMM_FUNCTION = ByName("tinynet_tile_gemm_float32", _SIGNATURE, _gemm_float32)


_DOT_NT_SIGNATURE = types.void(_FLOATS, _FLOATS, _FLOATS, types.intp, types.intp, types.intp)


def _dot_nt_float32(a, bt, c, m, n, depth):
    """dot.dot_nt on pointers to C-contiguous (M, K), (N, K) and (M, N), compiled once as a C function as
    _gemm_float32 is: inside _convolve_batch it took 2-3 s of each dtype's compiling. (Views of wider rows would be
    arrays of any layout, whose loops LLVM does not vectorize: 4x slower.)"""
    dot_nt(numba.carray(a, (m, depth)), numba.carray(bt, (n, depth)), numba.carray(c, (m, n)))


_DOT_NT_FUNCTION = ByName("tinynet_dot_nt_float32", _DOT_NT_SIGNATURE, _dot_nt_float32)
_GEMM_FUNCTION.ready()
if has_avx512():  # kernels call dot_nt's C function where they compile the tiles' way alone (compiles_tiles); 1 s
    _DOT_NT_FUNCTION.ready()
_GEMM, _DOT_NT = _GEMM_FUNCTION.external, _DOT_NT_FUNCTION.external


@numba.njit(cache=True)
def gemm(a, b, c, accumulate=False, bias=None):
    """c = a @ b (+ bias), or c += a @ b with accumulate; float32. a: (M, K), any strides (a.T for a transposed
    operand); b: (K, N) and c: (M, N) with their rows contiguous; bias: (N,) contiguous, or None or empty for none
    (not with accumulate). One thread; callers split c's rows over threads."""
    size = a.itemsize  # strides in numbers, not bytes
    a_rows, b_rows = np.arange(a.shape[0]) * (a.strides[0] // size), np.arange(b.shape[0]) * (b.strides[0] // size)
    gemm_gathered(a, a_rows, a.strides[1] // size, b, b_rows, c, accumulate, bias)


@numba.njit(cache=True)
def gemm_gathered(a, a_rows, a_step, b, b_rows, c, accumulate=False, bias=None):
    """c = A @ B (+ bias), or c += A @ B, with A's and B's rows gathered from anywhere in a and b (a convolution's
    windows read where they lie in the padded image: no im2col). float32. A[i, k] = a.flat[a_rows[i] + k * a_step],
    B[k, q] = b.flat[b_rows[k] + q] (a and b read from their first number; offsets in numbers); c: (M, N), rows
    contiguous, M = a_rows.size, K = b_rows.size; bias as gemm's."""
    m, n = c.shape
    c_row = c.strides[0] // c.itemsize
    if bias is None:
        biased, bias_at = False, data_pointer(c)  # (never read: the tiles read the bias only where biased)
    else:
        biased, bias_at = bias.size > 0, data_pointer(bias)
    _GEMM(
        data_pointer(a),
        data_pointer(a_rows),
        a_step,
        data_pointer(b),
        data_pointer(b_rows),
        data_pointer(c),
        c_row,
        m,
        n,
        b_rows.size,
        accumulate,
        bias_at,
        biased,
    )


def dot(a, b, out, by_tiles):
    """out = a @ b, inside kernels: by gemm's tiles where by_tiles (b's and out's rows contiguous, any distance
    apart), else by numba's np.dot (the BLAS). Float64 kernels compile the BLAS's way alone (see _dot). An out whose
    rows are not end to end (a head's rows in attention's (N, T, H, n) outputs) the tiles write where they lie; the
    BLAS's way makes the product in a scratch and copies it over (numba's np.dot would fill a copy of out). As plain
    Python (NUMBA_DISABLE_JIT), this."""
    out[...] = np.dot(a, b)


def small_dot(a, b, out):
    """out = a @ b inside kernels, for small products (an attention head's, a convolution's of few output channels):
    by the tiles wherever they run (dot.tiles_run: AVX2 too, where dot compiles the BLAS's way alone), else by
    the BLAS. As plain Python, this."""
    out[...] = np.dot(a, b)


def small_times_transposed(a, b, out, scratch, accumulate):
    """times_transposed for small products, by the tiles as small_dot. As plain Python, this."""
    product = np.dot(a, b.T)
    out[...] = out + product if accumulate else product


def dot_plus_bias(a, b, bias, out, by_tiles):
    """out = a @ b + bias (bias: (N,), or empty for none), inside kernels: by tiles that add the bias as they store
    (a linear layer's forward: a pass over out after the product took 68 of 648 us on (2048, 64) @ (64, 256), one
    thread), else by np.dot and that pass. As plain Python, this."""
    np.dot(a, b, out)
    if bias.size:
        out += bias


def times_transposed(a, b, out, scratch, by_tiles, accumulate):
    """out = a @ b^T, or out += a @ b^T with accumulate, inside kernels: by tiles on b transposed into scratch (a
    flat array of at least b.size numbers) where by_tiles, else by np.dot. As plain Python, this."""
    product = np.dot(a, b.T)
    out[...] = out + product if accumulate else product


# The BLAS's products as compiled functions of their own, called from the kernels: np.dot written inside a kernel
# compiles its wrapper again into every kernel that calls it (318 times in a warm-up, 4.8 s of its 120 s of
# compiling on one core), where a function compiles once per dtype and layout. A BLAS call gains nothing from
# being inlined. They call the BLAS as np.dot does (numba's numba_xxgemm: SciPy's sgemm or dgemm), without np.dot's
# checks, whose error messages (shapes formatted into strings) took 5.7 s of each warm-up process's compiling on the
# AMD EPYC of 2026-12-07; the kernels' shapes agree by construction. out += a @ b is one call (BLAS's beta = 1).
@numba.njit(cache=True)
def _blas_dot(a, b, out):
    _by_blas(for_blas(a), for_blas(b), out, False)


@numba.njit(cache=True)
def _blas_add_dot(a, b, out):
    _add_by_blas(for_blas(a), for_blas(b), out)


def _add_by_blas(a, b, out):
    out += a @ b


@overload(_add_by_blas, inline="always")
def _add_by_blas_compiled(a, b, out):
    if out.layout == "C":
        return lambda a, b, out: _by_blas(a, b, out, True)

    def by_scratch(a, b, out):  # (the BLAS writes C-contiguous rows)
        product = np.empty(out.shape, out.dtype)
        _by_blas(a, b, product, False)
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                out[i, j] += product[i, j]

    return by_scratch


@numba.njit(inline="always")
def _by_blas(a, b, out, accumulate):
    """out = a @ b, or out += a @ b: a (M, K), b (K, N) C- or F-contiguous, out (M, N) C-contiguous."""
    if out.shape[0] == 0 or out.shape[1] == 0:
        return
    if a.shape[1] == 0:  # an empty sum (the BLAS wants leading dimensions of 1 or more)
        for i in range(out.shape[0] if not accumulate else 0):
            for j in range(out.shape[1]):
                out[i, j] = 0
        return
    _xxgemm(a, b, out, accumulate, 0, out.shape[1])


@numba.njit(cache=True)
def blas_columns(a, b, out, first, last):
    """out[:, first:last] = a @ b[:, first:last] by one call of the BLAS, b's and out's columns read and written where
    they lie (their rows' full length told to the BLAS as the step): a (n, k) C-contiguous, b (k, m) C- or
    F-contiguous, out (n, m) C-contiguous; first < last <= m (linalg._matmul_columns_blas)."""
    if out.shape[0] == 0:
        return
    if a.shape[1] == 0:
        for i in range(out.shape[0]):
            for j in range(first, last):
                out[i, j] = 0
        return
    _xxgemm(a, b, out, False, first, last)


@intrinsic
def _xxgemm(typingctx, a, b, out, accumulate, first, last):
    """out[:, first:last] = a @ b[:, first:last] (+ out's where accumulate) by numba_xxgemm, b's and out's columns
    read and written where they lie. The BLAS is column-major: it computes out^T = b^T a^T, each operand transposed
    or not by its layout (as numba's np.dot), the rows' full length given as their step. Shapes nonzero, unchecked."""
    arrays = (a, b, out)
    if not all(isinstance(t, types.Array) and t.ndim == 2 and t.dtype == out.dtype for t in arrays):
        return None
    if out.dtype not in (types.float32, types.float64) or out.layout != "C" or not {a.layout, b.layout} <= set("CF"):
        return None

    def codegen(context, builder, signature, args):
        a_data, b_data, out_data = (context.make_array(t)(context, builder, v) for t, v in zip(arrays, args[:3]))
        (m, k), total = cgutils.unpack_tuple(builder, a_data.shape), cgutils.unpack_tuple(builder, b_data.shape)[1]
        first, n = args[4], builder.sub(args[5], args[4])
        char, index, pointer = ir.IntType(8), context.get_value_type(types.intp), ir.IntType(8).as_pointer()
        arguments = [char] * 3 + [index] * 3 + [pointer, pointer, index, pointer, index, pointer, pointer, index]
        gemm_type = ir.FunctionType(ir.IntType(32), arguments)
        gemm = cgutils.get_or_insert_function(builder.module, gemm_type, "numba_xxgemm")
        number = context.get_value_type(out.dtype)
        alpha = builder.bitcast(cgutils.alloca_once_value(builder, ir.Constant(number, 1.0)), pointer)
        beta = builder.bitcast(cgutils.alloca_once_value(builder, builder.uitofp(args[3], number)), pointer)
        if b.layout == "C":  # b's column j at b + j, its rows ``total`` numbers apart
            trans_b, ld_b, b_at = char(ord("n")), total, builder.gep(b_data.data, [first])
        else:  # column j at b + j * k, its numbers contiguous
            trans_b, ld_b, b_at = char(ord("t")), k, builder.gep(b_data.data, [builder.mul(first, k)])
        trans_a, ld_a = (char(ord("n")), k) if a.layout == "C" else (char(ord("t")), m)
        data_a, data_b = builder.bitcast(a_data.data, pointer), builder.bitcast(b_at, pointer)
        c = builder.bitcast(builder.gep(out_data.data, [first]), pointer)
        kind = char(ord("s" if out.dtype == types.float32 else "d"))
        builder.call(gemm, [kind, trans_b, trans_a, n, m, k, alpha, data_b, ld_b, data_a, ld_a, beta, c, total])
        return context.get_dummy_value()

    return types.void(a, b, out, accumulate, types.intp, types.intp), codegen


def for_blas(x):
    """x as the BLAS takes it: x itself when C- or F-contiguous, else a C-contiguous copy (numba's np.dot would make
    one too, with a warning when it compiles). The tiles read strided operands where they lie; this is the BLAS's
    way for the same kernels. As plain Python, x."""
    return x


@overload(for_blas, inline="always")
def _for_blas(x):
    if x.layout in "CF":
        return lambda x: x
    return lambda x: np.ascontiguousarray(x)


def _dot_by_tiles(a, b, out, by_tiles):
    if by_tiles:
        gemm(a, b, out)
    else:
        blas_dot_into(a, b, out)


def _dot_by_blas(a, b, out, by_tiles):
    blas_dot_into(a, b, out)


def blas_dot_into(a, b, out):
    """out = a @ b by the BLAS: straight into a C-contiguous out, else made in a scratch and copied over (numba's
    np.dot would fill a copy of out). As plain Python, NumPy's."""
    out[...] = np.dot(a, b)


@overload(blas_dot_into)
def _blas_dot_into(a, b, out):
    if out.layout == "C":
        return lambda a, b, out: _blas_dot(a, b, out)

    def by_scratch(a, b, out):
        product = np.empty(out.shape, out.dtype)
        _blas_dot(a, b, product)
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):  # not a slice assignment: numba's makes 5x the code to compile
                out[i, j] = product[i, j]

    return by_scratch


def _dot_plus_bias_by_tiles(a, b, bias, out, by_tiles):
    if by_tiles:
        gemm(a, b, out, False, bias)
    else:
        _blas_dot_plus_bias(a, b, bias, out)


def _dot_plus_bias_by_blas(a, b, bias, out, by_tiles):
    _blas_dot_plus_bias(a, b, bias, out)


@numba.njit(inline="always")
def _blas_dot_plus_bias(a, b, bias, out):
    _blas_dot(a, b, out)
    add_bias(out, bias)


@numba.njit(cache=True, inline="always")
def add_bias(rows, bias):
    """rows += bias where bias is not empty: by the thread that made the rows, while they are in its cache."""
    for i in range(rows.shape[0] if bias.size else 0):
        for j in range(rows.shape[1]):
            rows[i, j] += bias[j]


def _times_transposed_by_tiles(a, b, out, scratch, by_tiles, accumulate):
    if by_tiles:
        _tiles_times_transposed(a, b, out, scratch, accumulate)
    else:
        _times_transposed_blas(a, b, out, accumulate)


@numba.njit(inline="always")
def _tiles_times_transposed(a, b, out, scratch, accumulate):
    b_t = scratch[: b.size].reshape((b.shape[1], b.shape[0]))
    as_columns(b, 0, b.shape[0], b_t)
    gemm(a, b_t, out, accumulate)


def _times_transposed_by_blas(a, b, out, scratch, by_tiles, accumulate):
    _times_transposed_blas(a, b, out, accumulate)


@numba.njit(inline="always")
def _times_transposed_blas(a, b, out, accumulate):
    if accumulate:
        _blas_add_dot(a, b.T, out)
    else:
        _blas_dot(a, b.T, out)


# numba's implementations, by the arrays' dtype and this CPU: tiles (which fall back to BLAS when by_tiles is False)
# for float32 where the CPU has AVX-512; BLAS alone otherwise, as tiles replace BLAS there only (dot.beats_blas), and
# compiling them into float64 kernels too made the warm-up 5 s longer (and into the float32 kernels of a CPU without
# AVX-512, 8.5 s of a one-process warm-up's 114, on the AMD EPYC of 2026-12-07, where they would never run).
def compiles_tiles(dtype) -> bool:
    """Whether kernels on numbers of ``dtype`` (a numba type) compile the tiles' way too: float32 on a CPU with
    AVX-512. A compile-time choice, unlike dot.beats_blas (which tests may patch): a cached kernel that calls the tiles
    needs their C functions published, and they are only where it is true."""
    return dtype == types.float32 and has_avx512()


# The overloads below compile as functions of their own, called by the kernels, not inlined into them: numba's
# inline="always" copies and types their code again at every call, and a call costs nothing against a product. Not
# inlining these and blas_dot_into took 1.3 s off attention's float64 warm-up and ~1.5 s off the whole (AMD EPYC,
# 2026-12-07).
@overload(dot)
def _dot(a, b, out, by_tiles):
    return _dot_by_tiles if compiles_tiles(a.dtype) else _dot_by_blas


@overload(small_dot)
def _small_dot(a, b, out):
    if tiles_run(a.dtype):
        return lambda a, b, out: gemm(a, b, out)
    return lambda a, b, out: blas_dot_into(a, b, out)


@overload(small_times_transposed)
def _small_times_transposed(a, b, out, scratch, accumulate):
    if tiles_run(a.dtype):
        return lambda a, b, out, scratch, accumulate: _tiles_times_transposed(a, b, out, scratch, accumulate)
    return lambda a, b, out, scratch, accumulate: _times_transposed_blas(a, b, out, accumulate)


@overload(dot_plus_bias)
def _dot_plus_bias(a, b, bias, out, by_tiles):
    return _dot_plus_bias_by_tiles if compiles_tiles(a.dtype) else _dot_plus_bias_by_blas


@overload(times_transposed)
def _times_transposed(a, b, out, scratch, by_tiles, accumulate):
    return _times_transposed_by_tiles if compiles_tiles(a.dtype) else _times_transposed_by_blas


@intrinsic
def _transpose8(typingctx, source, source_row, target, target_row):
    """target[q * target_row + r] = source[r * source_row + q] for r, q < 8: an 8 x 8 block transposed in registers,
    by three rounds of interleaving (each round pairs rows i and i + 4, value by value: after three, column q of the
    block is row q). source, target: pointers to float32 or float64; rows any number of numbers apart."""
    if not (isinstance(source, types.CPointer) and source.dtype in (types.float32, types.float64) and target == source):
        return None

    def codegen(context, builder, signature, args):
        source, source_row, target, target_row = args
        vector = ir.VectorType(context.get_data_type(signature.args[0].dtype), 8)
        align, width = signature.args[0].dtype.bitwidth // 8, source_row.type

        def row(data, stride, r):
            return builder.bitcast(builder.gep(data, [builder.mul(stride, width(r))]), vector.as_pointer())

        values = [builder.load(row(source, source_row, r), align=align) for r in range(8)]
        low, high = (
            ir.Constant(ir.VectorType(ir.IntType(32), 8), m)
            for m in ([0, 8, 1, 9, 2, 10, 3, 11], [4, 12, 5, 13, 6, 14, 7, 15])
        )
        for _ in range(3):
            values = [builder.shuffle_vector(values[i], values[i + 4], mask) for i in range(4) for mask in (low, high)]
        for q in range(8):
            builder.store(values[q], row(target, target_row, q), align=align)
        return context.get_dummy_value()

    return types.void(source, types.intp, target, types.intp), codegen


def _block_transposed(x, r, j, out, c):
    """out[j:j+8, c:c+8] = x[r:r+8, j:j+8].T: by _transpose8 when compiled; as plain Python, NumPy's."""
    out[j : j + 8, c : c + 8] = x[r : r + 8, j : j + 8].T


@overload(_block_transposed, inline="always")
def _block_transposed_compiled(x, r, j, out, c):
    def in_registers(x, r, j, out, c):
        x_row, out_row = x.strides[0] // x.itemsize, out.strides[0] // out.itemsize
        target = _offset(data_pointer(out), j * out_row + c)
        _transpose8(_offset(data_pointer(x), r * x_row + j), x_row, target, out_row)

    return in_registers


@numba.njit(cache=True)
def as_columns(x, start, stop, out):
    """out[:, :stop - start] = x[start:stop]^T, zeros after: rows of x as columns of out (gemm reads its second
    operand by rows, so a product with b^T takes b transposed first). 8 x 8 blocks transposed in registers
    (_transpose8); columns and rows left over one at a time. 0.17 ns an element on (256, 1024) float32, one core of
    the Intel Xeon, against 0.58 by 8 rows at a time, each row of out taking 8 contiguous numbers from them (which
    was 3x as fast as a column at a time, whose writes fell on the same cache sets; NumPy's copy of the transposed
    array took 1.5). x: (k, n), its rows contiguous; out: (n, width >= stop - start), its rows contiguous."""
    n, full, blocks = x.shape[1], start + (stop - start) // 8 * 8, x.shape[1] // 8 * 8
    for j in range(0, blocks, 8):  # 8 rows of out at a time, each written from its start on
        for r in range(start, full, 8):
            _block_transposed(x, r, j, out, r - start)
    for r in range(start, full):  # the columns left over
        for j in range(blocks, n):
            out[j, r - start] = x[r, j]
    for r in range(full, stop):  # the rows left over
        for j in range(n):
            out[j, r - start] = x[r, j]
    for j in range(n):
        for c in range(stop - start, out.shape[1]):
            out[j, c] = 0


# (125, 25) float32: NumPy's copy 1.6 us, by as_columns 2.1; (288, 64) 23.8 against 5.5.
TRANSPOSED_FROM = 4096


def transposed(x, dtype=None, pad: int = 0):
    """x.T as a new C-contiguous array of dtype (x's by default), by as_columns where x is a 2-D float32 or float64
    array of that dtype with its rows contiguous: 3x as fast as NumPy's copy of x.T (an LSTM's (1024, 256) weight:
    109 against 358 us), which does the rest, and arrays under TRANSPOSED_FROM numbers (the call costs more). With
    ``pad``, each row has ``pad`` zeros after it: (x.shape[1], x.shape[0] + pad)."""
    dtype = x.dtype if dtype is None else np.dtype(dtype)
    by_numpy = x.ndim != 2 or x.size < TRANSPOSED_FROM or x.dtype != dtype or dtype not in (np.float32, np.float64)
    if by_numpy or x.strides[1] != x.itemsize:
        if not pad:
            return np.ascontiguousarray(x.T, dtype=dtype)
        out = np.zeros((x.shape[1], x.shape[0] + pad), dtype)
        out[:, : x.shape[0]] = x.T
        return out
    out = np.empty((x.shape[1], x.shape[0] + pad), dtype)
    as_columns(x, 0, x.shape[0], out)
    return out


def add_dot_nt(a, bt, c):
    """c += a @ bt^T inside kernels, for products whose both operands run along the sum: by dot.dot_nt compiled
    once (float32; a, bt and c C-contiguous), or by np.dot for other dtypes (tiles and dot_nt are float32's). As
    plain Python, dot_nt."""
    dot_nt(a, bt, c)


@overload(add_dot_nt, inline="always")
def _add_dot_nt(a, bt, c):
    if not compiles_tiles(a.dtype):

        def by_blas(a, bt, c):
            _blas_add_dot(a, bt.T, c)

        return by_blas

    def by_dot_nt(a, bt, c):  # (no check of the layouts here: a raise inside a prange loop would make it serial)
        _DOT_NT(data_pointer(a), data_pointer(bt), data_pointer(c), c.shape[0], c.shape[1], a.shape[1])

    return by_dot_nt
