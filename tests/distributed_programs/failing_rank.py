"""One rank fails in the middle of data-parallel training; the others must stop with an error, not hang.

    mpiexec -n 2 python tests/distributed_programs/failing_rank.py kill|hang|raise [--timeout SECONDS]

At step 3 the last rank kills itself (SIGKILL: no Python clean-up at all), hangs (sleeps far past the timeout,
taking part in nothing), or raises an exception nobody catches. The others go on training: their next gradient
all-reduce cannot complete, and they must exit non-zero within the timeout given to init_process_group.
"""

import argparse
import datetime
import os
import signal
import time

import tinynet as torch
import tinynet.distributed as dist
import tinynet.nn as nn
import tinynet.nn.functional as F
from tinynet.nn.parallel import DistributedDataParallel as DDP  # noqa: N817 (as PyTorch programs write it)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("failure", choices=["kill", "hang", "raise"])
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=args.timeout))
    rank, world = dist.get_rank(), dist.get_world_size()
    model = DDP(nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(100):
        if step == 3 and rank == world - 1:
            print(f"rank {rank}: failing ({args.failure}) at step {step}", flush=True)
            if args.failure == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif args.failure == "hang":
                time.sleep(100 * args.timeout)
            else:
                raise RuntimeError("a bug in rank's own code")
        opt.zero_grad()
        F.mse_loss(model(torch.ones(3, 4)), torch.zeros(3, 2)).backward()
        opt.step()
    print(f"rank {rank}: finished all steps, which it must not have", flush=True)


if __name__ == "__main__":
    main()
