"""eloop._sockio: the socket calls of the stream transport's hot paths (compiled or plain twin)."""

import errno
import socket

import pytest

from eloop import _sockio


def recv(sock, size=1024):
    return _sockio.recv_bytes(sock, sock.fileno(), memoryview(bytearray(size)))


def send(sock, data):
    return _sockio.send_bytes(sock, sock.fileno(), data)


def test_recv_bytes_returns_what_is_there_and_none_when_nothing_is(pair):
    a, b = pair
    assert recv(a) is None
    b.send(b'hello')
    data = recv(a)
    assert type(data) is bytes and data == b'hello'
    assert recv(a) is None


def test_recv_bytes_takes_at_most_the_size_of_the_view(pair):
    a, b = pair
    b.send(b'0123456789')
    assert recv(a, 4) == b'0123'
    assert recv(a, 100) == b'456789'


def test_recv_bytes_returns_empty_bytes_at_eof(pair):
    a, b = pair
    b.shutdown(socket.SHUT_WR)
    assert recv(a) == b''


def recv_new(sock, size=1024):
    return _sockio.recv_new_bytes(sock, sock.fileno(), size)


def test_recv_new_bytes_returns_exact_bytes_none_when_nothing_and_empty_at_eof(pair):
    a, b = pair
    assert recv_new(a) is None
    b.send(b'0123456789')
    data = recv_new(a, 4)
    assert type(data) is bytes and data == b'0123'
    data = recv_new(a, 96 * 1024)  # far larger than what is there: shrunk to what came
    assert type(data) is bytes and data == b'456789' and len(data) == 6
    assert recv_new(a) is None
    b.shutdown(socket.SHUT_WR)
    assert recv_new(a) == b''


def test_recv_bytes_raises_the_oserror_of_the_errno():
    with socket.create_server(('127.0.0.1', 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        served, _ = listener.accept()
    with served:
        served.setblocking(False)
        # A close with a zero linger time resets the connection.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
        client.close()
        with pytest.raises(ConnectionResetError) as info:
            recv(served)
        assert info.value.errno == errno.ECONNRESET


def test_send_bytes_sends_bytes_and_bytes_like_objects(pair):
    a, b = pair
    assert send(a, b'abc') == 3
    assert send(a, bytearray(b'def')) == 3
    assert send(a, memoryview(b'xghij')[1:]) == 4
    assert b.recv(100) == b'abcdefghij'


def test_send_bytes_returns_zero_when_the_buffer_is_full(pair):
    a, _ = pair
    chunk = b'x' * 65536
    total = 0
    for _ in range(10000):
        sent = send(a, chunk)
        if sent == 0:
            break
        total += sent
    assert sent == 0 and total > 0


def test_send_bytes_to_a_closed_peer_raises_broken_pipe(pair):
    a, b = pair
    b.close()
    with pytest.raises(BrokenPipeError) as info:
        send(a, b'x')
    assert info.value.errno == errno.EPIPE
