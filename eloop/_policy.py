"""How programs get an eloop loop: the factory, the policy, run() and install()."""

import asyncio
import functools
import sys

from asyncio import events
from asyncio import unix_events

from . import _config
from ._loop import Loop

# asyncio's Unix policy: on 3.10-3.13 it also carries the child-watcher API
# (asyncio.get_child_watcher/set_child_watcher), which programs call and eloop's subprocesses honour.
_BasePolicy = (getattr(unix_events, '_UnixDefaultEventLoopPolicy', None)
               or getattr(events, 'BaseDefaultEventLoopPolicy', None)
               or getattr(events, '_BaseDefaultEventLoopPolicy'))


def new_event_loop(**options):
    """A new eloop loop. Options: trigger="level"|"edge", backend="epoll"."""
    return Loop(**options)


class EventLoopPolicy(_BasePolicy):
    """An asyncio event loop policy whose loops are eloop's, made with the given options."""

    def __init__(self, **options):
        super().__init__()
        # Validate now, so that a wrong option fails where the policy is made.
        _config.Config.from_options(**options)
        self._options = options

    def _loop_factory(self):
        return Loop(**self._options)

    def __repr__(self):
        return f'<eloop.EventLoopPolicy {self._options!r}>'


def install(**options):
    """Make eloop the loop of asyncio.run, asyncio.new_event_loop and get_event_loop."""
    asyncio.set_event_loop_policy(EventLoopPolicy(**options))


if sys.version_info >= (3, 11):
    def run(main, *, debug=None, **options):
        """Run coroutine `main` on a new eloop loop and close it: asyncio.run's contract."""
        if events._get_running_loop() is not None:
            raise RuntimeError('eloop.run() cannot be called from a running event loop')
        with asyncio.Runner(debug=debug,
                            loop_factory=functools.partial(new_event_loop, **options)) as runner:
            return runner.run(main)
else:
    def run(main, *, debug=None, **options):
        """Run coroutine `main` on a new eloop loop and close it: asyncio.run's contract."""
        if events._get_running_loop() is not None:
            raise RuntimeError('eloop.run() cannot be called from a running event loop')
        if not asyncio.iscoroutine(main):
            raise ValueError(f'a coroutine was expected, got {main!r}')
        loop = new_event_loop(**options)
        try:
            events.set_event_loop(loop)
            if debug is not None:
                loop.set_debug(debug)
            return loop.run_until_complete(main)
        finally:
            try:
                _cancel_all_tasks(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                events.set_event_loop(None)
                loop.close()

    def _cancel_all_tasks(loop):
        to_cancel = asyncio.all_tasks(loop)
        if not to_cancel:
            return
        for task in to_cancel:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*to_cancel, return_exceptions=True))
        for task in to_cancel:
            if task.cancelled():
                continue
            if task.exception() is not None:
                loop.call_exception_handler({
                    'message': 'unhandled exception during eloop.run() shutdown',
                    'exception': task.exception(),
                    'task': task,
                })


def info(loop=None):
    """What eloop this is: version, compiled or pure, backend and trigger mode."""
    from . import _core, _pure, __version__
    config = loop._config if loop is not None else _config.Config.from_options()
    return {
        'version': __version__,
        'compiled': _pure.is_compiled(_core),
        'backend': config.backend,
        'trigger': config.trigger,
        'python': sys.version.split()[0],
    }
