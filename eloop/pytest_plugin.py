"""Run a project's asyncio tests on eloop: pytest-asyncio, anyio, aiohttp's pytest plugin,
unittest's IsolatedAsyncioTestCase and plain asyncio.run() in a test all get eloop loops.

Installing eloop registers this plugin (entry point `pytest11: eloop`), but it does nothing
until asked, so that installing eloop never changes anyone's tests silently:

    pytest --eloop                        # or --eloop --eloop-trigger=edge
    ELOOP_PYTEST=1 pytest                 # also reaches pytest runs that the tests start
    # pytest.ini / pyproject [tool.pytest.ini_options]:  eloop = true   (eloop_trigger = edge)

Where eloop is importable but not installed (no entry point), two lines of conftest.py load it:

    pytest_plugins = ["eloop.pytest_plugin"]
    # then run pytest --eloop, or set eloop = true in the ini file

What "active" does:
  * installs eloop's EventLoopPolicy for the session (restored at the end), which is where
    asyncio.new_event_loop(), asyncio.run(), asyncio.Runner, pytest-asyncio's runners,
    anyio's asyncio backend (unless given a loop_factory or use_uvloop), aiohttp's
    `pyloop` and IsolatedAsyncioTestCase take their loops from;
  * ignores eloop's spelling of a warning that pytest-asyncio ignores for stock loops, and
    lets blockbuster allow in eloop's functions the blocking calls it allows in asyncio's
    functions of the same names (sendfile, subprocess_exec, create_unix_server...);
  * on a Python without event loop policies (3.16+), instead answers pytest-asyncio's
    `pytest_asyncio_loop_factories` hook with {"eloop": ...} (a project's own
    implementation of the hook, in its conftest, is asked first and wins) and gives
    anyio's asyncio backend `loop_factory` (unless the test's `anyio_backend` names one).
Without the plugin, anyio users choose the loop in their own fixture:
    @pytest.fixture
    def anyio_backend():
        return "asyncio", {"loop_factory": eloop.new_event_loop}
The trigger mode is --eloop-trigger, else the ini's eloop_trigger, else ELOOP_TRIGGER.
"""

import asyncio
import contextlib
import functools
import os
import warnings

import pytest

_FALSE_WORDS = ('', '0', 'false', 'no', 'off')


def pytest_addoption(parser):
    group = parser.getgroup('eloop', 'run asyncio tests on the eloop event loop')
    group.addoption('--eloop', action='store_true', default=None,
                    help='run the asyncio tests on eloop (also: ini eloop = true, env ELOOP_PYTEST=1)')
    group.addoption('--eloop-trigger', choices=('level', 'edge'), default=None,
                    help='epoll trigger mode of the eloop loops (default: ini eloop_trigger, '
                         'else ELOOP_TRIGGER, else level)')
    parser.addini('eloop', type='bool', default=False, help='run the asyncio tests on eloop')
    parser.addini('eloop_trigger', default='', help='epoll trigger mode of the eloop loops: level or edge')


def is_active(config):
    """Whether this session asked for eloop: --eloop, ini `eloop = true` or ELOOP_PYTEST."""
    if config.getoption('eloop'):
        return True
    if os.environ.get('ELOOP_PYTEST', '').strip().lower() not in _FALSE_WORDS:
        return True
    return bool(config.getini('eloop'))


def loop_factory(config):
    """The factory of this session's eloop loops, with the trigger mode it asked for."""
    import eloop
    trigger = config.getoption('eloop_trigger') or config.getini('eloop_trigger') or None
    return functools.partial(eloop.new_event_loop, **({'trigger': trigger} if trigger else {}))


class _EloopSession:
    """The hooks of an active session, and the policy it installs and restores."""

    def __init__(self, config):
        self.factory = loop_factory(config)
        self._previous_policy = None
        self._policy_installed = False
        self._undo = []

    def install_policy(self):
        """Makes eloop the loop of asyncio.new_event_loop() and of everything built on it.
        Returns False on a Python without event loop policies."""
        if not _has_policies():
            return False
        import eloop
        with _policy_deprecation_ignored():
            self._previous_policy = asyncio.get_event_loop_policy()
            asyncio.set_event_loop_policy(eloop.EventLoopPolicy(**self.factory.keywords))
        self._policy_installed = True
        return True

    def restore_policy(self):
        if self._policy_installed:
            with _policy_deprecation_ignored():
                asyncio.set_event_loop_policy(self._previous_policy)
            self._policy_installed = False

    def teach_blockbuster(self):
        undo = allow_in_eloop_what_blockbuster_allows_in_asyncio()
        if undo is not None:
            self._undo.append(undo)

    def undo(self):
        self.restore_policy()
        while self._undo:
            self._undo.pop()()

    def pytest_report_header(self, config):
        import eloop
        info = eloop.info()
        trigger = self.factory.keywords.get('trigger') or info['trigger']
        return (f"eloop: active, version {info['version']}, trigger {trigger}, "
                f"{'compiled' if info['compiled'] else 'pure Python'}")


