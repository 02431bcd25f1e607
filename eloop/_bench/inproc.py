"""The loop-internals workloads, run in a child process on one loop.

    python -m eloop._bench.inproc --loop NAME --workload NAME --count N

prints one JSON line: {"label": ..., "metrics": {"ops_per_s": ..., "seconds": ..., "cpu_seconds": ...}}
or {"error": "..."}. Each workload is split into preparation (not timed: building inputs) and a
start() whose awaitable is run to completion under the clock.
"""

import argparse
import asyncio
import random
import socket
import sys
import time

from . import child, loops
from .servers import EchoProtocol

# Timer delays are drawn from [0, MAX_TIMER_DELAY): short enough that the run measures the
# timer heap (push, cancel, pop in order), not the wait for the last deadline.
MAX_TIMER_DELAY = 0.001
TIMER_SEED = 20240611


def chained_callbacks(loop, count):
    """Each callback schedules the next one with call_soon, `count` in all."""
    def start():
        done = loop.create_future()
        remaining = count

        def step():
            nonlocal remaining
            remaining -= 1
            if remaining:
                loop.call_soon(step)
            else:
                done.set_result(None)

        loop.call_soon(step)
        return done
    return start


def timers(loop, count):
    """`count` call_later timers with seeded random delays; every second one is cancelled."""
    rng = random.Random(TIMER_SEED)
    delays = [rng.random() * MAX_TIMER_DELAY for _ in range(count)]
    expected = count - count // 2

    def start():
        done = loop.create_future()
        fired = 0

        def fire():
            nonlocal fired
            fired += 1
            if fired == expected:
                done.set_result(None)

        handles = [loop.call_later(delay, fire) for delay in delays]
        for handle in handles[1::2]:
            handle.cancel()
        return done
    return start


def tasks(loop, count):
    """`count` tasks, each awaiting sleep(0) once."""
    async def sleeper():
        await asyncio.sleep(0)

    async def run():
        spawned = [loop.create_task(sleeper()) for _ in range(count)]
        for task in spawned:
            await task

    return run


class _Pinger(asyncio.Protocol):
    """Sends one byte, waits for it to come back, `count` times."""

    def __init__(self, count, done):
        self.remaining = count
        self.done = done

    def connection_made(self, transport):
        self.transport = transport
        transport.write(b'x')

    def data_received(self, data):
        self.remaining -= len(data)
        if self.remaining > 0:
            self.transport.write(b'x')
        elif not self.done.done():
            self.done.set_result(None)


def socketpair_round_trips(loop, count):
    """`count` one-byte round trips between two Protocols over a Unix socketpair."""
    async def run():
        near, far = socket.socketpair()
        done = loop.create_future()
        echo, _ = await loop.create_unix_connection(EchoProtocol, sock=far)
        pinger, _ = await loop.create_unix_connection(lambda: _Pinger(count, done), sock=near)
        try:
            await done
        finally:
            pinger.close()
            echo.close()

    return run


WORKLOADS = {
    'call_soon': chained_callbacks,
    'call_later': timers,
    'tasks': tasks,
    'sockpair': socketpair_round_trips,
}


def measure(loop, workload, count):
    """Run one workload to completion; its throughput and the time it took."""
    start = WORKLOADS[workload](loop, count)
    wall, cpu = time.perf_counter(), time.process_time()
    loop.run_until_complete(start())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {'ops_per_s': count / wall, 'seconds': wall, 'cpu_seconds': cpu}


def main(argv):
    parser = argparse.ArgumentParser(prog='python -m eloop._bench.inproc')
    parser.add_argument('--loop', required=True, choices=list(loops.LOOPS))
    parser.add_argument('--workload', required=True, choices=list(WORKLOADS))
    parser.add_argument('--count', type=int, required=True)
    args = parser.parse_args(argv)
    result = {}
    try:
        loop = loops.make_loop(args.loop)
        asyncio.set_event_loop(loop)
        result['label'] = loops.describe(args.loop, loop)
        result['metrics'] = measure(loop, args.workload, args.count)
    except Exception as exc:  # reported as this cell's error, not a crash of the whole run
        result['error'] = child.describe_error(exc)
    child.report(result)
    return 1 if 'error' in result else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
