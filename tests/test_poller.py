"""The poller under add_reader/add_writer and the completion queue, in both trigger modes."""

import asyncio
import hashlib
import os
import select
import socket
import time

import pytest

import eloop
from eloop import _epoll


def run_for(loop, seconds):
    """Run the loop for `seconds`; return (iterations, CPU seconds) spent meanwhile."""
    loop.call_later(seconds, loop.stop)
    iterations = loop.stats()['iterations']
    cpu = time.process_time()
    loop.run_forever()
    return loop.stats()['iterations'] - iterations, time.process_time() - cpu


def run_until(loop, predicate, timeout=5.0):
    """Run the loop until predicate() is true (checked each millisecond), at most `timeout` s."""
    async def wait():
        while not predicate():
            await asyncio.sleep(0.001)
    loop.run_until_complete(asyncio.wait_for(wait(), timeout))


# An idle loop waiting 0.3 s on a timer makes a handful of iterations; a spinning one, thousands.
IDLE_ITERATIONS = 50
IDLE_CPU_SECONDS = 0.1
# A registration outliving its closed fd (a dup keeps the file open) is found within this many
# polls in LT mode, then dropped.
STALE_ITERATIONS = IDLE_ITERATIONS + _epoll._STALE_CHECK_POLLS


# -- the readiness API's return values and errors -----------------------------------------

def test_add_and_remove_return_values(loop, pair):
    a, _ = pair
    assert loop.add_reader(a, print) is None
    assert loop.add_writer(a.fileno(), print) is None
    assert loop.remove_reader(a) is True
    assert loop.remove_reader(a) is False
    assert loop.remove_writer(a.fileno()) is True
    assert loop.remove_writer(a.fileno()) is False
    assert loop.remove_reader(12345) is False


def test_bad_file_objects(loop):
    for bad in ('not a file', -1, 1.5):
        with pytest.raises(ValueError):
            loop.add_reader(bad, print)
    with pytest.raises(OSError):
        loop.add_reader(_closed_fd(), print)


def _closed_fd():
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)
    return fd


def test_closed_loop(loop, pair):
    a, _ = pair
    loop.close()
    with pytest.raises(RuntimeError):
        loop.add_reader(a, print)
    with pytest.raises(RuntimeError):
        loop.add_writer(a, print)
    assert loop.remove_reader(a) is False
    assert loop.remove_writer(a) is False


def test_writer_is_called_while_writable(loop, pair):
    a, _ = pair
    calls = []
    loop.add_writer(a, lambda: calls.append(1) if len(calls) < 5 else loop.remove_writer(a))
    run_for(loop, 0.05)
    assert len(calls) == 5


def test_a_new_reader_replaces_the_old_one(loop, pair):
    a, b = pair
    calls = []
    loop.add_reader(a, calls.append, 'old')
    loop.add_reader(a, lambda: (calls.append('new'), a.recv(100)))
    b.send(b'x')
    run_until(loop, lambda: calls)
    assert calls == ['new']


def test_reader_and_writer_on_one_fd(loop, pair):
    a, b = pair
    seen = set()
    loop.add_reader(a, lambda: (seen.add('read'), a.recv(100)))
    loop.add_writer(a, lambda: (seen.add('write'), loop.remove_writer(a)))
    b.send(b'x')
    run_until(loop, lambda: seen == {'read', 'write'})
    assert loop.remove_reader(a) is True


def test_removed_reader_is_not_called(loop, pair):
    a, b = pair
    calls = []
    loop.add_reader(a, calls.append, 1)
    loop.remove_reader(a)
    b.send(b'x')
    run_for(loop, 0.05)
    assert calls == []


# -- the level-triggered contract of add_reader, in both modes --------------------------------

def test_reader_is_called_until_everything_is_read(loop, pair):
    a, b = pair
    received = bytearray()
    calls = 0

    def read_one_byte():
        nonlocal calls
        calls += 1
        received.extend(a.recv(1))
    loop.add_reader(a, read_one_byte)
    b.send(b'0123456789')
    run_until(loop, lambda: len(received) == 10)
    assert bytes(received) == b'0123456789'
    run_for(loop, 0.05)  # nothing left to read: no more calls
    assert calls == 10


