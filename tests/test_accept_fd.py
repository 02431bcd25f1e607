"""Accepted connections: what users see of them, whatever the loop makes them of.

Compiled, eloop accepts a TCP or Unix connection as its fd alone (accept4, the peer's address
decoded in C) and makes no socket object unless something asks; plain Python accepts through the
socket module. Either way the extra info is what socket.accept() and the socket say, before and
after the close; the fd is closed once; accept()'s errors are reported as asyncio reports them.
"""

import asyncio
import errno
import gc
import os
import shutil
import socket
import tempfile

import pytest

import eloop
from eloop import _server

from test_c10k_memory import fd_is_open
from test_streams_tcp import Recorder, has_ipv6_loopback, run

COMPILED = eloop.info()['compiled']
# The module the loop accepts through: the compiled twin, or the plain one under ELOOP_PURE=1.
sockio = _server._sockio


@pytest.fixture
def unix_dir():
    """A directory for Unix socket files, with a short path (a socket's path has 107 bytes)."""
    path = tempfile.mkdtemp(prefix='eloop-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Connection:
    """A server of one kind, a client socket connected to it, and the server's protocol."""

    def __init__(self, kind, unix_dir):
        self.kind = kind
        self.unix_dir = unix_dir

    async def open(self, make_protocol=Recorder):
        loop = asyncio.get_running_loop()
        served = []

        def factory():
            served.append(make_protocol())
            return served[-1]

        if self.kind == 'ipv4':
            self.server = await loop.create_server(factory, '127.0.0.1', 0)
            self.client = socket.socket(socket.AF_INET)
        elif self.kind == 'ipv6':
            self.server = await loop.create_server(factory, '::1', 0)
            self.client = socket.socket(socket.AF_INET6)
        else:
            path = os.path.join(self.unix_dir, 's')
            self.server = await loop.create_unix_server(factory, path)
            self.client = socket.socket(socket.AF_UNIX)
            if self.kind == 'unix-path':
                self.client.bind(os.path.join(self.unix_dir, 'c'))
            elif self.kind == 'unix-abstract':
                self.client.bind(f'\0eloop-accept-{os.getpid()}-{id(self)}'.encode())
        self.client.setblocking(False)
        await loop.sock_connect(self.client, self.server.sockets[0].getsockname())
        while not served:
            await asyncio.sleep(0)
        self.protocol = served[0]
        self.transport = await self.protocol.made
        return self

    async def close(self):
        self.client.close()
        self.server.close()
        await self.server.wait_closed()


KINDS = ['ipv4', pytest.param('ipv6', marks=pytest.mark.skipif(
    not has_ipv6_loopback(), reason='no IPv6 loopback')), 'unix', 'unix-path', 'unix-abstract']
FAMILIES = {'ipv4': socket.AF_INET, 'ipv6': socket.AF_INET6, 'unix': socket.AF_UNIX,
            'unix-path': socket.AF_UNIX, 'unix-abstract': socket.AF_UNIX}


@pytest.mark.parametrize('asked_before_close', [False, True])
@pytest.mark.parametrize('kind', KINDS)
def test_extra_info_of_an_accepted_connection(loop, kind, unix_dir, asked_before_close):
    async def main():
        conn = await Connection(kind, unix_dir).open()
        transport, client = conn.transport, conn.client
        # What socket.accept() gives and the socket says (an IPv6 address has 4 fields, a Unix
        # peer without a name is '', one in the abstract namespace is bytes).
        peername, sockname = client.getsockname(), client.getpeername()
        assert transport.get_extra_info('peername') == peername
        assert type(transport.get_extra_info('peername')) is type(peername)
        fd = transport._sock_fd
        if asked_before_close:
            assert transport.get_extra_info('sockname') == sockname
            sock = transport.get_extra_info('socket')
            assert transport.get_extra_info('socket') is sock
            assert sock.fileno() == fd
            assert (sock.family, sock.type) == (FAMILIES[kind], socket.SOCK_STREAM)
            assert sock.gettimeout() == 0
            assert not sock.get_inheritable()
            if kind in ('ipv4', 'ipv6'):
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        transport.close()
        assert await conn.protocol.lost is None
        assert not fd_is_open(fd)
        # What the transport said of its socket holds after the close, as in asyncio.
        assert transport.get_extra_info('peername') == peername
        assert transport.get_extra_info('sockname') == sockname
        sock = transport.get_extra_info('socket')
        assert transport.get_extra_info('socket') is sock
        assert sock.fileno() == -1
        assert (sock.family, sock.type) == (FAMILIES[kind], socket.SOCK_STREAM)
        assert transport.get_extra_info('no such thing', 'default') == 'default'
        await conn.close()

    run(loop, main())


@pytest.mark.parametrize('kind', ['ipv4', 'unix'])
def test_the_socket_asked_for_works_and_its_fd_is_closed_once(loop, kind, unix_dir):
    async def main():
        conn = await Connection(kind, unix_dir).open()
        transport = conn.transport
        sock = transport.get_extra_info('socket')
        fd = sock.fileno()
        assert sock.getsockname() == conn.client.getpeername()
        transport.write(b'ping')
        assert await asyncio.get_running_loop().sock_recv(conn.client, 10) == b'ping'
        transport.close()
        await conn.protocol.lost
        assert not fd_is_open(fd)
        # The number is free, and taken by the next file: nothing closes it behind its back.
        with socket.socket() as other:
            assert other.fileno() == fd
            del sock
            gc.collect()
            await asyncio.sleep(0.01)
            assert transport.get_extra_info('socket').fileno() == -1
            assert fd_is_open(other.fileno())
        await conn.close()

    run(loop, main())


@pytest.mark.skipif(not COMPILED, reason='plain Python accepts through socket objects')
def test_compiled_makes_no_socket_object_until_asked(loop, unix_dir):
    async def main():
        conn = await Connection('ipv4', unix_dir).open()
        stream = conn.transport._stream
        conn.transport.write(b'x')
        assert conn.transport.get_extra_info('peername') == conn.client.getsockname()
        assert stream.sock is None
        assert conn.transport.get_extra_info('socket') is not None
        assert stream.sock is not None
        conn.transport.close()
        await conn.protocol.lost
        await conn.close()

    run(loop, main())


class Farewell(Recorder):
    """Says goodbye and shuts its side down at once; keeps reading."""

    def connection_made(self, transport):
        super().connection_made(transport)
        transport.write(b'bye')
        transport.write_eof()

    def eof_received(self):
        super().eof_received()
        self.transport.close()


@pytest.mark.parametrize('kind', ['ipv4', 'unix'])
def test_write_eof_on_an_accepted_connection(loop, kind, unix_dir):
    async def main():
        loop = asyncio.get_running_loop()
        conn = await Connection(kind, unix_dir).open(Farewell)
        received = b''
        while True:
            data = await loop.sock_recv(conn.client, 100)
            if not data:
                break
            received += data
        assert received == b'bye'
        # Half closed: the server still reads.
        assert not conn.transport.is_closing()
        await loop.sock_sendall(conn.client, b'after')
        conn.client.shutdown(socket.SHUT_WR)
        assert await conn.protocol.lost is None
        assert bytes(conn.protocol.data) == b'after'
        await conn.close()

    run(loop, main())


# -- accept() errors -------------------------------------------------------------------------------

def failing_first(monkeypatch, exc):
    """The loop's accepts: the first raises exc, the others accept."""
    accept = sockio.accept_connection
    calls = []

    def accept_connection(sock, fd):
        calls.append(fd)
        if len(calls) == 1:
            raise exc
        return accept(sock, fd)

    monkeypatch.setattr(sockio, 'accept_connection', accept_connection)
    return calls


async def serve_one_despite(loop, errors):
    """Serve one connection on 127.0.0.1 while accept() fails once; the handler's contexts."""
    served = asyncio.get_running_loop().create_future()

    class Served(Recorder):
        def connection_made(self, transport):
            super().connection_made(transport)
            served.set_result(self)

    loop.set_exception_handler(lambda loop, context: errors.append(context))
    server = await loop.create_server(Served, '127.0.0.1', 0)
    client = socket.socket()
    client.setblocking(False)
    await loop.sock_connect(client, server.sockets[0].getsockname())
    protocol = await served
    assert protocol.transport.get_extra_info('peername') == client.getsockname()
    listener = server.sockets[0]
    client.close()
    await protocol.lost
    server.close()
    await server.wait_closed()
    return listener


@pytest.mark.parametrize('error, message', [
    (errno.EMFILE, 'socket.accept() out of system resource'),
    (errno.ENOBUFS, 'socket.accept() out of system resource'),
    (errno.EINVAL, 'socket.accept() failed'),
])
def test_an_accept_error_pauses_accepting_and_is_reported(loop, monkeypatch, error, message):
    monkeypatch.setattr(asyncio.constants, 'ACCEPT_RETRY_DELAY', 0.05)
    calls = failing_first(monkeypatch, OSError(error, os.strerror(error)))
    errors = []
    listener = run(loop, serve_one_despite(loop, errors))
    [context] = errors
    assert context['message'] == message
    assert type(context['exception']) is OSError
    assert context['exception'].errno == error
    assert context['socket'].fileno() in (listener.fileno(), -1)
    assert len(calls) >= 2  # accepting went on after the pause


def test_a_connection_error_of_accept_is_skipped(loop, monkeypatch):
    calls = failing_first(monkeypatch, ConnectionAbortedError(errno.ECONNABORTED, 'aborted'))
    errors = []
    run(loop, serve_one_despite(loop, errors))
    assert errors == []
    assert len(calls) >= 2


# -- the accept function itself, compiled or plain ---------------------------------------------

def test_accept_connection_says_none_is_queued_and_raises_oserrors():
    with socket.socket() as listener:
        listener.bind(('127.0.0.1', 0))
        listener.setblocking(False)
        with pytest.raises(OSError) as caught:
            sockio.accept_connection(listener, listener.fileno())  # not listening
        assert caught.value.errno == errno.EINVAL
        listener.listen()
        assert sockio.accept_connection(listener, listener.fileno()) is None


@pytest.mark.parametrize('kind', KINDS)
def test_accept_connection_gives_what_socket_accept_gives(kind, unix_dir):
    family = FAMILIES[kind]
    with socket.socket(family) as listener, socket.socket(family) as client:
        if family == socket.AF_UNIX:
            listener.bind(os.path.join(unix_dir, 's'))
            if kind == 'unix-path':
                client.bind(os.path.join(unix_dir, 'c'))
            elif kind == 'unix-abstract':
                client.bind(f'\0eloop-accept-{os.getpid()}'.encode())
        else:
            listener.bind(('127.0.0.1' if family == socket.AF_INET else '::1', 0))
        listener.listen()
        listener.setblocking(False)
        client.connect(listener.getsockname())
        conn, address = sockio.accept_connection(listener, listener.fileno())
        conn = socket.socket(fileno=conn) if type(conn) is int else conn
        with conn:
            assert address == client.getsockname()
            assert type(address) is type(client.getsockname())
            assert conn.getsockname() == client.getpeername()
            assert not os.get_blocking(conn.fileno())
            assert not os.get_inheritable(conn.fileno())


@pytest.mark.parametrize('kind', KINDS)
def test_local_address_is_what_getsockname_gives(kind, unix_dir):
    family = FAMILIES[kind]
    with socket.socket(family) as sock:
        if family == socket.AF_UNIX:
            sock.bind(os.path.join(unix_dir, 's') if kind != 'unix-abstract'
                      else f'\0eloop-local-{os.getpid()}'.encode())
        else:
            sock.bind(('127.0.0.1' if family == socket.AF_INET else '::1', 0))
        assert sockio.local_address(sock, sock.fileno()) == sock.getsockname()


def test_set_tcp_nodelay():
    with socket.socket() as sock:
        assert not sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        sockio.set_tcp_nodelay(sock, sock.fileno())
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
