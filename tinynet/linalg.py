"""``tinynet.linalg``, as ``torch.linalg``: the norms. Decompositions and solvers are not in tinynet yet; asking for
one says so (``NotImplementedOpError``)."""

from tinynet.errors import NotImplementedOpError
from tinynet.functions.linalg import matmul
from tinynet.functions.moments import linalg_norm as norm
from tinynet.functions.moments import vector_norm

# PyTorch's torch.linalg functions that tinynet does not have yet.
_NOT_YET = frozenset(
    """cholesky cholesky_ex cond cross det diagonal eig eigh eigvals eigvalsh householder_product inv inv_ex
    ldl_factor ldl_factor_ex ldl_solve lstsq lu lu_factor lu_factor_ex lu_solve matrix_exp matrix_norm
    matrix_power matrix_rank multi_dot pinv qr slogdet solve solve_ex solve_triangular svd svdvals tensorinv
    tensorsolve vander vecdot""".split()
)


def __getattr__(name: str):
    if name in _NOT_YET:
        raise NotImplementedOpError(
            f"tinynet.linalg.{name}: PyTorch's torch.linalg.{name} is not implemented in tinynet yet"
        )
    raise AttributeError(f"module tinynet.linalg has no attribute {name!r}")


__all__ = ["matmul", "norm", "vector_norm"]