def test_two_busy_readers_both_make_progress(loop):
    pairs = [socket.socketpair() for _ in range(2)]
    counts = [0, 0]
    try:
        for i, (a, b) in enumerate(pairs):
            a.setblocking(False)
            b.sendall(b'x' * 10_000)

            def read_one(i=i, a=a):
                counts[i] += 1
                a.recv(1)
            loop.add_reader(a, read_one)
        for _ in range(200):
            loop.call_soon(loop.stop)
            loop.run_forever()
        assert min(counts) >= 150
        assert abs(counts[0] - counts[1]) <= 10
    finally:
        for a, b in pairs:
            loop.remove_reader(a)
            a.close()
            b.close()


def test_io_is_seen_promptly_while_a_task_keeps_callbacks_ready(run, loop, pair):
    """A task spinning on sleep(0) always has a callback ready; the loop still polls often
    enough that a reader gets its data within milliseconds, not after the spinning ends."""
    a, b = pair
    latencies = []

    def on_readable():
        a.recv(16)
        latencies.append(time.monotonic() - sent_at[0])

    sent_at = []

    def send():
        sent_at.append(time.monotonic())
        b.send(b'x')

    async def spin(seconds):
        deadline = time.monotonic() + seconds
        while not latencies and time.monotonic() < deadline:
            await asyncio.sleep(0)

    loop.add_reader(a, on_readable)
    try:
        loop.call_later(0.02, send)
        run(spin(2.0))
    finally:
        loop.remove_reader(a)
    assert latencies, 'the reader never ran while the task was spinning'
    assert latencies[0] < 0.05


def test_parked_receivers_ready_together_complete_in_one_iteration(run, loop):
    pairs = [socket.socketpair() for _ in range(8)]
    completed_at = []

    async def receive(sock):
        data = await loop.sock_recv(sock, 100)
        completed_at.append(loop.stats()['iterations'])
        return data

    async def main():
        receivers = [loop.create_task(receive(a)) for a, _ in pairs]
        await asyncio.sleep(0.01)  # all parked
        for _, b in pairs:
            b.send(b'go')
        return await asyncio.gather(*receivers)
    try:
        for a, _ in pairs:
            a.setblocking(False)
        assert run(main()) == [b'go'] * len(pairs)
        assert len(set(completed_at)) == 1
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_a_burst_of_ten_mebibytes_is_read_whole(run, loop, pair):
    a, b = pair
    payload = os.urandom(1 << 20) * 10
    b.setblocking(True)

    async def receive():
        digest, total = hashlib.sha256(), 0
        while total < len(payload):
            data = await loop.sock_recv(a, 1 << 18)
            assert data, 'unexpected end of stream'
            digest.update(data)
            total += len(data)
        return digest.hexdigest()

    async def main():
        # The sender is a thread: the whole burst arrives without the loop's help.
        sender = loop.run_in_executor(None, b.sendall, payload)
        digest = await receive()
        await sender
        return digest
    assert run(main(), timeout=20) == hashlib.sha256(payload).hexdigest()


def test_end_of_stream_is_reported(run, loop, pair):
    a, b = pair
    b.send(b'last words')
    b.close()

    async def main():
        data = b''
        while True:
            chunk = await loop.sock_recv(a, 4)
            if not chunk:
                return data
            data += chunk
    assert run(main()) == b'last words'


# -- fds closed behind the loop's back ------------------------------------------------------

def test_closing_a_watched_fd_without_remove_reader(loop, pair):
    a, b = pair
    calls = []
    b.send(b'pending')
    loop.add_reader(a, calls.append, 1)
    a.close()
    iterations, cpu = run_for(loop, 0.3)
    assert calls == []
    assert iterations < IDLE_ITERATIONS and cpu < IDLE_CPU_SECONDS


