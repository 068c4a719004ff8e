"""PyTorch's rules where tinynet used to differ: type promotion, pow's gradient at zero, the operators' other
spellings (methods, alpha=, rounding_mode=), casts, where's forms, the fixed-rank products, and the clear error
for a PyTorch name tinynet does not have yet. PyTorch itself is the oracle (tests/torch_oracle.py)."""

import re
import sys

import numpy as np
import pytest
from torch_oracle import check, torch

import tinynet as tn
from tinynet.cli import main

# --- type promotion --------------------------------------------------------------------------------------------

OPERANDS = {
    "f32": lambda lib: lib.ones(2, 3, dtype=lib.float32),
    "f64": lambda lib: lib.ones(2, 3, dtype=lib.float64),
    "f16": lambda lib: lib.ones(2, 3, dtype=lib.float16),
    "i64": lambda lib: lib.ones(2, 3, dtype=lib.int64),
    "i32": lambda lib: lib.ones(3, dtype=lib.int32),
    "u8": lambda lib: lib.ones(3, dtype=lib.uint8),
    "i8": lambda lib: lib.ones(3, dtype=lib.int8),
    "b": lambda lib: lib.ones(3, dtype=lib.bool),
    "0d_f64": lambda lib: lib.tensor(2.0, dtype=lib.float64),
    "0d_f32": lambda lib: lib.tensor(2.0, dtype=lib.float32),
    "0d_i64": lambda lib: lib.tensor(3),
    "0d_i32": lambda lib: lib.tensor(3, dtype=lib.int32),
    "0d_b": lambda lib: lib.tensor(True),
    "float": lambda lib: 2.5,
    "int": lambda lib: 2,
    "bool": lambda lib: True,
}
PAIRS = [
    (a, b) for a in OPERANDS for b in OPERANDS if not (a in ("float", "int", "bool") and b in ("float", "int", "bool"))
]


@pytest.mark.parametrize(("left", "right"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_result_type_is_pytorchs(left, right):
    expected = torch.result_type(OPERANDS[left](torch), OPERANDS[right](torch))
    assert str(tn.result_type(OPERANDS[left](tn), OPERANDS[right](tn))) == str(expected).removeprefix("torch.")


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "where"])
@pytest.mark.parametrize(("left", "right"), [p for p in PAIRS if "b" not in p and "0d_b" not in p and "bool" not in p])
def test_binary_ops_compute_in_the_promoted_dtype(backend_name, op, left, right):
    if op in ("maximum", "where") and (left in ("float", "int") or right in ("float", "int")):
        return  # PyTorch's maximum takes tensors only; where's numbers are covered below

    def run(lib):
        a, b = OPERANDS[left](lib), OPERANDS[right](lib)
        if op == "where":
            return lib.where(lib.ones(3, dtype=lib.bool), a, b)
        return getattr(lib, op)(a, b)

    check(lambda lib: run(lib))


def test_the_default_dtype_decides_what_a_python_float_becomes():
    ints = tn.tensor([1, 2])
    assert (ints * 0.5).dtype == tn.float32 and (ints / 2).dtype == tn.float32
    tn.set_default_dtype(tn.float64)
    try:
        assert (ints * 0.5).dtype == tn.float64 and (ints / 2).dtype == tn.float64
        assert tn.get_default_dtype() == tn.float64 and tn.tensor([0.5]).dtype == tn.float64
        assert (tn.ones(2, dtype=tn.float32) * 0.5).dtype == tn.float32  # a tensor's own float dtype wins
    finally:
        tn.set_default_dtype(tn.float32)
    with pytest.raises(tn.DTypeError, match="set_default_dtype: expected a floating-point dtype, got int64"):
        tn.set_default_dtype(tn.int64)


def test_a_0d_float64_operand_keeps_a_float32_tensor_and_its_gradient_float32():
    x = tn.ones(3, requires_grad=True)
    scale = tn.tensor(2.0, dtype=tn.float64, requires_grad=True)
    out = x * scale
    assert out.dtype == tn.float32
    out.sum().backward()
    assert x.grad.dtype == tn.float32 and scale.grad.dtype == tn.float64 and scale.grad.item() == 3.0


# --- pow at zero -----------------------------------------------------------------------------------------------

