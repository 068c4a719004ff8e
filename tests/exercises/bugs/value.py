"""Planted bugs of exercise `value` (see tests/test_exercises.py): (name, text of solutions/value.py, what replaces
it, a regular expression the failure's message or hint must match)."""

BUGS = [
    (
        "mul_wrong_sign",
        "self.grad += other.data * out.grad",
        "self.grad -= other.data * out.grad",
        r"\* passes .*|sign is flipped",
    ),
    (
        "assign_not_accumulate",
        "self.grad += out.grad\n            other.grad += out.grad",
        "self.grad = out.grad\n            other.grad = out.grad",
        r"used twice.*\+=",
    ),
    (
        "no_topological_order",
        "                for child in v._children:\n                    visit(child)\n                order.append(v)",
        "                order.append(v)\n                for child in v._children:\n                    visit(child)",
        r"reverse topological order",
    ),
]
