"""UDP and Unix datagram endpoints: loop.create_datagram_endpoint and its transport.

The transport parks one persistent Handle as the socket's reader and reads datagrams until EAGAIN,
within a budget per readiness event. A datagram is sent at once; only when the socket buffer is
full is it queued, and the queue is flushed when the socket becomes writable. Errors of sends and
receives (an ICMP port unreachable reported on a connected socket, ...) go to
protocol.error_received, as in asyncio.
"""

import collections
import socket
import sys
import warnings

from asyncio import constants
from asyncio import log
from asyncio import transports

from ._fd_transport import (FdTransportBase, ReadingControl, close_owned_fd, repr_head,
                            remove_stale_unix_socket, report_fatal_error, requeue_in_edge_mode, set_reuseport,
                            socket_extra_info, start_transport)
from ._handles import Handle

# Datagrams received for one readiness event before the other fds get their turn.
RECV_BUDGET = 32
# What a queued datagram costs in the write buffer beyond its payload (asyncio 3.13's count): an
# empty datagram still takes a slot, so a flood of them still reaches the high-water mark.
DATAGRAM_HEADER_SIZE = 8
# Up to 3.12 asyncio drops an empty datagram in sendto(); from 3.13 it sends it.
SEND_EMPTY_DATAGRAMS = sys.version_info >= (3, 13)
# Up to 3.12 a `sock=` must be SOCK_DGRAM; from 3.13 anything but SOCK_STREAM (SOCK_RAW, ...).
ACCEPTS_ANY_DATAGRAM_SOCKET = sys.version_info >= (3, 13)

_unset = object()