POW_AT_ZERO = {
    "x ** 0": lambda lib, x: x**0,
    "x ** 0.0": lambda lib, x: x**0.0,
    "x ** 2": lambda lib, x: x**2,
    "x ** 1": lambda lib, x: x**1,
    "0 ** y": lambda lib, y: 0**y,
    "0.0 ** y": lambda lib, y: 0.0**y,
    "x ** y": lambda lib, x: x ** lib.zeros_like(x),
}


@pytest.mark.parametrize("name", POW_AT_ZERO)
def test_pow_gradients_at_zero_are_pytorchs_not_nan(backend_name, name):
    check(POW_AT_ZERO[name], np.array([0.0, 0.0, 1.5, 2.0], dtype=np.float32))


def test_the_gradient_of_x_pow_y_at_zero_zero_is_zero_for_both():
    # d(x^y)/dx = y x^(y-1) is 0 where y = 0; d(x^y)/dy = x^y log x is 0 where x = 0 and y >= 0 (PyTorch's values).
    check(lambda lib, x, y: x**y, np.zeros(3, np.float32), np.array([0.0, 1.0, 2.0], np.float32))


# --- the operators' other spellings ----------------------------------------------------------------------------

SPELLINGS = {
    "x.add(y)": lambda lib, x, y: x.add(y),
    "add alpha": lambda lib, x, y: lib.add(x, y, alpha=2.5),
    "x.sub(y, alpha)": lambda lib, x, y: x.sub(y, alpha=-2),
    "subtract": lambda lib, x, y: lib.subtract(x, y),
    "rsub": lambda lib, x, y: lib.rsub(x, y, alpha=3),
    "x.mul(2)": lambda lib, x, y: x.mul(2),
    "multiply": lambda lib, x, y: x.multiply(y),
    "x.div(y)": lambda lib, x, y: x.div(y),
    "divide": lambda lib, x, y: lib.divide(x, 4.0),
    "true_divide": lambda lib, x, y: x.true_divide(y),
    "div floor": lambda lib, x, y: lib.div(x * 3, y, rounding_mode="floor"),
    "div trunc": lambda lib, x, y: x.mul(3).div(y, rounding_mode="trunc"),
    "x.pow(y)": lambda lib, x, y: x.abs().pow(y),
    "pow(2, x)": lambda lib, x, y: lib.pow(2, x),
    "negative": lambda lib, x, y: x.negative(),
    "absolute": lambda lib, x, y: lib.absolute(x),
    "+x": lambda lib, x, y: +x,
    "abs(x)": lambda lib, x, y: abs(x),
    "x % y": lambda lib, x, y: x % y,
    "3 % x": lambda lib, x, y: 3 % x,
    "x // y": lambda lib, x, y: x // y,
    "2 // x": lambda lib, x, y: 2 // x,
}


# PyTorch has no derivative for floor division, nor for remainder with respect to its divisor: values only.
FORWARD_ONLY = {"div floor", "3 % x", "x // y", "2 // x"}


@pytest.mark.parametrize("name", SPELLINGS)
def test_operator_spellings_are_pytorchs(backend_name, name):
    fn, grad = SPELLINGS[name], name not in FORWARD_ONLY
    check(fn, (3, 4), (4,), low=0.5, high=3.0, grad=grad)
    check(fn, (3, 4), (4,), low=-3.0, high=-0.5, dtype=np.float64, grad=grad)


INTEGER_OPS = {
    "a // b": lambda lib, a, b: a // b,
    "a % b": lambda lib, a, b: a % b,
    "a / b": lambda lib, a, b: a / b,
    "div trunc": lambda lib, a, b: lib.div(a, b, rounding_mode="trunc"),
    "div floor": lambda lib, a, b: a.div(b, rounding_mode="floor"),
    "a & b": lambda lib, a, b: a & b,
    "a | b": lambda lib, a, b: a | b,
    "a ^ b": lambda lib, a, b: a ^ b,
    "~a": lambda lib, a, b: ~a,
    "a << 2": lambda lib, a, b: a << 2,
    "a >> 1": lambda lib, a, b: a >> 1,
    "5 & a": lambda lib, a, b: 5 & a,
    "a * 2.5": lambda lib, a, b: a * 2.5,
    "a + True": lambda lib, a, b: a + True,
    "a ** 2": lambda lib, a, b: a**2,
}


@pytest.mark.parametrize("name", INTEGER_OPS)
def test_integer_operators_are_pytorchs(name):
    a = np.array([[-7, -3, 0, 4, 9]], dtype=np.int64).repeat(2, axis=0)
    b = np.array([2, -3, 5, 3, -4], dtype=np.int64)
    check(INTEGER_OPS[name], a, b)
    check(INTEGER_OPS[name], a.astype(np.int32), b.astype(np.int32))


