"""``tinynet.linalg``, as ``torch.linalg``: the norms. Decompositions and solvers are not in tinynet yet; asking for
one says so (``NotImplementedOpError``)."""

from tinynet.functions.linalg import matmul
from tinynet.functions.moments import linalg_norm as norm
from tinynet.functions.moments import vector_norm
from tinynet.missing import module_getattr

# PyTorch's torch.linalg functions that tinynet does not have yet.
_NOT_YET = frozenset(
    """cholesky cholesky_ex cond cross det diagonal eig eigh eigvals eigvalsh householder_product inv inv_ex
    ldl_factor ldl_factor_ex ldl_solve lstsq lu lu_factor lu_factor_ex lu_solve matrix_exp matrix_norm
    matrix_power matrix_rank multi_dot pinv qr slogdet solve solve_ex solve_triangular svd svdvals tensorinv
    tensorsolve vander vecdot""".split()
)


__getattr__ = module_getattr("tinynet.linalg", "torch.linalg", _NOT_YET)

__all__ = ["matmul", "norm", "vector_norm"]