def test_remove_reader_and_writer_of_a_socket_closed_since_it_was_added(loop, pair):
    # anyio closes a socket, then its callbacks remove_reader(sock) with fileno() == -1;
    # asyncio's selector loops find the registration by the socket object.
    a, b = pair
    c, d = socket.socketpair()
    try:
        loop.add_reader(a, print)
        loop.add_writer(c, print)
        a.close()
        c.close()
        assert loop.remove_reader(a) is True
        assert loop.remove_writer(c) is True
        with pytest.raises(ValueError):
            loop.remove_reader(a)  # no longer known: as on stock asyncio
        assert loop.run_until_complete(asyncio.sleep(0.01, 'alive')) == 'alive'
    finally:
        d.close()


def test_closing_a_watched_fd_while_a_dup_keeps_it_open(loop, pair):
    a, b = pair
    calls = []

    def read():
        calls.append(1)
        try:
            a.recv(1)
        except OSError:
            pass  # closed: what a careless reader would meet
    loop.add_reader(a, read)
    duplicate = os.dup(a.fileno())
    try:
        a.close()
        b.send(b'data the closed socket never reads')
        iterations, cpu = run_for(loop, 0.3)
        assert iterations < STALE_ITERATIONS and cpu < IDLE_CPU_SECONDS
        assert len(calls) < STALE_ITERATIONS
    finally:
        os.close(duplicate)
    # The loop still works.
    assert loop.run_until_complete(asyncio.sleep(0.01, 'alive')) == 'alive'


def test_reused_fd_number_after_close_without_remove_reader(run, loop, pair):
    a, b = pair
    old_calls = []
    loop.add_reader(a, old_calls.append, 1)
    number = a.fileno()
    a.close()
    c, d = socket.socketpair()
    try:
        fresh = c if c.fileno() == number else d
        peer = d if fresh is c else c
        assert fresh.fileno() == number, 'the kernel hands out the lowest free number'
        fresh.setblocking(False)
        got = []
        loop.add_reader(fresh, lambda: got.append(fresh.recv(100)))
        peer.send(b'to the new socket')
        run_until(loop, lambda: got)
        assert got == [b'to the new socket']
        loop.remove_reader(fresh)

        async def recv():
            return await loop.sock_recv(fresh, 100)
        peer.send(b'and again')
        assert run(recv()) == b'and again'
        iterations, cpu = run_for(loop, 0.3)
        assert iterations < IDLE_ITERATIONS and cpu < IDLE_CPU_SECONDS
    finally:
        c.close()
        d.close()


def test_reused_fd_number_used_by_sock_recv(run, loop, pair):
    a, b = pair
    loop.add_reader(a, print)
    number = a.fileno()
    a.close()
    c, d = socket.socketpair()
    try:
        fresh, peer = (c, d) if c.fileno() == number else (d, c)
        assert fresh.fileno() == number
        fresh.setblocking(False)

        async def main():
            receiving = loop.create_task(loop.sock_recv(fresh, 100))
            await asyncio.sleep(0.01)
            peer.send(b'hello')
            return await receiving
        assert run(main()) == b'hello'
    finally:
        c.close()
        d.close()


def test_closed_fd_with_a_dup_and_a_reused_number(loop, pair):
    a, b = pair
    loop.add_reader(a, lambda: None)
    number = a.fileno()
    duplicate = os.dup(number)
    a.close()
    c, d = socket.socketpair()
    try:
        fresh, peer = (c, d) if c.fileno() == number else (d, c)
        assert fresh.fileno() == number
        fresh.setblocking(False)
        got = []

        def read():
            try:
                got.append(fresh.recv(100))
            except BlockingIOError:
                pass  # woken by the old file's registration until it is found out
        loop.add_reader(fresh, read)
        b.send(b'to the old file')
        peer.send(b'to the new socket')
        run_until(loop, lambda: got)
        assert got == [b'to the new socket']
        loop.remove_reader(fresh)
        iterations, cpu = run_for(loop, 0.3)
        assert iterations < STALE_ITERATIONS and cpu < IDLE_CPU_SECONDS
    finally:
        os.close(duplicate)
        c.close()
        d.close()


# -- statistics -----------------------------------------------------------------------------

