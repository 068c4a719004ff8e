"""Elementwise math (tinynet/functions/pointwise, exponential, rounding, pointwise_binary, bitwise) against PyTorch:
values, dtypes and gradients of every op, as functions and as methods, on 0-d, empty, broadcast, non-contiguous,
float64 and integer inputs; the in-place forms; the errors PyTorch raises; gradcheck on drawn shapes."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from torch_oracle import check, torch

import tinynet as tn

# name: the input range its derivative is well behaved on (away from poles, inside the domain).
UNARY = {
    "sin": (-3, 3), "cos": (-3, 3), "tan": (-1.3, 1.3), "asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atan": (-3, 3),
    "sinh": (-3, 3), "cosh": (-3, 3), "asinh": (-3, 3), "acosh": (1.1, 4), "atanh": (-0.9, 0.9),
    "arcsin": (-0.9, 0.9), "arccos": (-0.9, 0.9), "arctan": (-3, 3), "arcsinh": (-3, 3), "arccosh": (1.1, 4),
    "arctanh": (-0.9, 0.9), "log2": (0.1, 3), "log10": (0.1, 3), "log1p": (-0.9, 3), "exp2": (-3, 3),
    "expm1": (-3, 3), "rsqrt": (0.2, 3), "reciprocal": (0.3, 3), "square": (-3, 3), "erf": (-3, 3),
    "erfc": (-3, 3), "erfinv": (-0.9, 0.9),
}  # fmt: skip
SHAPES = [(3, 4), (), (0, 3), (2, 1, 3)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_unary_math_matches_pytorch(backend_name, name, shape):
    low, high = UNARY[name]
    check(lambda lib, x: getattr(lib, name)(x), shape, low=low, high=high)
    check(lambda lib, x: getattr(x, name)(), shape, low=low, high=high)


@pytest.mark.parametrize("name", UNARY)
def test_unary_math_in_float64_and_on_non_contiguous_input(name):
    low, high = UNARY[name]
    check(lambda lib, x: getattr(lib, name)(x.transpose(0, 1)), (3, 5), low=low, high=high, dtype=np.float64)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
@pytest.mark.parametrize("name", UNARY)
def test_unary_math_of_integers_and_bools_is_pytorchs(name, dtype):
    # Floating ops compute integers in the default float dtype; square keeps integers (bools become int64).
    check(lambda lib, x: getattr(lib, name)(x), np.array([[0, 1, 2], [3, 1, 0]]).astype(dtype))


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [("asin", -300, -297), ("acos", 300, 303), ("atan", 300, 303), ("atanh", 300, 303), ("acosh", -300, -297),
     ("asinh", 300, 303), ("sinh", 80, 83), ("cosh", -83, -80), ("erf", -400, -300), ("erfc", 5, 10)],
)  # fmt: skip
def test_unary_math_far_outside_the_usual_range(name, low, high):
    # NaN outside a domain, inf on overflow: forward and gradient as PyTorch's (NaN equal to NaN).
    check(lambda lib, x: getattr(lib, name)(x), (4, 5), low=low, high=high)


@pytest.mark.parametrize("name", ["sin", "cos", "tan", "exp2", "log2", "log10", "log1p", "expm1", "rsqrt", "erf"])
def test_unary_math_of_nan_inf_and_zero(name):
    check(lambda lib, x: getattr(lib, name)(x), np.array([math.nan, math.inf, -math.inf, 0.0, -0.0], np.float32))


@pytest.mark.parametrize("name", ["sin", "cos"])
def test_trigonometry_of_large_arguments(name):
    values = np.array([1e1, 1e2, 1e3, 1e4, 1e5, -1e1, -1e3, -1e5], np.float32)
    check(lambda lib, x: getattr(lib, name)(x), values, atol=3e-3, rtol=3e-3)


def test_erfinv_at_plus_and_minus_one_and_beyond():
    check(lambda lib, x: lib.erfinv(x), np.array([-1.0, 1.0, 1.5, -2.0, 0.0], np.float32))


# --- rounding, sign, tests for NaN and inf ---------------------------------------------------------------------

EDGES = np.array([1.499, 1.5, 1.501, 1.0, 2.1, 0.0, -5.0, -2.499, -2.5, -2.501, 0.5, -0.5, 3.5], np.float32)
ROUNDING = ["floor", "ceil", "round", "trunc", "fix", "frac", "sign", "sgn"]


@pytest.mark.parametrize("name", ROUNDING)
def test_rounding_and_sign_match_pytorch_with_zero_gradients(backend_name, name):
    grad = name != "sgn"  # PyTorch's gradient of sgn is a ZeroTensor, which cannot be read as an array
    check(lambda lib, x: getattr(lib, name)(x), EDGES, grad=grad)  # halves round to even; gradients 0 (frac's 1)
    check(lambda lib, x: getattr(x, name)(), (4, 5), low=-10, high=10, grad=grad)
    check(lambda lib, x: getattr(lib, name)(x), (), grad=grad)
    check(lambda lib, x: getattr(lib, name)(x), (0, 2), grad=grad)
    check(lambda lib, x: getattr(lib, name)(x.transpose(0, 1)), (3, 4), dtype=np.float64, low=-5, high=5, grad=grad)
    x = tn.randn(3, requires_grad=True)
    getattr(tn, name)(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(3) if name == "frac" else np.zeros(3))


@pytest.mark.parametrize("decimals", [1, 2, 3, -1, -2])
def test_round_to_decimals(decimals):
    check(lambda lib, x: lib.round(x, decimals=decimals), (5, 6), low=-2000, high=2000)
    check(lambda lib, x: x.round(decimals=decimals), np.array([1234.5678, -0.125, 2.5, 1250.0, 1350.0, 0.0]))
    check(lambda lib, x: x.round(decimals=decimals), (4,), dtype=np.float64, low=-50, high=50)


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "fix", "sign", "sgn"])
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
def test_rounding_an_integer_tensor_returns_it_unchanged(name, dtype):
    check(lambda lib, x: getattr(lib, name)(x), np.array([5, 3, 0, 7]).astype(dtype))


def test_sign_of_bools_and_of_nan():
    check(lambda lib, x: lib.sign(x), np.array([True, False]))
    check(lambda lib, x: lib.sign(x), np.array([math.nan, -math.inf, math.inf, -0.0], np.float32))


SPECIALS = np.array([-math.inf, 0.0, math.inf, math.nan, 1.1, -2.0], np.float32)


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "isposinf", "isneginf"])
def test_tests_for_nan_and_inf(backend_name, name):
    check(lambda lib, x: getattr(lib, name)(x), SPECIALS)
    check(lambda lib, x: getattr(x, name)(), SPECIALS.astype(np.float64).reshape(2, 3))
    check(lambda lib, x: getattr(lib, name)(x), np.array([[1, -2], [0, 3]], np.int64))
    check(lambda lib, x: getattr(lib, name)(x), np.array([True, False]))
    check(lambda lib, x: getattr(lib, name)(x), np.zeros((0, 2), np.float32))


@pytest.mark.parametrize(
    "kwargs", [{}, {"nan": 1.0}, {"nan": 2.0, "posinf": 5.0}, {"neginf": -7.0}, {"posinf": 1e3, "neginf": -1e3}]
)
def test_nan_to_num(backend_name, kwargs):
    values = np.array([0.5, math.nan, math.inf, -math.inf, -3.0, 0.0], np.float32)
    check(lambda lib, x: lib.nan_to_num(x, **kwargs), values)  # the gradient flows only where x was finite
    check(lambda lib, x: x.nan_to_num(**kwargs), values.astype(np.float64))
    check(lambda lib, x: lib.nan_to_num(x, **kwargs), np.array([1, -2, 3], np.int32))
    check(lambda lib, x: lib.nan_to_num(x), ())


# --- two operands: %, //, fmod and the floating-point ones ------------------------------------------------------

MOD_A = [-4, 7, 5, 4, -7, 8, -9, 0]
MOD_B = [2, -3, 8, -2, 3, 5, -5, 3]


@pytest.mark.parametrize("float_a", [True, False])
@pytest.mark.parametrize("float_b", [True, False])
def test_remainder_fmod_and_floor_divide_follow_python_and_c(backend_name, float_a, float_b):
    a = np.array(MOD_A, np.float32 if float_a else np.int64)
    b = np.array(MOD_B, np.float32 if float_b else np.int64)
    for fn in (
        lambda lib, x, y: x % y, lambda lib, x, y: lib.remainder(x, y), lambda lib, x, y: x.remainder(y),
        lambda lib, x, y: x // y, lambda lib, x, y: lib.floor_divide(x, y), lambda lib, x, y: lib.fmod(x, y),
        lambda lib, x, y: x.fmod(y), lambda lib, x, y: x % 3, lambda lib, x, y: x % 3.5, lambda lib, x, y: x % -2,
        lambda lib, x, y: 100 % y, lambda lib, x, y: 100.5 % y, lambda lib, x, y: x // 2.5, lambda lib, x, y: 7 // y,
        lambda lib, x, y: lib.fmod(x, -2.5), lambda lib, x, y: lib.remainder(-7, y),
    ):  # fmt: skip
        check(fn, a, b, grad=False)


@pytest.mark.parametrize("dtype", [np.int32, np.int8, np.uint8])
def test_integer_division_keeps_the_integer_dtype(dtype):
    a, b = np.array([7, 5, 100, 0], dtype), np.array([2, 3, 7, 9], dtype)
    for fn in (lambda lib, x, y: x % y, lambda lib, x, y: x // y, lambda lib, x, y: lib.fmod(x, y)):
        check(fn, a, b)
        check(lambda lib, x, y: fn(lib, x, 3), a, b)  # noqa: B023 (used at once)


@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)], [(3, 1), (1, 4)], [(), ()], [(0, 3), (3,)]])
@pytest.mark.parametrize("name", ["remainder", "fmod"])
def test_remainder_and_fmod_gradients(backend_name, name, shapes):
    # dL/da = dL/dout, dL/db = -dL/dout · floor(a / b) (trunc for fmod); the divisors stay away from 0.
    check(lambda lib, x, y: getattr(lib, name)(x, y), *shapes, low=0.5, high=3)
    check(lambda lib, x, y: getattr(lib, name)(-x, y), *shapes, low=0.5, high=3)
    check(lambda lib, x, y: getattr(lib, name)(x, -y), *shapes, low=0.5, high=3, dtype=np.float64)
    check(lambda lib, x: getattr(lib, name)(x, 0.7), shapes[0])
    check(lambda lib, x: getattr(lib, name)(x.transpose(0, 1), -1.3), (3, 4), dtype=np.float64)


def test_floor_divide_of_floats_and_its_zero_gradient():
    check(lambda lib, x, y: lib.div(x, y, rounding_mode="floor"), (3, 4), (4,), low=0.5, high=3)
    check(lambda lib, x: lib.floor_divide(x, 0.7), (3, 4), grad=False)
    values = np.array([5.0, -5.0, 0.0, 1.0, -1.0], np.float32)
    check(lambda lib, x, y: lib.floor_divide(x, y), values, np.array([0.0, 0.0, 0.0, math.inf, math.inf], np.float32),
          grad=False)  # fmt: skip
    check(lambda lib, x, y: lib.remainder(x, y), values, np.array([0.0, 3.0, math.inf, -math.inf, 2.0], np.float32))


BINARY_SHAPES = [[(3, 4), (3, 4)], [(3, 4), (4,)], [(3, 1), (1, 4)], [(), ()], [(0, 3), (3,)], [(2, 3, 4), ()]]
FLOAT_BINARY = {"hypot": (-3, 3), "atan2": (-3, 3), "copysign": (-3, 3), "xlogy": (0.1, 3), "logaddexp": (-3, 3),
                "float_power": (0.2, 2), "arctan2": (-3, 3)}  # fmt: skip


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("name", FLOAT_BINARY)
def test_floating_binary_ops_broadcast_with_gradients(backend_name, name, shapes):
    low, high = FLOAT_BINARY[name]
    check(lambda lib, x, y: getattr(lib, name)(x, y), *shapes, low=low, high=high)
    check(lambda lib, x, y: getattr(y, name)(x), *shapes, low=low, high=high)
    check(lambda lib, x, y: getattr(lib, name)(x, y), *shapes, low=low, high=high, dtype=np.float64)


@pytest.mark.parametrize("name", FLOAT_BINARY)
def test_floating_binary_ops_of_a_float32_and_a_float64_tensor(name):
    low, high = FLOAT_BINARY[name]
    check(lambda lib, x, y: getattr(lib, name)(x, y.double()), (3, 4), (4,), low=low, high=high)
    check(lambda lib, x, y: getattr(lib, name)(x.transpose(0, 1), y), (4, 3), (4,), low=low, high=high)


@pytest.mark.parametrize("name", ["atan2", "copysign", "xlogy", "float_power"])
def test_integer_operands_give_floats(name):
    a, b = np.array([[5, -3, 0], [2, 1, 4]], np.int32), np.array([2, -1, 3], np.int64)
    check(lambda lib, x, y: getattr(lib, name)(x, y), a, b)
    check(lambda lib, x, y: getattr(lib, name)(x, y), a, np.array([0.5, -1.5, 2.0], np.float32))


def test_python_numbers_where_pytorch_takes_them():
    check(lambda lib, x: lib.copysign(x, -2), (3, 4))
    check(lambda lib, x: lib.xlogy(x, 2.5), (3, 4))
    check(lambda lib, x: lib.xlogy(2, x), (3, 4), low=0.1, high=3)
    check(lambda lib, x: lib.float_power(x, 2), (3, 4))
    check(lambda lib, x: lib.float_power(x, -1.5), (3, 4), low=0.2, high=3)
    check(lambda lib, x: lib.float_power(2.5, x), (3, 4))
    check(lambda lib, x: x.float_power(3), np.array([1, -2, 3], np.int32))


def test_copysign_and_xlogy_at_zero():
    grid = np.array([-1.0, 0.0, 1.0, -0.0], np.float32)
    a, b = np.repeat(grid, 4), np.tile(grid, 4)
    check(lambda lib, x, y: lib.copysign(x, y), a, b)
    check(lambda lib, x, y: lib.xlogy(x, y), np.array([0.0, 0.0, 1.0, 2.0, 0.0, 0.0, 1.0], np.float32),
          np.array([0.0, 3.0, 0.0, math.nan, math.nan, -1.0, -2.0], np.float32))  # fmt: skip
    check(
        lambda lib, x, y: lib.atan2(x, y),
        np.array([0.0, 3.0, -1.0], np.float32),
        np.array([0.0, 0.0, -2.0], np.float32),
    )
    check(lambda lib, x, y: lib.logaddexp(x, y), np.array([-math.inf, 300.0, -300.0], np.float32),
          np.array([-math.inf, 1.0, 1.0], np.float32))  # fmt: skip


@pytest.mark.parametrize(
    "weights",
    [(3, 4), (4,), (), (1, 4)],
    ids=str,
)
def test_lerp_with_a_tensor_weight(backend_name, weights):
    check(lambda lib, a, b, w: lib.lerp(a, b, w), (3, 4), (3, 4), weights, low=-0.5, high=1.5)
    check(lambda lib, a, b, w: a.lerp(b, w), (3, 1), (4,), weights, low=-0.5, high=1.5, dtype=np.float64)


@pytest.mark.parametrize("weight", [0.0, 0.25, 0.5, 1.0, 2.0, -1.0])
def test_lerp_with_a_number_weight(weight):
    check(lambda lib, a, b: lib.lerp(a, b, weight), (3, 4), (4,))
    check(
        lambda lib, a, b: a.lerp(b, weight),
        np.array([1.0, 2.0, 3.0], np.float32),
        np.array([4.0, 5.0, 6.0], np.float32),
    )
    check(lambda lib, a, b: lib.lerp(a, b, lib.tensor(weight, dtype=lib.float64)), (2, 3), (2, 3))
    check(lambda lib, a, b: lib.lerp(a, b, weight), (), ())


@pytest.mark.parametrize("op", ["clamp_min", "clamp_max"])
def test_clamp_min_and_clamp_max(backend_name, op):
    values = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 3.0, math.nan], np.float32)
    check(lambda lib, x: getattr(lib, op)(x, 0.5), values)  # the bound itself passes the gradient
    check(lambda lib, x: getattr(x, op)(0), (3, 4))
    check(lambda lib, x, m: getattr(lib, op)(x, m), (3, 4), (4,))  # a tensor bound gets the gradient where it wins
    check(
        lambda lib, x, m: getattr(lib, op)(x, m),
        np.array([1.0, 2.0, 3.0], np.float32),
        np.array([2.0, 2.0, 2.0], np.float32),
    )
    check(lambda lib, x: getattr(lib, op)(x, 2), np.array([5, -3, 0, 2], np.int32))
    check(lambda lib, x: getattr(lib, op)(x, 1.5), np.array([5, -3, 0, 2], np.int32))
    check(lambda lib, x: getattr(lib, op)(x, 0), np.array([True, False]))
    check(lambda lib, x: getattr(lib, op)(x, 0.1), (0, 3))


# --- bitwise and logical ----------------------------------------------------------------------------------------

DATA = np.array([[1, -8, 1], [32, 1, 6]], np.int32)
BOOLS = (np.array([True, True, False, False]), np.array([True, False, True, False]))
BITWISE = {
    "bitwise_and": lambda x, y: x & y,
    "bitwise_or": lambda x, y: x | y,
    "bitwise_xor": lambda x, y: x ^ y,
}


@pytest.mark.parametrize("name", BITWISE)
def test_bitwise_and_or_xor(backend_name, name):
    operator = BITWISE[name]
    check(lambda lib, x: operator(x, x * 3 + 1), DATA)
    check(lambda lib, x: operator(x, 0x1337), DATA)
    check(lambda lib, x: operator(0x1337, x), DATA)
    check(lambda lib, x: getattr(lib, name)(x, x.transpose(0, 1).reshape(2, 3)), DATA.astype(np.int64))
    check(lambda lib, x, y: getattr(x, name)(y), *BOOLS)
    check(lambda lib, x, y: operator(x, y), *BOOLS)
    check(lambda lib, x: operator(x, 1), BOOLS[0])  # bool and int: int64
    check(lambda lib, x: operator(x, True), BOOLS[0])
    check(lambda lib, x, y: operator(x, y), DATA, np.array([True, False, True]))  # int32 and bool: int32
    check(lambda lib, x, y: operator(x, y), DATA.astype(np.int8), np.array([3, 5, 7], np.int64))
    check(lambda lib, x, y: operator(x, y), np.array([200, 7], np.uint8), np.array([100, 3], np.uint8))
    check(lambda lib, x: operator(x, 3), np.zeros((0, 2), np.int64))
    check(lambda lib, x: ((1 < x) & (x < 2)) if name == "bitwise_and" else operator(x > 0, x < 1), (3, 4))


def test_bitwise_not():
    check(lambda lib, x: ~x, DATA)
    check(lambda lib, x: x.bitwise_not(), DATA)
    check(lambda lib, x: lib.bitwise_not(x), np.array([[True, False]]))
    check(lambda lib, x: ~x, np.array([0, 200, 255], np.uint8))
    check(lambda lib, x: (~x).argmax(), np.array([2, 2], np.int64))


@pytest.mark.parametrize("count", [0, 1, 2, 31, 32, 40, -1])
def test_shifts_by_any_count(backend_name, count):
    data = np.array([[0, 1, 2], [1 << 8, 1 << 16, (1 << 30) - 1], [-1, -8, -(1 << 31)]], np.int32)
    check(lambda lib, x: x << count, data)
    check(lambda lib, x: x >> count, data)
    check(lambda lib, x: x.bitwise_left_shift(count), data.astype(np.int64))
    check(lambda lib, x: lib.bitwise_right_shift(x, count), data.astype(np.int64))
    check(lambda lib, x: x >> count, np.array([200, 1, 255], np.uint8))
    check(lambda lib, x: x << count, np.array([200, 1, 255], np.uint8))


def test_shifts_by_a_tensor_and_of_a_number():
    counts = np.array([0, 1, 5, 9], np.int64)
    check(lambda lib, x, s: x << s, np.array([3, -3, 7, 1], np.int64), counts)
    check(lambda lib, x, s: x >> s, np.array([300, -300, 7, 1024], np.int64), counts)
    check(lambda lib, s: 1 << s, counts.astype(np.int32))
    check(lambda lib, s: 1024 >> s, counts.astype(np.int32))
    check(lambda lib, x: x << 1, np.array([True, False]))


LOGICAL = ["logical_and", "logical_or", "logical_xor"]


@pytest.mark.parametrize("name", LOGICAL)
def test_logical_ops_take_any_dtype(backend_name, name):
    check(lambda lib, x, y: getattr(lib, name)(x, y), *BOOLS)
    check(lambda lib, x, y: getattr(x, name)(y), np.array([1.0, 0.0, math.nan, -2.0], np.float32),
          np.array([0, 3, 0, 1], np.int32))  # fmt: skip
    check(lambda lib, x, y: getattr(lib, name)(x, y), (3, 4), (4,), grad=False)
    check(lambda lib, x, y: getattr(lib, name)(x, y), np.zeros((0, 3), np.int64), np.array([True, False, True]))


def test_logical_not():
    check(lambda lib, x: lib.logical_not(x), np.array([True, False, True]))
    check(lambda lib, x: x.logical_not(), np.array([1.0, 2.0, 0.0, 0.5, math.nan], np.float32))
    check(lambda lib, x: lib.logical_not(x), np.array([[0, 3], [-1, 0]], np.int64))


# --- in place ---------------------------------------------------------------------------------------------------

INPLACE = [
    ("sin_", (), (-3, 3)), ("exp2_", (), (-3, 3)), ("erfinv_", (), (-0.9, 0.9)), ("floor_", (), (-3, 3)),
    ("round_", (), (-3, 3)), ("frac_", (), (-3, 3)), ("sign_", (), (-3, 3)), ("nan_to_num_", (), (-3, 3)),
    ("clamp_min_", (0.3,), (-3, 3)), ("clamp_max_", (-0.3,), (-3, 3)), ("remainder_", (0.7,), (-3, 3)),
    ("fmod_", (-0.7,), (-3, 3)), ("floor_divide_", (0.7,), (-3, 3)), ("hypot_", (2.0,), (-3, 3)),
    ("copysign_", (-1.0,), (-3, 3)), ("xlogy_", (3.0,), (-3, 3)), ("lerp_", (2.0, 0.3), (-3, 3)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "bounds"), INPLACE, ids=[n for n, _, _ in INPLACE])
def test_in_place_forms_change_the_tensor_and_return_it(name, args, bounds):
    def fn(lib, x):
        y = x.detach() * 1
        # PyTorch's hypot_ and lerp_ take a tensor where the others take a number.
        args_here = [y * 0 + a if name in ("hypot_", "lerp_") and i == 0 else a for i, a in enumerate(args)]
        assert getattr(y, name)(*args_here) is y
        return y

    check(fn, (3, 4), low=bounds[0], high=bounds[1], grad=False)


INTEGER_INPLACE = [("bitwise_and_", 6), ("bitwise_or_", 6), ("bitwise_xor_", 6), ("bitwise_left_shift_", 2),
                   ("bitwise_right_shift_", 1), ("remainder_", 3), ("floor_divide_", 3), ("fmod_", -3)]  # fmt: skip


@pytest.mark.parametrize(("name", "arg"), INTEGER_INPLACE)
def test_in_place_bitwise_and_integer_forms(name, arg):
    check(lambda lib, x: getattr(x, name)(arg), DATA.copy())
    check(lambda lib, x: x.square_(), DATA.copy())
    check(lambda lib, x: x.logical_and_(x > 0), (3, 4), grad=False)


def test_in_place_refuses_a_tensor_that_requires_grad_and_a_dtype_it_cannot_hold():
    x = tn.randn(3, requires_grad=True)
    with pytest.raises(tn.GraphError, match="sin_"):
        x.sin_()
    with tn.no_grad():
        x.cos_()  # allowed, as optimizers do
    ints = tn.tensor([1, 2, 3])
    with pytest.raises(tn.DTypeError, match="sin_"):
        ints.sin_()
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2, 3]).sin_()


# --- errors where PyTorch raises -------------------------------------------------------------------------------


def raises_like_pytorch(fn, *arrays, match: str):
    """fn raises on PyTorch, and on tinynet a TinynetError whose message names ``match`` (the op)."""
    with pytest.raises(Exception):  # noqa: B017 (PyTorch raises RuntimeError, TypeError or NotImplementedError)
        fn(torch, *[torch.tensor(a) for a in arrays])
    with pytest.raises(tn.TinynetError, match=match):
        fn(tn, *[tn.tensor(a, dtype=a.dtype) for a in arrays])


FLOATS = np.ones(4, np.float32)
INTS = np.array([1, 2, 0, 4], np.int64)


@pytest.mark.parametrize(
    ("op", "fn", "arrays"),
    [
        ("bitwise_and", lambda lib, x, y: x & y, (FLOATS, FLOATS)),
        ("bitwise_or", lambda lib, x, y: lib.bitwise_or(x, y), (FLOATS, INTS)),
        ("bitwise_xor", lambda lib, x, y: x ^ y, (INTS, FLOATS)),
        ("bitwise_xor", lambda lib, x: x ^ 1.5, (INTS,)),
        ("bitwise_not", lambda lib, x: ~x, (FLOATS,)),
        ("bitwise_left_shift", lambda lib, x: x << 1, (FLOATS,)),
        ("bitwise_right_shift", lambda lib, x, y: x >> y, (BOOLS[0], BOOLS[1])),
        ("remainder", lambda lib, x, y: x % y, (INTS, INTS)),
        ("floor_divide", lambda lib, x: x // 0, (INTS,)),
        ("fmod", lambda lib, x, y: lib.fmod(x, y), (INTS, INTS)),
        ("remainder", lambda lib, x, y: x % y, BOOLS),
        ("floor", lambda lib, x: lib.floor(x), (BOOLS[0],)),
        ("round", lambda lib, x: lib.round(x, decimals=1), (INTS,)),
        ("frac", lambda lib, x: lib.frac(x), (INTS,)),
        ("hypot", lambda lib, x, y: lib.hypot(x, y), (INTS, INTS)),
        ("logaddexp", lambda lib, x, y: lib.logaddexp(x, y), (INTS, INTS)),
        ("lerp", lambda lib, x, y: lib.lerp(x, y, 0.5), (INTS, INTS)),
        ("lerp", lambda lib, x, y: lib.lerp(x, y.double(), 0.5), (FLOATS, FLOATS)),
        ("atan2", lambda lib, x, y: lib.atan2(x, y), (np.ones((2, 3), np.float32), np.ones((2,), np.float32))),
        ("hypot", lambda lib, x, y: lib.hypot(x, y), (np.ones((3,), np.float32), np.ones((4,), np.float32))),
        ("remainder", lambda lib, x, y: x % y, (np.ones((3,), np.float32), np.ones((2, 2), np.float32))),
        ("bitwise_and", lambda lib, x, y: x & y, (np.ones((3,), np.int64), np.ones((4,), np.int64))),
        ("logical_or", lambda lib, x, y: lib.logical_or(x, y), (np.ones((3,)), np.ones((4,)))),
        ("lerp", lambda lib, x, y, w: lib.lerp(x, y, w), (np.ones((3,), np.float32),) * 2 + (np.ones(2, np.float32),)),
        ("sin", lambda lib, x: lib.sin(x.tolist()), (FLOATS,)),
    ],
)
def test_errors_where_pytorch_raises(op, fn, arrays):
    raises_like_pytorch(fn, *arrays, match=op)


# --- gradients on drawn shapes ----------------------------------------------------------------------------------

SMOOTH = ["sin", "cos", "atan", "sinh", "cosh", "asinh", "expm1", "exp2", "square", "erf", "erfc"]
POSITIVE = ["log2", "log10", "log1p", "rsqrt", "reciprocal", "acosh"]
INSIDE_ONE = ["asin", "acos", "atanh", "erfinv", "tan"]

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


@given(shape=shapes, name=st.sampled_from(SMOOTH + POSITIVE + INSIDE_ONE), seed=st.integers(0, 2**16))
def test_unary_gradients_pass_gradcheck(shape, name, seed):
    rng = np.random.default_rng(seed)
    if name in POSITIVE:
        values = rng.uniform(1.2, 3.0, shape)
    elif name in INSIDE_ONE:
        values = rng.uniform(-0.8, 0.8, shape)
    else:
        values = rng.uniform(-2.0, 2.0, shape)
    x = tn.tensor(values, dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(getattr(tn, name), [x])


@given(
    shape=shapes,
    broadcast=st.booleans(),
    name=st.sampled_from(["hypot", "atan2", "copysign", "xlogy", "logaddexp", "remainder", "fmod", "float_power"]),
    seed=st.integers(0, 2**16),
)
def test_binary_gradients_pass_gradcheck(shape, broadcast, name, seed):
    rng = np.random.default_rng(seed)
    other_shape = shape[1:] if broadcast else shape
    # Operands away from 0 and from the remainder's jumps: a in (1, 2), b in (2.5, 4) keep a / b in (0.25, 0.8).
    a = tn.tensor(rng.uniform(1.0, 2.0, shape) * rng.choice([-1, 1], shape), dtype=tn.float64, requires_grad=True)
    b = tn.tensor(rng.uniform(2.5, 4.0, other_shape), dtype=tn.float64, requires_grad=True)
    if name in ("xlogy", "float_power"):
        a = tn.tensor(np.abs(a.numpy()), dtype=tn.float64, requires_grad=True)
    if name == "copysign":  # its gradient with respect to b is 0 (and b's sign never flips here)
        b = tn.tensor(b.numpy() * rng.choice([-1, 1], other_shape), dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(getattr(tn, name), [a, b])


@given(shape=shapes, seed=st.integers(0, 2**16))
def test_lerp_gradients_pass_gradcheck(shape, seed):
    rng = np.random.default_rng(seed)
    start, end = (tn.tensor(rng.standard_normal(shape), dtype=tn.float64, requires_grad=True) for _ in range(2))
    weight = tn.tensor(rng.uniform(-0.5, 1.5, shape[1:]), dtype=tn.float64, requires_grad=True)
    assert tn.gradcheck(tn.lerp, [start, end, weight])