class _EloopSessionWithoutPolicies(_EloopSession):
    """Where asyncio has no policies, pytest-asyncio (>= 1.3) is reached through its
    loop-factories hook and anyio through its backend options. Elsewhere the policy
    reaches both already, and these would be visible to tests that look at them
    (a test comparing its anyio_backend to "asyncio", tests of the hook itself)."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_asyncio_loop_factories(self, config, item):
        return {'eloop': self.factory}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        outcome = yield
        if fixturedef.argname != 'anyio_backend' or outcome.excinfo is not None:
            return
        backend = outcome.get_result()
        on_eloop = with_eloop_loop_factory(backend, self.factory)
        if on_eloop is not backend:
            # Later requests of the fixture read the cached value, not this result.
            cached = fixturedef.cached_result
            if cached is not None and cached[0] is backend:
                fixturedef.cached_result = (on_eloop,) + tuple(cached[1:])
            outcome.force_result(on_eloop)


def with_eloop_loop_factory(backend, factory):
    """anyio's `anyio_backend` value with eloop as the asyncio loop factory, or the value
    itself when it is another backend or already names its loop."""
    if isinstance(backend, str):
        name, options = backend, {}
    elif isinstance(backend, tuple) and len(backend) == 2 and isinstance(backend[1], dict):
        name, options = backend
    else:
        return backend
    if name != 'asyncio' or 'loop_factory' in options or options.get('use_uvloop'):
        return backend
    return ('asyncio', {**options, 'loop_factory': factory})


def allow_in_eloop_what_blockbuster_allows_in_asyncio():
    """blockbuster (a test tool that fails a test making a blocking call in the event loop's
    thread) lets asyncio's own loop make a few: os.sendfile in loop.sendfile, the os.read of
    subprocess.Popen in subprocess_exec, os.stat/os.unlink of a Unix server's socket file.
    It names them by file and function ("asyncio/base_events.py", {"sendfile"}); eloop makes
    the same calls in its functions of the same names, so they are allowed there too, and
    nowhere else. Returns the function that undoes it, or None without blockbuster."""
    try:
        from blockbuster import blockbuster as module
    except ImportError:
        return None
    cls = module.BlockBuster
    activate = getattr(cls, 'activate', None)
    if activate is None:
        return None
    eloop_files = [f'eloop/{name}' for name in sorted(os.listdir(os.path.dirname(__file__)))
                   if name.endswith('.py')]

    def activate_allowing_eloop(bb, *args, **kwargs):
        for function in bb.functions.values():
            allowed = function.can_block_functions
            for filename, names in list(allowed):
                if filename.startswith('asyncio/'):
                    allowed += [(f, names) for f in eloop_files if (f, names) not in allowed]
        return activate(bb, *args, **kwargs)

    cls.activate = activate_allowing_eloop
    return lambda: setattr(cls, 'activate', activate)


_SESSION_PLUGIN = 'eloop-session'


# pytest-asyncio ignores "coroutine 'BaseEventLoop.shutdown_asyncgens' was never awaited"
# when a test closed the loop that its Runner then fails to shut down; eloop's coroutine
# is spelled Loop.shutdown_asyncgens, so the same warning is ignored under that name.
_IGNORED_WARNINGS = (
    "ignore:coroutine 'Loop.shutdown_asyncgens' was never awaited:RuntimeWarning",
)


def pytest_configure(config):
    if not is_active(config):
        return
    for line in _IGNORED_WARNINGS:
        config.addinivalue_line('filterwarnings', line)
    session = _EloopSession(config)
    if not session.install_policy():
        session = _EloopSessionWithoutPolicies(config)
    session.teach_blockbuster()
    config.pluginmanager.register(session, _SESSION_PLUGIN)


def pytest_unconfigure(config):
    session = config.pluginmanager.get_plugin(_SESSION_PLUGIN)
    if session is not None:
        config.pluginmanager.unregister(session, _SESSION_PLUGIN)
        session.undo()


def _has_policies():
    return hasattr(asyncio, 'set_event_loop_policy') and hasattr(asyncio, 'get_event_loop_policy')


@contextlib.contextmanager
def _policy_deprecation_ignored():
    # Python 3.14 deprecates the policy functions; the docstring above says what replaces them.
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        yield
