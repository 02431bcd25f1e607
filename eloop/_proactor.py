"""The completion queue: I/O operations submitted, performed when their fd is ready, completed.

An operation is tried at once (optimistic I/O). Only when the kernel answers EAGAIN is it parked
on its fd with the poller; when the poller says the fd is ready, the loop runs the operation again
from its ready queue, and the operation completes with a result or an OSError. Completing an
operation sets its future, whose callbacks the loop then dispatches in order.

The loop and the transports speak only this interface (`submit`, `withdraw`); only the backend's
poller knows about epoll. An io_uring backend would perform the same operations in the kernel and
complete them from its completion ring with `complete`/`fail`.
"""

import os
import socket

from ._handles import Runnable


class Operation(Runnable):
    """One I/O request on one fd, in one direction, completed through a future."""

    __slots__ = ('proactor', 'sock', 'fd', 'future')

    # Which readiness of the fd lets the operation progress.
    reading = True

    def __init__(self, proactor, sock, future):
        self.proactor = proactor
        self.sock = sock
        self.fd = sock.fileno()
        self.future = future
        # True once the operation completed or was withdrawn: a stale entry of it that is still in
        # the ready queue is then skipped, as a cancelled Handle is.
        self._cancelled = False

    def perform(self):
        """Do the I/O; return the result, or raise BlockingIOError to wait for readiness."""
        raise NotImplementedError

    def _run(self):
        """Called by the loop when the poller reports the fd ready."""
        if self._cancelled:
            return
        if self.future.done():
            # Cancelled after its readiness was queued, before on_future_done could withdraw it:
            # data it received now would be lost.
            self.proactor.withdraw(self)
            return
        try:
            result = self.perform()
        except (BlockingIOError, InterruptedError):
            self.proactor.exhausted(self)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self.fail(exc)
        else:
            self.complete(result)

    def complete(self, result):
        self.proactor.withdraw(self)
        if not self.future.done():
            self.future.set_result(result)

    def fail(self, exc):
        self.proactor.withdraw(self)
        if not self.future.done():
            self.future.set_exception(exc)

    def cancel(self):
        """remove_reader/remove_writer (or add_reader/add_writer) took the fd from this parked
        operation: it will not run. Its future is left pending, as asyncio leaves the future of a
        sock_* call whose reader was removed; cancelling that future later is harmless."""
        self._cancelled = True

    def on_future_done(self, future):
        """The future was cancelled (or completed): take the operation off its fd."""
        if not self._cancelled:
            self.proactor.withdraw(self)


class Recv(Operation):
    __slots__ = ('nbytes',)

    def __init__(self, proactor, sock, future, nbytes):
        Operation.__init__(self, proactor, sock, future)
        self.nbytes = nbytes

    def perform(self):
        return self.sock.recv(self.nbytes)


class RecvInto(Operation):
    __slots__ = ('buffer', 'nbytes')

    def __init__(self, proactor, sock, future, buffer, nbytes=0):
        Operation.__init__(self, proactor, sock, future)
        self.buffer = buffer
        self.nbytes = nbytes

    def perform(self):
        return self.sock.recv_into(self.buffer, self.nbytes)


class RecvFrom(Operation):
    __slots__ = ('nbytes',)

    def __init__(self, proactor, sock, future, nbytes):
        Operation.__init__(self, proactor, sock, future)
        self.nbytes = nbytes

    def perform(self):
        return self.sock.recvfrom(self.nbytes)


class RecvFromInto(Operation):
    __slots__ = ('buffer', 'nbytes')

    def __init__(self, proactor, sock, future, buffer, nbytes=0):
        Operation.__init__(self, proactor, sock, future)
        self.buffer = buffer
        self.nbytes = nbytes

    def perform(self):
        return self.sock.recvfrom_into(self.buffer, self.nbytes)


class Accept(Operation):
    __slots__ = ()

    def perform(self):
        conn, address = self.sock.accept()
        conn.setblocking(False)
        return conn, address


class SendAll(Operation):
    """Send every byte, in as many writes as the socket buffer needs (sock_sendall)."""

    __slots__ = ('view', 'sent')
    reading = False

    def __init__(self, proactor, sock, future, data):
        Operation.__init__(self, proactor, sock, future)
        self.view = memoryview(data).cast('B')
        self.sent = 0

    def perform(self):
        view = self.view
        total = len(view)
        while self.sent < total:
            # A partial send means the buffer is full; the next send then raises EAGAIN and the
            # operation waits for writability with what it has sent so far kept.
            self.sent += self.sock.send(view[self.sent:])
        view.release()
        return None


class SendTo(Operation):
    __slots__ = ('data', 'address')
    reading = False

    def __init__(self, proactor, sock, future, data, address):
        Operation.__init__(self, proactor, sock, future)
        self.data = data
        self.address = address

    def perform(self):
        return self.sock.sendto(self.data, 0, self.address)


class Connect(Operation):
    """Completes a non-blocking connect() that answered EINPROGRESS, once the fd is writable."""

    __slots__ = ('address',)
    reading = False

    def __init__(self, proactor, sock, future, address):
        Operation.__init__(self, proactor, sock, future)
        self.address = address

    def perform(self):
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err != 0:
            raise OSError(err, f'Connect call failed {self.address}')
        return None


class SendFile(Operation):
    """Zero-copy os.sendfile of `count` bytes (None: to the end) of a file, from `offset`."""

    __slots__ = ('file_fd', 'offset', 'count', 'sent')
    reading = False

    def __init__(self, proactor, sock, future, file_fd, offset, count):
        Operation.__init__(self, proactor, sock, future)
        self.file_fd = file_fd
        self.offset = offset
        self.count = count
        self.sent = 0

    def perform(self):
        while self.count is None or self.sent < self.count:
            blocksize = 2 ** 30 if self.count is None else self.count - self.sent
            n = os.sendfile(self.fd, self.file_fd, self.offset + self.sent, blocksize)
            if n == 0:
                break  # end of file
            self.sent += n
        return self.sent


class Proactor:
    """Submits operations: performs them at once, or parks them on their fd until it is ready."""

    def __init__(self, poller):
        self._poller = poller
        # Counters read by loop statistics.
        self.n_completed_at_once = 0
        self.n_parked = 0

    def submit(self, op):
        """Try `op` now; park it if the fd is not ready. Its future completes either way."""
        try:
            result = op.perform()
        except (BlockingIOError, InterruptedError):
            self.n_parked += 1
            self._park(op)
            op.future.add_done_callback(op.on_future_done)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            op._cancelled = True
            op.future.set_exception(exc)
        else:
            self.n_completed_at_once += 1
            op._cancelled = True
            op.future.set_result(result)

    def park(self, op):
        """Park `op` without trying it first (a connect already under way)."""
        self.n_parked += 1
        self._park(op)
        op.future.add_done_callback(op.on_future_done)

    def _park(self, op):
        if op.reading:
            self._poller.readable_exhausted(op.fd)
            self._poller.park_reader(op.fd, op, op.sock)
        else:
            self._poller.writable_exhausted(op.fd)
            self._poller.park_writer(op.fd, op, op.sock)

    def exhausted(self, op):
        """`op` met EAGAIN again: it stays parked, waiting for the next readiness."""
        if op.reading:
            self._poller.readable_exhausted(op.fd)
        else:
            self._poller.writable_exhausted(op.fd)

    def withdraw(self, op):
        """Take `op` off its fd (completed or cancelled)."""
        op._cancelled = True
        if op.reading:
            self._poller.unpark_reader(op.fd, op)
        else:
            self._poller.unpark_writer(op.fd, op)
