"""Connections and servers of the loop: TCP and Unix streams, TLS over them, and loop.sendfile.

Every public method here has the signature and the errors of its asyncio twin on the running
Python (parameters that asyncio gained later, such as all_errors, keep_alive or cleanup_socket,
are refused where asyncio refuses them). The transports are eloop's own (`_stream_transport`);
TLS is asyncio's SSLProtocol over them, as asyncio's own loops do it.
"""

import collections.abc
import errno
import functools
import inspect
import itertools
import os
import socket
import sys

import asyncio
from asyncio import constants
from asyncio import exceptions
from asyncio import sslproto
from asyncio import staggered
from asyncio import tasks
from asyncio.base_events import _SendfileFallbackProtocol
from asyncio.log import logger

try:
    import ssl
except ImportError:  # Python built without ssl
    ssl = None

from ._fd_transport import remove_stale_unix_socket, set_reuseport
from ._server import Acceptor, Server
from ._stream_transport import SocketStream, SocketTransport

_HAS_IPV6 = hasattr(socket, 'AF_INET6')
_SSL_HANDSHAKE_TIMEOUT = constants.SSL_HANDSHAKE_TIMEOUT
_SSL_SHUTDOWN_TIMEOUT = getattr(constants, 'SSL_SHUTDOWN_TIMEOUT', 30.0)
# asyncio's SSLProtocol takes ssl_shutdown_timeout from 3.11 on.
def _parameter_names(function):
    """The names of a function's parameters, read from its code (cheaper than inspect)."""
    code = function.__code__
    return code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]


_SSL_HAS_SHUTDOWN_TIMEOUT = 'ssl_shutdown_timeout' in _parameter_names(
    sslproto.SSLProtocol.__init__)
# The block size of the read/write fallback of loop.sendfile: larger than asyncio's 16 KiB, so a
# big file costs fewer trips to the executor.
_SENDFILE_FALLBACK_BLOCK = 256 * 1024
# asyncio removes a Unix server's socket file on close from 3.13 on (cleanup_socket=True); before,
# it left the file, and so does eloop there.
_UNIX_CLEANUP_BY_DEFAULT = 'cleanup_socket' in _parameter_names(
    asyncio.SelectorEventLoop.create_unix_server)


def _as_in_asyncio(method):
    """Give `method` the parameters its asyncio twin has on this Python.

    eloop's methods take the parameters of the newest asyncio; where the running asyncio lacks
    some, they are refused with the TypeError Python gives, and the signature shown is asyncio's.
    """
    twin = getattr(asyncio.SelectorEventLoop, method.__name__)
    accepted = frozenset(_parameter_names(twin))
    if accepted.issuperset(_parameter_names(method)):
        return method

    @functools.wraps(method)
    async def with_asyncio_parameters(self, *args, **kwargs):
        for name in kwargs:
            if name not in accepted:
                raise TypeError(
                    f"{method.__name__}() got an unexpected keyword argument '{name}'")
        return await method(self, *args, **kwargs)

    with_asyncio_parameters.__signature__ = inspect.signature(twin)
    return with_asyncio_parameters


def _check_ssl_socket(sock):
    if ssl is not None and isinstance(sock, ssl.SSLSocket):
        raise TypeError('Socket cannot be of type SSLSocket')


def _check_ssl_options(ssl, ssl_handshake_timeout, ssl_shutdown_timeout):
    if ssl_handshake_timeout is not None and not ssl:
        raise ValueError('ssl_handshake_timeout is only meaningful with ssl')
    if ssl_shutdown_timeout is not None and not ssl:
        raise ValueError('ssl_shutdown_timeout is only meaningful with ssl')


def _interleave_addrinfos(addrinfos, first_address_family_count=1):
    """Reorder addresses to alternate between families (RFC 8305), the first family leading."""
    by_family = {}
    for info in addrinfos:
        by_family.setdefault(info[0], []).append(info)
    lists = list(by_family.values())
    reordered = []
    if first_address_family_count > 1:
        reordered.extend(lists[0][:first_address_family_count - 1])
        del lists[0][:first_address_family_count - 1]
    reordered.extend(info for info in itertools.chain.from_iterable(
        itertools.zip_longest(*lists)) if info is not None)
    return reordered