def test_bool_operators_are_pytorchs():
    a, b = np.array([True, True, False, False]), np.array([True, False, True, False])
    for fn in (lambda lib, a, b: a & b, lambda lib, a, b: a | b, lambda lib, a, b: a ^ b, lambda lib, a, b: ~a):
        check(fn, a, b)


def test_rounding_mode_must_be_one_of_pytorchs():
    with pytest.raises(tn.ArgumentError, match='div: rounding_mode must be None, "trunc" or "floor", not \'round\''):
        tn.div(tn.ones(2), 2, rounding_mode="round")


# --- casts -----------------------------------------------------------------------------------------------------

CASTS = ["float", "double", "half", "long", "int", "short", "char", "byte", "bool"]


@pytest.mark.parametrize("cast", CASTS)
def test_cast_methods_are_pytorchs(cast):
    values = np.array([[-2.5, 0.0, 1.0], [3.75, 255.0, -0.5]], dtype=np.float32)
    check(lambda lib, x: getattr(x, cast)(), values, grad=False)
    check(lambda lib, x: getattr(x, cast)() * 1, values if cast in ("float", "double", "half") else (2, 3))


def test_type_converts_with_a_dtype_and_names_the_type_without():
    check(lambda lib, x: x.type(lib.float64) * 2, (2, 3))
    for name, dtype in [("FloatTensor", tn.float32), ("LongTensor", tn.int64), ("BoolTensor", tn.bool)]:
        assert (
            tn.zeros(2, dtype=dtype).type()
            == f"torch.{name}"
            == torch.zeros(2, dtype=getattr(torch, str(dtype))).type()
        )
    assert tn.ones(2).is_floating_point() and not tn.ones(2, dtype=tn.int64).is_floating_point()
    assert tn.ones(2, dtype=tn.float64).element_size() == 8


def test_pytorchs_dtype_names_and_limits():
    for name in ["float", "double", "half", "long", "int", "short", "bool", "uint8", "int8", "int16"]:
        assert str(getattr(tn, name)) == str(getattr(torch, name)).removeprefix("torch.")
    assert tn.finfo(tn.float32).eps == torch.finfo(torch.float32).eps
    assert tn.finfo().max == torch.finfo().max  # the default dtype's
    assert tn.iinfo(tn.int32).max == torch.iinfo(torch.int32).max


# --- where -----------------------------------------------------------------------------------------------------

WHERE = {
    "tensors": lambda lib, x, y: lib.where(x > 0, x, y),
    "numbers": lambda lib, x, y: lib.where(x > 0, 1.0, 0.0),
    "tensor and number": lambda lib, x, y: lib.where(x > 0, x, 0.0),
    "number and tensor": lambda lib, x, y: lib.where(y > 0, 2, y),
    "ints": lambda lib, x, y: lib.where(x > 0, 1, 0),
    "method": lambda lib, x, y: x.where(x > y, y),
}


@pytest.mark.parametrize("name", WHERE)
def test_where_in_each_of_pytorchs_forms(backend_name, name):
    check(WHERE[name], (3, 4), (4,))


def test_where_refuses_a_condition_that_is_not_bool():
    with pytest.raises(tn.DTypeError, match="where: expected a bool condition, got a tensor of int64"):
        tn.where(tn.tensor([1, 0]), tn.ones(2), tn.zeros(2))


# --- the fixed-rank products -----------------------------------------------------------------------------------

PRODUCTS = {
    "mm": (lambda lib, a, b: lib.mm(a, b), (3, 4), (4, 2)),
    "x.mm": (lambda lib, a, b: a.mm(b), (3, 4), (4, 2)),
    "bmm": (lambda lib, a, b: lib.bmm(a, b), (2, 3, 4), (2, 4, 5)),
    "mv": (lambda lib, a, b: a.mv(b), (3, 4), (4,)),
    "dot": (lambda lib, a, b: lib.dot(a, b), (4,), (4,)),
    "addmm": (lambda lib, a, b: lib.addmm(b[0], a, b, beta=0.5, alpha=2), (3, 4), (4, 4)),
    "baddbmm": (lambda lib, a, b: lib.baddbmm(a @ b, a, b, alpha=0.5), (2, 4, 4), (2, 4, 4)),
}


