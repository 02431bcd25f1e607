"""A held connection costs the same in both trigger modes, and so does the burst that opens it.

In ET mode a listening socket is reported once per new connection, and its acceptor re-queues
itself while connections remain queued beyond the budget of one event: without care, each new
edge adds a copy of the acceptor to the ready queue, and every copy accepts a batch and re-queues
itself. A burst of connections was then set up thousands in one pass of the loop (10,000 idle
connections kept 0.04-0.07 KiB more each in the server's RSS than in LT mode, from those passes'
transient objects), and other callbacks waited for all of them.
"""

import asyncio
import gc
import socket
import tracemalloc

import eloop

from test_streams_tcp import run

BATCH = 4  # create_server's backlog: at most this many accepts per readiness event
ARRIVING_PER_PASS = 16  # more than a batch, so that the kernel's queue grows during the burst
BURST = 256


def connect_without_waiting(port):
    """A client socket whose connection the kernel completes on its own (loopback)."""
    sock = socket.socket()
    sock.setblocking(False)
    sock.connect_ex(('127.0.0.1', port))
    return sock


class Accepted(asyncio.Protocol):
    """Lists the transports of the server's connections as they are made."""

    def __init__(self, transports):
        self.transports = transports

    def connection_made(self, transport):
        self.transports.append(transport)


async def close_all(server, transports, clients):
    for transport in transports:
        transport.close()
    for sock in clients:
        sock.close()
    server.close()
    await asyncio.wait_for(server.wait_closed(), 5)


def test_a_burst_of_connections_is_set_up_one_batch_per_pass(loop):
    """New connections keep coming while more than a batch is queued: each pass of the loop
    still sets up one batch at most, in both modes, so other callbacks run in between."""
    transports, clients, made_per_pass = [], [], []

    async def main():
        server = await loop.create_server(lambda: Accepted(transports), '127.0.0.1', 0,
                                          backlog=BATCH)
        port = server.sockets[0].getsockname()[1]
        # The kernel queues the whole burst; the server still takes BATCH per event.
        server._sockets[0].listen(BURST)
        all_made = loop.create_future()

        def each_pass(made_before):
            made_per_pass.append(len(transports) - made_before)
            if len(transports) == BURST:
                all_made.set_result(None)
                return
            for _ in range(min(ARRIVING_PER_PASS, BURST - len(clients))):
                clients.append(connect_without_waiting(port))
            loop.call_soon(each_pass, len(transports))

        loop.call_soon(each_pass, 0)
        try:
            await asyncio.wait_for(all_made, 20)
        finally:
            await close_all(server, transports, clients)

    run(loop, main())
    assert max(made_per_pass) <= BATCH, made_per_pass


def held_connection_bytes(trigger, count):
    """Python memory (tracemalloc) per connection a server holds idle, in `trigger` mode."""
    loop = eloop.new_event_loop(trigger=trigger)
    transports, clients = [], []

    async def main():
        server = await loop.create_server(lambda: Accepted(transports), '127.0.0.1', 0,
                                          backlog=count)
        port = server.sockets[0].getsockname()[1]
        clients.extend(socket.create_connection(('127.0.0.1', port)) for _ in range(count))
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        while len(transports) < count:
            await asyncio.sleep(0)
        for _ in range(3):
            await asyncio.sleep(0)  # the last connections' reading has started
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        await close_all(server, transports, clients)
        return (held - before) / count

    tracemalloc.start()
    try:
        return run(loop, main())
    finally:
        tracemalloc.stop()
        loop.close()


def test_a_held_connection_keeps_the_same_python_objects_in_both_modes():
    count = 300
    level = held_connection_bytes('level', count)
    edge = held_connection_bytes('edge', count)
    # Any object kept per connection in one mode only would take 48 bytes or more. In plain
    # Python an ET registration number is an int object (32 bytes past the cached small ints;
    # compiled, a C field), which this bound allows.
    assert abs(edge - level) <= 40, (level, edge)
