"""tinynet.distributed's collectives and DistributedSampler across real ranks, written as a PyTorch program.

    mpiexec -n 2 python tests/distributed_programs/collectives.py

Every rank holds values made from its rank; each collective's result is checked against the same reduction
done here with NumPy over all ranks' values. Exits non-zero (an AssertionError) on a mismatch; rank 0 prints "OK".
"""

import os

import numpy as np

import tinynet as torch
import tinynet.distributed as dist
from tinynet.utils.data import DataLoader, DistributedSampler, TensorDataset


def values(rank: int, dtype, shape=(2, 3)) -> np.ndarray:
    """Rank ``rank``'s values: different on each rank, exact in every dtype used here."""
    return (np.arange(np.prod(shape)).reshape(shape) % 5 + rank + 1).astype(dtype)


def check_all_reduce(rank: int, world: int) -> None:
    everyone = {dtype: np.stack([values(r, dtype) for r in range(world)]) for dtype in ("float64", "float32", "int64")}
    expected = {
        dist.ReduceOp.SUM: lambda a: a.sum(0),
        dist.ReduceOp.MAX: lambda a: a.max(0),
        dist.ReduceOp.MIN: lambda a: a.min(0),
        dist.ReduceOp.PRODUCT: lambda a: a.prod(0),
    }
    for dtype, all_values in everyone.items():
        for op, reduce in expected.items():
            t = torch.from_numpy(values(rank, dtype))
            assert dist.all_reduce(t, op=op) is None
            assert t.dtype == all_values.dtype, (t.dtype, dtype)
            np.testing.assert_array_equal(t.numpy(), reduce(all_values), err_msg=f"{op} {dtype}")
    t = torch.from_numpy(values(rank, "float64"))
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    np.testing.assert_allclose(t.numpy(), everyone["float64"].mean(0))
    t = torch.from_numpy(values(rank, "float16"))  # reduced as float32, back in float16
    dist.all_reduce(t)
    assert t.dtype == torch.float16
    np.testing.assert_array_equal(t.numpy(), everyone["float32"].sum(0).astype("float16"))
    flags = torch.tensor([rank == 0, False, True])  # booleans: SUM is OR
    dist.all_reduce(flags)
    assert flags.tolist() == [True, False, True]
    column = torch.from_numpy(values(rank, "float64"))[:, 1]  # not contiguous: written back in place
    dist.all_reduce(column)
    np.testing.assert_array_equal(column.numpy(), everyone["float64"].sum(0)[:, 1])
    t = torch.from_numpy(values(rank, "float64"))
    work = dist.all_reduce(t, async_op=True)
    work.wait()
    assert work.is_completed()
    np.testing.assert_array_equal(t.numpy(), everyone["float64"].sum(0))


def check_others(rank: int, world: int) -> None:
    t = torch.from_numpy(values(rank, "float32"))
    dist.broadcast(t, src=world - 1)
    np.testing.assert_array_equal(t.numpy(), values(world - 1, "float32"))

    gathered = [torch.zeros(2, 3, dtype=torch.int64) for _ in range(world)]
    dist.all_gather(gathered, torch.from_numpy(values(rank, "int64")))
    for r in range(world):
        np.testing.assert_array_equal(gathered[r].numpy(), values(r, "int64"))
    into = torch.zeros(world * 2, 3)
    dist.all_gather_into_tensor(into, torch.from_numpy(values(rank, "float32")))
    np.testing.assert_array_equal(into.numpy(), np.concatenate([values(r, "float32") for r in range(world)]))

    # reduce_scatter: rank r gets the sum over ranks of their r-th input.
    inputs = [torch.from_numpy(values(rank + 10 * k, "float64")) for k in range(world)]
    out = torch.zeros(2, 3, dtype=torch.float64)
    dist.reduce_scatter(out, inputs, op=dist.ReduceOp.SUM)
    np.testing.assert_array_equal(out.numpy(), sum(values(r + 10 * rank, "float64") for r in range(world)))
    whole = torch.from_numpy(np.concatenate([values(rank + 10 * k, "float64") for k in range(world)]))
    out = torch.zeros(2, 3, dtype=torch.float64)
    dist.reduce_scatter_tensor(out, whole, op=dist.ReduceOp.MAX)
    np.testing.assert_array_equal(out.numpy(), values(world - 1 + 10 * rank, "float64"))

    objects = [None] * world
    dist.all_gather_object(objects, {"rank": rank, "name": "x" * rank})
    assert objects == [{"rank": r, "name": "x" * r} for r in range(world)], objects
    shared = [rank, "from rank 0" if rank == 0 else None]
    dist.broadcast_object_list(shared, src=0)
    assert shared == [0, "from rank 0"], shared
    dist.barrier()


def check_sampler(rank: int, world: int) -> None:
    """Each rank's DistributedSampler share, gathered: together the shares are the data set exactly once."""
    n = 10 * world
    dataset = TensorDataset(torch.arange(n))
    for shuffle in (False, True):
        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=3)
        assert (sampler.num_replicas, sampler.rank) == (world, rank)
        orders = []
        for epoch in range(2):
            sampler.set_epoch(epoch)
            mine = [int(i) for (batch,) in DataLoader(dataset, batch_size=4, sampler=sampler) for i in batch]
            shares = [None] * world
            dist.all_gather_object(shares, mine)
            assert sorted(i for share in shares for i in share) == list(range(n)), shares
            assert all(len(share) == n // world for share in shares)
            orders.append(shares)
        assert (orders[0] != orders[1]) == shuffle, "set_epoch must change a shuffled order, and only that"


def main() -> None:
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    assert (int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])) == (rank, world)
    assert int(os.environ["LOCAL_RANK"]) == rank  # (every rank on this one machine)
    check_all_reduce(rank, world)
    check_others(rank, world)
    check_sampler(rank, world)
    dist.destroy_process_group()
    assert not dist.is_initialized()
    if rank == 0:
        print(f"OK: collectives and DistributedSampler on {world} ranks")


if __name__ == "__main__":
    main()