@pytest.mark.parametrize("name", PRODUCTS)
def test_fixed_rank_products_are_pytorchs(backend_name, name):
    fn, *shapes = PRODUCTS[name]
    check(fn, *shapes, dtype=np.float64)


def test_fixed_rank_products_refuse_other_ranks_and_mixed_dtypes():
    with pytest.raises(tn.ShapeError, match=r"bmm: input must be 3-D, got shape \(3, 4\)"):
        tn.bmm(tn.ones(3, 4), tn.ones(2, 4, 5))
    with pytest.raises(tn.ShapeError, match=r"mm: mat2 must be 2-D, got shape \(4,\)"):
        tn.mm(tn.ones(3, 4), tn.ones(4))
    with pytest.raises(tn.DTypeError, match="matmul: both operands must have the same dtype, got float32 and float64"):
        tn.ones(2, 2) @ tn.ones(2, 2, dtype=tn.float64)


# --- what is not there yet -------------------------------------------------------------------------------------


def test_a_pytorch_name_tinynet_lacks_says_so_and_a_typo_stays_an_attribute_error():
    import tinynet.nn.functional as F

    missing = {
        (tn.ones(4), "stft"): "tinynet.Tensor.stft: PyTorch's Tensor.stft is not implemented in tinynet yet",
        (F, "grid_sample"): "tinynet.nn.functional.grid_sample: PyTorch's torch.nn.functional.grid_sample is not",
        (tn, "cholesky"): "tinynet.cholesky: PyTorch's torch.cholesky is not implemented",
        (tn.nn, "EmbeddingBag"): "tinynet.nn.EmbeddingBag: PyTorch's torch.nn.EmbeddingBag is not implemented",
    }
    for (owner, name), message in missing.items():
        with pytest.raises(tn.NotImplementedOpError, match=re.escape(message)):
            getattr(owner, name)
    typo = "sinn"
    with pytest.raises(AttributeError) as caught:
        getattr(tn.ones(4), typo)
    assert not isinstance(caught.value, tn.NotImplementedOpError)
    assert not hasattr(tn.ones(4), "stft") and getattr(tn, "histogramdd", None) is None


def test_tinynet_ops_missing_lists_what_pytorch_has_and_tinynet_lacks(capsys):
    assert main(["ops", "--missing"]) == 0
    out = capsys.readouterr().out
    assert "Tensor.*:" in out and " stft" in out
    assert " sum " not in out.split("Tensor.*:")[1].split("torch.nn.functional.*:")[0]  # present: not listed


# --- Python's protocols on a Tensor ----------------------------------------------------------------------------


def test_python_protocols_behave_as_on_a_pytorch_tensor():
    assert f"{tn.tensor(0.125)}" == f"{torch.tensor(0.125)}" == "0.125"  # a 0-d tensor formats as its value
    for lib in (torch, tn):
        loss, index, values = lib.tensor(0.123456), lib.tensor(2), lib.tensor([1.0, 2.0, 3.0])
        assert f"{loss:.3f}" == "0.123"
        assert list(range(index)) == [0, 1] and ["a", "b", "c"][index] == "c"
        assert 2.0 in values and 5 not in values
        np.testing.assert_array_equal(np.asarray(values), [1.0, 2.0, 3.0])
        assert values.nelement() == 3 and values.ndimension() == 1
    with pytest.raises(TypeError, match="only integer tensors of a single element can be an index"):
        ["a", "b"][tn.tensor(1.0)]


def test_to_takes_a_dtype_a_tensor_or_a_keyword():
    check(lambda lib, x, y: x.to(y) * 2, (2, 3), np.ones(3, np.float64))
    check(lambda lib, x: x.to(dtype=lib.float64) + 1, (2, 3))
    with pytest.raises(tn.ArgumentTypeError, match="to: give a dtype"):
        tn.ones(2).to()


def test_inference_mode_records_nothing_as_no_grad_and_false_records():
    x = tn.ones(2, requires_grad=True)
    with tn.inference_mode():
        assert (x * 2).grad_fn is None
    with tn.inference_mode(False):
        assert (x * 2).grad_fn is not None

    @tn.inference_mode()
    def predict(t):
        return t * 2

    assert predict(x).grad_fn is None and tn.is_grad_enabled()


