"""The socket stream transport: TCP and Unix connections over the completion interface.

Reading is a completion. While reading is active a `Waiter` is parked on the fd with the
poller; when the fd is ready the loop runs it, and it receives into a buffer (the loop's shared
read buffer, or the protocol's own for a BufferedProtocol) and hands the data up. It keeps reading
(see below for how long) within a budget per event, so that one busy socket cannot starve the
others; in ET mode, when the budget runs out before the socket is drained, it queues itself again
on the loop's ready queue, because no new edge will come for data that is already there.

Writing is optimistic: write() sends at once when nothing is buffered and only what the kernel
did not take is buffered (a deque of bytes and memoryviews, never concatenated). A `Waiter`
is then parked until the fd is writable and flushes the buffer with one sendmsg over its pieces.

Writing stops at a partial send: the send buffer is full then, and on Linux the space freed later
makes a new edge, so the fd is marked exhausted without paying for the EAGAIN call (as tokio
does). Reading stops at a short read; in ET mode the waiter then comes back in the next pass of
the ready queue and reads until EAGAIN, because a peer's EOF queued behind the last data gets
no edge of its own.
"""

import collections
import contextvars
import itertools
import os
import socket
import warnings

from asyncio import constants
from asyncio import futures
from asyncio import protocols
from asyncio import transports
from asyncio.log import logger

from ._fd_transport import (ReadingControl, close_owned_fd, repr_head, report_fatal_error,
                            requeue_in_edge_mode, socket_extra_info)
from ._handles import Runnable

# One sendmsg takes at most this many pieces of the buffer.
_MAX_IOV = min(os.sysconf('SC_IOV_MAX'), 1024) if hasattr(os, 'sysconf') else 16
# What one readiness event may read before the transport yields to the others.
_READ_BUDGET_BYTES = 256 * 1024
_READ_BUDGET_CALLS = 16


def set_nodelay(sock):
    """Disable Nagle's algorithm on a TCP socket: small writes leave at once, as in asyncio."""
    if (sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM
            and sock.proto in (0, socket.IPPROTO_TCP)):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # a socket the peer has already reset: the first I/O will say so


def _bytes_like(data):
    """data as a flat byte buffer that can be sent, or asyncio's TypeError."""
    if isinstance(data, (bytes, bytearray)):
        return data
    if isinstance(data, memoryview):
        return data if data.format == 'B' and data.ndim == 1 else data.cast('B')
    raise TypeError(f'data argument must be a bytes-like object, not {type(data).__name__!r}')


def _keepable(data, start):
    """What the write buffer keeps of data[start:]: a view of immutable bytes, else a copy.

    A caller may reuse a bytearray as soon as write() returns (asyncio's own sendfile fallback
    does), so bytes that may change are copied rather than sent later as they will be then.
    """
    if type(data) is bytes:
        return memoryview(data)[start:] if start else data
    if type(data) is memoryview and data.readonly and isinstance(data.obj, bytes):
        return data[start:] if start else data
    return bytes(memoryview(data)[start:])


class Waiter(Runnable):
    """A persistent waiter parked on an fd: the loop runs it each time the fd is ready.

    It runs `callback` in `context` (a transport's, a server's), and reports what escapes the
    callback to the loop's exception handler, as a Handle does: nothing a protocol raises may
    stop the loop.
    """

    __slots__ = ('callback', 'context', 'loop', '_source_traceback')  # + Runnable's _cancelled

    def __init__(self, callback, context, loop):
        self.callback = callback
        self.context = context
        self.loop = loop
        self._cancelled = False
        self._source_traceback = None

    def _run(self):
        try:
            self.context.run(self.callback)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.loop.call_exception_handler({
                'message': f'Exception in callback {self.callback!r}',
                'exception': exc,
                'handle': self,
            })

    def __repr__(self):
        return f'<Waiter {self.callback!r}>'


