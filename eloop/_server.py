"""Listening sockets: the Server object users hold, and the acceptor parked on each socket.

An `_Acceptor` is a persistent reader of a listening socket: when the fd is readable the loop runs
it and it accepts up to `backlog` connections, at most 128 (the budget of one event), making a
transport and a protocol for each. Compiled, a TCP or Unix connection is accepted as its fd
alone (accept4, in C: see _sockio.accept_connection), and its transport is made over the fd: no
socket object is made unless something asks for one.

Running out of fds or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) is reported to the exception
handler and accepting pauses for a second, as in asyncio: a loop that spins on a socket it
cannot accept from, or dies of it, serves nobody.
"""

import contextvars
import errno
import functools
import os
import sys

from asyncio import constants
from asyncio import events
from asyncio import exceptions
from asyncio import tasks
from asyncio import trsock
from asyncio.log import logger

from . import _sockio
from ._fd_transport import requeue_in_edge_mode
from ._stream_transport import SocketTransport, Waiter, socket_over_fd

# Errors of accept() that mean "not now": the process or system is out of a resource.
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# Errors of accept() that belong to the one connection being accepted (accept(2) lists the
# network errors Linux passes on this way); the next connection in the queue may be fine.
_CONNECTION_ERRNOS = frozenset({
    errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.ENOPROTOOPT, errno.EHOSTDOWN,
    errno.ENONET, errno.EHOSTUNREACH, errno.EOPNOTSUPP, errno.ENETUNREACH, errno.ETIMEDOUT,
    errno.ENETDOWN,
})

# At most this many accepts per readiness event, whatever the backlog. The connections accepted
# hold their first callback (and their memory at its peak) until the batch ends and the ready
# queue runs: a burst of thousands made in one go costs the server a tenth more memory per
# connection, kept once the burst is served.
_ACCEPT_BATCH = 128

# asyncio's wait_closed() before 3.12 returned at once on a closed server, even while its
# connections were still open; from 3.12.1 it waits for them.
_WAIT_CLOSED_RETURNS_ONCE_CLOSED = sys.version_info < (3, 12)


