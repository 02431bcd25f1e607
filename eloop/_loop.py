"""The public event loop class: the compiled core plus the loop's less frequent services."""

import asyncio
import concurrent.futures
import os
import sys
import threading
import traceback
import warnings
import weakref

from asyncio import log
from asyncio import tasks

from . import _config
from ._core import LoopCore
from ._datagram import DatagramMixin
from ._dns import ResolverMixin
from ._network import NetworkMixin
from ._pipes import PipesMixin
from ._signals import SignalsMixin
from ._sockets import SocketsMixin
from ._subprocess import SubprocessMixin

_MIXINS = [NetworkMixin, SocketsMixin, ResolverMixin, SignalsMixin, DatagramMixin, PipesMixin,
           SubprocessMixin]


class Loop(LoopCore, *_MIXINS, asyncio.AbstractEventLoop):
    """An asyncio event loop over eloop's own epoll poller and completion queue.

    Options: `trigger` ("level" or "edge"; default from ELOOP_TRIGGER, else "level") and `backend`
    ("epoll"; default from ELOOP_BACKEND).
    """

    def __init__(self, *, trigger=None, backend=None):
        self._config = _config.Config.from_options(trigger=trigger, backend=backend)
        LoopCore.__init__(self, edge_triggered=self._config.edge_triggered)
        self._transports = weakref.WeakValueDictionary()
        self._default_executor = None
        self._executor_shutdown_called = False
        self._asyncgens = weakref.WeakSet()
        self._asyncgens_shutdown_called = False
        self._servers = set()
        # The acceptors of listening sockets by fd, and the inodes of Unix socket files to remove
        # when their server closes (eloop._network).
        self._acceptors = {}
        self._unix_server_sockets = {}
        self._forget_empty_instance_dict()

    def __repr__(self):
        return (f'<{self.__class__.__name__} running={self.is_running()} '
                f'closed={self.is_closed()} debug={self.get_debug()} '
                f'trigger={self._config.trigger}>')

    @property
    def trigger(self):
        """"level" or "edge": how this loop's poller is triggered."""
        return self._config.trigger

    # -- closing --------------------------------------------------------------------------------

    def close(self):
        """Close the loop: drop what is scheduled, release the poller, stop the executor."""
        if self.is_running():
            raise RuntimeError('Cannot close a running event loop')
        if self._closed:
            return
        if self._debug:
            log.logger.debug('Close %r', self)
        if not sys.is_finalizing():
            self._close_signal_handling()
        elif self._signal_handlers:
            warnings.warn(f'Closing the loop {self!r} on interpreter shutdown stage, skipping '
                          f'signal handlers removal', ResourceWarning, source=self)
        self._closed = True
        self._drop_pending_callbacks()
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is not None:
            self._default_executor = None
            executor.shutdown(wait=False)
        self._poller.close()
        os.close(self._wakeup_fd)

    def __del__(self, _warn=warnings.warn):
        if getattr(self, '_config', None) is None:
            return  # __init__ refused the options: nothing was opened
        if not self.is_closed():
            _warn(f'unclosed event loop {self!r}', ResourceWarning, source=self)
            if not self.is_running():
                self.close()

    # -- the executor ---------------------------------------------------------------------------

    def run_in_executor(self, executor, func, *args):
        """Run func(*args) in an executor (the loop's default thread pool if None)."""
        self._check_closed()
        if self._debug:
            self._check_callback(func, 'run_in_executor')
        if executor is None:
            if self._executor_shutdown_called:
                raise RuntimeError('Executor shutdown has been called')
            executor = self._default_executor
            if executor is None:
                executor = concurrent.futures.ThreadPoolExecutor(thread_name_prefix='eloop')
                self._default_executor = executor
        return asyncio.wrap_future(executor.submit(func, *args), loop=self)

    def set_default_executor(self, executor):
        if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
            raise TypeError('executor must be ThreadPoolExecutor instance')
        self._default_executor = executor

    async def shutdown_default_executor(self, timeout=None):
        """Wait (up to `timeout` seconds, None: no limit) for the default executor to finish."""
        self._executor_shutdown_called = True
        if self._default_executor is None:
            return
        future = self.create_future()
        thread = threading.Thread(target=self._do_shutdown, args=(future,))
        thread.start()
        done, _ = await asyncio.wait({future}, timeout=timeout)
        if not done:
            warnings.warn('The executor did not finishing joining its threads within '
                          f'{timeout} seconds.', RuntimeWarning, stacklevel=2)
            self._default_executor.shutdown(wait=False)
        else:
            thread.join()
            future.result()

    def _do_shutdown(self, future):
        try:
            self._default_executor.shutdown(wait=True)
            if not self.is_closed():
                self.call_soon_threadsafe(_set_result_unless_done, future, None)
        except Exception as exc:
            if not self.is_closed():
                self.call_soon_threadsafe(_set_exception_unless_done, future, exc)

    # -- asynchronous generators ----------------------------------------------------------------

    def _asyncgen_finalizer_hook(self, agen):
        self._asyncgens.discard(agen)
        if not self.is_closed():
            self.call_soon_threadsafe(self.create_task, agen.aclose())

    def _asyncgen_firstiter_hook(self, agen):
        if self._asyncgens_shutdown_called:
            warnings.warn(f'asynchronous generator {agen!r} was scheduled after '
                          f'loop.shutdown_asyncgens() call', ResourceWarning, source=self)
        self._asyncgens.add(agen)

    async def shutdown_asyncgens(self):
        """Close every asynchronous generator still alive that this loop iterated."""
        self._asyncgens_shutdown_called = True
        if not len(self._asyncgens):
            return
        closing_agens = list(self._asyncgens)
        self._asyncgens.clear()
        results = await tasks.gather(*[ag.aclose() for ag in closing_agens],
                                     return_exceptions=True)
        for result, agen in zip(results, closing_agens):
            if isinstance(result, Exception):
                self.call_exception_handler({
                    'message': f'an error occurred during closing of asynchronous generator '
                               f'{agen!r}',
                    'exception': result,
                    'asyncgen': agen,
                })

    # -- the exception handler ------------------------------------------------------------------

    def get_exception_handler(self):
        return self._exception_handler

    def set_exception_handler(self, handler):
        if handler is not None and not callable(handler):
            raise TypeError(f'A callable object or None is expected, got {handler!r}')
        self._exception_handler = handler

    def default_exception_handler(self, context):
        """Log the context's message, exception and other keys, as asyncio does."""
        message = context.get('message') or 'Unhandled exception in event loop'
        exception = context.get('exception')
        if exception is not None:
            exc_info = (type(exception), exception, exception.__traceback__)
        else:
            exc_info = False
        if ('source_traceback' not in context and self._current_handle is not None
                and self._current_handle._source_traceback):
            context['handle_traceback'] = self._current_handle._source_traceback
        log_lines = [message]
        for key in sorted(context):
            if key in {'message', 'exception'}:
                continue
            value = context[key]
            if key == 'source_traceback':
                tb = ''.join(traceback.format_list(value))
                value = 'Object created at (most recent call last):\n' + tb.rstrip()
            elif key == 'handle_traceback':
                tb = ''.join(traceback.format_list(value))
                value = 'Handle created at (most recent call last):\n' + tb.rstrip()
            else:
                value = repr(value)
            log_lines.append(f'{key}: {value}')
        log.logger.error('\n'.join(log_lines), exc_info=exc_info)

    def call_exception_handler(self, context):
        """Hand `context` to the exception handler set by the user, or to the default one."""
        if self._exception_handler is None:
            try:
                self.default_exception_handler(context)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                log.logger.error('Exception in default exception handler', exc_info=True)
            return
        try:
            self._exception_handler(self, context)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            try:
                self.default_exception_handler({
                    'message': 'Unhandled error in exception handler',
                    'exception': exc,
                    'context': context,
                })
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException:
                log.logger.error('Exception in default exception handler while handling an '
                                 'unexpected error in custom exception handler', exc_info=True)


def _set_result_unless_done(future, result):
    if not future.done():
        future.set_result(result)


def _set_exception_unless_done(future, exc):
    if not future.done():
        future.set_exception(exc)