def _one_error(exceptions_, all_errors):
    """The error create_connection raises when every address failed (asyncio's rules)."""
    if all_errors:
        return ExceptionGroup('create_connection failed', exceptions_)
    if len(exceptions_) == 1:
        return exceptions_[0]
    model = str(exceptions_[0])
    if all(str(exc) == model for exc in exceptions_):
        return exceptions_[0]
    return OSError('Multiple exceptions: {}'.format(', '.join(str(exc) for exc in exceptions_)))


def _new_ssl_protocol(loop, protocol, sslcontext, waiter, server_side, server_hostname,
                      ssl_handshake_timeout, ssl_shutdown_timeout, call_connection_made=True):
    options = {'ssl_handshake_timeout': ssl_handshake_timeout,
               'call_connection_made': call_connection_made}
    if _SSL_HAS_SHUTDOWN_TIMEOUT:
        options['ssl_shutdown_timeout'] = ssl_shutdown_timeout
    return sslproto.SSLProtocol(loop, protocol, sslcontext, waiter, server_side,
                                server_hostname, **options)


class NetworkMixin:
    """create_connection, create_server, the Unix variants, start_tls and sendfile."""

    # -- transports -----------------------------------------------------------------------------

    def _shared_recv_view(self):
        """The loop's read buffer: transports receive into it and copy out what they read.

        One per loop (not per transport): protocols get bytes copied out of it before they run,
        so no two reads of this loop's thread ever use it at once.
        """
        view = getattr(self, '_recv_view', None)
        if view is None:
            view = self._recv_view = memoryview(bytearray(SocketTransport.max_size))
        return view

    def _socket_transports(self):
        """This loop's socket transports: those reading, found as their fd's reader (their
        stream), and those in loop._transports (see SocketStream.listed); each once."""
        transports = {reader.transport for reader in self._poller.readers()
                      if type(reader) is SocketStream}
        transports.update(transport for transport in list(self._transports.values())
                          if isinstance(transport, SocketTransport))
        return list(transports)

    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None, server=None):
        self._ensure_fd_no_transport(sock.fileno())
        return SocketTransport(self, sock, protocol, waiter, extra, server)

    def _make_ssl_transport(self, rawsock, protocol, sslcontext, waiter=None, *,
                            server_side=False, server_hostname=None, extra=None, server=None,
                            ssl_handshake_timeout=_SSL_HANDSHAKE_TIMEOUT,
                            ssl_shutdown_timeout=_SSL_SHUTDOWN_TIMEOUT):
        self._ensure_fd_no_transport(rawsock.fileno())
        ssl_protocol = _new_ssl_protocol(self, protocol, sslcontext, waiter, server_side,
                                         server_hostname, ssl_handshake_timeout,
                                         ssl_shutdown_timeout)
        SocketTransport(self, rawsock, ssl_protocol, extra=extra, server=server)
        return ssl_protocol._app_transport

    async def _create_connection_transport(self, sock, protocol_factory, ssl, server_hostname,
                                           server_side=False, ssl_handshake_timeout=None,
                                           ssl_shutdown_timeout=None):
        sock.setblocking(False)
        protocol = protocol_factory()
        waiter = self.create_future()
        if ssl:
            sslcontext = None if isinstance(ssl, bool) else ssl
            transport = self._make_ssl_transport(
                sock, protocol, sslcontext, waiter, server_side=server_side,
                server_hostname=server_hostname, ssl_handshake_timeout=ssl_handshake_timeout,
                ssl_shutdown_timeout=ssl_shutdown_timeout)
        else:
            transport = self._make_socket_transport(sock, protocol, waiter)
        try:
            await waiter
        except BaseException:
            transport.close()
            raise
        return transport, protocol

    # -- connecting -----------------------------------------------------------------------------

    async def _connect_sock(self, exceptions_, addr_info, local_addr_infos=None):
        """Create, bind and connect one socket; its errors go to `exceptions_` too."""
        my_exceptions = []
        exceptions_.append(my_exceptions)
        family, type_, proto, _, address = addr_info
        sock = None
        try:
            sock = socket.socket(family=family, type=type_, proto=proto)
            sock.setblocking(False)
            if local_addr_infos is not None:
                self._bind_local(sock, family, local_addr_infos, my_exceptions)
            await self.sock_connect(sock, address)
            return sock
        except OSError as exc:
            my_exceptions.append(exc)
            if sock is not None:
                sock.close()
            raise
        except BaseException:
            if sock is not None:
                sock.close()
            raise
        finally:
            exceptions_ = my_exceptions = None

    @staticmethod
    def _bind_local(sock, family, local_addr_infos, my_exceptions):
        for lfamily, _, _, _, laddr in local_addr_infos:
            if lfamily != family:
                continue  # a local address of another family
            try:
                sock.bind(laddr)
                return
            except OSError as exc:
                msg = f'error while attempting to bind on address {laddr!r}: {str(exc).lower()}'
                my_exceptions.append(OSError(exc.errno, msg))
        if my_exceptions:
            raise my_exceptions.pop()
        raise OSError(f'no matching local address with family={family!r} found')

    @_as_in_asyncio
    async def create_connection(self, protocol_factory, host=None, port=None, *, ssl=None,
                                family=0, proto=0, flags=0, sock=None, local_addr=None,
                                server_hostname=None, ssl_handshake_timeout=None,
                                ssl_shutdown_timeout=None, happy_eyeballs_delay=None,
                                interleave=None, all_errors=False):
        """Connect to a TCP server; return (transport, protocol)."""
        if server_hostname is not None and not ssl:
            raise ValueError('server_hostname is only meaningful with ssl')
        if server_hostname is None and ssl:
            # The host is the name to check the certificate against; server_hostname='' skips
            # the check.
            if not host:
                raise ValueError('You must set server_hostname when using ssl without a host')
            server_hostname = host
        _check_ssl_options(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        if sock is not None:
            _check_ssl_socket(sock)
        if happy_eyeballs_delay is not None and interleave is None:
            interleave = 1  # happy eyeballs alternates address families by default

        if host is not None or port is not None:
            if sock is not None:
                raise ValueError('host/port and sock can not be specified at the same time')
            sock = await self._connect_to_any(host, port, family, proto, flags, local_addr,
                                              happy_eyeballs_delay, interleave, all_errors)
        else:
            if sock is None:
                raise ValueError('host and port was not specified and no sock specified')
            if sock.type != socket.SOCK_STREAM:
                # AF_UNIX stream sockets are accepted too, as asyncio does.
                raise ValueError(f'A Stream Socket was expected, got {sock!r}')

        transport, protocol = await self._create_connection_transport(
            sock, protocol_factory, ssl, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)
        if self._debug:
            sock = transport.get_extra_info('socket')
            logger.debug('%r connected to %s:%r: (%r, %r)', sock, host, port, transport, protocol)
        return transport, protocol

    async def _connect_to_any(self, host, port, family, proto, flags, local_addr,
                              happy_eyeballs_delay, interleave, all_errors):
        """A socket connected to the first address of host:port that accepts."""
        infos = await self._ensure_resolved((host, port), family=family, type=socket.SOCK_STREAM,
                                            proto=proto, flags=flags)
        if not infos:
            raise OSError('getaddrinfo() returned empty list')
        laddr_infos = None
        if local_addr is not None:
            laddr_infos = await self._ensure_resolved(local_addr, family=family,
                                                      type=socket.SOCK_STREAM, proto=proto,
                                                      flags=flags)
            if not laddr_infos:
                raise OSError('getaddrinfo() returned empty list')
        if interleave:
            infos = _interleave_addrinfos(infos, interleave)

        exceptions_ = []
        sock = None
        if happy_eyeballs_delay is None:
            for addr_info in infos:
                try:
                    sock = await self._connect_sock(exceptions_, addr_info, laddr_infos)
                    break
                except OSError:
                    continue
        else:
            sock, _, _ = await staggered.staggered_race(
                (functools.partial(self._connect_sock, exceptions_, addr_info, laddr_infos)
                 for addr_info in infos),
                happy_eyeballs_delay, loop=self)
        if sock is not None:
            return sock
        errors = [exc for attempt in exceptions_ for exc in attempt]
        try:
            raise _one_error(errors, all_errors)
        finally:
            errors = exceptions_ = None

    @_as_in_asyncio
    async def create_unix_connection(self, protocol_factory, path=None, *, ssl=None, sock=None,
                                     server_hostname=None, ssl_handshake_timeout=None,
                                     ssl_shutdown_timeout=None):
        """Connect to a Unix stream socket; return (transport, protocol)."""
        assert server_hostname is None or isinstance(server_hostname, str)
        if ssl:
            if server_hostname is None:
                raise ValueError('you have to pass server_hostname when using ssl')
        else:
            if server_hostname is not None:
                raise ValueError('server_hostname is only meaningful with ssl')
            _check_ssl_options(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        if path is not None:
            if sock is not None:
                raise ValueError('path and sock can not be specified at the same time')
            path = os.fspath(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0)
            try:
                sock.setblocking(False)
                await self.sock_connect(sock, path)
            except BaseException:
                sock.close()
                raise
        else:
            if sock is None:
                raise ValueError('no path and sock were specified')
            if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
                raise ValueError(f'A UNIX Domain Stream Socket was expected, got {sock!r}')
            sock.setblocking(False)
        return await self._create_connection_transport(
            sock, protocol_factory, ssl, server_hostname,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)

    @_as_in_asyncio
    async def connect_accepted_socket(self, protocol_factory, sock, *, ssl=None,
                                      ssl_handshake_timeout=None, ssl_shutdown_timeout=None):
        """Wrap a connection accepted elsewhere in a transport; return (transport, protocol)."""
        if sock.type != socket.SOCK_STREAM:
            raise ValueError(f'A Stream Socket was expected, got {sock!r}')
        _check_ssl_options(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        _check_ssl_socket(sock)
        transport, protocol = await self._create_connection_transport(
            sock, protocol_factory, ssl, '', server_side=True,
            ssl_handshake_timeout=ssl_handshake_timeout,
            ssl_shutdown_timeout=ssl_shutdown_timeout)
        if self._debug:
            sock = transport.get_extra_info('socket')
            logger.debug('%r handled: (%r, %r)', sock, transport, protocol)
        return transport, protocol

    # -- serving --------------------------------------------------------------------------------

    @_as_in_asyncio
    async def create_server(self, protocol_factory, host=None, port=None, *,
                            family=socket.AF_UNSPEC, flags=socket.AI_PASSIVE, sock=None,
                            backlog=100, ssl=None, reuse_address=None, reuse_port=None,
                            keep_alive=None, ssl_handshake_timeout=None,
                            ssl_shutdown_timeout=None, start_serving=True):
        """Listen on host:port (every address of every host given) or on `sock`; a Server."""
        if isinstance(ssl, bool):
            raise TypeError('ssl argument must be an SSLContext or None')
        _check_ssl_options(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        if sock is not None:
            _check_ssl_socket(sock)

        if host is not None or port is not None:
            if sock is not None:
                raise ValueError('host/port and sock can not be specified at the same time')
            if reuse_address is None:
                reuse_address = os.name == 'posix' and sys.platform != 'cygwin'
            if host == '':
                hosts = [None]
            elif isinstance(host, str) or not isinstance(host, collections.abc.Iterable):
                hosts = [host]
            else:
                hosts = host
            infos = await tasks.gather(*[self._create_server_getaddrinfo(h, port, family, flags)
                                         for h in hosts])
            # A host given twice, or two names of one address, are bound once.
            infos = set(itertools.chain.from_iterable(infos))
            sockets = self._bind_listening_sockets(infos, reuse_address, reuse_port, keep_alive)
        else:
            if sock is None:
                raise ValueError('Neither host/port nor sock were specified')
            if sock.type != socket.SOCK_STREAM:
                raise ValueError(f'A Stream Socket was expected, got {sock!r}')
            sockets = [sock]

        for sock in sockets:
            sock.setblocking(False)
        server = Server(self, sockets, protocol_factory, ssl, backlog, ssl_handshake_timeout,
                        ssl_shutdown_timeout)
        if start_serving:
            server._start_serving()
            # One iteration, so that accepting has begun when this returns (as in asyncio).
            await tasks.sleep(0)
        if self._debug:
            logger.info('%r is serving', server)
        return server

    async def _create_server_getaddrinfo(self, host, port, family, flags):
        infos = await self._ensure_resolved((host, port), family=family,
                                            type=socket.SOCK_STREAM, flags=flags)
        if not infos:
            raise OSError(f'getaddrinfo({host!r}) returned empty list')
        return infos

    def _bind_listening_sockets(self, infos, reuse_address, reuse_port, keep_alive):
        """One bound socket per address; an address whose family is disabled is skipped."""
        sockets = []
        completed = False
        try:
            for af, socktype, proto, _, sa in infos:
                try:
                    sock = socket.socket(af, socktype, proto)
                except OSError:
                    # A family/type/protocol combination this system does not have.
                    if self._debug:
                        logger.warning('create_server() failed to create socket.socket(%r, %r, %r)',
                                       af, socktype, proto, exc_info=True)
                    continue
                sockets.append(sock)
                if reuse_address:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, True)
                if reuse_port:
                    set_reuseport(sock)
                if keep_alive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, True)
                if _HAS_IPV6 and af == socket.AF_INET6 and hasattr(socket, 'IPPROTO_IPV6'):
                    # One socket per family: without this, Linux's dual stack makes an IPv6
                    # socket take the IPv4 port too, and the IPv4 bind fails.
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, True)
                try:
                    sock.bind(sa)
                except OSError as err:
                    msg = f'error while attempting to bind on address {sa!r}: {str(err).lower()}'
                    if err.errno == errno.EADDRNOTAVAIL:
                        # The family is most likely not enabled (bpo-30945): skip it.
                        sockets.pop()
                        sock.close()
                        if self._debug:
                            logger.warning(msg)
                        continue
                    raise OSError(err.errno, msg) from None
            if not sockets:
                raise OSError(f'could not bind on any address out of {[i[4] for i in infos]!r}')
            completed = True
        finally:
            if not completed:
                for sock in sockets:
                    sock.close()
        return sockets

    @_as_in_asyncio
    async def create_unix_server(self, protocol_factory, path=None, *, sock=None, backlog=100,
                                 ssl=None, ssl_handshake_timeout=None, ssl_shutdown_timeout=None,
                                 start_serving=True, cleanup_socket=_UNIX_CLEANUP_BY_DEFAULT):
        """Listen on a Unix socket (a path, an abstract name, or `sock`); a Server."""
        if isinstance(ssl, bool):
            raise TypeError('ssl argument must be an SSLContext or None')
        _check_ssl_options(ssl, ssl_handshake_timeout, ssl_shutdown_timeout)
        if path is not None:
            if sock is not None:
                raise ValueError('path and sock can not be specified at the same time')
            sock = _bind_unix_socket(os.fspath(path))
        else:
            if sock is None:
                raise ValueError('path was not specified, and no sock specified')
            if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
                raise ValueError(f'A UNIX Domain Stream Socket was expected, got {sock!r}')

        if cleanup_socket:
            self._remember_unix_socket_file(sock)
        sock.setblocking(False)
        server = Server(self, [sock], protocol_factory, ssl, backlog, ssl_handshake_timeout,
                        ssl_shutdown_timeout)
        if start_serving:
            server._start_serving()
            await tasks.sleep(0)
        return server

    def _remember_unix_socket_file(self, sock):
        """Note the inode of sock's file, to remove that file (if still the same) on close."""
        path = sock.getsockname()
        if not path or path[0] in (0, '\x00'):
            return  # unbound, or in the abstract namespace: no file
        try:
            self._unix_server_sockets[sock] = os.stat(path).st_ino
        except FileNotFoundError:
            pass

    def _start_serving(self, protocol_factory, sock, sslcontext=None, server=None, backlog=100,
                       ssl_handshake_timeout=_SSL_HANDSHAKE_TIMEOUT,
                       ssl_shutdown_timeout=_SSL_SHUTDOWN_TIMEOUT):
        """Start accepting on a listening socket (called by Server)."""
        self._check_closed()
        acceptor = Acceptor(self, sock, protocol_factory, sslcontext, server, backlog,
                            ssl_handshake_timeout, ssl_shutdown_timeout)
        old = self._acceptors.pop(sock.fileno(), None)
        if old is not None:
            old.stop()
        self._acceptors[sock.fileno()] = acceptor
        acceptor.start()

    def _stop_serving(self, sock):
        """Stop accepting on a listening socket and close it (called by Server.close)."""
        fd = sock.fileno()
        acceptor = self._acceptors.pop(fd, None)
        if acceptor is not None:
            acceptor.stop()
        elif fd >= 0:
            # A socket served through the readiness API, as asyncio's own helper allows.
            self.remove_reader(fd)
        path = sock.getsockname() if sock in self._unix_server_sockets else None
        if fd >= 0 and not self.is_closed():
            self._poller.forget(fd)
        sock.close()
        if path is not None:
            _remove_unix_socket_file(path, self._unix_server_sockets.pop(sock))

    # -- TLS upgrade ----------------------------------------------------------------------------

    @_as_in_asyncio
    async def start_tls(self, transport, protocol, sslcontext, *, server_side=False,
                        server_hostname=None, ssl_handshake_timeout=None,
                        ssl_shutdown_timeout=None):
        """Upgrade a connection to TLS; return the new transport the protocol must use."""
        if ssl is None:
            raise RuntimeError('Python ssl module is not available')
        if not isinstance(sslcontext, ssl.SSLContext):
            raise TypeError(f'sslcontext is expected to be an instance of ssl.SSLContext, '
                            f'got {sslcontext!r}')
        if not getattr(transport, '_start_tls_compatible', False):
            raise TypeError(f'transport {transport!r} is not supported by start_tls()')

        waiter = self.create_future()
        ssl_protocol = _new_ssl_protocol(self, protocol, sslcontext, waiter, server_side,
                                         server_hostname, ssl_handshake_timeout,
                                         ssl_shutdown_timeout, call_connection_made=False)
        # Pause first, so that the TLS protocol sees no data before its connection_made().
        transport.pause_reading()
        transport.set_protocol(ssl_protocol)
        conmade_cb = self.call_soon(ssl_protocol.connection_made, transport)
        resume_cb = self.call_soon(transport.resume_reading)
        try:
            await waiter
        except BaseException:
            transport.close()
            conmade_cb.cancel()
            resume_cb.cancel()
            raise
        return ssl_protocol._app_transport

    # -- sendfile -------------------------------------------------------------------------------

    async def sendfile(self, transport, file, offset=0, count=None, *, fallback=True):
        """Send a file over a transport: zero-copy os.sendfile where the transport allows it,
        else (if `fallback`) reading and writing; returns the number of bytes sent."""
        if transport.is_closing():
            raise RuntimeError('Transport is closing')
        mode = getattr(transport, '_sendfile_compatible', constants._SendfileMode.UNSUPPORTED)
        if mode is constants._SendfileMode.UNSUPPORTED:
            raise RuntimeError(f'sendfile is not supported for transport {transport!r}')
        if mode is constants._SendfileMode.TRY_NATIVE:
            try:
                return await self._sendfile_native(transport, file, offset, count)
            except exceptions.SendfileNotAvailableError:
                if not fallback:
                    raise
        if not fallback:
            raise RuntimeError(f'fallback is disabled and native sendfile is not '
                               f'supported for transport {transport!r}')
        return await self._sendfile_fallback(transport, file, offset, count)

    async def _sendfile_native(self, transp, file, offset, count):
        """os.sendfile on the transport's socket, once its own buffered writes are sent."""
        if not isinstance(transp, SocketTransport):
            raise exceptions.SendfileNotAvailableError('sendfile syscall is not supported')
        # The socket is driven by the SendFile operation meanwhile, not by the transport.
        fd = transp._sock_fd
        resume_reading = transp.is_reading()
        transp.pause_reading()
        self._transports.pop(fd, None)  # (where a transport not reading is found)
        await transp._make_empty_waiter()
        try:
            return await self.sock_sendfile(transp._sock, file, offset, count, fallback=False)
        finally:
            transp._reset_empty_waiter()
            if not transp.is_closing():
                self._transports[fd] = transp
            if resume_reading:
                transp.resume_reading()

    async def _sendfile_fallback(self, transp, file, offset, count):
        if offset:
            file.seek(offset)
        blocksize = min(count, _SENDFILE_FALLBACK_BLOCK) if count else _SENDFILE_FALLBACK_BLOCK
        buf = bytearray(blocksize)
        total_sent = 0
        proto = _SendfileFallbackProtocol(transp)
        try:
            while True:
                if count:
                    blocksize = min(count - total_sent, blocksize)
                    if blocksize <= 0:
                        return total_sent
                view = memoryview(buf)[:blocksize]
                read = await self.run_in_executor(None, file.readinto, view)
                if not read:
                    return total_sent  # end of file
                await proto.drain()
                transp.write(view[:read])
                total_sent += read
        finally:
            if total_sent > 0 and hasattr(file, 'seek'):
                file.seek(offset + total_sent)
            await proto.restore()


def _bind_unix_socket(path):
    """A Unix stream socket bound to path, after removing a stale socket file left there."""
    if path:
        # First, so that nothing is left open if it raises.
        remove_stale_unix_socket(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(errno.EADDRINUSE, f'Address {path!r} is already in use') from None
        raise
    except BaseException:
        sock.close()
        raise
    return sock


def _remove_unix_socket_file(path, inode):
    """Remove a server's socket file, unless another server's file has replaced it since."""
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        logger.error('Unable to clean up listening UNIX socket %r: %r', path, err)
