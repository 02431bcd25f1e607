"""loop.stats()'s system-call counters: epoll_wait, epoll_ctl, and the transports' recv and send."""

import asyncio

import pytest

SYSCALL_KEYS = ('epoll_wait', 'epoll_ctl', 'recv_calls', 'recv_eagain', 'send_calls', 'send_eagain')


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class Collect(asyncio.Protocol):
    """Gathers what it receives; `until(n)` waits for n bytes in all."""

    def __init__(self):
        self.received = bytearray()
        self.waiter = None
        self.wanted = 0

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.received += data
        if self.waiter is not None and len(self.received) >= self.wanted:
            self.waiter.set_result(None)
            self.waiter = None

    async def until(self, size):
        if len(self.received) < size:
            self.wanted = size
            self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter


@pytest.fixture
def connected(loop, run, pair):
    """(server protocol, client protocol): an echo server and a client over a socket pair."""
    a, b = pair

    async def connect():
        _, server = await loop.connect_accepted_socket(Echo, sock=a)
        _, client = await loop.create_connection(Collect, sock=b)
        return server, client
    server, client = run(connect())
    yield server, client
    client.transport.close()
    server.transport.close()
    run(asyncio.sleep(0))


def delta(before, after):
    return {key: after[key] - before[key] for key in SYSCALL_KEYS}


def test_a_new_loop_has_made_no_recv_or_send(loop):
    stats = loop.stats()
    assert [stats[key] for key in ('recv_calls', 'recv_eagain', 'send_calls', 'send_eagain')] == \
        [0, 0, 0, 0]
    assert stats['epoll_wait'] == stats['polls']


def sleep_counting_epoll_waits(loop, run):
    """(polls, epoll_wait calls) of the loop over a short sleep."""
    before = loop.stats()
    run(asyncio.sleep(0.01))
    after = loop.stats()
    return after['polls'] - before['polls'], after['epoll_wait'] - before['epoll_wait']


def test_a_wait_for_a_timer_counts_each_epoll_wait_call(loop, run):
    """Sleeping polls with a timeout and nothing ready: plain Python makes one epoll_wait call
    per poll; compiled, a busy poller first looks without waiting, so such a poll makes two."""
    polls, calls = sleep_counting_epoll_waits(loop, run)
    assert polls >= 1
    if loop._poller.waiter.n_calls is None:  # plain Python: select.epoll.poll, one call a poll
        assert calls == polls
    else:
        assert polls <= calls <= 2 * polls


def test_a_loop_that_waits_makes_one_epoll_wait_call_per_poll(loop, run):
    """Once a look found nothing ready, the poller waits at once: a loop that waits for its
    peers (or its timers) pays one syscall per wake-up, not a look and then a wait."""
    sleep_counting_epoll_waits(loop, run)
    polls, calls = sleep_counting_epoll_waits(loop, run)
    assert polls >= 1
    assert calls == polls


def test_echo_round_trip_counts_one_send_and_one_recv_each_way(loop, run, connected):
    _, client = connected
    before = loop.stats()

    async def round_trip():
        client.transport.write(b'ping')
        await client.until(4)
    run(round_trip())
    moved = delta(before, loop.stats())
    assert client.received == b'ping'
    # The client's send and the server's; the server's recv and the client's.
    assert moved['send_calls'] == 2
    assert moved['recv_calls'] == 2
    assert moved['send_eagain'] == moved['recv_eagain'] == 0
    assert moved['epoll_wait'] >= 1


def test_reading_costs_no_epoll_ctl_after_the_first_registration(loop, run, connected):
    """Reading stays registered while a connection is read: no epoll_ctl per message, LT or ET."""
    _, client = connected
    before = loop.stats()

    async def round_trips():
        for count in range(1, 51):
            client.transport.write(b'x')
            await client.until(count)
    run(round_trips())
    moved = delta(before, loop.stats())
    assert moved['epoll_ctl'] == 0
    assert moved['send_calls'] == moved['recv_calls'] == 100


def test_a_blocked_write_costs_epoll_ctl_in_lt_mode_only(loop, run, trigger, pair):
    """The write watch toggles: LT registers and drops EPOLLOUT with epoll_ctl, ET changes only
    its own record of the fd."""
    a, b = pair
    size = 8 * 1024 * 1024  # far more than the socket pair's buffers hold

    async def blocked_write():
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, sock=a)
        _, reader = await loop.create_connection(Collect, sock=b)
        before = loop.stats()
        transport.write(b'y' * size)  # the first send is short: the rest waits for writability
        await reader.until(size)
        await asyncio.sleep(0.01)  # the last flush has emptied the buffer and stopped writing
        moved = delta(before, loop.stats())
        transport.close()
        reader.transport.close()
        return moved
    moved = run(blocked_write())
    assert moved['send_calls'] >= 2
    assert moved['send_eagain'] <= moved['send_calls']
    assert moved['recv_eagain'] <= moved['recv_calls']
    if trigger == 'edge':
        assert moved['epoll_ctl'] == 0
    else:
        assert moved['epoll_ctl'] >= 2


def test_pausing_reading_costs_epoll_ctl_in_lt_mode_only(loop, run, trigger, connected):
    _, client = connected
    before = loop.stats()

    async def pause_and_resume():
        for count in range(1, 11):
            client.transport.pause_reading()
            client.transport.resume_reading()
            client.transport.write(b'z')
            await client.until(count)
    run(pause_and_resume())
    moved = delta(before, loop.stats())
    if trigger == 'edge':
        assert moved['epoll_ctl'] == 0
    else:
        assert moved['epoll_ctl'] >= 20