ERRORS = {
    "shapes that do not broadcast": lambda lib: lib.ones(2) + lib.ones(3),
    "an unknown rounding mode": lambda lib: lib.ones(2).div(2, rounding_mode="typo"),
    "an integer condition": lambda lib: lib.where(lib.tensor([1, 0]), lib.ones(2), lib.zeros(2)),
    "mixed dtypes in matmul": lambda lib: lib.ones(2, 2) @ lib.ones(2, 2, dtype=lib.float64),
}


@pytest.mark.parametrize("name", ERRORS)
def test_errors_are_the_kind_pytorch_raises_so_its_except_clauses_catch_them(name):
    with pytest.raises(RuntimeError):
        ERRORS[name](torch)
    with pytest.raises(RuntimeError) as caught:
        ERRORS[name](tn)
    assert isinstance(caught.value, tn.TinynetError)


def test_autograd_grad_returns_gradients_without_touching_dot_grad():
    for lib in (torch, tn):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        w = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        hidden = x * w
        (gx, gw) = lib.autograd.grad((hidden * hidden).sum(), [x, w])
        np.testing.assert_allclose(
            np.asarray(gx.detach() if lib is torch else gx), 2 * np.array([1.0, 2, 3]) * [0.25, 1, 4]
        )
        np.testing.assert_allclose(
            np.asarray(gw.detach() if lib is torch else gw), 2 * np.array([0.5, -1, 2]) * [1, 4, 9]
        )
        assert x.grad is None and w.grad is None
        (g_hidden,) = lib.autograd.grad(hidden.sum() * 2, hidden)  # a non-leaf input
        np.testing.assert_allclose(np.asarray(g_hidden), [2.0, 2.0, 2.0])
    unused = tn.ones(1, requires_grad=True)
    with pytest.raises(tn.GraphError, match=r"autograd.grad: input 1 .* was not used to compute the outputs"):
        tn.autograd.grad((x * 2).sum(), [x, unused])
    assert tn.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)[1] is None


COMPARISONS = {
    "x.gt(y)": lambda lib, x, y: x.gt(y),
    "lib.le(x, 0.5)": lambda lib, x, y: lib.le(x, 0.5),
    "lib.lt(x, 0)": lambda lib, x, y: lib.lt(x, 0),
    "x.eq(x)": lambda lib, x, y: x.eq(x),
    "ne": lambda lib, x, y: lib.ne(x, y),
    "greater_equal": lambda lib, x, y: lib.greater_equal(x, y),
    "less": lambda lib, x, y: x.less(y),
    "isclose": lambda lib, x, y: x.isclose(x + 1e-6),
    "isclose atol": lambda lib, x, y: lib.isclose(x, x + 1e-6, atol=0.0, rtol=1e-9),
    "2 > x": lambda lib, x, y: 2 > x,
}


@pytest.mark.parametrize("name", COMPARISONS)
def test_comparisons_are_pytorchs(name):
    check(COMPARISONS[name], (3, 4), (4,), grad=False)


def test_isclose_edge_values_and_whole_tensor_checks():
    special = np.array([np.inf, -np.inf, np.nan, 0.0], np.float32)
    check(lambda lib, a, b: lib.isclose(a, b), special[:, None], special[None, :], grad=False)
    check(lambda lib, a, b: lib.isclose(a, b, equal_nan=True), special[:, None], special[None, :], grad=False)
    x = tn.tensor([1.0, 2.0])
    assert tn.allclose(x, x + 1e-9) and not x.allclose(x + 1) and tn.equal(x, x) and not tn.equal(x, x[:1])


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib, x: lib.linalg.norm(x),
        lambda lib, x: lib.linalg.norm(x, dim=1),
        lambda lib, x: lib.linalg.vector_norm(x, ord=1, dim=0, keepdim=True),
        lambda lib, x: lib.linalg.vector_norm(x, ord=float("inf")),
    ],
)
def test_the_linalg_namespace_has_pytorchs_norms(fn):
    check(fn, (3, 4))


def test_a_linalg_function_tinynet_lacks_says_so():
    with pytest.raises(
        tn.NotImplementedOpError, match=re.escape("tinynet.linalg.svd: PyTorch's torch.linalg.svd is not implemented")
    ):
        tn.linalg.svd(tn.ones(2, 2))


# --- devices, as far as a CPU program sees them ----------------------------------------------------------------