STATS_KEYS = {'iterations', 'callbacks', 'polls', 'poll_events', 'epoll_ctl', 'fds_watched',
              'ops_completed_at_once', 'ops_parked', 'threadsafe_wakeups', 'timers_scheduled',
              'ready'}


def test_stats_keys_and_counters_move(run, loop, pair):
    a, b = pair
    before = loop.stats()
    assert STATS_KEYS <= set(before)

    async def main():
        receiving = loop.create_task(loop.sock_recv(a, 10))
        await asyncio.sleep(0.01)
        await loop.sock_sendall(b, b'x')
        await receiving
        b.send(b'y')
        await loop.sock_recv(a, 10)
    run(main())
    after = loop.stats()
    for key in ('iterations', 'callbacks', 'polls', 'poll_events', 'epoll_ctl',
                'ops_completed_at_once', 'ops_parked'):
        assert after[key] > before[key], key
    loop.call_later(10, print)
    assert loop.stats()['timers_scheduled'] == 1


def ping_pong_epoll_ctl(trigger, rounds=200):
    """epoll_ctl calls made by `rounds` sock_sendall/sock_recv exchanges on one socket pair."""
    loop = eloop.new_event_loop(trigger=trigger)
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    async def echo():
        for _ in range(rounds):
            data = await loop.sock_recv(b, 10)
            await loop.sock_sendall(b, data)

    async def main():
        echoing = loop.create_task(echo())
        for i in range(rounds):
            await loop.sock_sendall(a, b'ping')
            assert await loop.sock_recv(a, 10) == b'ping'
        await echoing
    try:
        before = loop.stats()['epoll_ctl']
        loop.run_until_complete(asyncio.wait_for(main(), 10))
        return loop.stats()['epoll_ctl'] - before
    finally:
        loop.close()
        a.close()
        b.close()


def test_edge_triggered_mode_makes_fewer_epoll_ctl_calls():
    level, edge = ping_pong_epoll_ctl('level'), ping_pong_epoll_ctl('edge')
    assert level >= 200
    assert edge * 10 <= level, (edge, level)


def test_epoll_waiter_reports_what_select_epoll_poll_reports():
    # _epoll_wait: epoll_wait into a C array when compiled, select.epoll.poll in plain Python.
    from eloop._epoll_wait import EpollWaiter
    ep = select.epoll()
    a, b = socket.socketpair()
    try:
        waiter = EpollWaiter(ep)
        ep.register(a.fileno(), select.EPOLLIN)
        ep.register(b.fileno(), select.EPOLLIN | select.EPOLLOUT)
        assert list(waiter.wait(0)) == [(b.fileno(), select.EPOLLOUT)]
        a.send(b'x')
        assert sorted(waiter.wait(0)) == sorted(ep.poll(0)) == [
            (b.fileno(), select.EPOLLIN | select.EPOLLOUT)]
        ep.unregister(b.fileno())
        b.send(b'y')
        assert list(waiter.wait(-1)) == [(a.fileno(), select.EPOLLIN)]  # -1: waits for ever
        a.recv(1)
        started = time.monotonic()
        assert len(waiter.wait(0.02)) == 0
        assert time.monotonic() - started >= 0.02
    finally:
        ep.close()
        a.close()
        b.close()


def test_epoll_waiter_reports_more_ready_fds_than_its_first_buffer_holds():
    from eloop._epoll_wait import EpollWaiter
    ep = select.epoll()
    fds = [os.eventfd(1, os.EFD_NONBLOCK) for _ in range(300)]
    try:
        for fd in fds:
            ep.register(fd, select.EPOLLIN)
        waiter = EpollWaiter(ep)
        seen = set()
        for _ in range(3):
            seen.update(fd for fd, _ in waiter.wait(0))
        assert seen == set(fds)
    finally:
        ep.close()
        for fd in fds:
            os.close(fd)


class _Parked:
    """The least a waiter parked with the poller needs to be."""
    _cancelled = False

    def _run(self):
        pass


