"""The socket stream transport: TCP and Unix connections over the completion interface.

A connection is two objects. `SocketTransport` is what protocols and users hold: an
asyncio.Transport (isinstance checks and asyncio's flow control hold for it). `SocketStream` does
the work: it keeps the connection's state and moves its bytes. Compiled, it is a C type with C
fields, so the read and write paths make C calls, not Python attribute lookups; a C type cannot
also inherit asyncio's Python transport classes, hence the two.

Reading is a completion. While reading is active the stream is parked on the fd with the
poller as its read waiter; when the fd is ready the loop runs it, and it receives (through
_sockio, or into the protocol's own buffer for a BufferedProtocol) and hands the data up. It
keeps reading while reads fill the buffer, within a budget per event, so that one busy socket
cannot starve the others; in ET mode, when the budget runs out before the socket is drained, it
queues itself again on the loop's ready queue, because no new edge will come for data already
there.

Writing is optimistic: write() sends at once when nothing is buffered and only what the kernel
did not take is buffered (a deque of bytes and memoryviews, never concatenated). A `Waiter`
is then parked until the fd is writable and flushes the buffer with one sendmsg over its pieces.

Writing stops at a partial send: the send buffer is full then, and on Linux the space freed later
makes a new edge, so the fd is marked exhausted without paying for the EAGAIN call (as tokio
does). Reading stops at a short read too, in both modes: the socket's queue is empty then, and new
data makes a new edge. Only in ET mode after epoll reported a hangup does the stream come back in
the next pass of the ready queue to read until EAGAIN, because a peer's EOF queued behind the
last data gets no edge of its own (the poller's `readable_drained`).
"""

import collections
import contextvars
import itertools
import os
import socket
import types
import warnings

from asyncio import constants
from asyncio import futures
from asyncio import protocols
from asyncio import transports
from asyncio import trsock
from asyncio.log import logger

from . import _sockio
from ._fd_transport import close_owned_fd, repr_head, report_fatal_error, socket_extra_info
from ._handles import Runnable

try:
    import cython
except ImportError:  # plain Python without Cython installed: nothing is compiled
    _COMPILED = False
else:
    _COMPILED = cython.compiled

# One sendmsg takes at most this many pieces of the buffer.
_MAX_IOV = min(os.sysconf('SC_IOV_MAX'), 1024) if hasattr(os, 'sysconf') else 16
# What one readiness event may read before the transport yields to the others.
_READ_BUDGET_BYTES = 256 * 1024
_READ_BUDGET_CALLS = 16
# A read of more than _LARGE_READ bytes says the stream carries large messages: its next
# _LARGE_READS_KEPT reads go straight into a new bytes object of _LARGE_READ_SIZE bytes (one copy
# of every byte, not two through the shared buffer). Kept for a few reads, so that the short
# tail of a message does not send the next message back through the buffer; that size stays
# under malloc's mmap threshold (128 KiB), so the allocation and its shrinking stay cheap.
_LARGE_READ = 8 * 1024
_LARGE_READS_KEPT = 4
_LARGE_READ_SIZE = 96 * 1024
# A stream whose bursts (what came until a read came back short) are a little larger than that,
# such as messages of 100 KiB, has its large reads made of this size: a burst then takes one read,
# one data_received and one send rather than two each. Still under malloc's mmap threshold; a
# stream of larger bursts keeps _LARGE_READ_SIZE, whose pieces suit StreamReader's buffer.
_WHOLE_READ_SIZE = 124 * 1024
# asyncio's default write buffer limits.
_HIGH_WATER = 64 * 1024
_LOW_WATER = _HIGH_WATER // 4
# What a read returns besides the count of bytes that filled its buffer (read on): it read
# less (the socket's queue is empty now), or reading stops (EAGAIN, EOF, an error).
_SHORT = -1
_STOP = 0


def set_nodelay(stream):
    """Disable Nagle's algorithm on a TCP stream: small writes leave at once, as in asyncio."""
    sock = stream.sock
    if sock is None:  # only the fd is kept, of an accepted connection
        family, kind, proto = stream.sock_family, socket.SOCK_STREAM, stream.sock_proto
    else:
        family, kind, proto = sock.family, sock.type, sock.proto
    if (family in (socket.AF_INET, socket.AF_INET6) and kind == socket.SOCK_STREAM
            and proto in (0, socket.IPPROTO_TCP)):
        try:
            _sockio.set_tcp_nodelay(sock, stream.fd)
        except OSError:
            pass  # a socket the peer has already reset: the first I/O will say so