def test_reading_results_the_pytorch_way_works_on_the_cpu():
    check(lambda lib, x: (x * 2).detach().cpu(), (2, 3), grad=False)
    check(lambda lib, x: x.to("cpu") * x.cpu(), (2, 3))
    for lib in (torch, tn):
        x = lib.ones(2, 3)
        assert str(x.device) == "cpu" and x.device == lib.device("cpu") and not x.is_cuda
        assert x.to(x.device) is x and x.cpu() is x
        assert x.to("cpu", lib.float64).dtype == lib.float64 and x.to(lib.ones(1, dtype=lib.int64)).dtype == lib.int64
        np.testing.assert_array_equal(x.detach().cpu().numpy(force=True), np.ones((2, 3)))
    assert repr(tn.device("cuda:1")) == repr(torch.device("cuda:1")) == "device(type='cuda', index=1)"
    with pytest.raises(tn.ArgumentError, match="device: expected 'cpu' or 'cuda'"):
        tn.device("tpu")


def test_from_numpy_shares_memory_and_as_tensor_keeps_the_arrays_dtype():
    for lib in (torch, tn):
        array = np.arange(3.0)
        shared = lib.from_numpy(array)
        array[0] = 5.0
        assert shared[0].item() == 5.0 and str(shared.dtype).endswith("float64")
        assert str(lib.as_tensor(array).dtype).endswith("float64") and str(lib.as_tensor([1, 2]).dtype).endswith(
            "int64"
        )
        assert lib.as_tensor(shared) is shared


def test_attention_refuses_a_mask_together_with_is_causal_as_pytorch_does():
    q = tn.randn(1, 2, 4, 8)
    mask = tn.ones(4, 4, dtype=tn.bool)
    with pytest.raises(RuntimeError, match="give attn_mask or is_causal=True, not both"):
        tn.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=mask, is_causal=True)
    check(lambda lib, q: lib.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True), (1, 2, 4, 8))


def test_grouped_query_attention_shares_each_key_head_with_a_group_of_query_heads():
    check(
        lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=True),
        (2, 8, 5, 4),
        (2, 2, 6, 4),
        (2, 2, 6, 3),
    )
    with pytest.raises(tn.ShapeError, match="query's 8 heads must be a multiple of the key's and value's 3"):
        tn.nn.functional.scaled_dot_product_attention(
            tn.ones(1, 8, 2, 4), tn.ones(1, 3, 2, 4), tn.ones(1, 3, 2, 4), enable_gqa=True
        )


def test_pytorchs_old_constructors_and_backward_keywords():
    for lib in (torch, tn):
        assert lib.Tensor([2, 2]).argmax().item() == 0 and str(lib.Tensor([1, 2]).dtype).endswith("float32")
        assert tuple(lib.Tensor(3, 4).shape) == (3, 4) and tuple(lib.Tensor().shape) == (0,)
        assert str(lib.LongTensor([1, 2]).dtype).endswith("int64") and tuple(lib.FloatTensor(2, 3).shape) == (2, 3)
        a, b = lib.ones(3, requires_grad=True), lib.ones(3, requires_grad=True)
        (a * b * 3).backward(gradient=lib.ones(3), inputs=[a])
        assert a.grad.tolist() == [3.0, 3.0, 3.0] and b.grad is None
    with pytest.raises(tn.TinynetError, match=r"create_graph=True .* is not implemented in tinynet yet"):
        (tn.ones(1, requires_grad=True) * 2).sum().backward(create_graph=True)


@pytest.mark.parametrize("p", [2, 1, 3.5, float("inf")])
def test_dist_is_the_norm_of_the_difference(p):
    check(lambda lib, a, b: lib.dist(a, b, p), (3, 4), (4,))
    check(lambda lib, a, b: a.dist(b, p=p), (2, 3), (2, 3), dtype=np.float64)


# --- in-place operators ----------------------------------------------------------------------------------------


IN_PLACE = {
    "+=": lambda x, y: x.__iadd__(y),
    "-=": lambda x, y: x.__isub__(y),
    "*=": lambda x, y: x.__imul__(y),
    "/=": lambda x, y: x.__itruediv__(y),
    "**=": lambda x, y: x.__ipow__(2),
    "add_ alpha": lambda x, y: x.add_(y, alpha=-0.5),
    "sub_": lambda x, y: x.sub_(y),
    "mul_ number": lambda x, y: x.mul_(3),
    "div_": lambda x, y: x.div_(y),
    "clamp_": lambda x, y: x.clamp_(min=0.5),
    "neg_ abs_": lambda x, y: x.neg_().abs_(),
    "exp_ log_ sqrt_": lambda x, y: x.exp_().log_().sqrt_(),
}


