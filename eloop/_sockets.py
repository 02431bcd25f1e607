"""The loop's sock_* coroutines, built on the completion queue."""

import errno
import io
import os
import socket
import stat

from asyncio import exceptions

from . import _proactor

try:
    import ssl
except ImportError:  # Python built without ssl
    ssl = None

_HAS_IPV6 = hasattr(socket, 'AF_INET6')


def check_socket(sock):
    """asyncio's errors for a socket the loop cannot drive: TLS, or blocking."""
    if ssl is not None and isinstance(sock, ssl.SSLSocket):
        raise TypeError('Socket cannot be of type SSLSocket')
    if sock.gettimeout() != 0:
        # A blocking socket would block the whole loop on its first I/O.
        raise ValueError('the socket must be non-blocking')


class SocketsMixin:
    """sock_recv, sock_sendall, sock_connect, sock_accept, ... of the loop."""

    async def sock_recv(self, sock, n):
        """Receive up to n bytes from a non-blocking socket."""
        check_socket(sock)
        return await self._submit(_proactor.Recv, sock, n)

    async def sock_recv_into(self, sock, buf):
        """Receive into a writable buffer; return the number of bytes received."""
        check_socket(sock)
        return await self._submit(_proactor.RecvInto, sock, buf)

    async def sock_recvfrom(self, sock, bufsize):
        """Receive a datagram of up to bufsize bytes; return (data, address)."""
        check_socket(sock)
        return await self._submit(_proactor.RecvFrom, sock, bufsize)

    async def sock_recvfrom_into(self, sock, buf, nbytes=0):
        """Receive a datagram into buf; return (nbytes, address)."""
        check_socket(sock)
        if not nbytes:
            nbytes = len(buf)
        return await self._submit(_proactor.RecvFromInto, sock, buf, nbytes)

    async def sock_sendall(self, sock, data):
        """Send all of data; returns None once the kernel has taken every byte."""
        check_socket(sock)
        self._check_closed()
        if not data:
            return None
        try:
            # The common case, a send that fits the socket buffer, needs no future.
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent == len(data):
            return None
        view = memoryview(data)
        self._ensure_fd_no_transport(sock.fileno())
        fut = self.create_future()
        op = _proactor.SendAll(self._proactor, sock, fut, view[sent:])
        self._proactor.submit(op)
        return await fut

    async def sock_sendto(self, sock, data, address):
        """Send a datagram to address; return the number of bytes sent."""
        check_socket(sock)
        return await self._submit(_proactor.SendTo, sock, data, address)

    async def sock_connect(self, sock, address):
        """Connect a non-blocking socket to address (resolved first if it is a host name)."""
        check_socket(sock)
        self._check_closed()
        if sock.family == socket.AF_INET or (_HAS_IPV6 and sock.family == socket.AF_INET6):
            resolved = await self._ensure_resolved(
                address, family=sock.family, type=sock.type, proto=sock.proto)
            address = resolved[0][4]
        try:
            sock.connect(address)
        except (BlockingIOError, InterruptedError):
            # EINPROGRESS (or EINTR): the connection goes on in the background and its outcome is
            # known when the socket becomes writable.
            pass
        else:
            return None
        self._ensure_fd_no_transport(sock.fileno())
        fut = self.create_future()
        self._proactor.park(_proactor.Connect(self._proactor, sock, fut, address))
        try:
            return await fut
        finally:
            fut = None  # break the cycle through the exception's traceback

    async def sock_accept(self, sock):
        """Accept a connection: return (conn, address), conn non-blocking."""
        check_socket(sock)
        return await self._submit(_proactor.Accept, sock)

    async def _submit(self, op_class, sock, *args):
        """Run one operation through the completion queue and wait for its completion."""
        self._check_closed()
        self._ensure_fd_no_transport(sock.fileno())
        fut = self.create_future()
        self._proactor.submit(op_class(self._proactor, sock, fut, *args))
        try:
            return await fut
        finally:
            fut = None

    # -- sendfile -------------------------------------------------------------------------------

    async def sock_sendfile(self, sock, file, offset=0, count=None, *, fallback=True):
        """Send a file over a socket: zero-copy os.sendfile, or read/send if it cannot be used."""
        check_socket(sock)
        self._check_closed()
        self._check_sendfile_params(sock, file, offset, count)
        try:
            return await self._sock_sendfile_native(sock, file, offset, count)
        except exceptions.SendfileNotAvailableError:
            if not fallback:
                raise
        return await self._sock_sendfile_fallback(sock, file, offset, count)

    def _check_sendfile_params(self, sock, file, offset, count):
        if 'b' not in getattr(file, 'mode', 'b'):
            raise ValueError('file should be opened in binary mode')
        if not sock.type == socket.SOCK_STREAM:
            raise ValueError('only SOCK_STREAM type sockets are supported')
        if count is not None:
            if not isinstance(count, int):
                raise TypeError(f'count must be a positive integer (got {count!r})')
            if count <= 0:
                raise ValueError(f'count must be a positive integer (got {count!r})')
        if not isinstance(offset, int):
            raise TypeError(f'offset must be a non-negative integer (got {offset!r})')
        if offset < 0:
            raise ValueError(f'offset must be a non-negative integer (got {offset!r})')

    async def _sock_sendfile_native(self, sock, file, offset, count):
        try:
            file_fd = file.fileno()
        except (AttributeError, io.UnsupportedOperation):
            raise exceptions.SendfileNotAvailableError('not a regular file')
        try:
            file_stat = os.fstat(file_fd)
        except OSError:
            raise exceptions.SendfileNotAvailableError('not a regular file')
        if not stat.S_ISREG(file_stat.st_mode):
            # A pipe's or a socket's size says nothing of what is left to read (asyncio would
            # send nothing and return 0): the fallback reads it to its end.
            raise exceptions.SendfileNotAvailableError('not a regular file')
        file_size = file_stat.st_size
        if not (count or file_size):
            return 0  # an empty file
        self._ensure_fd_no_transport(sock.fileno())
        fut = self.create_future()
        op = _proactor.SendFile(self._proactor, sock, fut, file_fd, offset, count)
        try:
            self._proactor.submit(op)
            return await fut
        except OSError as exc:
            if op.sent == 0:
                # Most often the file is not mmap()-able (a pipe, a socket): the caller falls
                # back to plain reads and sends.
                raise exceptions.SendfileNotAvailableError('os.sendfile call failed') from exc
            if exc.errno == errno.ENOTCONN and type(exc) is not ConnectionError:
                # The peer went away mid-transfer: say so the same way on every POSIX system.
                raise ConnectionError('socket is not connected', errno.ENOTCONN) from exc
            raise
        finally:
            if op.sent > 0:
                # Leave the file position after what was sent, as asyncio does.
                os.lseek(file_fd, offset + op.sent, os.SEEK_SET)

    async def _sock_sendfile_fallback(self, sock, file, offset, count):
        if offset:
            file.seek(offset)
        blocksize = min(count, 256 * 1024) if count else 256 * 1024
        buf = bytearray(blocksize)
        total_sent = 0
        try:
            while True:
                if count:
                    blocksize = min(count - total_sent, blocksize)
                    if blocksize <= 0:
                        break
                view = memoryview(buf)[:blocksize]
                read = await self.run_in_executor(None, file.readinto, view)
                if not read:
                    break
                await self.sock_sendall(sock, view[:read])
                total_sent += read
            return total_sent
        finally:
            if total_sent > 0 and hasattr(file, 'seek'):
                try:
                    file.seek(offset + total_sent)
                except io.UnsupportedOperation:
                    pass  # a pipe: its position is where the reads left it