class DatagramTransport(ReadingControl, FdTransportBase, transports._FlowControlMixin,
                        transports.DatagramTransport):
    """A datagram socket: datagram_received(data, addr) in, sendto(data, addr) out."""

    max_size = 256 * 1024  # the largest datagram received whole

    def __init__(self, loop, sock, protocol, address=None, waiter=None, extra=None):
        super().__init__(extra, loop)
        socket_extra_info(self._extra, sock)
        self._sock = sock
        self._sock_fd = self._fd = sock.fileno()
        self._protocol = protocol
        # The remote address given at creation: sendto() refuses any other.
        self._address = address
        # A connected socket sends with send(); otherwise each datagram names its address. (The
        # peer of an unnamed Unix socket, from socketpair(), is '': connected all the same.)
        self._connected = self._extra['peername'] is not None
        self._buffer = collections.deque()
        self._buffer_size = 0
        self._conn_lost = 0  # set when connection_lost is scheduled
        self._closing = False
        self._paused = False
        self._recv_view = loop._shared_recv_view()[:self.max_size]
        self._read_iteration = -1  # the loop iteration that last ran _read_ready
        self._reader = Handle(self._read_ready, (), loop, None)
        self._writer = Handle(self._write_ready, (), loop, None)
        # Reading starts once connection_made() has been called.
        start_transport(loop, self, self._sock_fd, self._start_reading, waiter)

    def __repr__(self):
        info = repr_head(self, self._sock is None, self._closing, self._sock_fd)
        if self._loop is not None and not self._loop.is_closed():
            poller = self._loop._poller
            reading = poller.get_reader(self._sock_fd) is self._reader
            writing = poller.get_writer(self._sock_fd) is self._writer
            info.append(f'read={"polling" if reading else "idle"}')
            info.append(f'write=<{"polling" if writing else "idle"}, '
                        f'bufsize={self.get_write_buffer_size()}>')
        return '<{}>'.format(' '.join(info))

    def get_write_buffer_size(self):
        return self._buffer_size

    # -- receiving --------------------------------------------------------------------------

    def _read_ready(self):
        loop = self._loop
        if loop._n_iterations == self._read_iteration:
            # Queued twice for one pass (ET mode: its own re-queue and a new edge). The first
            # run took this pass's budget; each copy would re-queue itself, so a steady stream
            # of datagrams would add a copy, and a budget, at every pass.
            return
        self._read_iteration = loop._n_iterations
        for _ in range(RECV_BUDGET):
            if self._conn_lost or not self.is_reading():
                return  # paused or closed by the protocol, or a stale run from the ready queue
            try:
                # Into the loop's buffer: recvfrom(max_size) would allocate (and fault in)
                # max_size bytes for each datagram, however small.
                nbytes, addr = self._sock.recvfrom_into(self._recv_view)
            except BlockingIOError:
                loop._poller.readable_exhausted(self._sock_fd)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                if isinstance(exc, OSError):
                    self._protocol.error_received(exc)
                    continue  # the error is consumed; datagrams may still be waiting
                self._fatal_error(exc, 'Fatal read error on datagram transport')
                return
            try:
                self._protocol.datagram_received(bytes(self._recv_view[:nbytes]), addr)
            except BaseException:
                # The Handle reports the error; more datagrams may wait that no new edge
                # would announce in ET mode.
                requeue_in_edge_mode(loop, self._reader)
                raise
        requeue_in_edge_mode(loop, self._reader)

    # -- sending ----------------------------------------------------------------------------

    def sendto(self, data, addr=None):
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f'data argument must be a bytes-like object, '
                            f'not {type(data).__name__!r}')
        if not data and not SEND_EMPTY_DATAGRAMS:
            return
        if self._address:
            if addr not in (None, self._address):
                raise ValueError(f'Invalid address: must be None or {self._address}')
            addr = self._address
        if self._conn_lost:
            if self._conn_lost >= constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES:
                log.logger.warning('socket.send() raised exception.')
            self._conn_lost += 1
            return

        if not self._buffer:
            # Try it at once: a socket buffer with room needs no queue and no poller.
            try:
                self._send(data, addr)
                return
            except BlockingIOError:
                self._loop._poller.writable_exhausted(self._sock_fd)
                self._loop._poller.park_writer(self._sock_fd, self._writer, self)
            except OSError as exc:
                self._protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, 'Fatal write error on datagram transport')
                return

        # Queue an immutable copy: the caller may reuse its buffer.
        self._buffer.append((bytes(data), addr))
        self._buffer_size += len(data) + DATAGRAM_HEADER_SIZE
        self._maybe_pause_protocol()

    def _send(self, data, addr):
        if self._connected:
            self._sock.send(data)
        else:
            self._sock.sendto(data, addr)

    def _write_ready(self):
        buffer = self._buffer
        while buffer:
            data, addr = buffer[0]
            try:
                self._send(data, addr)
            except BlockingIOError:
                self._loop._poller.writable_exhausted(self._sock_fd)
                return  # stays queued, and the writer parked, until the socket has room
            except OSError as exc:
                self._dequeue()
                self._protocol.error_received(exc)
                if self._conn_lost:
                    return  # the protocol aborted the transport
                continue
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, 'Fatal write error on datagram transport')
                return
            self._dequeue()

        self._maybe_resume_protocol()  # may send again
        if not buffer and self._loop is not None:
            self._loop._poller.unpark_writer(self._sock_fd, self._writer)
            if self._closing and not self._conn_lost:
                self._conn_lost += 1
                self._call_connection_lost(None)

    def _dequeue(self):
        data, _ = self._buffer.popleft()
        self._buffer_size -= len(data) + DATAGRAM_HEADER_SIZE

    # -- closing ----------------------------------------------------------------------------

    def close(self):
        if self._closing:
            return
        self._closing = True
        self._stop_reading()
        if not self._buffer:
            self._conn_lost += 1
            self._loop._poller.unpark_writer(self._sock_fd, self._writer)
            self._loop.call_soon(self._call_connection_lost, None)

    def abort(self):
        self._force_close(None)

    def __del__(self, _warn=warnings.warn):
        if self._sock is not None:
            _warn(f'unclosed transport {self!r}', ResourceWarning, source=self)
            self._sock.close()

    def _fatal_error(self, exc, message='Fatal error on transport'):
        report_fatal_error(self, exc, message, isinstance(exc, OSError))
        self._force_close(exc)

    def _force_close(self, exc):
        if self._conn_lost:
            return
        if self._buffer:
            self._buffer.clear()
            self._buffer_size = 0
            self._loop._poller.unpark_writer(self._sock_fd, self._writer)
        if not self._closing:
            self._closing = True
            self._stop_reading()
        self._conn_lost += 1
        self._loop.call_soon(self._call_connection_lost, exc)

    def _call_connection_lost(self, exc):
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._reader.cancel()
            self._writer.cancel()
            close_owned_fd(self._loop, self._sock_fd, self._sock)
            self._sock = None
            self._protocol = None
            self._loop = None