@pytest.mark.parametrize("name", IN_PLACE)
def test_in_place_operators_change_the_same_tensor_as_pytorch(name):
    values = np.random.default_rng(5).uniform(0.5, 2.0, (3, 4)).astype(np.float32)
    for lib in (torch, tn):
        x, y = lib.tensor(values), lib.tensor(values[0])
        same = IN_PLACE[name](x, y)
        assert same is x
        if lib is torch:
            expected = x.numpy()
        else:
            np.testing.assert_allclose(x.numpy(), expected, rtol=1e-6)
            assert x._version > 0


def test_the_tutorials_update_loop_changes_the_parameters_and_the_loss_falls():
    rng = np.random.default_rng(0)
    xs = tn.tensor(rng.uniform(-1, 1, 200))
    ys = 2.0 * xs + 1.0
    w, b = tn.zeros(1, requires_grad=True), tn.zeros(1, requires_grad=True)
    losses = []
    for _ in range(50):
        loss = ((w * xs + b - ys) ** 2).mean()
        losses.append(loss.item())
        loss.backward()
        with tn.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
            w.grad.zero_()
            b.grad.zero_()
    assert losses[-1] < 0.1 * losses[0]


def test_in_place_changes_keep_the_dtype_and_shape_and_refuse_a_leaf_that_requires_grad():
    ints = tn.tensor([1, 2])
    with pytest.raises(RuntimeError, match="add_: result type float32 can't be cast to this tensor's dtype int64"):
        ints += 1.5
    with pytest.raises(RuntimeError, match=r"add_: the result has shape \(2, 2\) but this tensor has \(2,\)"):
        ints += tn.ones(2, 2, dtype=tn.int64)
    with pytest.raises(RuntimeError):  # PyTorch refuses it too
        torch.ones(2, requires_grad=True).add_(1)
    with pytest.raises(tn.GraphError, match=r"add_: cannot change this tensor .* in place.*leaf that requires grad"):
        tn.ones(2, requires_grad=True).add_(1)


# --- custom autograd Functions, PyTorch's way ------------------------------------------------------------------


def _legendre(lib):
    class LegendreP3(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return 0.5 * (5 * x**3 - 3 * x)

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * x**2 - 1)

    return LegendreP3


def _clipped_relu(lib):
    class ClippedReLU(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, limit):
            ctx.save_for_backward(x)
            ctx.limit = limit
            return x.clamp(min=0, max=limit)

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            grad = grad_output.clone()
            grad[(x < 0) | (x > ctx.limit)] = 0
            return grad, None

    return ClippedReLU


def test_a_custom_function_gets_tensors_as_in_pytorchs_tutorial():
    check(lambda lib, x: _legendre(lib).apply(x) * 2, (3, 4))
    check(lambda lib, x: _clipped_relu(lib).apply(x, 1.0), (3, 4))
    y = _legendre(tn).apply(tn.ones(2, requires_grad=True))
    assert y.grad_fn == "LegendreP3Backward" and isinstance(y, tn.Tensor)


