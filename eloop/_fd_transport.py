"""What eloop's fd-owning transports share: ownership of the fd, reading control, helpers.

A transport of this kind owns one fd. It parks persistent Handles on it with the poller (as reader
and/or writer), registers itself in loop._transports so that the readiness API cannot take the fd
over, and drops the fd from the poller before closing it.
"""

import os
import socket
import stat

from asyncio import log
from asyncio import trsock


class FdTransportBase:
    """The protocol and the closing state of an fd-owning transport (`_protocol`, `_closing`)."""

    def set_protocol(self, protocol):
        self._protocol = protocol

    def get_protocol(self):
        return self._protocol

    def is_closing(self):
        return self._closing


class ReadingControl:
    """pause_reading/resume_reading of a transport that reads its fd.

    The transport sets `_loop`, `_closing`, `_paused`, `_fd` and `_reader` (the Handle parked as
    the fd's reader while reading is on).
    """

    def _start_reading(self):
        if self.is_reading():
            self._loop._poller.park_reader(self._fd, self._reader, self)

    def _stop_reading(self):
        self._loop._poller.unpark_reader(self._fd, self._reader)

    def is_reading(self):
        return not self._closing and not self._paused

    def pause_reading(self):
        if not self.is_reading():
            return
        self._paused = True
        self._stop_reading()
        if self._loop.get_debug():
            log.logger.debug('%r pauses reading', self)

    def resume_reading(self):
        if self._closing or not self._paused:
            return
        self._paused = False
        # In ET mode the poller runs the reader at once if data came while it was paused.
        self._start_reading()
        if self._loop.get_debug():
            log.logger.debug('%r resumes reading', self)


def report_fatal_error(transport, exc, message, expected):
    """asyncio's report of the error that ends a transport.

    An `expected` error (most often an OSError: the peer went away) is only logged in debug mode;
    any other goes to the loop's exception handler.
    """
    loop = transport._loop
    if expected:
        if loop.get_debug():
            log.logger.debug('%r: %s', transport, message, exc_info=True)
    else:
        loop.call_exception_handler({
            'message': message,
            'exception': exc,
            'transport': transport,
            'protocol': transport._protocol,
        })


def start_transport(loop, transport, fd, start, waiter):
    """Make `transport` the owner of fd, then, in order: connection_made, start(), the waiter."""
    loop._transports[fd] = transport
    loop.call_soon(transport._protocol.connection_made, transport)
    loop.call_soon(start)
    if waiter is not None:
        loop.call_soon(set_result_unless_cancelled, waiter, None)


def repr_head(transport, closed, closing, fd):
    """The start of a transport's repr: its class, whether it is closed or closing, its fd."""
    info = [transport.__class__.__name__]
    if closed:
        info.append('closed')
    elif closing:
        info.append('closing')
    info.append(f'fd={fd}')
    return info


def set_result_unless_cancelled(future, result):
    if not future.cancelled():
        future.set_result(result)


def requeue_in_edge_mode(loop, handle):
    """Run `handle` again next iteration if the poller would not report its fd again.

    In ET mode an fd is reported once per edge: a consumer that stops before EAGAIN (its budget
    ran out, or a protocol callback raised) must come back by itself. In LT mode epoll reports
    the fd again anyway.
    """
    if loop._poller.edge_triggered and not handle._cancelled:
        loop._ready.append(handle)


def accept_through_object(sock):
    """sock.accept(), the connection made non-blocking: (connection, address), or None if none
    is queued (EAGAIN). Errors are sock.accept()'s."""
    try:
        conn, address = sock.accept()
    except (BlockingIOError, InterruptedError):
        return None
    conn.setblocking(False)
    return conn, address


def close_owned_fd(loop, fd, fileobj):
    """Drop fd from the poller, then close the object that owns it (None: the fd itself)."""
    if not loop.is_closed():
        loop._poller.forget(fd)
    if fileobj is None:
        os.close(fd)
    else:
        fileobj.close()


def socket_extra_info(extra, sock):
    """Fill a socket transport's extra info: the socket, its own and its peer's address."""
    extra['socket'] = trsock.TransportSocket(sock)
    try:
        extra['sockname'] = sock.getsockname()
    except OSError:
        extra['sockname'] = None
    if 'peername' not in extra:
        try:
            extra['peername'] = sock.getpeername()
        except OSError:
            extra['peername'] = None


def set_reuseport(sock):
    """SO_REUSEPORT, or asyncio's ValueError where the platform lacks it."""
    if not hasattr(socket, 'SO_REUSEPORT'):
        raise ValueError('reuse_port not supported by socket module')
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError:
        raise ValueError('reuse_port not supported by socket module, '
                         'SO_REUSEPORT defined but not implemented.')


def remove_stale_unix_socket(path):
    """A socket file left by an earlier process would make bind() fail: remove it."""
    if path[0] in (0, '\x00'):
        return  # Linux abstract namespace: no file
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        # The directory may allow creating a socket but not examining it.
        log.logger.error('Unable to check or remove stale UNIX socket %r: %r', path, err)
