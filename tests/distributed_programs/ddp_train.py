"""Data-parallel training against one process, written as a PyTorch program (only the imports name tinynet).

    mpiexec -n 2 python tests/distributed_programs/ddp_train.py [--bucket-cap-mb MB] [--steps N]

Each rank starts from different random weights (seeded by its rank): DistributedDataParallel must take rank 0's.
Each rank trains the DDP model on its share of every batch (rows rank, rank + world, ...); the same process also
trains a plain copy of rank 0's model on the whole batch. After the steps, in float64, both must agree to 1e-6, and
every rank must hold the same parameters. Exits non-zero (an AssertionError) otherwise; rank 0 prints "OK".
"""

import argparse
import contextlib
import copy

import numpy as np

import tinynet as torch
import tinynet.distributed as dist
import tinynet.nn as nn
import tinynet.nn.functional as F
from tinynet.nn.parallel import DistributedDataParallel as DDP  # noqa: N817 (as PyTorch programs write it)

TOLERANCE = 1e-6


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3))


def largest_difference(a: nn.Module, b: nn.Module) -> float:
    return max(float((p - q).abs().max()) for p, q in zip(a.parameters(), b.parameters()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bucket-cap-mb", type=float, default=None)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    # Never synchronise (every step inside no_sync): the comparison must then fail, which shows it can.
    parser.add_argument("--never-sync", action="store_true")
    args = parser.parse_args()

    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(rank)  # a different model on each rank, until DDP copies rank 0's
    model = make_model()
    ddp = DDP(model, bucket_cap_mb=args.bucket_cap_mb)
    assert ddp.module is model
    reference = copy.deepcopy(model)  # rank 0's weights now, trained on whole batches in this one process

    def optimizer(params):
        if args.optimizer == "adam":
            return torch.optim.Adam(params, lr=1e-2)
        return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-3)

    opt, ref_opt = optimizer(ddp.parameters()), optimizer(reference.parameters())
    data = np.random.default_rng(0)  # the same batches on every rank
    for _ in range(args.steps):
        x = torch.tensor(data.normal(size=(64, 8)))
        y = torch.tensor(data.integers(0, 3, size=64))
        opt.zero_grad()
        with ddp.no_sync() if args.never_sync else contextlib.nullcontext():
            loss = F.cross_entropy(ddp(x[rank::world]), y[rank::world])
            loss.backward()
        opt.step()
        ref_opt.zero_grad()
        F.cross_entropy(reference(x), y).backward()
        ref_opt.step()

    difference = largest_difference(model, reference)
    assert difference < TOLERANCE, f"rank {rank}: DDP and one process differ by {difference:.3g}"
    gathered = [None] * world
    dist.all_gather_object(gathered, [p.detach().numpy() for p in model.parameters()])
    for other in gathered[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(gathered[0], other)), "the ranks' parameters differ"
    if rank == 0:
        print(f"OK: {args.steps} steps on {world} ranks equal one process (largest difference {difference:.2g})")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