class Server(events.AbstractServer):
    """A server returned by create_server() and create_unix_server()."""

    def __init__(self, loop, sockets, protocol_factory, ssl_context, backlog,
                 ssl_handshake_timeout, ssl_shutdown_timeout=None):
        self._loop = loop
        self._sockets = sockets
        self._active_count = 0
        self._waiters = []
        self._protocol_factory = protocol_factory
        self._backlog = backlog
        self._ssl_context = ssl_context
        self._ssl_handshake_timeout = ssl_handshake_timeout
        self._ssl_shutdown_timeout = ssl_shutdown_timeout
        self._serving = False
        self._serving_forever_fut = None

    def __repr__(self):
        return f'<{self.__class__.__name__} sockets={self.sockets!r}>'

    # -- the transports of its connections ------------------------------------------------------

    # asyncio before 3.13 counts connections (_attach() and _detach() take no argument), 3.13
    # keeps their transports: both calls are served.

    def _attach(self, transport=None):
        assert self._sockets is not None
        self._active_count += 1

    def _detach(self, transport=None):
        if self._active_count > 0:
            self._active_count -= 1
        if self._active_count == 0 and self._sockets is None:
            self._wakeup()

    @property
    def _clients(self):
        """The transports of this server's connections (asyncio 3.13 keeps them in a set).

        Found among the loop's socket transports: a reference per connection kept here would
        cost memory every idle connection pays for, and a strong one would keep transports
        their users dropped alive.
        """
        return [transport for transport in self._loop._socket_transports()
                if transport._stream.server is self]

    def _wakeup(self):
        """Closed with no connections left: release everyone in wait_closed()."""
        waiters = self._waiters
        if waiters is None:
            return  # already woken
        self._waiters = None
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- serving ----------------------------------------------------------------------------

    def _start_serving(self):
        if self._serving:
            return
        self._serving = True
        for sock in self._sockets:
            sock.listen(self._backlog)
            self._loop._start_serving(
                self._protocol_factory, sock, self._ssl_context, self, self._backlog,
                self._ssl_handshake_timeout, self._ssl_shutdown_timeout)

    def get_loop(self):
        return self._loop

    def is_serving(self):
        return self._serving

    @property
    def sockets(self):
        if self._sockets is None:
            return ()
        return tuple(trsock.TransportSocket(sock) for sock in self._sockets)

    def close(self):
        """Stop listening and close the listening sockets; open connections stay open."""
        sockets = self._sockets
        if sockets is None:
            return
        self._sockets = None
        for sock in sockets:
            self._loop._stop_serving(sock)
        self._serving = False
        if self._serving_forever_fut is not None and not self._serving_forever_fut.done():
            self._serving_forever_fut.cancel()
            self._serving_forever_fut = None
        if self._active_count == 0:
            self._wakeup()

    def close_clients(self):
        """Close every connection of this server (after its buffered data is sent)."""
        for transport in self._clients:
            transport.close()

    def abort_clients(self):
        """Abort every connection of this server at once."""
        for transport in self._clients:
            transport.abort()

    async def start_serving(self):
        self._start_serving()
        # One loop iteration, so that accepting has begun when this returns (as in asyncio).
        await tasks.sleep(0)

    async def serve_forever(self):
        if self._serving_forever_fut is not None:
            raise RuntimeError(f'server {self!r} is already being awaited on serve_forever()')
        if self._sockets is None:
            raise RuntimeError(f'server {self!r} is closed')
        self._start_serving()
        self._serving_forever_fut = self._loop.create_future()
        try:
            await self._serving_forever_fut
        except exceptions.CancelledError:
            try:
                self.close()
                await self.wait_closed()
            finally:
                raise
        finally:
            self._serving_forever_fut = None

    async def wait_closed(self):
        """Wait until the server is closed and (from 3.12) all its connections are gone."""
        if self._waiters is None:
            return
        if _WAIT_CLOSED_RETURNS_ONCE_CLOSED and self._sockets is None:
            return
        waiter = self._loop.create_future()
        self._waiters.append(waiter)
        await waiter