class SocketTransport(ReadingControl, transports._FlowControlMixin, transports.Transport):
    """An asyncio.Transport over a connected stream socket (TCP or Unix)."""

    _start_tls_compatible = True
    _sendfile_compatible = constants._SendfileMode.TRY_NATIVE
    max_size = 256 * 1024  # the read size of asyncio's socket transports

    # Read by __del__, which may run even if __init__ failed early.
    _sock = None

    def __init__(self, loop, sock, protocol, waiter=None, extra=None, server=None):
        transports._FlowControlMixin.__init__(self, extra, loop)
        socket_extra_info(self._extra, sock)
        self._sock_fd = sock.fileno()
        self._poller = loop._poller
        self._recv_view = loop._shared_recv_view()
        # Protocol callbacks of reading and writing run in a context of their own, copied from
        # where the transport was made, as asyncio's reader and writer handles do.
        context = contextvars.copy_context()
        self._read_waiter = Waiter(self._on_readable, context, loop)
        self._write_waiter = Waiter(self._on_writable, context, loop)
        self._reading_parked = False
        self._writing_parked = False
        self._read_iteration = -1  # the loop iteration that last ran the read waiter
        self._server = None

        self._protocol = None
        self._protocol_connected = False
        self._buffered = False
        self.set_protocol(protocol)

        self._buffer = collections.deque()
        self._buffer_size = 0
        self._conn_lost = 0  # set when connection_lost is scheduled; counts writes after it
        self._closing = False
        self._paused = False  # pause_reading() was called
        self._eof = False  # write_eof() was called
        self._eof_received = False
        self._empty_waiter = None  # a future sendfile waits on for the buffer to drain
        self._sock = sock  # from here on, __del__ can release it

        if server is not None:
            self._server = server
            server._attach(self)
        loop._transports[self._sock_fd] = self
        set_nodelay(sock)

        loop.call_soon(self._protocol.connection_made, self)
        # Reading starts only once connection_made() has been called.
        loop.call_soon(self._start_reading)
        if waiter is not None:
            loop.call_soon(futures._set_result_unless_cancelled, waiter, None)

    def __repr__(self):
        info = repr_head(self, self._sock is None, self._closing, self._sock_fd)
        if self._sock is not None:
            info.append('read=polling' if self._reading_parked else 'read=idle')
            state = 'polling' if self._writing_parked else 'idle'
            info.append(f'write=<{state}, bufsize={self._buffer_size}>')
        return '<{}>'.format(' '.join(info))

    # -- the protocol -----------------------------------------------------------------------

    def set_protocol(self, protocol):
        self._protocol = protocol
        self._protocol_connected = True
        self._buffered = isinstance(protocol, protocols.BufferedProtocol)

    def get_protocol(self):
        return self._protocol

    # -- reading ----------------------------------------------------------------------------

    # is_reading, pause_reading and resume_reading come from ReadingControl.

    def _start_reading(self):
        if self._reading_parked or self._closing or self._paused or self._eof_received:
            return
        self._reading_parked = True
        self._poller.park_reader(self._sock_fd, self._read_waiter, self._sock)

    def _stop_reading(self):
        if self._reading_parked:
            self._reading_parked = False
            self._poller.unpark_reader(self._sock_fd, self._read_waiter)

    def _on_readable(self):
        """The fd is readable: read and deliver within this event's budget."""
        iteration = self._loop._n_iterations
        if iteration == self._read_iteration:
            # Queued twice for one pass (in ET mode, a re-queue and a new edge): every entry of
            # a pass was queued before the first ran, so that run saw all there was to see.
            return
        self._read_iteration = iteration
        total = 0
        for _ in range(_READ_BUDGET_CALLS):
            if not self._reading_parked:
                return  # paused or closed, possibly by the protocol just now
            nbytes = self._read_into_protocol() if self._buffered else self._read_data()
            if nbytes <= 0:
                if nbytes == 0:
                    return  # EAGAIN (the fd is marked exhausted), EOF or an error
                break  # a short read
            total += nbytes
            if total >= _READ_BUDGET_BYTES:
                break
        if self._reading_parked:
            # The budget ran out, or a short read left the socket maybe empty: in ET mode come
            # back after the others, to read on until EAGAIN.
            requeue_in_edge_mode(self._loop, self._read_waiter)

    def _read_data(self):
        """One recv for a Protocol: the bytes read if the buffer filled, -1 after a short read,
        0 if nothing was read (EAGAIN, EOF, an error)."""
        view = self._recv_view
        nbytes = self._receive_into(view)
        if not nbytes:
            return 0
        if not self._call_protocol(self._protocol.data_received, bytes(view[:nbytes]),
                                   'Fatal error: protocol.data_received() call failed.'):
            return 0
        return self._more_may_wait(nbytes, len(view))

    def _read_into_protocol(self):
        """One recv_into the BufferedProtocol's own buffer; like _read_data."""
        try:
            buf = self._protocol.get_buffer(-1)
            size = len(buf)
            if not size:
                raise RuntimeError('get_buffer() returned an empty buffer')
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error: protocol.get_buffer() call failed.')
            return 0
        nbytes = self._receive_into(buf)
        if not nbytes:
            return 0
        if not self._call_protocol(self._protocol.buffer_updated, nbytes,
                                   'Fatal error: protocol.buffer_updated() call failed.'):
            return 0
        return self._more_may_wait(nbytes, size)

    def _receive_into(self, buf):
        """recv_into buf: the bytes read, else 0 (nothing now, EOF handled, or the transport
        failed)."""
        try:
            nbytes = self._sock.recv_into(buf)
        except (BlockingIOError, InterruptedError):
            self._poller.readable_exhausted(self._sock_fd)
            return 0
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal read error on socket transport')
            return 0
        if not nbytes:
            self._on_eof()
        return nbytes

    def _call_protocol(self, method, arg, failure_message):
        """method(arg); False if it raised, which ends the transport as in asyncio."""
        try:
            method(arg)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, failure_message)
            return False
        return True

    @staticmethod
    def _more_may_wait(nbytes, size):
        """nbytes after a read that filled the buffer (read on), -1 after a short read.

        A short read emptied the socket's queue. In LT mode epoll reports the fd again if
        anything (data, EOF, an error) came since. In ET mode an EOF queued behind the data gets
        no edge of its own, so the socket is read again until EAGAIN, but in a later pass of the
        ready queue: the protocol sees one read per pass in both modes, as in asyncio.
        """
        return nbytes if nbytes >= size else -1

    def _on_eof(self):
        if self._loop.get_debug():
            logger.debug('%r received EOF', self)
        self._eof_received = True
        try:
            keep_open = self._protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, 'Fatal error: protocol.eof_received() call failed.')
            return
        if keep_open:
            # The protocol may still write, but there is nothing more to read.
            self._stop_reading()
        else:
            self.close()

    # -- writing ----------------------------------------------------------------------------

    def write(self, data):
        if type(data) is not bytes:
            data = _bytes_like(data)
        if self._eof:
            raise RuntimeError('Cannot call write() after write_eof()')
        if self._empty_waiter is not None:
            raise RuntimeError('unable to write; sendfile is in progress')
        if not data:
            return
        if self._conn_lost:
            self._drop_write()
            return
        if self._buffer:
            self._keep(_keepable(data, 0))
        else:
            # Optimistic send: most writes fit the socket buffer and need no waiting.
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, 'Fatal write error on socket transport')
                return
            if sent == len(data):
                return
            self._keep(_keepable(data, sent))
            self._start_writing()
        self._maybe_pause_protocol()

    def writelines(self, list_of_data):
        if self._eof:
            raise RuntimeError('Cannot call writelines() after write_eof()')
        if self._empty_waiter is not None:
            raise RuntimeError('unable to writelines; sendfile is in progress')
        pieces = [piece for piece in map(_bytes_like, list_of_data) if piece]
        if not pieces:
            return
        if self._conn_lost:
            self._drop_write()
            return
        was_empty = not self._buffer
        for piece in pieces:
            self._keep(_keepable(piece, 0))
        if was_empty:
            if not self._flush() or not self._buffer:
                return
            self._start_writing()
        self._maybe_pause_protocol()

    def _keep(self, piece):
        self._buffer.append(piece)
        self._buffer_size += len(piece)

    def _drop_write(self):
        """A write after the connection was lost: dropped, and said so after a few (asyncio)."""
        if self._conn_lost >= constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES:
            logger.warning('socket.send() raised exception.')
        self._conn_lost += 1

    def _start_writing(self):
        if not self._writing_parked:
            self._writing_parked = True
            # Only called after a send the kernel did not take whole: the fd is not writable now.
            self._poller.writable_exhausted(self._sock_fd)
            self._poller.park_writer(self._sock_fd, self._write_waiter, self._sock)

    def _stop_writing(self):
        if self._writing_parked:
            self._writing_parked = False
            self._poller.unpark_writer(self._sock_fd, self._write_waiter)

    def _on_writable(self):
        """The fd is writable: flush the buffer, then finish what waited for it to drain."""
        if not self._writing_parked or not self._flush():
            return
        self._maybe_resume_protocol()  # the protocol may write more, or close
        if self._buffer or self._conn_lost:
            return
        self._stop_writing()
        if self._empty_waiter is not None and not self._empty_waiter.done():
            self._empty_waiter.set_result(None)
        if self._closing:
            self._conn_lost += 1
            self._call_connection_lost(None)
        elif self._eof:
            self._sock.shutdown(socket.SHUT_WR)

    def _flush(self):
        """Send the buffer until it is empty or the kernel takes no more; False on a fatal error."""
        buffer = self._buffer
        while buffer:
            try:
                if len(buffer) == 1:
                    sent = self._sock.send(buffer[0])
                else:
                    sent = self._sock.sendmsg(itertools.islice(buffer, _MAX_IOV))
            except (BlockingIOError, InterruptedError):
                self._poller.writable_exhausted(self._sock_fd)
                return True
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._stop_writing()
                self._clear_buffer()
                self._fatal_error(exc, 'Fatal write error on socket transport')
                _fail_unless_done(self._empty_waiter, exc)
                return False
            offered_all = len(buffer) <= _MAX_IOV
            short = sent < self._buffer_size
            self._consume(sent)
            if short and offered_all:
                # The send buffer is full: wait for the next edge.
                self._poller.writable_exhausted(self._sock_fd)
                break
        return True

    def _consume(self, sent):
        """Drop the first `sent` bytes of the buffer."""
        buffer = self._buffer
        self._buffer_size -= sent
        while sent:
            piece = buffer[0]
            size = len(piece)
            if size <= sent:
                buffer.popleft()
                sent -= size
            else:
                buffer[0] = memoryview(piece)[sent:]
                break

    def _clear_buffer(self):
        self._buffer.clear()
        self._buffer_size = 0

    def get_write_buffer_size(self):
        return self._buffer_size

    def can_write_eof(self):
        return True

    def write_eof(self):
        if self._closing or self._eof:
            return
        self._eof = True
        if not self._buffer:
            self._sock.shutdown(socket.SHUT_WR)

    # -- sendfile support (loop.sendfile waits for the buffer to drain) -----------------------

    def _make_empty_waiter(self):
        if self._empty_waiter is not None:
            raise RuntimeError('Empty waiter is already set')
        self._empty_waiter = self._loop.create_future()
        if not self._buffer:
            self._empty_waiter.set_result(None)
        return self._empty_waiter

    def _reset_empty_waiter(self):
        self._empty_waiter = None

    # -- closing ----------------------------------------------------------------------------

    def is_closing(self):
        return self._closing

    def close(self):
        """Close after the buffered data is sent; connection_lost(None) follows."""
        if self._closing:
            return
        self._closing = True
        self._stop_reading()
        if not self._buffer:
            self._conn_lost += 1
            self._stop_writing()
            self._loop.call_soon(self._call_connection_lost, None)

    def abort(self):
        """Close now, dropping buffered data; connection_lost(None) follows."""
        self._force_close(None)

    def _fatal_error(self, exc, message='Fatal error on transport'):
        report_fatal_error(self, exc, message, expected=isinstance(exc, OSError))
        self._force_close(exc)

    def _force_close(self, exc):
        if self._conn_lost:
            return
        if self._buffer:
            self._clear_buffer()
            self._stop_writing()
        if not self._closing:
            self._closing = True
            self._stop_reading()
        self._conn_lost += 1
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc):
        try:
            if self._protocol_connected:
                self._protocol.connection_lost(exc)
        finally:
            self._release_socket()
            self._protocol = None
            server = self._server
            if server is not None:
                self._server = None
                server._detach(self)
            _fail_unless_done(self._empty_waiter,
                              ConnectionError('Connection is closed by peer'))

    def _release_socket(self):
        """Take the fd off the poller and close the socket."""
        sock = self._sock
        if sock is None:
            return
        self._sock = None
        self._read_waiter._cancelled = True
        self._write_waiter._cancelled = True
        self._reading_parked = self._writing_parked = False
        close_owned_fd(self._loop, self._sock_fd, sock)

    def __del__(self, _warn=warnings.warn):
        if self._sock is not None:
            _warn(f'unclosed transport {self!r}', ResourceWarning, source=self)
            self._release_socket()
            if self._server is not None:
                self._server._detach(self)
                self._server = None


def _fail_unless_done(future, exc):
    if future is not None and not future.done():
        future.set_exception(exc)
