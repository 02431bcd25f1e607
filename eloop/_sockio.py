"""Socket I/O at the kernel boundary: receive bytes, send bytes, EAGAIN as a value.

This is the plain-Python twin of `_sockio.pyx`, which does the same with the system calls made
directly: holding the GIL, as a non-blocking call never waits (the socket module releases and
takes it again around every call), with no argument parsing, into a C buffer, and with EAGAIN
a return value rather than an exception. Both pass the same tests; eloop imports the compiled
one where it is built, and this one under ELOOP_PURE=1 or where nothing is compiled.
"""


def recv_bytes(sock, fd, view):
    """At most len(view) bytes received from sock (whose fd is `fd`): b'' at EOF, None if none
    are there now (EAGAIN). `view` is scratch space they may be received into."""
    try:
        nbytes = sock.recv_into(view)
    except (BlockingIOError, InterruptedError):
        return None
    return bytes(view[:nbytes])


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