class Acceptor:
    """Accepts connections on a listening socket and makes their transports."""

    __slots__ = ('loop', 'sock', 'fd', 'family', 'proto', 'server', 'protocol_factory',
                 'sslcontext', 'batch', 'ssl_handshake_timeout', 'ssl_shutdown_timeout', 'waiter',
                 'parked', 'retry_timer', 'accept_iteration')

    def __init__(self, loop, sock, protocol_factory, sslcontext, server, backlog,
                 ssl_handshake_timeout, ssl_shutdown_timeout):
        self.loop = loop
        self.sock = sock
        self.fd = sock.fileno()
        # What the sockets of the connections are made of (read once: socket.family makes an
        # enum member at each read).
        self.family = int(sock.family)
        self.proto = sock.proto
        self.server = server
        self.protocol_factory = protocol_factory
        self.sslcontext = sslcontext
        # asyncio accepts `backlog` connections per event; at least one, or nobody gets in.
        self.batch = max(1, min(backlog, _ACCEPT_BATCH))
        self.ssl_handshake_timeout = ssl_handshake_timeout
        self.ssl_shutdown_timeout = ssl_shutdown_timeout
        # Connections are set up in the context of whoever started serving, as in asyncio.
        self.waiter = Waiter(self._accept_batch, contextvars.copy_context(), loop)
        self.parked = False
        self.retry_timer = None
        self.accept_iteration = -1  # the loop iteration that last ran a batch

    def start(self):
        if self.waiter._cancelled or self.parked:
            return
        self.retry_timer = None
        self.parked = True
        self.loop._poller.park_reader(self.fd, self.waiter, self.sock)

    def stop(self):
        """Stop for good: the listening socket is about to be closed."""
        self.waiter._cancelled = True
        self._unpark()
        if self.retry_timer is not None:
            self.retry_timer.cancel()
            self.retry_timer = None

    def _unpark(self):
        if self.parked:
            self.parked = False
            self.loop._poller.unpark_reader(self.fd, self.waiter)

    def _accept_batch(self):
        """Accept what is queued, up to the budget of one event."""
        iteration = self.loop._n_iterations
        if iteration == self.accept_iteration:
            # Queued twice for one pass (in ET mode, a re-queue and a new edge): the first run
            # took this pass's batch. Each copy would re-queue itself, so a burst of connections
            # would add a copy, and a batch, at every pass (thousands of setups in one pass).
            return
        self.accept_iteration = iteration
        for _ in range(self.batch):
            if not self.parked:
                return
            try:
                accepted = _sockio.accept_connection(self.sock, self.fd)
            except OSError as exc:
                if exc.errno in _CONNECTION_ERRNOS:
                    continue
                self._pause(exc)
                return
            if accepted is None:  # EAGAIN
                self.loop._poller.readable_exhausted(self.fd)
                return
            conn, addr = accepted
            if self.loop._debug:
                logger.debug('%r got a new connection from %r: %r', self.server, addr, conn)
            self._serve(conn, addr)
        if self.parked:
            # More connections may be queued: come back after the others.
            requeue_in_edge_mode(self.loop, self.waiter)

    def _pause(self, exc):
        """accept() failed for want of a resource (or for a reason unknown): retry in a while."""
        if exc.errno in _RESOURCE_ERRNOS:
            message = 'socket.accept() out of system resource'
        else:
            message = 'socket.accept() failed'
        self.loop.call_exception_handler({
            'message': message,
            'exception': exc,
            'socket': trsock.TransportSocket(self.sock),
        })
        # Linux keeps reporting the fd ready: wait without it, then try again.
        self._unpark()
        self.retry_timer = self.loop.call_later(constants.ACCEPT_RETRY_DELAY, self.start)

    def _serve(self, conn, addr):
        """Make the transport and protocol of an accepted connection: `conn` is its socket, or
        its fd alone (see _sockio.accept_connection)."""
        loop = self.loop
        protocol = transport = None
        try:
            protocol = self.protocol_factory()
            if self.sslcontext:
                if type(conn) is int:
                    # TLS runs over the socket object: it is made at once.
                    conn = socket_over_fd(conn, self.family, self.proto)
                waiter = loop.create_future()
                transport = loop._make_ssl_transport(
                    conn, protocol, self.sslcontext, waiter, server_side=True,
                    extra={'peername': addr},
                    server=self.server, ssl_handshake_timeout=self.ssl_handshake_timeout,
                    ssl_shutdown_timeout=self.ssl_shutdown_timeout)
                waiter.add_done_callback(
                    functools.partial(_on_handshake_done, loop, protocol, transport))
            else:
                # Not extra={'peername': addr}: the transport makes its extra info when first
                # asked (see SocketTransport._extra_info), a dict less per connection.
                if type(conn) is int:
                    loop._ensure_fd_no_transport(conn)
                    transport = SocketTransport(loop, conn, protocol, server=self.server,
                                                family=self.family, proto=self.proto)
                else:
                    transport = loop._make_socket_transport(conn, protocol, server=self.server)
                transport.set_peername(addr)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            if transport is None:
                _close_connection(conn)
            else:
                transport.close()
            _report_failed_connection(loop, exc, protocol, transport)


def _close_connection(conn):
    """Close an accepted connection no transport took: its socket, or its fd alone."""
    if type(conn) is int:
        os.close(conn)
    else:
        conn.close()


def _on_handshake_done(loop, protocol, transport, waiter):
    """The TLS handshake of an accepted connection ended: close it if it failed."""
    if waiter.cancelled():
        exc = exceptions.CancelledError()
    else:
        exc = waiter.exception()
        if exc is None:
            return
    transport.close()
    _report_failed_connection(loop, exc, protocol, transport)


def _report_failed_connection(loop, exc, protocol, transport):
    # Nobody is there to receive the error: asyncio tells only in debug mode.
    if not loop.get_debug():
        return
    context = {
        'message': 'Error on transport creation for incoming connection',
        'exception': exc,
    }
    if protocol is not None:
        context['protocol'] = protocol
    if transport is not None:
        context['transport'] = transport
    loop.call_exception_handler(context)
