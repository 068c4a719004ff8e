"""Planted bugs of exercise `multi_head_attention` (see tests/test_exercises.py): (name, text of
solutions/multi_head_attention.py, what replaces it, a regular expression the failure's message or hint must
match)."""

BUGS = [
    (
        "split_without_transpose",
        "return x.reshape(n, t, self.num_heads, self.head_dim).transpose(1, 2)",
        "return x.reshape(n, self.num_heads, t, self.head_dim)",
        r"without the transpose.*mix",
    ),
    (
        "no_output_projection",
        "out = self.out_proj(self.merge_heads(weights @ v))",
        "out = self.merge_heads(weights @ v)",
        r"out_proj",
    ),
    (
        "scaled_by_model_dim",
        "/ math.sqrt(self.head_dim)",
        "/ math.sqrt(self.embed_dim)",
        r"sqrt\(embed_dim\), not by 1 / sqrt\(head_dim\)",
    ),
]