def socket_over_fd(fd, family, proto):
    """The socket object of a connected stream socket whose fd alone was kept (it owns the fd)."""
    # The fd is non-blocking already: SOCK_NONBLOCK only tells the object so.
    return socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK, proto, fd)


def _closed_socket(family, proto):
    """A closed socket object of a kind, for the extra info of a transport whose fd was closed
    without one being made: what its own object would be now. None if none can be made."""
    try:
        sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK, proto)
    except OSError:
        return None  # out of fds, say: asked again next time
    sock.close()
    return sock


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

    __slots__ = ('callback', 'context', 'loop')  # and Runnable's _cancelled

    # Read by the loop's debug reports, as a Handle's.
    _source_traceback = None

    def __init__(self, callback, context, loop):
        self.callback = callback
        self.context = context
        self.loop = loop
        self._cancelled = False

    def _run(self):
        try:
            self.context.run(self.callback)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            _report_callback_error(self.loop, exc, self.callback, self)

    def __repr__(self):
        return f'<Waiter {self.callback!r}>'


def _class_method(obj, name):
    """The function of obj's class that `obj.name` is a bound method of, else None (a callable
    set on obj itself, a builtin method, ...). (Not read from obj.__dict__: that would make the
    dict of an object that has none yet.)"""
    method = getattr(obj, name, None)
    if (type(method) is types.MethodType and method.__self__ is obj
            and getattr(type(obj), name, None) is method.__func__):
        return method.__func__
    return None


def _pack_ipv4(address):
    """An IPv4 (host, port) pair as one number of 48 bits, else 0.

    A connection keeps the peer address accept() gave: an IPv4 one in a C field of its stream,
    where the tuple, str and int would take 146 bytes.
    """
    if type(address) is tuple and len(address) == 2 and type(address[0]) is str:
        try:
            return int.from_bytes(socket.inet_aton(address[0]), 'big') << 16 | address[1]
        except (OSError, TypeError):
            pass
    return 0


def _unpack_ipv4(packed):
    return socket.inet_ntoa((packed >> 16).to_bytes(4, 'big')), packed & 0xFFFF


def _report_callback_error(loop, exc, callback, waiter):
    loop.call_exception_handler({
        'message': f'Exception in callback {callback!r}',
        'exception': exc,
        'handle': waiter,
    })


