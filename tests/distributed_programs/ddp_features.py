"""DistributedDataParallel's gradient accumulation (no_sync), unused parameters and buffers, written as a PyTorch
program that asks for the "gloo" backend, as CPU PyTorch programs do (tinynet runs it on MPI).

    mpiexec -n 2 python tests/distributed_programs/ddp_features.py

- no_sync: 3 micro-batches per rank (2 inside no_sync, the last outside) give, on every rank, the gradients of
  one process on the whole big batch;
- find_unused_parameters=True: a parameter no rank uses keeps no gradient, one used by rank 0 only gets the
  average; without it, the forward after such a backward raises;
- broadcast_buffers: rank 0's buffers reach every rank before each forward.
Exits non-zero (an AssertionError) on a mismatch; rank 0 prints "OK".
"""

import copy
import warnings

import numpy as np

import tinynet as torch
import tinynet.distributed as dist
import tinynet.nn as nn
import tinynet.nn.functional as F
from tinynet.nn.parallel import DistributedDataParallel as DDP  # noqa: N817 (as PyTorch programs write it)


def check_no_sync(rank: int, world: int) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 1))
    ddp = DDP(model)
    reference = copy.deepcopy(model)
    data = np.random.default_rng(1)
    chunks = [(torch.tensor(data.normal(size=(8, 5))), torch.tensor(data.normal(size=(8, 1)))) for _ in range(3)]
    for step, (x, y) in enumerate(chunks):  # each rank its half of each micro-batch; the loss scaled for 3 of them
        mine = slice(rank * 8 // world, (rank + 1) * 8 // world)
        if step < len(chunks) - 1:
            with ddp.no_sync():
                (F.mse_loss(ddp(x[mine]), y[mine]) / len(chunks)).backward()
            local = [p.grad.clone() for p in model.parameters()]
        else:
            (F.mse_loss(ddp(x[mine]), y[mine]) / len(chunks)).backward()
    x = torch.cat([c[0] for c in chunks])
    y = torch.cat([c[1] for c in chunks])
    F.mse_loss(reference(x), y).backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=0, atol=1e-6)
    # Inside no_sync the gradients were this rank's own, accumulated: as a plain copy gets on its halves.
    alone = copy.deepcopy(reference)
    alone.zero_grad()
    for x, y in chunks[:-1]:
        (F.mse_loss(alone(x[mine]), y[mine]) / len(chunks)).backward()
    for before, q in zip(local, alone.parameters()):
        np.testing.assert_allclose(before.numpy(), q.grad.numpy(), rtol=0, atol=1e-12)


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(4, 4)
        self.head_a = nn.Linear(4, 1)  # rank 0 only
        self.never = nn.Linear(4, 1)  # no rank
        self.register_buffer("seen", torch.zeros(1))

    def forward(self, x, use_a: bool):
        self.seen += 1
        h = self.body(x)
        return self.head_a(h) if use_a else h.sum(dim=1, keepdim=True)


def check_unused(rank: int, world: int) -> None:
    torch.manual_seed(0)
    model = TwoHeads()
    model.seen.fill_(10 * rank)  # rank 0's buffer must win
    ddp = DDP(model, find_unused_parameters=True)
    assert float(model.seen) == 0
    model.seen.fill_(100 * rank)  # and again before each forward
    x = torch.ones(2, 4) * (rank + 1)
    ddp(x, use_a=rank == 0).sum().backward()
    assert float(model.seen) == 1, float(model.seen)
    assert model.never.weight.grad is None
    # head_a: rank 0's gradient averaged with rank 1's zero.
    h = model.body(torch.ones(2, 4)).detach()
    np.testing.assert_allclose(model.head_a.weight.grad.numpy(), h.sum(0, keepdim=True).numpy() / world, atol=1e-6)
    # body: the average over ranks of each rank's gradient, computed here for every rank in this process.
    expected = []
    for r in range(world):
        body = copy.deepcopy(model)
        body.zero_grad()
        body(torch.ones(2, 4) * (r + 1), use_a=r == 0).sum().backward()
        expected.append(body.body.weight.grad.numpy())
    np.testing.assert_allclose(model.body.weight.grad.numpy(), np.mean(expected, axis=0), atol=1e-6)

    strict = DDP(TwoHeads())  # find_unused_parameters=False: the next forward must refuse
    strict(x, use_a=False).sum().backward()
    try:
        strict(x, use_a=False)
    except RuntimeError as err:
        assert "find_unused_parameters=True" in str(err), err
    else:
        raise AssertionError("a forward after a backward that missed parameters must raise")


def main() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist.init_process_group(backend="gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    notes = [str(w.message) for w in caught if "runs on MPI" in str(w.message)]
    assert len(notes) == (1 if rank == 0 else 0), notes  # noted once, by rank 0
    torch.set_default_dtype(torch.float64)
    check_no_sync(rank, world)
    check_unused(rank, world)
    ddp = DDP(nn.Linear(2, 2))
    assert sorted(ddp.state_dict()) == ["module.bias", "module.weight"]
    dist.destroy_process_group()
    if rank == 0:
        print(f"OK: no_sync, unused parameters and buffers on {world} ranks")


if __name__ == "__main__":
    main()
