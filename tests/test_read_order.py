"""Where a read that the poll finds runs, among the callbacks of the same iteration.

A stream transport's read runs ahead of the callbacks queued before the poll (as uvloop runs its
I/O callbacks before the handles that wait for the next iteration), so that a task queued to go
back and wait for the next message finds it delivered. Other waiters keep asyncio's order: a
callback queued before the poll runs before an add_reader callback or a sock_* operation that
the poll makes ready.
"""

import asyncio
import logging
import socket
import time

import pytest


class Recording(asyncio.Protocol):
    def __init__(self, order):
        self.order = order

    def data_received(self, data):
        self.order.append(('data', data))


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def connect(loop, sock, protocol):
    transport, _ = loop.run_until_complete(
        loop.connect_accepted_socket(lambda: protocol, sock))
    return transport


def test_a_read_the_poll_finds_runs_before_the_callbacks_queued_before_it(loop, pair):
    a, b = pair
    order = []
    transport = connect(loop, a, Recording(order))
    b.send(b'request')  # in a's queue at once: the next poll finds it
    loop.call_soon(order.append, 'queued before the poll')
    loop.run_until_complete(asyncio.sleep(0))
    assert order == [('data', b'request'), 'queued before the poll']
    transport.close()


def test_callbacks_a_read_schedules_run_at_the_next_iteration(loop, pair):
    a, b = pair
    order = []

    class Scheduling(Recording):
        def data_received(self, data):
            super().data_received(data)
            loop.call_soon(order.append, 'scheduled by the read')
    transport = connect(loop, a, Scheduling(order))
    b.send(b'request')
    loop.call_soon(order.append, 'queued before the poll')
    loop.call_soon(loop.stop)
    loop.run_forever()  # one iteration: what the read schedules waits for the next
    assert order == [('data', b'request'), 'queued before the poll']
    loop.run_until_complete(asyncio.sleep(0))
    assert order[-1] == 'scheduled by the read'
    transport.close()


def test_a_server_task_that_goes_back_to_wait_finds_the_next_request_read(loop, pair):
    # The pattern of aiohttp's request loop: the protocol queues messages and wakes the task
    # only if it waits. A task that has sent its response is queued to go on; if the poll finds
    # the next request meanwhile, the task finds it queued and never parks on a future.
    a, b = pair
    parked = []

    class Server(asyncio.Protocol):
        def __init__(self):
            self.messages = []
            self.waiter = None

        def data_received(self, data):
            self.messages.append(data)
            if self.waiter is not None:
                self.waiter.set_result(None)

    async def serve(server, transport):
        for _ in range(2):
            if not server.messages:
                server.waiter = loop.create_future()
                parked.append(server.waiter)
                await server.waiter
                server.waiter = None
            transport.write(server.messages.pop(0).upper())
            await asyncio.sleep(0)  # what a handler's last step leaves: one more iteration

    server = Server()
    transport = connect(loop, a, server)

    async def main():
        task = loop.create_task(serve(server, transport))
        b.send(b'first')
        await asyncio.sleep(0.05)
        assert b.recv(100) == b'FIRST'
        b.send(b'second')  # comes while the task is queued to go back to wait
        await task
        assert b.recv(100) == b'SECOND'
    loop.run_until_complete(asyncio.wait_for(main(), 5))
    assert len(parked) == 1  # only for the first request
    transport.close()


def test_an_add_reader_callback_keeps_asyncios_order(loop, pair):
    a, b = pair
    order = []
    b.send(b'x')
    loop.add_reader(a.fileno(), order.append, 'reader')
    loop.call_soon(order.append, 'queued before the poll')
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.remove_reader(a.fileno())
    assert order == ['queued before the poll', 'reader']


def test_a_slow_read_is_logged_in_debug_mode(loop, pair, caplog):
    a, b = pair
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01

    class Slow(asyncio.Protocol):
        def data_received(self, data):
            time.sleep(0.03)
    transport = connect(loop, a, Slow())
    b.send(b'x')
    with caplog.at_level(logging.WARNING, logger='asyncio'):
        loop.run_until_complete(asyncio.sleep(0.01))
    assert any('Executing' in r.getMessage() and 'took' in r.getMessage()
               for r in caplog.records)
    transport.close()
