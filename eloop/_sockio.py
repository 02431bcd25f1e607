"""Socket I/O at the kernel boundary: receive bytes, send bytes, accept, EAGAIN as a value.

This is the plain-Python twin of `_sockio.pyx`, which does the same with the system calls made
directly: holding the GIL, as a non-blocking call never waits (the socket module releases and
takes it again around every call), with no argument parsing, into a C buffer, and with EAGAIN
a return value rather than an exception. Both pass the same tests; eloop imports the compiled
one where it is built, and this one under ELOOP_PURE=1 or where nothing is compiled.
"""

import socket

from ._fd_transport import accept_through_object


def recv_bytes(sock, fd, view):
    """At most len(view) bytes received from sock (whose fd is `fd`): b'' at EOF, None if none
    are there now (EAGAIN). `view` is scratch space they may be received into."""
    try:
        nbytes = sock.recv_into(view)
    except (BlockingIOError, InterruptedError):
        return None
    return bytes(view[:nbytes])


def reuse_if_unshared(data):
    """Compiled, recv_bytes may copy its next read of the same size into `data`, which a protocol
    was given and did not keep (see _sockio.pyx); plain Python keeps nothing."""


def recv_new_bytes(sock, fd, size):
    """Like recv_bytes, at most `size` bytes, received straight into a new bytes object: one
    copy of every byte rather than two, worth its allocation when large reads are expected."""
    try:
        return sock.recv(size)
    except (BlockingIOError, InterruptedError):
        return None


def send_bytes(sock, fd, data):
    """Send what the kernel takes of data (bytes or a bytes-like object) on sock, whose fd is
    `fd`: the number of bytes sent, 0 if none could be (EAGAIN)."""
    try:
        return sock.send(data)
    except (BlockingIOError, InterruptedError):
        return 0


def accept_connection(sock, fd):
    """A connection accepted on the listening socket sock (whose fd is `fd`): (the connection,
    the peer's address as socket.accept() gives it), None if none is queued (EAGAIN). Errors
    are socket.accept()'s OSErrors.

    The connection is non-blocking and close-on-exec. Here it is a socket object: plain Python
    reads and writes through it. Compiled, a connection of AF_INET, AF_INET6 or AF_UNIX is its
    fd alone, an int: accept4 makes it, and no socket object is made until something needs one
    (see SocketStream.socket_object); one of another family is a socket object there too, and
    so is one accepted through the accept() of a socket class that has its own (which is called,
    as asyncio calls it).
    """
    return accept_through_object(sock)


def local_address(sock, fd):
    """The address sock (whose fd is `fd`) is bound to, as sock.getsockname() gives it.
    (Compiled, read from the fd, where sock may be None.)"""
    return sock.getsockname()


def set_tcp_nodelay(sock, fd):
    """Disable Nagle's algorithm on the TCP socket sock, whose fd is `fd` (compiled, set on the
    fd, where sock may be None). OSError if the socket says no."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
