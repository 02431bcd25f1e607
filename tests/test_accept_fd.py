"""The accept function of _sockio, compiled or plain: what socket.accept() gives, and its errors.

Compiled, it accepts with accept4 and decodes the peer's address in C; plain Python, through the
socket module. Both say what socket.accept() says.
"""

import errno
import os
import shutil
import socket
import tempfile

import pytest

from eloop import _stream_transport

from test_streams_tcp import has_ipv6_loopback

# The module the loop accepts through: the compiled twin, or the plain one under ELOOP_PURE=1.
sockio = _stream_transport._sockio


@pytest.fixture
def unix_dir():
    """A directory for Unix socket files, with a short path (a socket's path has 107 bytes)."""
    path = tempfile.mkdtemp(prefix='eloop-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


KINDS = ['ipv4', pytest.param('ipv6', marks=pytest.mark.skipif(
    not has_ipv6_loopback(), reason='no IPv6 loopback')), 'unix', 'unix-path', 'unix-abstract']
FAMILIES = {'ipv4': socket.AF_INET, 'ipv6': socket.AF_INET6, 'unix': socket.AF_UNIX,
            'unix-path': socket.AF_UNIX, 'unix-abstract': socket.AF_UNIX}


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