def test_a_custom_function_can_mark_an_output_non_differentiable_and_must_return_a_tensor():
    class Argmax(tn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            out = x.argmax(dim=-1)
            ctx.mark_non_differentiable(out)
            return out

    assert not Argmax.apply(tn.randn(2, 3, requires_grad=True)).requires_grad

    class Pair(tn.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x, x

    with pytest.raises(tn.TinynetError, match=r"Pair\.forward returned tuple: a custom Function returns one Tensor"):
        Pair.apply(tn.ones(2, requires_grad=True))


def test_bfloat16_comes_from_ml_dtypes_or_says_what_to_install(monkeypatch):
    pytest.importorskip("ml_dtypes", reason="ml_dtypes is not installed: tn.bfloat16 needs it")
    x = tn.tensor([1.5, -2.25]).to(tn.bfloat16)
    assert str(x.dtype) == "bfloat16" and x.float().tolist() == [1.5, -2.25]
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # as if it were not installed
    with pytest.raises(tn.TinynetError, match=r"tn.bfloat16 needs the ml_dtypes package .* pip install ml_dtypes"):
        getattr(tn, "bfloat16")  # noqa: B009 (the attribute lookup is what is tested)


def test_mixed_precision_switched_off_passes_through_as_in_pytorch():
    model = tn.nn.Linear(2, 1)
    optimizer = tn.optim.SGD(model.parameters(), lr=0.1)
    for lib in (torch, tn):
        with pytest.warns(UserWarning, match="CUDA is not available"):
            lib.cuda.amp.GradScaler(enabled=True)  # PyTorch turns it off without a GPU, and says so
    scaler = tn.cuda.amp.GradScaler(enabled=False)
    before = model.weight.array.copy()
    loss = model(tn.ones(3, 2)).sum()
    assert scaler.scale(loss) is loss and not scaler.is_enabled()
    loss.backward()
    scaler.step(optimizer)
    scaler.update()
    assert not np.allclose(before, model.weight.array)  # the optimizer stepped
    with tn.autocast("cpu", enabled=False):
        assert (model(tn.ones(1, 2))).dtype == tn.float32


# --- what real programs do, as they do it ----------------------------------------------------------------------


def test_printing_a_tensor_looks_as_in_pytorch():
    for values in (
        [1.0, 2.0],
        [0.123456, 1.0],
        [2.0048447],
        [1e-5, 1.0],
        [float("nan"), 1.5],
        [[1.5, 2.25], [3.0, 4.125]],
    ):
        assert repr(tn.tensor(values)) == repr(torch.tensor(values))
    assert str(tn.tensor(2.0048447)) == str(torch.tensor(2.0048447)) == "tensor(2.0048)"


def test_old_spellings_that_programs_still_use():
    check(lambda lib, x, i: x[range(3), i], (3, 4), np.array([0, 3, 1]))  # the nn tutorial's nll
    for lib in (torch, tn):
        y = lib.zeros(3)
        y.add_(-0.5, lib.ones(3))  # add_(alpha, other): older word_language_model
        assert y.tolist() == [-0.5, -0.5, -0.5]
        x = lib.arange(6.0).reshape(2, 3)
        x.resize_(4)  # older dcgan
        assert x.tolist() == [0.0, 1.0, 2.0, 3.0]
        v = lib.autograd.Variable(lib.ones(2), requires_grad=True)
        assert v.requires_grad and isinstance(v, lib.Tensor)
        lib.nn.LSTM(2, 3).flatten_parameters()
    model = tn.nn.Linear(2, 2)
    assert tn.compile(model) is model  # nanoGPT's compile=True: runs eagerly
    from tinynet.utils.data.dataloader import DataLoader  # makemore's import
    from tinynet.utils.data.sampler import RandomSampler

    assert DataLoader is tn.utils.data.DataLoader and RandomSampler is tn.utils.data.RandomSampler
    from tinynet.utils.tensorboard import SummaryWriter

    with pytest.raises(tn.TinynetError, match="TensorBoard logging is not implemented in tinynet yet"):
        SummaryWriter()


def test_the_gradient_of_a_quotient_by_a_tiny_number_does_not_underflow_to_inf():
    # d(a/b)/db = -(a / b) / b: as a / b² it would be -inf wherever b² underflows, though the quotient is finite.
    check(lambda lib, a, b: a / b, np.array([1e-15, 1.0, 3.0], np.float32), np.array([1e-20, 1e-20, 2.0], np.float32))


@pytest.mark.parametrize("setting", [{"lr": float("nan")}, {"eps": float("nan")}, {"weight_decay": float("nan")}])
def test_an_optimizer_refuses_a_nan_setting_as_pytorch_does(setting):
    with pytest.raises(ValueError):
        torch.optim.Adam([torch.ones(2, requires_grad=True)], **setting)
    with pytest.raises(tn.ArgumentError, match=r"Adam: invalid .* value: nan"):
        tn.optim.Adam([tn.ones(2, requires_grad=True)], **setting)


@pytest.mark.parametrize(
    "program",
    [
        lambda m, a, b, c: m.addcmul(a, b, c, value=0.5),
        lambda m, a, b, c: m.addcdiv(a, b, c.abs() + 1, value=-2),
        lambda m, a, b, c: a.clone().addcmul_(b, c, value=3),
        lambda m, a, b, c: a.clone().addcdiv_(b, c.abs() + 1),
        lambda m, a, b, c: m.tensordot(a, b.T, dims=1),
        lambda m, a, b, c: m.tensordot(a.reshape(2, 3, 1), c.reshape(3, 2, 1), dims=([1, 2], [0, 2])),
        lambda m, a, b, c: m.tensordot(a, c, dims=2),
    ],
)
def test_addcmul_addcdiv_and_tensordot_as_pytorch(program):
    check(program, (2, 3), (2, 3), (2, 3))
