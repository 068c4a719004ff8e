"""Never lose a trained model, never grow without bound: a checkpoint survives its writer being killed,
training resumes in a new process exactly where it stopped, and 10,000 training steps keep memory flat."""

import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np

import tinynet as tn
import tinynet.nn.functional as F
from tinynet import nn, optim


def _python(code: str, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], **popen)


def test_killing_the_writer_in_the_middle_of_save_leaves_a_whole_checkpoint(tmp_path):
    """A child saves ever newer 40 MB checkpoints, each filled with its version number, and is killed
    (SIGKILL: no clean-up runs) while writing: what is on disk must load, whole, as some finished version."""
    path, started = tmp_path / "model.npz", tmp_path / "started"
    child = _python(
        """
        import sys, pathlib
        import numpy as np
        import tinynet as tn
        path, started = sys.argv[1], pathlib.Path(sys.argv[2])
        for version in range(10_000):
            tn.save({"version": version, "weights": tn.tensor(np.full(10_000_000, version, np.float32))}, path)
            started.touch()
        """,
        str(path), str(started),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert started.exists(), "the child never finished its first save"
        time.sleep(0.35)  # a 40 MB save takes longer than this: the kill lands mid-write
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    checkpoint = tn.load(path)
    weights = checkpoint["weights"].numpy()
    assert weights.shape == (10_000_000,) and (weights == checkpoint["version"]).all()
    leftovers = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert len(leftovers) <= 1  # at most the write that was cut short, hidden beside the checkpoint


RESUMABLE_TRAINING = """
    import json, sys
    import numpy as np
    import tinynet as tn
    import tinynet.nn.functional as F
    from tinynet import nn, optim

    steps, save_at, resume, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "resume", sys.argv[4]
    tn.manual_seed(0)
    rng = np.random.default_rng(0)
    x, y = tn.tensor(rng.standard_normal((64, 1, 8, 8))), tn.tensor(rng.integers(0, 3, 64))
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.2),
                          nn.Linear(36, 3))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
    first = 0
    if resume:
        checkpoint = tn.load(path)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        tn.set_rng_state(checkpoint["rng"])
        first = checkpoint["step"]
    losses = []
    for step in range(first, steps):
        if step == save_at and not resume:
            tn.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "rng": tn.get_rng_state(), "step": step}, path)
        batch = slice(step % 4 * 16, step % 4 * 16 + 16)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x[batch]), y[batch])
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    print(json.dumps(losses))
"""


def _run_training(*args: str) -> list[float]:
    child = _python(RESUMABLE_TRAINING, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0, err[-3000:]
    return json.loads(out)


def test_training_resumed_in_a_new_process_continues_bit_for_bit(tmp_path):
    """Save model, optimizer, scheduler, random state and step at step 7 of 15; a new process loads them and
    trains on: its losses for steps 7..14 equal the uninterrupted run's exactly (numpy backend)."""
    path = str(tmp_path / "resume.npz")
    uninterrupted = _run_training("15", "7", "fresh", path)
    resumed = _run_training("15", "7", "resume", path)
    assert len(uninterrupted) == 15 and len(resumed) == 8
    assert resumed == uninterrupted[7:]  # ==, not allclose: the same bits


def test_ten_thousand_training_steps_keep_memory_flat():
    """Each step's graph is freed when the next loss replaces it: after warm-up, Python-visible memory
    (NumPy's arrays included: tracemalloc sees them) must not grow with the number of steps."""
    tn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    x, y = tn.tensor(rng.standard_normal((4, 1, 6, 6))), tn.tensor(rng.integers(0, 3, 4))

    def train(steps: int) -> None:
        for _ in range(steps):
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()

    def live_bytes() -> int:
        # A full collection first: it also empties CPython's free lists of small tuples and floats, which
        # tracemalloc counts as allocated (bounded caches, up to a few hundred KB here), not as leaks.
        gc.collect()
        return tracemalloc.get_traced_memory()[0]

    train(200)  # warm-up: optimizer state, caches
    tracemalloc.start()
    try:
        train(100)
        after_warmup = live_bytes()
        train(10_000)
        _, peak = tracemalloc.get_traced_memory()
        after_run = live_bytes()
    finally:
        tracemalloc.stop()
    growth = after_run - after_warmup
    print(f"live memory after 100 steps {after_warmup} B, after 10,100 steps {after_run} B, peak {peak} B")
    assert growth < 16 * 1024, f"memory grew by {growth} bytes over 10,000 steps"
    assert peak - after_warmup < 2 * 1024 * 1024  # a step's graph and the free lists, never more