class DatagramMixin:
    """create_datagram_endpoint of the loop."""

    async def _create_datagram_endpoint(self, protocol_factory, local_addr, remote_addr, family,
                                        proto, flags, reuse_address, reuse_port,
                                        allow_broadcast, sock):
        if sock is not None:
            self._check_datagram_sock(sock, local_addr=local_addr, remote_addr=remote_addr,
                                      family=family, proto=proto, flags=flags,
                                      reuse_address=reuse_address, reuse_port=reuse_port,
                                      allow_broadcast=allow_broadcast)
            sock.setblocking(False)
            r_addr = None
        else:
            addr_pairs_info = await self._datagram_address_pairs(
                local_addr, remote_addr, family, proto, flags)
            check_reuse_address(reuse_address)
            sock, r_addr = await self._open_datagram_socket(
                addr_pairs_info, local_addr, remote_addr, reuse_port, allow_broadcast)

        protocol = protocol_factory()
        waiter = self.create_future()
        transport = DatagramTransport(self, sock, protocol, r_addr, waiter)
        if self._debug:
            if local_addr:
                log.logger.info('Datagram endpoint local_addr=%r remote_addr=%r created: (%r, %r)',
                                local_addr, remote_addr, transport, protocol)
            else:
                log.logger.debug('Datagram endpoint remote_addr=%r created: (%r, %r)',
                                 remote_addr, transport, protocol)
        try:
            await waiter
        except BaseException:
            transport.close()
            raise
        return transport, protocol

    if sys.version_info >= (3, 11):
        async def create_datagram_endpoint(self, protocol_factory, local_addr=None,
                                           remote_addr=None, *, family=0, proto=0, flags=0,
                                           reuse_port=None, allow_broadcast=None, sock=None):
            """Create a datagram endpoint (UDP, or Unix datagram with family=AF_UNIX)."""
            return await self._create_datagram_endpoint(
                protocol_factory, local_addr, remote_addr, family, proto, flags, _unset,
                reuse_port, allow_broadcast, sock)
    else:
        async def create_datagram_endpoint(self, protocol_factory, local_addr=None,
                                           remote_addr=None, *, family=0, proto=0, flags=0,
                                           reuse_address=_unset, reuse_port=None,
                                           allow_broadcast=None, sock=None):
            """Create a datagram endpoint (UDP, or Unix datagram with family=AF_UNIX)."""
            return await self._create_datagram_endpoint(
                protocol_factory, local_addr, remote_addr, family, proto, flags, reuse_address,
                reuse_port, allow_broadcast, sock)

    def _check_datagram_sock(self, sock, **options):
        if ACCEPTS_ANY_DATAGRAM_SOCKET:
            if sock.type == socket.SOCK_STREAM:
                raise ValueError(f'A datagram socket was expected, got {sock!r}')
        elif sock.type != socket.SOCK_DGRAM:
            raise ValueError(f'A UDP Socket was expected, got {sock!r}')
        given = {name: value for name, value in options.items()
                 if value and value is not _unset}
        if given:
            problems = ', '.join(f'{k}={v}' for k, v in given.items())
            raise ValueError(f'socket modifier keyword arguments can not be used '
                             f'when sock is specified. ({problems})')

    async def _datagram_address_pairs(self, local_addr, remote_addr, family, proto, flags):
        """[((family, proto), (local address, remote address)), ...] to try in order."""
        if not (local_addr or remote_addr):
            if family == 0:
                raise ValueError('unexpected address family')
            return (((family, proto), (None, None)),)
        if hasattr(socket, 'AF_UNIX') and family == socket.AF_UNIX:
            for addr in (local_addr, remote_addr):
                if addr is not None and not isinstance(addr, str):
                    raise TypeError('string is expected')
            if local_addr:
                remove_stale_unix_socket(local_addr)
            return (((family, proto), (local_addr, remote_addr)),)

        # Group the resolved addresses by (family, proto), in the resolver's order.
        addr_infos = {}
        for idx, addr in ((0, local_addr), (1, remote_addr)):
            if addr is None:
                continue
            if not (isinstance(addr, tuple) and len(addr) == 2):
                raise TypeError('2-tuple is expected')
            infos = await self._ensure_resolved(addr, family=family, type=socket.SOCK_DGRAM,
                                                proto=proto, flags=flags)
            if not infos:
                raise OSError('getaddrinfo() returned empty list')
            for fam, _, pro, _, address in infos:
                addr_infos.setdefault((fam, pro), [None, None])[idx] = address
        # Each address asked for must exist in the pair's family.
        addr_pairs_info = [
            (key, addr_pair) for key, addr_pair in addr_infos.items()
            if not ((local_addr and addr_pair[0] is None) or
                    (remote_addr and addr_pair[1] is None))]
        if not addr_pairs_info:
            raise ValueError('can not get address information')
        return addr_pairs_info

    async def _open_datagram_socket(self, addr_pairs_info, local_addr, remote_addr, reuse_port,
                                    allow_broadcast):
        """The first socket that binds and connects as asked, and its remote address."""
        exceptions = []
        for (family, proto), (local_address, remote_address) in addr_pairs_info:
            sock = None
            try:
                sock = socket.socket(family=family, type=socket.SOCK_DGRAM, proto=proto)
                if reuse_port:
                    set_reuseport(sock)
                if allow_broadcast:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
                sock.setblocking(False)
                if local_addr:
                    sock.bind(local_address)
                r_addr = None
                if remote_addr:
                    # A broadcasting socket stays unconnected: it may send to many addresses.
                    if not allow_broadcast:
                        await self.sock_connect(sock, remote_address)
                    r_addr = remote_address
            except OSError as exc:
                if sock is not None:
                    sock.close()
                exceptions.append(exc)
            except BaseException:
                if sock is not None:
                    sock.close()
                raise
            else:
                return sock, r_addr
        raise exceptions[0]


def check_reuse_address(reuse_address):
    """Python 3.10's answer to reuse_address (3.11 has no such parameter)."""
    if reuse_address is _unset:
        return
    if reuse_address:
        raise ValueError('Passing `reuse_address=True` is no longer supported, as the usage of '
                         'SO_REUSEPORT in UDP poses a significant security concern.')
    warnings.warn('The *reuse_address* parameter has been deprecated as of 3.5.10 and is '
                  'scheduled for removal in 3.11.', DeprecationWarning, stacklevel=4)
