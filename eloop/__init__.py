"""eloop: a drop-in asyncio event loop for Linux, over its own epoll poller and completion queue.

    import eloop
    eloop.run(main())                                              # like asyncio.run
    asyncio.run(main(), loop_factory=eloop.new_event_loop)         # Python 3.12+
    asyncio.set_event_loop_policy(eloop.EventLoopPolicy())         # or eloop.install()

Options of new_event_loop / EventLoopPolicy / run: trigger="level"|"edge" (env ELOOP_TRIGGER),
backend="epoll" (env ELOOP_BACKEND). ELOOP_PURE=1 runs the plain-Python modules even where the
compiled ones are installed.
"""

import os as _os

if _os.environ.get('ELOOP_PURE', '') not in ('', '0'):
    from . import _pure
    _pure.prefer_source_modules(__name__, __path__[0])

from ._loop import Loop  # noqa: E402
from ._config import Config, TRIGGERS, BACKENDS  # noqa: E402
from ._policy import EventLoopPolicy, new_event_loop, run, install, info  # noqa: E402

__version__ = '0.1.0'

__all__ = ['Loop', 'Config', 'EventLoopPolicy', 'new_event_loop', 'run', 'install', 'info',
           'TRIGGERS', 'BACKENDS', '__version__']
