"""Name resolution: getaddrinfo/getnameinfo in the executor, numeric hosts answered at once."""

import socket

from asyncio import log

_NUMERIC_FLAGS = socket.AI_NUMERICHOST | getattr(socket, 'AI_NUMERICSERV', 0)


def _is_numeric_host(host):
    if host is None or host == '' or host == b'':
        return True  # the wildcard or loopback address: no lookup
    if isinstance(host, bytes):
        try:
            host = host.decode('idna')
        except UnicodeError:
            return False
    if not isinstance(host, str):
        return False
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except (OSError, ValueError):
            pass
    return False


def _is_numeric_port(port):
    if port is None or isinstance(port, int):
        return True
    if isinstance(port, (str, bytes)):
        return port.isdigit()
    return False


def numeric_addrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """getaddrinfo() for a numeric host and port, which needs no lookup; None if it would."""
    if not (_is_numeric_host(host) and _is_numeric_port(port)):
        return None
    try:
        return socket.getaddrinfo(host, port, family, type, proto, flags | _NUMERIC_FLAGS)
    except (socket.gaierror, UnicodeError, TypeError, ValueError):
        # Let the threaded call raise the error exactly as socket.getaddrinfo reports it.
        return None


class ResolverMixin:
    """getaddrinfo, getnameinfo and the address resolution used by connections."""

    async def getaddrinfo(self, host, port, *, family=0, type=0, proto=0, flags=0):
        infos = numeric_addrinfo(host, port, family, type, proto, flags)
        if infos is not None:
            return infos
        resolve = self._getaddrinfo_debug if self._debug else socket.getaddrinfo
        return await self.run_in_executor(None, resolve, host, port, family, type, proto, flags)

    async def getnameinfo(self, sockaddr, flags=0):
        return await self.run_in_executor(None, socket.getnameinfo, sockaddr, flags)

    def _getaddrinfo_debug(self, host, port, family, type, proto, flags):
        msg = [f'{host}:{port!r}']
        if family:
            msg.append(f'family={family!r}')
        if type:
            msg.append(f'type={type!r}')
        if proto:
            msg.append(f'proto={proto!r}')
        if flags:
            msg.append(f'flags={flags!r}')
        msg = ', '.join(msg)
        log.logger.debug('Get address info %s', msg)
        t0 = self.time()
        addrinfo = socket.getaddrinfo(host, port, family, type, proto, flags)
        dt = self.time() - t0
        msg = f'Getting address info {msg} took {dt * 1e3:.3f}ms: {addrinfo!r}'
        if dt >= self.slow_callback_duration:
            log.logger.info(msg)
        else:
            log.logger.debug(msg)
        return addrinfo

    async def _ensure_resolved(self, address, *, family=0, type=socket.SOCK_STREAM, proto=0,
                               flags=0):
        """Resolve (host, port[, flowinfo, scope_id]) to addrinfo entries."""
        host, port = address[:2]
        infos = numeric_addrinfo(host, port, family, type, proto, flags)
        if infos is None:
            return await self.getaddrinfo(host, port, family=family, type=type, proto=proto,
                                          flags=flags)
        if len(address) > 2:
            # Keep the caller's flowinfo and scope id of an IPv6 address.
            infos = [(f, t, p, c, (sa[0], sa[1], *address[2:4]) if f == socket.AF_INET6 else sa)
                     for f, t, p, c, sa in infos]
        return infos