class SocketTransport(transports._FlowControlMixin, transports.Transport):
    """An asyncio.Transport over a connected stream socket (TCP or Unix).

    Its state and work are its `SocketStream`'s; flow control (the write buffer limits, pausing
    and resuming the protocol's writing) is asyncio's mixin, which the stream calls. It calls the
    stream's methods through the class, `SocketStream.write(self._stream, data)`: compiled, that
    is a C call, where `self._stream.write(data)` would look the method up and parse arguments.
    """

    # '__dict__': code that patches a transport's methods per instance (mock.patch.object, as
    # aiohttp's tests do) works as on asyncio's transports; the dict is made only when used.
    __slots__ = ('_stream', '_peername', '__weakref__', '__dict__')

    _start_tls_compatible = True
    _sendfile_compatible = constants._SendfileMode.TRY_NATIVE
    max_size = 256 * 1024  # the read size of asyncio's socket transports

    def __init__(self, loop, sock, protocol, waiter=None, extra=None, server=None, family=0,
                 proto=0):
        """`sock` is the connected socket; or an accepted connection's fd alone, an int, of
        `family` and `proto` (compiled: see _sockio.accept_connection), whose socket object is
        made only if something needs it (see SocketStream.socket_object)."""
        # What _FlowControlMixin.__init__ does, but `_extra` may stay None: the socket's extra
        # info is made when first asked for (see _extra_info).
        self._extra = extra
        self._loop = loop
        self._protocol_paused = False
        self._set_write_buffer_limits(_HIGH_WATER, _LOW_WATER)  # no int made per transport
        self._peername = None  # a peer address of another kind (see set_peername)
        self._stream = stream = SocketStream(self, loop, sock, protocol, family, proto)
        if server is not None:
            stream.server = server
            server._attach(self)
        # Until reading starts the loop finds the transport here (see SocketStream.listed).
        loop._transports[stream.fd] = self
        stream.listed = True
        set_nodelay(stream)

        # connection_made(), then reading, in one callback: a server accepting a burst of
        # connections holds one Handle per connection until they run, not two.
        loop.call_soon(stream.connection_start)
        if waiter is not None:
            loop.call_soon(futures._set_result_unless_cancelled, waiter, None)

    def __repr__(self):
        stream = self._stream
        info = repr_head(self, stream.released(), stream.closing, stream.fd)
        if not stream.released():
            info.append('read=polling' if stream.reading_parked else 'read=idle')
            state = 'polling' if stream.writing_parked else 'idle'
            info.append(f'write=<{state}, bufsize={stream.buffer_size}>')
        return '<{}>'.format(' '.join(info))

    # -- the asyncio.Transport API: the stream's ---------------------------------------------

    def set_peername(self, address):
        """Keep the peer address accept() gave, for get_extra_info('peername')."""
        packed = _pack_ipv4(address)
        if packed:
            self._stream.peer_ipv4 = packed
        else:
            self._peername = address

    def get_extra_info(self, name, default=None):
        if name == 'peername' and self._extra is None:
            # The address accept() gave answers alone: no socket object made, no dict kept.
            peername = self._accepted_peername()
            if peername is not None:
                return peername
        return self._extra_info().get(name, default)

    def _accepted_peername(self):
        """The peer address accept() gave (see set_peername), else None."""
        if self._stream.peer_ipv4:
            return _unpack_ipv4(self._stream.peer_ipv4)
        return self._peername

    def _extra_info(self):
        """The extra info, with the socket's part (the socket, its own and its peer's address)
        made when first asked for, or before the socket closes: most connections are never
        asked, and the objects it would keep are a third of an idle connection's memory.

        The peer address accept() gave is kept (see set_peername): read later, it would be lost
        to a connection reset before anyone asked for it.
        """
        extra = self._extra
        if extra is None or 'socket' not in extra:
            if extra is None:
                extra = self._extra = {}
            peername = self._accepted_peername()
            if peername is not None:
                extra.setdefault('peername', peername)
            stream = self._stream
            if not stream.released():
                sock = stream.socket_object()
                if sock is not None:
                    socket_extra_info(extra, sock)
            elif stream.sock_family:
                # Its fd alone was kept, and closed (its address was read then: see
                # release_socket): the socket is one of its kind, closed, made now.
                sock = _closed_socket(stream.sock_family, stream.sock_proto)
                if sock is not None:
                    extra['socket'] = trsock.TransportSocket(sock)
        return extra

    def write(self, data):
        if _COMPILED:
            SocketStream.write(self._stream, data)
        else:
            # Plain Python looks a method up on its object faster than on a class (3.11 does
            # not specialize the class lookup): this is every response's call.
            self._stream.write(data)

    def writelines(self, list_of_data):
        SocketStream.writelines(self._stream, list_of_data)

    def write_eof(self):
        SocketStream.write_eof(self._stream)

    def can_write_eof(self):
        return True

    def get_write_buffer_size(self):
        return self._stream.buffer_size

    def is_reading(self):
        return SocketStream.is_reading(self._stream)

    def pause_reading(self):
        SocketStream.pause_reading(self._stream)

    def resume_reading(self):
        SocketStream.resume_reading(self._stream)

    def set_protocol(self, protocol):
        SocketStream.set_protocol(self._stream, protocol)

    def get_protocol(self):
        return self._stream.protocol

    def is_closing(self):
        return self._stream.closing  # (asked per request by aiohttp: no second call in Python)

    def close(self):
        """Close after the buffered data is sent; connection_lost(None) follows."""
        SocketStream.close(self._stream)

    def abort(self):
        """Close now, dropping buffered data; connection_lost(None) follows."""
        SocketStream.force_close(self._stream, None)

    # -- what asyncio's own code and eloop's loop read of a transport --------------------------

    @property
    def _protocol(self):  # the flow control mixin, error reports, sslproto
        return self._stream.protocol

    @property
    def _paused(self):  # sslproto of Python 3.10
        return self._stream.paused

    @property
    def _sock(self):
        return self._stream.socket_object()

    @property
    def _sock_fd(self):
        return self._stream.fd

    def _force_close(self, exc):  # sslproto
        SocketStream.force_close(self._stream, exc)

    def _fatal_error(self, exc, message='Fatal error on transport'):
        SocketStream.fatal_error(self._stream, exc, message)

    # loop.sendfile waits for the buffer to drain before it takes the socket over.

    def _make_empty_waiter(self):
        return SocketStream.make_empty_waiter(self._stream)

    def _reset_empty_waiter(self):
        self._stream.empty_waiter = None

    def __del__(self, _warn=warnings.warn):
        stream = getattr(self, '_stream', None)  # unset if __init__ failed early
        if stream is not None and not stream.released():
            _warn(f'unclosed transport {self!r}', ResourceWarning, source=self)
            stream.release_socket()
            stream.detach_from_server()