@pytest.mark.parametrize('edge', [False, True], ids=['level', 'edge'])
def test_a_short_read_ends_readiness_unless_a_hangup_was_reported(edge):
    # A reader that got less than it asked for may stop there, saving the EAGAIN call; but in
    # ET mode an EOF that came with the data read gets no later edge, so it must read on.
    poller = _epoll.EpollPoller(edge_triggered=edge)
    ready = []
    poller.on_ready = ready.append
    a, b = socket.socketpair()
    waiter = _Parked()
    try:
        poller.park_reader(a.fileno(), waiter, a)
        b.send(b'data')
        poller.poll(1)
        assert ready == [waiter]
        assert a.recv(100) == b'data'
        assert poller.readable_drained(a.fileno()) is True
        b.send(b'last')
        b.shutdown(socket.SHUT_WR)
        ready.clear()
        poller.poll(1)
        assert ready == [waiter]
        assert a.recv(100) == b'last'
        assert poller.readable_drained(a.fileno()) is (not edge)
        assert a.recv(100) == b''
    finally:
        poller.forget(a.fileno())
        poller.close()
        a.close()
        b.close()


def test_edge_registration_number_saves_the_check_and_a_new_owner_registers_again():
    # A caller that owns its fd shows the number park_* returned: no epoll_ctl checks the
    # registration again. Another caller on the same number (maybe a new file) registers anew.
    poller = _epoll.EpollPoller(edge_triggered=True)
    poller.on_ready = [].append
    a, b = socket.socketpair()
    fd = a.fileno()
    try:
        registration = poller.park_reader(fd, _Parked())
        assert registration
        calls = poller.n_ctl
        assert poller.park_reader(fd, _Parked(), None, registration) == registration
        assert poller.park_writer(fd, _Parked(), None, registration) == registration
        assert poller.n_ctl == calls
        other = poller.park_reader(fd, _Parked(), a)
        assert other != registration and poller.n_ctl == calls + 1
        assert poller.park_reader(fd, _Parked(), a) == other and poller.n_ctl == calls + 1
        assert poller.park_reader(fd, _Parked(), None, registration) not in (0, registration)
    finally:
        poller.forget(fd)
        poller.close()
        a.close()
        b.close()


def test_edge_registration_of_a_collected_owner_is_made_again_for_the_next_one(run, loop):
    # The socket a registration was made for is gone and its number reused: the new socket's
    # first operation registers it again, and nothing known of the old file's readiness
    # (its hangup) outlives it.
    a, b = socket.socketpair()
    a.setblocking(False)
    number = a.fileno()

    async def receive(sock):
        return await loop.sock_recv(sock, 100)
    b.send(b'x')
    b.shutdown(socket.SHUT_WR)
    assert run(receive(a)) == b'x'
    a.close()
    b.close()
    del a
    c, d = socket.socketpair()
    try:
        fresh, peer = (c, d) if c.fileno() == number else (d, c)
        fresh.setblocking(False)
        task = loop.create_task(receive(fresh))
        loop.call_later(0.01, peer.send, b'hello')
        assert run(task) == b'hello'
    finally:
        c.close()
        d.close()


@pytest.mark.parametrize('edge', [False, True], ids=['level', 'edge'])
def test_on_ready_may_be_any_callable_and_its_error_reaches_the_caller(edge):
    # The loop gives its deque's append, called through its C function when compiled (see
    # _builtin_call.pxd); any other callable is called as Python calls it, error included.
    poller = _epoll.EpollPoller(edge_triggered=edge)
    got = []
    a, b = socket.socketpair()
    reader, writer = _Parked(), _Parked()
    try:
        poller.park_reader(a.fileno(), reader, a)
        poller.park_writer(a.fileno(), writer, a)
        b.send(b'data')
        poller.on_ready = lambda waiter: got.append(waiter)
        poller.poll(1)
        assert got == [reader, writer]

        def refuse(waiter):
            raise ZeroDivisionError('refused')
        poller.on_ready = refuse
        b.send(b'more')  # (a new edge for ET mode)
        with pytest.raises(ZeroDivisionError, match='refused'):
            poller.poll(1)
        poller.on_ready = None
        b.send(b'more')
        with pytest.raises(TypeError):
            poller.poll(1)
    finally:
        poller.forget(a.fileno())
        poller.close()
        a.close()
        b.close()
