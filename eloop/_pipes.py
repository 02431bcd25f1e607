"""Read and write pipe transports (pipes, FIFOs, sockets, character devices such as a pty).

Each transport owns its fd and speaks the poller's completion interface: a persistent Handle is
parked on the fd as its reader or writer. Reads go on while they fill the buffer (in ET mode until
EAGAIN), within a budget per readiness event; a transport whose budget runs out in ET mode puts its
Handle back on the ready queue, because no new edge would come for data already waiting. Writes are
tried at once; what the pipe cannot take is buffered and flushed when the fd becomes writable.

The behaviour seen by protocols is that of asyncio.unix_events' pipe transports.
"""

import errno
import os
import stat
import warnings

from asyncio import constants
from asyncio import log
from asyncio import transports

from ._fd_transport import (FdTransportBase, ReadingControl, close_owned_fd, repr_head,
                            report_fatal_error, requeue_in_edge_mode, start_transport)
from ._handles import Handle

# Reads (or writes) done for one readiness event before the other fds get their turn.
IO_BUDGET = 16


class _PipeEnd(FdTransportBase, transports.BaseTransport):
    """What both ends of a pipe share: adopting the fd, its repr, and closing it."""

    def _take_pipe(self, loop, pipe, protocol, refusal):
        """Adopt `pipe` (made non-blocking) if it is something epoll can watch; its st_mode."""
        self._extra['pipe'] = pipe
        self._loop = loop
        self._pipe = pipe
        self._fileno = pipe.fileno()
        self._protocol = protocol
        self._closing = False
        self._paused = False
        mode = os.fstat(self._fileno).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
            # A regular file is always "ready" and epoll refuses it.
            self._pipe = None
            self._fileno = None
            self._protocol = None
            raise ValueError(refusal)
        os.set_blocking(self._fileno, False)
        return mode

    def _repr_with(self, parked, *details):
        info = repr_head(self, self._pipe is None, self._closing, self._fileno)
        if self._pipe is not None and not self._loop.is_closed():
            info.append('polling' if parked() else 'idle')
            info.extend(details)
        else:
            info.append('open' if self._pipe is not None else 'closed')
        return '<{}>'.format(' '.join(info))

    def __del__(self, _warn=warnings.warn):
        if self._pipe is not None:
            _warn(f'unclosed transport {self!r}', ResourceWarning, source=self)
            self._pipe.close()

    def _call_connection_lost(self, exc):
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._waiter_handle().cancel()
            close_owned_fd(self._loop, self._fileno, self._pipe)
            self._pipe = None
            self._protocol = None
            self._loop = None


class ReadPipeTransport(ReadingControl, _PipeEnd, transports.ReadTransport):
    """Reads a pipe and hands the data to protocol.data_received."""

    max_size = 256 * 1024  # the most bytes asked of one read

    def __init__(self, loop, pipe, protocol, waiter=None, extra=None):
        super().__init__(extra)
        self._take_pipe(loop, pipe, protocol, 'Pipe transport is for pipes/sockets only.')
        # In LT mode a short read ends the turn: the poller reports the fd again if more came.
        # In ET mode only EAGAIN does: a writer's hang-up that came with the last data brings
        # no edge of its own, so a read that returned less than asked may still meet EOF.
        self._read_until_eagain = loop._poller.edge_triggered
        self._fd = self._fileno
        self._recv_view = loop._shared_recv_view()[:self.max_size]
        self._reader = Handle(self._read_ready, (), loop, None)
        # Reading starts once connection_made() has been called.
        start_transport(loop, self, self._fileno, self._start_reading, waiter)

    def __repr__(self):
        return self._repr_with(
            lambda: self._loop._poller.get_reader(self._fileno) is self._reader)

    def _waiter_handle(self):
        return self._reader

    def _read_ready(self):
        loop = self._loop
        for _ in range(IO_BUDGET):
            if not self.is_reading():
                return  # paused or closed by the protocol, or a stale run from the ready queue
            try:
                # Into the loop's buffer: os.read(max_size) would allocate (and fault in)
                # max_size bytes for each read, however little the pipe holds.
                nbytes = os.readv(self._fileno, (self._recv_view,))
            except BlockingIOError:
                loop._poller.readable_exhausted(self._fileno)
                return
            except OSError as exc:
                self._fatal_error(exc, 'Fatal read error on pipe transport')
                return
            if not nbytes:
                self._on_eof()
                return
            try:
                self._protocol.data_received(bytes(self._recv_view[:nbytes]))
            except BaseException:
                # The Handle reports the error; the fd may still hold data that no new edge
                # would announce in ET mode.
                requeue_in_edge_mode(loop, self._reader)
                raise
            if nbytes < len(self._recv_view) and not self._read_until_eagain:
                return
        requeue_in_edge_mode(loop, self._reader)

    def _on_eof(self):
        if self._loop.get_debug():
            log.logger.info('%r was closed by peer', self)
        self._closing = True
        self._stop_reading()
        self._loop.call_soon(self._protocol.eof_received)
        self._loop.call_soon(self._call_connection_lost, None)

    def close(self):
        if not self._closing:
            self._close(None)

    def _fatal_error(self, exc, message='Fatal error on pipe transport'):
        # EIO is how a pty says its other side was closed: not worth the exception handler.
        expected = isinstance(exc, OSError) and exc.errno == errno.EIO
        report_fatal_error(self, exc, message, expected)
        self._close(exc)

    def _close(self, exc):
        self._closing = True
        self._stop_reading()
        self._loop.call_soon(self._call_connection_lost, exc)


