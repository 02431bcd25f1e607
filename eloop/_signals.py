"""Unix signal handlers of the loop: add_signal_handler / remove_signal_handler.

Python's C-level signal handler writes each signal number as one byte to the fd given to
signal.set_wakeup_fd. The loop's eventfd cannot take one-byte writes, so signals get a pipe of
their own, made when the first handler is added; the loop reads the numbers from it and schedules
the handlers.
"""

import errno
import os
import signal

from asyncio import coroutines
from asyncio import log

from ._handles import Handle, Runnable


def _noop_signal_handler(signum, frame):
    """Installed with signal.signal so that Python writes the signal number to the wakeup fd."""


class _SignalReader(Runnable):
    """Reads signal numbers from the wakeup pipe and dispatches the loop's handlers."""

    __slots__ = ('loop', 'fd')

    def __init__(self, loop, fd):
        self.loop = loop
        self.fd = fd
        self._cancelled = False

    def _run(self):
        while True:
            try:
                data = os.read(self.fd, 4096)
            except (BlockingIOError, InterruptedError):
                break
            if not data:
                break
            for signum in data:
                self.loop._handle_signal(signum)
        self.loop._poller.readable_exhausted(self.fd)


class SignalsMixin:
    """Signal handling of the loop (main thread only, as in asyncio)."""

    _signal_handlers = None
    _signal_pipe = None

    def add_signal_handler(self, sig, callback, *args):
        """Call `callback(*args)` when signal `sig` arrives."""
        if coroutines.iscoroutine(callback) or coroutines.iscoroutinefunction(callback):
            raise TypeError('coroutines cannot be used with add_signal_handler()')
        self._check_signal(sig)
        self._check_closed()
        read_fd = self._ensure_signal_pipe()
        try:
            # Raises ValueError outside the main thread: a loop running in another thread cannot
            # own signal handlers.
            signal.set_wakeup_fd(self._signal_pipe[1])
        except (ValueError, OSError) as exc:
            raise RuntimeError(str(exc))
        del read_fd
        handle = Handle(callback, args, self, None)
        self._signal_handlers[sig] = handle
        try:
            signal.signal(sig, _noop_signal_handler)
            # SA_RESTART: fewer EINTRs in the rest of the program.
            signal.siginterrupt(sig, False)
        except OSError as exc:
            del self._signal_handlers[sig]
            if not self._signal_handlers:
                self._reset_wakeup_fd()
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f'sig {sig} cannot be caught')
            raise

    def remove_signal_handler(self, sig):
        """Remove the handler of `sig`; True if there was one."""
        self._check_signal(sig)
        if not self._signal_handlers or sig not in self._signal_handlers:
            return False
        del self._signal_handlers[sig]
        handler = signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL
        try:
            signal.signal(sig, handler)
        except OSError as exc:
            if exc.errno == errno.EINVAL:
                raise RuntimeError(f'sig {sig} cannot be caught')
            raise
        if not self._signal_handlers:
            self._reset_wakeup_fd()
        return True

    def _check_signal(self, sig):
        if not isinstance(sig, int):
            raise TypeError(f'sig must be an int, not {sig!r}')
        if sig not in signal.valid_signals():
            raise ValueError(f'invalid signal number {sig}')

    def _handle_signal(self, sig):
        handle = self._signal_handlers.get(sig) if self._signal_handlers else None
        if handle is None:
            return  # removed while the signal was on its way
        if handle._cancelled:
            self.remove_signal_handler(sig)
        else:
            self._add_callback_signalsafe(handle)

    def _ensure_signal_pipe(self):
        if self._signal_pipe is None:
            read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            self._signal_pipe = (read_fd, write_fd)
            self._signal_handlers = {}
            self._poller.park_reader(read_fd, _SignalReader(self, read_fd))
        return self._signal_pipe[0]

    def _reset_wakeup_fd(self):
        try:
            signal.set_wakeup_fd(-1)
        except (ValueError, OSError) as exc:
            log.logger.info('set_wakeup_fd(-1) failed: %s', exc)

    def _close_signal_handling(self):
        """At close(): remove every handler and the pipe."""
        if self._signal_handlers:
            for sig in list(self._signal_handlers):
                self.remove_signal_handler(sig)
        if self._signal_pipe is not None:
            read_fd, write_fd = self._signal_pipe
            self._signal_pipe = None
            self._poller.forget(read_fd)
            os.close(read_fd)
            os.close(write_fd)