class SocketStream(Runnable):
    """The state and I/O of one connected stream socket: what its SocketTransport does.

    It is also the fd's read waiter (a Runnable, as a Waiter is): the loop runs it when the fd is
    readable. One object less per connection, and compiled, a C call to its read method.
    """

    # Read by the loop's debug reports, as a Handle's.
    _source_traceback = None

    __slots__ = ('transport', 'loop', 'poller', 'sock', 'sock_family', 'sock_proto', 'peer_ipv4',
                 'fd', 'recv_view', 'large_reads_left', 'reads_whole', 'listed', 'context',
                 'write_waiter', 'reading_parked', 'writing_parked', 'registration',
                 'read_iteration', 'server',
                 'protocol', 'protocol_connected', 'buffered', 'data_received', 'buffer',
                 'buffer_size', 'conn_lost', 'closing', 'paused', 'eof', 'eof_received',
                 'empty_waiter')

    def __init__(self, transport, loop, sock, protocol, family=0, proto=0):
        self.transport = transport
        self.loop = loop
        self.poller = loop._poller
        if type(sock) is int:
            # An accepted connection's fd alone (compiled: the reads and writes need only the
            # fd). Its socket object, a tenth of an idle connection's memory, is made when
            # something needs it (see socket_object).
            self.sock = None
            self.fd = sock
            # What the object is made of; kept once the fd is closed, for the extra info.
            self.sock_family = family
            self.sock_proto = proto
        else:
            self.sock = sock
            self.fd = sock.fileno()
            self.sock_family = 0
            self.sock_proto = 0
        self.peer_ipv4 = 0  # the peer address accept() gave, if IPv4 (see set_peername)
        self.recv_view = loop._shared_recv_view()
        self.large_reads_left = 0
        self.reads_whole = False  # large reads are of _WHOLE_READ_SIZE (see there)
        # The loop finds an open transport of a stream as its fd's reader (the stream, parked
        # on the poller) or in loop._transports, by weak reference: `listed`. An idle connection
        # that reads is not listed (the entry would be a seventh of its memory): the entry made
        # with the transport goes when reading first starts (connection_start). A stream that goes
        # off the poller later (paused, at EOF, flushing before it closes) is listed again, and
        # stays listed: flow control's pauses and resumes do not pay for the entry each time.
        self.listed = False
        # Protocol callbacks of reading and writing run in a context of their own, copied from
        # where the transport was made, as asyncio's reader and writer handles do.
        self.context = contextvars.copy_context()
        self._cancelled = False  # set for good when the socket is released
        self.write_waiter = None  # made when a write first has to wait
        self.reading_parked = False
        self.writing_parked = False
        # The number of the poller's registration of the fd (ET mode), shown at each park: the
        # stream owns the fd, so while the number holds no syscall checks the registration.
        self.registration = 0
        self.read_iteration = -1  # the loop iteration that last ran the read waiter
        self.server = None

        self.protocol = None
        self.protocol_connected = False
        self.buffered = False
        self.data_received = None
        self.set_protocol(protocol)

        self.buffer = None  # a deque, made when a write first has to wait
        self.buffer_size = 0  # 0 exactly when the buffer is empty: no empty piece is kept
        self.conn_lost = 0  # set when connection_lost is scheduled; counts writes after it
        self.closing = False
        self.paused = False  # pause_reading() was called
        self.eof = False  # write_eof() was called
        self.eof_received = False
        self.empty_waiter = None  # a future sendfile waits on for the buffer to drain

    def __repr__(self):
        return f'<SocketStream of {self.transport!r}>'

    def _run(self):
        """The fd is readable: read in the transport's context."""
        try:
            if _COMPILED:
                # What Context.run does, with a C call to the read method (as Handle._run).
                PyContext_Enter(self.context)
                try:
                    self.on_readable()
                finally:
                    PyContext_Exit(self.context)
            else:
                self.context.run(_on_readable, self)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            _report_callback_error(self.loop, exc, self.on_readable, self)

    # -- the protocol -----------------------------------------------------------------------

    def connection_start(self):
        """The connection's first callback: connection_made(), then reading starts (even if
        connection_made() raised, as after asyncio's two callbacks)."""
        try:
            self.protocol.connection_made(self.transport)
        finally:
            self.start_reading()
            if self.reading_parked:
                # Parked, the stream is the fd's reader, which is where the loop finds its
                # transport (see listed).
                self.loop._transports.pop(self.fd, None)
                self.listed = False

    def set_protocol(self, protocol):
        self.protocol = protocol
        self.protocol_connected = True
        self.buffered = isinstance(protocol, protocols.BufferedProtocol)
        # The function of the protocol's class, looked up once rather than at every read (as
        # uvloop does) and called with the protocol: a bound method kept instead would cost 64
        # bytes per connection. None: looked up at every read, as asyncio does.
        self.data_received = None if self.buffered else _class_method(protocol, 'data_received')

    # -- reading ----------------------------------------------------------------------------

    def is_reading(self):
        return not self.closing and not self.paused

    def is_closing(self):
        return self.closing

    def pause_reading(self):
        if self.closing or self.paused:
            return
        self.paused = True
        self.stop_reading()
        if self.loop._debug:
            logger.debug('%r pauses reading', self.transport)

    def resume_reading(self):
        if self.closing or not self.paused:
            return
        self.paused = False
        # In ET mode the poller runs the waiter at once if data came while it was paused.
        self.start_reading()
        if self.loop._debug:
            logger.debug('%r resumes reading', self.transport)

    def start_reading(self):
        if self.reading_parked or self.closing or self.paused or self.eof_received:
            return
        self.reading_parked = True
        self.registration = self.poller.park_reader(self.fd, self, None, self.registration)

    def stop_reading(self):
        if self.reading_parked:
            self.reading_parked = False
            self.poller.unpark_reader(self.fd, self)
            if not self.conn_lost and not self.listed:
                # Still open, off the poller (paused, at EOF, flushing before it closes): the
                # loop must find the transport in loop._transports again (see listed).
                self.loop._transports[self.fd] = self.transport
                self.listed = True

    def on_readable(self):
        """The fd is readable: read and deliver within this event's budget."""
        iteration = self.loop._n_iterations
        if iteration == self.read_iteration:
            # Queued twice for one pass (in ET mode, a re-queue and a new edge): every entry of
            # a pass was queued before the first ran, so that run saw all there was to see.
            return
        self.read_iteration = iteration
        total = 0
        calls_left = _READ_BUDGET_CALLS  # (a countdown: no range object per event in plain Python)
        while calls_left:
            calls_left -= 1
            if not self.reading_parked:
                return  # paused or closed, possibly by the protocol just now
            nbytes = self.read_into_protocol() if self.buffered else self.read_data(total)
            if nbytes == _STOP:
                return
            if nbytes == _SHORT:
                # In LT mode epoll reports the fd again if anything comes; in ET mode the poller
                # says whether the socket must still be read until EAGAIN (after a hangup).
                # That waits for the next pass: the protocol sees one short read per pass of
                # the ready queue in both modes, as in asyncio.
                if not self.poller.edge_triggered or self.poller.readable_drained(self.fd):
                    return
                break
            total += nbytes
            if total >= _READ_BUDGET_BYTES:
                break
        if self.reading_parked and self.poller.edge_triggered:
            # The budget ran out, or the socket must be read until EAGAIN: no edge will tell
            # of what is left, so come back after the others (LT mode: epoll reports it again).
            self.loop._ready.append(self)

    def read_data(self, burst):
        """One recv for a Protocol: the bytes read if they filled the buffer, else _SHORT or
        _STOP. `burst`: the bytes this event has read before it."""
        self.poller.n_recv += 1
        try:
            if self.large_reads_left:
                size = _WHOLE_READ_SIZE if self.reads_whole else _LARGE_READ_SIZE
                data = _sockio.recv_new_bytes(self.sock, self.fd, size)
            elif _COMPILED:
                size = len(self.recv_view)
                data = _sockio.recv_bytes(self.sock, self.fd, self.recv_view)
            else:
                # _sockio.py's recv_bytes, without the Python call to it on the way.
                size = len(self.recv_view)
                data = self.recv_view[:self.sock.recv_into(self.recv_view)].tobytes()
        except (BlockingIOError, InterruptedError):
            data = None  # (plain Python: EAGAIN as recv_bytes returns it)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            return self.read_failed(exc)
        if not data:
            return self.nothing_read(data is None)
        try:
            if self.data_received is not None:
                self.data_received(self.protocol, data)
            else:
                self.protocol.data_received(data)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.fatal_error(exc, 'Fatal error: protocol.data_received() call failed.')
            return _STOP
        nbytes = len(data)
        if self.large_reads_left:  # (as when this read was made: counted down below)
            burst += nbytes
            self.reads_whole = nbytes < size and _LARGE_READ_SIZE < burst <= _WHOLE_READ_SIZE
        if nbytes > _LARGE_READ:
            self.large_reads_left = _LARGE_READS_KEPT
        elif self.large_reads_left:
            self.large_reads_left -= 1
        if _COMPILED:
            _sockio.reuse_if_unshared(data)
        return nbytes if nbytes >= size else _SHORT

    def read_into_protocol(self):
        """One recv_into the BufferedProtocol's own buffer; like read_data."""
        try:
            buf = self.protocol.get_buffer(-1)
            size = len(buf)
            if not size:
                raise RuntimeError('get_buffer() returned an empty buffer')
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.fatal_error(exc, 'Fatal error: protocol.get_buffer() call failed.')
            return _STOP
        self.poller.n_recv += 1
        try:
            nbytes = self.socket_object().recv_into(buf)
        except (BlockingIOError, InterruptedError):
            return self.nothing_read(True)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            return self.read_failed(exc)
        if not nbytes:
            return self.nothing_read(False)
        try:
            self.protocol.buffer_updated(nbytes)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.fatal_error(exc, 'Fatal error: protocol.buffer_updated() call failed.')
            return _STOP
        return nbytes if nbytes >= size else _SHORT

    def nothing_read(self, would_block):
        """A read got nothing: the socket is drained (EAGAIN), or at EOF."""
        if would_block:
            self.poller.n_recv_eagain += 1
            self.poller.readable_exhausted(self.fd)
        else:
            self.on_eof()
        return _STOP

    def read_failed(self, exc):
        self.fatal_error(exc, 'Fatal read error on socket transport')
        return _STOP

    def on_eof(self):
        if self.loop._debug:
            logger.debug('%r received EOF', self.transport)
        self.eof_received = True
        try:
            keep_open = self.protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.fatal_error(exc, 'Fatal error: protocol.eof_received() call failed.')
            return
        if keep_open:
            # The protocol may still write, but there is nothing more to read.
            self.stop_reading()
        else:
            self.close()

    # -- writing ----------------------------------------------------------------------------

    def write(self, data):
        if type(data) is not bytes:
            data = _bytes_like(data)
        if self.eof:
            raise RuntimeError('Cannot call write() after write_eof()')
        if self.empty_waiter is not None:
            raise RuntimeError('unable to write; sendfile is in progress')
        size = len(data)
        if not size:
            return
        if self.conn_lost:
            self.drop_write()
            return
        if self.buffer_size:
            self.keep(_keepable(data, 0))
            self.maybe_pause_protocol()
            return
        # Optimistic send: most writes fit the socket buffer and need no waiting.
        self.poller.n_send += 1
        try:
            if _COMPILED:
                sent = _sockio.send_bytes(self.sock, self.fd, data)
            else:
                sent = self.sock.send(data)  # _sockio.py's send_bytes, without a call to it
        except (BlockingIOError, InterruptedError):
            sent = 0  # (plain Python: EAGAIN as send_bytes returns it)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.fatal_error(exc, 'Fatal write error on socket transport')
            return
        if sent == size:
            return
        if not sent:
            self.poller.n_send_eagain += 1
        self.keep(_keepable(data, sent))
        self.start_writing()
        self.maybe_pause_protocol()

    def writelines(self, list_of_data):
        if self.eof:
            raise RuntimeError('Cannot call writelines() after write_eof()')
        if self.empty_waiter is not None:
            raise RuntimeError('unable to writelines; sendfile is in progress')
        pieces = [piece for piece in map(_bytes_like, list_of_data) if piece]
        if not pieces:
            return
        if self.conn_lost:
            self.drop_write()
            return
        was_empty = not self.buffer_size
        for piece in pieces:
            self.keep(_keepable(piece, 0))
        if was_empty:
            if not self.flush() or not self.buffer_size:
                return
            self.start_writing()
        self.maybe_pause_protocol()

    def keep(self, piece):
        if self.buffer is None:
            self.buffer = collections.deque()
        self.buffer.append(piece)
        self.buffer_size += len(piece)

    def maybe_pause_protocol(self):
        """The buffer grew: pause the protocol's writing above the high-water mark."""
        # Checked here first: the mixin's method is Python code, and most writes stay below.
        if self.buffer_size > self.transport._high_water:
            self.transport._maybe_pause_protocol()

    def drop_write(self):
        """A write after the connection was lost: dropped, and said so after a few (asyncio)."""
        if self.conn_lost >= constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES:
            logger.warning('socket.send() raised exception.')
        self.conn_lost += 1

    def start_writing(self):
        if not self.writing_parked:
            self.writing_parked = True
            if self.write_waiter is None:
                self.write_waiter = Waiter(self.on_writable, self.context, self.loop)
            # Only called after a send the kernel did not take whole: the fd is not writable now.
            self.poller.writable_exhausted(self.fd)
            self.registration = self.poller.park_writer(self.fd, self.write_waiter, None,
                                                        self.registration)

    def stop_writing(self):
        if self.writing_parked:
            self.writing_parked = False
            self.poller.unpark_writer(self.fd, self.write_waiter)

    def on_writable(self):
        """The fd is writable: flush the buffer, then finish what waited for it to drain."""
        if not self.writing_parked or not self.flush():
            return
        if self.transport._protocol_paused:
            self.transport._maybe_resume_protocol()  # the protocol may write more, or close
        if self.buffer_size or self.conn_lost:
            return
        self.stop_writing()
        if self.empty_waiter is not None and not self.empty_waiter.done():
            self.empty_waiter.set_result(None)
        if self.closing:
            self.conn_lost += 1
            self.call_connection_lost(None)
        elif self.eof:
            self.socket_object().shutdown(socket.SHUT_WR)

    def flush(self):
        """Send the buffer until it is empty or the kernel takes no more; False on a fatal error."""
        buffer = self.buffer
        while self.buffer_size:
            self.poller.n_send += 1
            try:
                if len(buffer) == 1:
                    sent = _sockio.send_bytes(self.sock, self.fd, buffer[0])
                else:
                    sent = self.socket_object().sendmsg(itertools.islice(buffer, _MAX_IOV))
            except (BlockingIOError, InterruptedError):
                sent = 0
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self.stop_writing()
                self.clear_buffer()
                self.fatal_error(exc, 'Fatal write error on socket transport')
                _fail_unless_done(self.empty_waiter, exc)
                return False
            if not sent:
                self.poller.n_send_eagain += 1
                self.poller.writable_exhausted(self.fd)
                return True
            offered_all = len(buffer) <= _MAX_IOV
            short = sent < self.buffer_size
            self.consume(sent)
            if short and offered_all:
                # The send buffer is full: wait for the next edge.
                self.poller.writable_exhausted(self.fd)
                break
        return True

    def consume(self, sent):
        """Drop the first `sent` bytes of the buffer."""
        buffer = self.buffer
        self.buffer_size -= sent
        while sent:
            piece = buffer[0]
            size = len(piece)
            if size <= sent:
                buffer.popleft()
                sent -= size
            else:
                buffer[0] = memoryview(piece)[sent:]
                break

    def clear_buffer(self):
        if self.buffer is not None:
            self.buffer.clear()
        self.buffer_size = 0

    def write_eof(self):
        if self.closing or self.eof:
            return
        self.eof = True
        if not self.buffer_size:
            self.socket_object().shutdown(socket.SHUT_WR)

    def make_empty_waiter(self):
        if self.empty_waiter is not None:
            raise RuntimeError('Empty waiter is already set')
        self.empty_waiter = self.loop.create_future()
        if not self.buffer_size:
            self.empty_waiter.set_result(None)
        return self.empty_waiter

    # -- closing ----------------------------------------------------------------------------

    def close(self):
        if self.closing:
            return
        self.closing = True
        if not self.buffer_size:
            self.conn_lost += 1
            self.stop_writing()
            self.loop.call_soon(self.call_connection_lost, None)
        self.stop_reading()

    def fatal_error(self, exc, message):
        report_fatal_error(self.transport, exc, message, expected=isinstance(exc, OSError))
        self.force_close(exc)

    def force_close(self, exc):
        if self.conn_lost:
            return
        if self.buffer_size:
            self.clear_buffer()
            self.stop_writing()
        self.conn_lost += 1
        if not self.closing:
            self.closing = True
            self.stop_reading()
        self.loop.call_soon(self.call_connection_lost, exc)

    def call_connection_lost(self, exc):
        try:
            if self.protocol_connected:
                self.protocol.connection_lost(exc)
        finally:
            self.release_socket()
            self.protocol = None
            self.data_received = None
            self.detach_from_server()
            _fail_unless_done(self.empty_waiter, ConnectionError('Connection is closed by peer'))

    def detach_from_server(self):
        server = self.server
        if server is not None:
            self.server = None
            server._detach(self.transport)

    # -- the socket object -----------------------------------------------------------------

    def socket_object(self):
        """The connection's socket object, made now if only the fd was kept (something needs it:
        the extra info, a shutdown, a sendmsg, a BufferedProtocol's reads); None once
        released."""
        if self.sock is None and self.sock_family and not self._cancelled:
            self.sock = socket_over_fd(self.fd, self.sock_family, self.sock_proto)
            self.sock_family = 0
        return self.sock

    def released(self):
        """True once the socket is closed (release_socket)."""
        return self._cancelled

    def release_socket(self):
        """Take the fd off the poller and close the socket."""
        if self._cancelled:
            return
        # The socket's addresses, while they can still be read.
        if self.sock is None and self.sock_family:
            self.keep_local_address()
        else:
            self.transport._extra_info()
        sock = self.sock
        self.sock = None
        self._cancelled = True
        if self.write_waiter is not None:
            self.write_waiter._cancelled = True
        self.reading_parked = self.writing_parked = False
        close_owned_fd(self.loop, self.fd, sock)

    def keep_local_address(self):
        """Only the fd was kept: its address is read from the fd for the extra info, the socket
        object is not made for it (the socket itself is made after the close if asked for)."""
        try:
            sockname = _sockio.local_address(None, self.fd)
        except OSError:
            # The fd was closed behind the transport's back: nothing is said of its socket, as
            # when no object could be made of it.
            self.sock_family = 0
            return
        transport = self.transport
        if transport._extra is None:
            transport._extra = {}
        transport._extra['sockname'] = sockname


# What SocketStream._run runs in plain Python: the function, looked up once. Passing
# self.on_readable would make a bound method per event, and Python 3.11 is slow to look an
# attribute up on a class.
_on_readable = SocketStream.on_readable


def _fail_unless_done(future, exc):
    if future is not None and not future.done():
        future.set_exception(exc)
