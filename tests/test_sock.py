"""The loop's sock_* coroutines over the completion queue, in both trigger modes."""

import asyncio
import hashlib
import io
import os
import socket
import ssl
import tempfile

import pytest


@pytest.fixture
def listener():
    """A non-blocking TCP socket listening on 127.0.0.1."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.fixture
def udp_pair():
    """Two non-blocking UDP sockets bound to 127.0.0.1."""
    socks = []
    for _ in range(2):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(('127.0.0.1', 0))
        sock.setblocking(False)
        socks.append(sock)
    yield socks
    for sock in socks:
        sock.close()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


async def receive_exactly(loop, sock, size):
    """Read `size` bytes with sock_recv; return their digest."""
    digest, total = hashlib.sha256(), 0
    while total < size:
        data = await loop.sock_recv(sock, 1 << 18)
        assert data, f'end of stream after {total} of {size} bytes'
        digest.update(data)
        total += len(data)
    return digest.hexdigest()


# -- receiving ------------------------------------------------------------------------------

def test_sock_recv(run, loop, pair):
    a, b = pair

    async def main():
        b.send(b'ready now')
        first = await loop.sock_recv(a, 100)
        receiving = loop.create_task(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        assert not receiving.done()
        await loop.sock_sendall(b, b'later')
        return first, await receiving
    assert run(main()) == (b'ready now', b'later')


def test_sock_recv_into(run, loop, pair):
    a, b = pair
    buf = bytearray(10)

    async def main():
        receiving = loop.create_task(loop.sock_recv_into(a, buf))
        await asyncio.sleep(0.01)
        b.send(b'abc')
        n = await receiving
        b.send(b'0123456789xyz')
        m = await loop.sock_recv_into(a, memoryview(buf)[5:])
        return n, m
    assert run(main()) == (3, 5)
    assert buf == b'abc\0\x0001234'


def test_sock_recvfrom_and_sendto(run, loop, udp_pair):
    a, b = udp_pair

    async def main():
        receiving = loop.create_task(loop.sock_recvfrom(a, 100))
        await asyncio.sleep(0.01)
        sent = await loop.sock_sendto(b, b'datagram', a.getsockname())
        return sent, await receiving
    sent, (data, address) = run(main())
    assert sent == len(b'datagram')
    assert data == b'datagram'
    assert address == b.getsockname()


def test_sock_recvfrom_into(run, loop, udp_pair):
    a, b = udp_pair
    buf = bytearray(100)

    async def main():
        receiving = loop.create_task(loop.sock_recvfrom_into(a, buf))
        await asyncio.sleep(0.01)
        await loop.sock_sendto(b, b'first', a.getsockname())
        first = await receiving
        await loop.sock_sendto(b, b'second datagram', a.getsockname())
        second = await loop.sock_recvfrom_into(a, buf, 3)
        return first, second
    first, second = run(main())
    assert first == (5, b.getsockname())
    assert second == (3, b.getsockname())
    assert buf[:3] == b'sec'


def test_end_of_stream(run, loop, pair):
    a, b = pair

    async def main():
        receiving = loop.create_task(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        b.close()
        return await receiving
    assert run(main()) == b''


# -- sending --------------------------------------------------------------------------------

def test_sock_sendall_small(run, loop, pair):
    a, b = pair

    async def main():
        assert await loop.sock_sendall(a, b'hello') is None
        assert await loop.sock_sendall(a, b'') is None
        return await loop.sock_recv(b, 100)
    assert run(main()) == b'hello'


@pytest.mark.parametrize('kind', [bytes, bytearray, memoryview])
def test_sock_sendall_large_with_a_concurrent_reader(run, loop, pair, kind):
    a, b = pair
    payload = os.urandom(1 << 20) * 8

    async def main():
        reading = loop.create_task(receive_exactly(loop, b, len(payload)))
        await loop.sock_sendall(a, kind(payload))
        return await reading
    assert run(main(), timeout=20) == sha256(payload)


def test_sock_sendall_waits_for_the_reader(run, loop, pair):
    a, b = pair
    payload = b'z' * (4 << 20)

    async def main():
        sending = loop.create_task(loop.sock_sendall(a, payload))
        await asyncio.sleep(0.05)
        assert not sending.done()  # the socket buffer is full: the rest waits
        digest = await receive_exactly(loop, b, len(payload))
        await sending
        return digest
    assert run(main(), timeout=20) == sha256(payload)


def test_sock_sendall_to_a_closed_peer(run, loop, pair):
    a, b = pair
    b.close()

    async def main():
        with pytest.raises((BrokenPipeError, ConnectionResetError)):
            await loop.sock_sendall(a, b'x' * (1 << 20))
    run(main())


# -- connecting and accepting ---------------------------------------------------------------

def test_sock_connect_and_sock_accept(run, loop, listener):
    client = socket.socket()
    client.setblocking(False)

    async def main():
        accepting = loop.create_task(loop.sock_accept(listener))
        await loop.sock_connect(client, listener.getsockname())
        conn, address = await accepting
        with conn:
            assert conn.gettimeout() == 0  # the accepted socket is non-blocking
            assert address == client.getsockname()
            await loop.sock_sendall(client, b'over tcp')
            return await loop.sock_recv(conn, 100)
    try:
        assert run(main()) == b'over tcp'
    finally:
        client.close()


def test_sock_connect_by_host_name(run, loop, listener):
    client = socket.socket()
    client.setblocking(False)

    async def main():
        await loop.sock_connect(client, ('localhost', listener.getsockname()[1]))
        conn, _ = await loop.sock_accept(listener)
        conn.close()
        return client.getpeername()
    try:
        assert run(main()) == listener.getsockname()
    finally:
        client.close()


def test_sock_connect_refused(run, loop):
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    address = probe.getsockname()
    probe.close()  # nothing listens there now
    client = socket.socket()
    client.setblocking(False)
    try:
        with pytest.raises(ConnectionRefusedError):
            run(loop.sock_connect(client, address))
    finally:
        client.close()


def test_sock_connect_unix(run, loop, tmp_path):
    path = str(tmp_path / 'sock')
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen()
    server.setblocking(False)
    client = socket.socket(socket.AF_UNIX)
    client.setblocking(False)

    async def main():
        await loop.sock_connect(client, path)
        conn, _ = await loop.sock_accept(server)
        with conn:
            await loop.sock_sendall(conn, b'unix')
            return await loop.sock_recv(client, 10)
    try:
        assert run(main()) == b'unix'
    finally:
        client.close()
        server.close()


def test_many_accepts(run, loop, listener):
    clients = [socket.socket() for _ in range(5)]

    async def main():
        accepted = []
        for client in clients:
            client.setblocking(False)
            await loop.sock_connect(client, listener.getsockname())
            accepted.append((await loop.sock_accept(listener))[0])
        for conn in accepted:
            conn.close()
        return len(accepted)
    try:
        assert run(main()) == 5
    finally:
        for client in clients:
            client.close()


# -- cancellation ---------------------------------------------------------------------------

def test_cancelled_sock_recv_loses_no_data(run, loop, pair):
    a, b = pair

    async def main():
        receiving = loop.create_task(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        receiving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await receiving
        b.send(b'for the next reader')
        return await loop.sock_recv(a, 100)
    assert run(main()) == b'for the next reader'


def test_sock_recv_cancelled_while_its_readiness_is_queued(run, loop, pair):
    # The data arrives, the poller queues the parked receive, and in the same iteration, before
    # the receive runs, its task is cancelled: the receive must not take the data.
    a, b = pair

    async def main():
        receiving = loop.create_task(loop.sock_recv(a, 100))
        await asyncio.sleep(0.01)
        b.send(b'not for the cancelled one')
        loop.call_soon(receiving.cancel)
        with pytest.raises(asyncio.CancelledError):
            await receiving
        return await loop.sock_recv(a, 100)
    assert run(main()) == b'not for the cancelled one'


def test_cancelled_sock_accept_loses_no_connection(run, loop, listener):
    client = socket.socket()

    async def main():
        accepting = loop.create_task(loop.sock_accept(listener))
        await asyncio.sleep(0.01)
        # A blocking connect: the kernel completes it without the loop's help.
        client.connect(listener.getsockname())
        loop.call_soon(accepting.cancel)
        with pytest.raises(asyncio.CancelledError):
            await accepting
        conn, _ = await loop.sock_accept(listener)
        conn.close()
    try:
        run(main())
    finally:
        client.close()


def test_sock_recv_timeout_then_again(run, loop, pair):
    a, b = pair

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(loop.sock_recv(a, 100), 0.02)
        b.send(b'after the timeout')
        return await loop.sock_recv(a, 100)
    assert run(main()) == b'after the timeout'


# -- sendfile -------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def big_file():
    """A 5 MiB temporary file of random bytes: (path, content)."""
    content = os.urandom(5 << 20)
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(content)
    yield f.name, content
    os.unlink(f.name)


def sendfile_and_receive(run, loop, pair, file, expected_size, **kwargs):
    """sock_sendfile `file` over the pair; return (bytes sent, digest received)."""
    a, b = pair

    async def main():
        reading = loop.create_task(receive_exactly(loop, b, expected_size))
        sent = await loop.sock_sendfile(a, file, **kwargs)
        return sent, await reading
    return run(main(), timeout=20)


def test_sock_sendfile_whole_file(run, loop, pair, big_file):
    path, content = big_file
    with open(path, 'rb') as f:
        sent, digest = sendfile_and_receive(run, loop, pair, f, len(content))
        assert f.tell() == len(content)
    assert sent == len(content)
    assert digest == sha256(content)


def test_sock_sendfile_is_zero_copy(run, loop, pair, big_file, monkeypatch):
    path, content = big_file
    calls = []
    real_sendfile = os.sendfile
    monkeypatch.setattr(os, 'sendfile', lambda *args: calls.append(1) or real_sendfile(*args))
    with open(path, 'rb') as f:
        sent, _ = sendfile_and_receive(run, loop, pair, f, len(content), fallback=False)
    assert sent == len(content)
    assert calls


def test_sock_sendfile_offset_and_count(run, loop, pair, big_file):
    path, content = big_file
    offset, count = 12345, 1 << 20
    with open(path, 'rb') as f:
        sent, digest = sendfile_and_receive(run, loop, pair, f, count, offset=offset, count=count)
        assert f.tell() == offset + count
    assert sent == count
    assert digest == sha256(content[offset:offset + count])


def test_sock_sendfile_count_past_the_end(run, loop, pair, big_file):
    path, content = big_file
    offset = len(content) - 100
    with open(path, 'rb') as f:
        sent, digest = sendfile_and_receive(run, loop, pair, f, 100, offset=offset, count=1000)
    assert sent == 100
    assert digest == sha256(content[offset:])


def test_sock_sendfile_empty_file(run, loop, pair, tmp_path):
    path = tmp_path / 'empty'
    path.write_bytes(b'')
    with open(path, 'rb') as f:
        assert run(loop.sock_sendfile(pair[0], f)) == 0


def test_sock_sendfile_without_fallback_needs_a_regular_file(run, loop, pair):
    with pytest.raises(asyncio.SendfileNotAvailableError):
        run(loop.sock_sendfile(pair[0], io.BytesIO(b'in memory'), fallback=False))
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b'from a pipe')
    os.close(write_fd)
    with open(read_fd, 'rb') as pipe:
        with pytest.raises(asyncio.SendfileNotAvailableError):
            run(loop.sock_sendfile(pair[0], pipe, fallback=False))


def test_sock_sendfile_falls_back_for_other_files(run, loop, pair):
    data = os.urandom(300_000)
    sent, digest = sendfile_and_receive(run, loop, pair, io.BytesIO(data), len(data))
    assert (sent, digest) == (len(data), sha256(data))
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b'from a pipe')
    os.close(write_fd)
    with open(read_fd, 'rb') as pipe:
        sent, digest = sendfile_and_receive(run, loop, pair, pipe, 11)
    assert (sent, digest) == (11, sha256(b'from a pipe'))


def test_sock_sendfile_fallback_with_offset_and_count(run, loop, pair):
    data = bytes(range(256)) * 100
    file = io.BytesIO(data)
    sent, digest = sendfile_and_receive(run, loop, pair, file, 1000, offset=10, count=1000)
    assert (sent, digest) == (1000, sha256(data[10:1010]))
    assert file.tell() == 1010


def test_sock_sendfile_bad_arguments(run, loop, pair, big_file, udp_pair):
    path, _ = big_file
    with open(path, 'rb') as f:
        for kwargs, error in (({'offset': -1}, ValueError), ({'offset': 1.5}, TypeError),
                              ({'count': 0}, ValueError), ({'count': 'x'}, TypeError)):
            with pytest.raises(error):
                run(loop.sock_sendfile(pair[0], f, **kwargs))
        with pytest.raises(ValueError):
            run(loop.sock_sendfile(udp_pair[0], f))
    with open(path, 'r') as text:
        with pytest.raises(ValueError):
            run(loop.sock_sendfile(pair[0], text))


# -- sockets the loop refuses ---------------------------------------------------------------

def all_sock_calls(loop, sock):
    """One coroutine of each sock_* method on `sock`."""
    return [loop.sock_recv(sock, 1), loop.sock_recv_into(sock, bytearray(1)),
            loop.sock_recvfrom(sock, 1), loop.sock_recvfrom_into(sock, bytearray(1)),
            loop.sock_sendall(sock, b'x'), loop.sock_sendto(sock, b'x', ('127.0.0.1', 9)),
            loop.sock_connect(sock, ('127.0.0.1', 9)), loop.sock_accept(sock),
            loop.sock_sendfile(sock, io.BytesIO(b'x'))]


def test_blocking_socket_is_refused(run, loop):
    with socket.socket() as sock:
        for coro in all_sock_calls(loop, sock):
            with pytest.raises(ValueError, match='non-blocking'):
                run(coro)


def test_ssl_socket_is_refused(run, loop):
    context = ssl.create_default_context()
    with context.wrap_socket(socket.socket(), server_hostname='example.com',
                             do_handshake_on_connect=False) as sock:
        sock.setblocking(False)
        for coro in all_sock_calls(loop, sock):
            with pytest.raises(TypeError):
                run(coro)


def test_sock_calls_on_a_closed_loop(loop, pair):
    a, _ = pair
    loop.close()
    for coro in all_sock_calls(loop, a):
        with pytest.raises(RuntimeError, match='closed'):
            coro.send(None)
        coro.close()


def test_remove_reader_during_sock_accept_leaves_it_pending_as_asyncio(loop, listener):
    # anyio's listener.aclose() calls remove_reader(sock) while another task awaits
    # sock_accept(sock); asyncio then leaves the accept pending (until cancelled).
    async def main():
        accepting = asyncio.ensure_future(loop.sock_accept(listener))
        await asyncio.sleep(0)
        assert loop.remove_reader(listener) is True
        assert loop.remove_reader(listener) is False
        client = socket.create_connection(listener.getsockname())
        await asyncio.sleep(0.01)
        assert not accepting.done()
        accepting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await accepting
        client.close()
        # The fd is free for a new accept, which completes.
        client = socket.create_connection(listener.getsockname())
        conn, _ = await asyncio.wait_for(loop.sock_accept(listener), 5)
        conn.close()
        client.close()

    loop.run_until_complete(main())


def test_add_reader_over_a_pending_sock_recv_takes_the_fd(loop):
    left, right = socket.socketpair()
    left.setblocking(False)
    got = []

    async def main():
        receiving = asyncio.ensure_future(loop.sock_recv(left, 10))
        await asyncio.sleep(0)
        loop.add_reader(left, lambda: got.append(left.recv(10)))
        right.send(b'x')
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.001)
        loop.remove_reader(left)
        assert got == [b'x'] and not receiving.done()
        receiving.cancel()

    try:
        loop.run_until_complete(main())
    finally:
        left.close()
        right.close()
