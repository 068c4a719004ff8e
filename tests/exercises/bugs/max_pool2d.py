"""Planted bugs of exercise `max_pool2d` (see tests/test_exercises.py): (name, text of solutions/max_pool2d.py,
what replaces it, a regular expression the failure's message or hint must match)."""

BUGS = [
    (
        "output_size_off_by_one",
        "oh, ow = (h - k) // s + 1, (w - k) // s + 1",
        "oh, ow = (h - k) // s, (w - k) // s",
        r"OH = \(H - kernel\) // stride \+ 1",
    ),
    (
        "window_off_by_one",
        "window = xs[:, :, i * s : i * s + k, j * s : j * s + k].reshape(n, c, -1)",
        "window = xs[:, :, i * s : i * s + k - 1, j * s : j * s + k].reshape(n, c, -1)",
        r"the window at \(i, j\) is .*kernel rows",
    ),
    (
        "gradient_to_every_position",
        "+= window.reshape(n, c, k, k)",
        "+= g[:, :, i, j, None, None] * np.ones((k, k))",
        r"not to every position of the window",
    ),
    (
        "gradient_averaged",
        "+= window.reshape(n, c, k, k)",
        "+= g[:, :, i, j, None, None] * np.ones((k, k)) / (k * k)",
        r"not averaged over the window",
    ),
    (
        "overlapping_windows_overwrite",
        "dx[:, :, i * s : i * s + k, j * s : j * s + k] += window.reshape(n, c, k, k)",
        "dx[:, :, i * s : i * s + k, j * s : j * s + k] = window.reshape(n, c, k, k)",
        r"overlap.*add \(\+=\), do not assign",
    ),
]