class WritePipeTransport(_PipeEnd, transports._FlowControlMixin, transports.WriteTransport):
    """Writes to a pipe; notices when its reader goes away."""

    def __init__(self, loop, pipe, protocol, waiter=None, extra=None):
        super().__init__(extra, loop)
        mode = self._take_pipe(loop, pipe, protocol,
                               'Pipe transport is only for pipes, sockets and character devices')
        self._buffer = bytearray()
        self._conn_lost = 0
        self._writer = Handle(self._write_ready, (), loop, None)
        # The write end of a pipe reports an error, and a socket readability, once the other
        # side is closed: watching it "for reading" is how the reader's departure is noticed.
        # A character device has no such signal.
        self._hangup_watch = None
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
            self._hangup_watch = Handle(self._on_hangup, (), loop, None)
        # The watch starts once connection_made() has been called.
        start_transport(loop, self, self._fileno, self._start_hangup_watch, waiter)

    def __repr__(self):
        return self._repr_with(
            lambda: self._loop._poller.get_writer(self._fileno) is self._writer,
            f'bufsize={self.get_write_buffer_size()}')

    def _waiter_handle(self):
        return self._writer

    def get_write_buffer_size(self):
        return len(self._buffer)

    # -- the reader's departure -------------------------------------------------------------

    def _start_hangup_watch(self):
        if self._hangup_watch is not None:
            self._loop._poller.park_reader(self._fileno, self._hangup_watch, self)

    def _stop_hangup_watch(self):
        if self._hangup_watch is not None:
            self._loop._poller.unpark_reader(self._fileno, self._hangup_watch)
            self._hangup_watch.cancel()
            self._hangup_watch = None

    def _on_hangup(self):
        if self._loop.get_debug():
            log.logger.info('%r was closed by peer', self)
        # Data still buffered can no longer be delivered: say so.
        self._close(BrokenPipeError() if self._buffer else None)

    # -- writing ----------------------------------------------------------------------------

    def write(self, data):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data argument must be a bytes-like object, '
                            f'not {type(data).__name__!r}')
        if isinstance(data, bytearray):
            data = memoryview(data)
        if not data:
            return
        if self._conn_lost or self._closing:
            if self._conn_lost >= constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                log.logger.warning('pipe closed by peer or os.write(pipe, data) raised exception.')
            self._conn_lost += 1
            return

        if not self._buffer:
            # Try it at once: most writes fit the pipe and need no buffer and no poller.
            try:
                n = os.write(self._fileno, data)
            except BlockingIOError:
                n = 0
                self._loop._poller.writable_exhausted(self._fileno)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._conn_lost += 1
                self._fatal_error(exc, 'Fatal write error on pipe transport')
                return
            if n == len(data):
                return
            if n > 0:
                data = memoryview(data)[n:]
            self._loop._poller.park_writer(self._fileno, self._writer, self)

        self._buffer += data
        self._maybe_pause_protocol()

    def _write_ready(self):
        poller = self._loop._poller
        for _ in range(IO_BUDGET):
            if not self._buffer:
                return  # a stale run: the buffer was flushed or dropped meanwhile
            try:
                n = os.write(self._fileno, self._buffer)
            except BlockingIOError:
                poller.writable_exhausted(self._fileno)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._buffer.clear()
                self._conn_lost += 1
                poller.unpark_writer(self._fileno, self._writer)
                self._fatal_error(exc, 'Fatal write error on pipe transport')
                return
            if n == len(self._buffer):
                self._buffer.clear()
                poller.unpark_writer(self._fileno, self._writer)
                self._maybe_resume_protocol()  # may write again
                if self._closing and not self._buffer:
                    self._stop_hangup_watch()
                    self._call_connection_lost(None)
                return
            del self._buffer[:n]
        requeue_in_edge_mode(self._loop, self._writer)

    def can_write_eof(self):
        return True

    def write_eof(self):
        if self._closing:
            return
        assert self._pipe
        self._closing = True
        if not self._buffer:
            self._stop_hangup_watch()
            self._loop.call_soon(self._call_connection_lost, None)

    def close(self):
        if self._pipe is not None and not self._closing:
            # A write pipe is closed by its end of file, once the buffer is written.
            self.write_eof()

    def abort(self):
        self._close(None)

    def _fatal_error(self, exc, message='Fatal error on pipe transport'):
        report_fatal_error(self, exc, message, isinstance(exc, OSError))
        self._close(exc)

    def _close(self, exc=None):
        self._closing = True
        if self._buffer:
            self._loop._poller.unpark_writer(self._fileno, self._writer)
            self._buffer.clear()
        self._stop_hangup_watch()
        self._loop.call_soon(self._call_connection_lost, exc)


class PipesMixin:
    """connect_read_pipe and connect_write_pipe of the loop."""

    async def connect_read_pipe(self, protocol_factory, pipe):
        """Read `pipe` (a file-like object with fileno()) into a protocol made by the factory."""
        return await self._connect_pipe(ReadPipeTransport, 'Read', protocol_factory, pipe)

    async def connect_write_pipe(self, protocol_factory, pipe):
        """Write to `pipe` (a file-like object with fileno()) through a transport."""
        return await self._connect_pipe(WritePipeTransport, 'Write', protocol_factory, pipe)

    async def _connect_pipe(self, transport_class, direction, protocol_factory, pipe):
        protocol = protocol_factory()
        waiter = self.create_future()
        transport = transport_class(self, pipe, protocol, waiter)
        try:
            await waiter
        except BaseException:
            transport.close()
            raise
        if self._debug:
            log.logger.debug('%s pipe %r connected: (%r, %r)', direction, pipe.fileno(),
                             transport, protocol)
        return transport, protocol
