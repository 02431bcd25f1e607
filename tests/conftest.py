"""Shared fixtures: every test that takes `loop` runs once per trigger mode."""

import asyncio
import os
import socket

import pytest

import eloop

# ELOOP_TRIGGER=level|edge runs the tests of the `loop` fixture in that mode only (CI runs the
# suite once per mode, so that tests on asyncio's default loop cover both modes too).
TRIGGERS = [eloop.Config.from_options().trigger] if os.environ.get('ELOOP_TRIGGER') else \
    ['level', 'edge']


def pytest_report_header(config):
    info = eloop.info()
    kind = 'compiled' if info['compiled'] else 'pure Python'
    return (f"eloop {info['version']} ({kind}) from {os.path.dirname(eloop.__file__)}; "
            f"loop fixture triggers: {', '.join(TRIGGERS)}")


def pytest_configure(config):
    """ELOOP_TEST_INSTALLED=1 (CI): test the installed eloop, compiled unless ELOOP_PURE=1."""
    if os.environ.get('ELOOP_TEST_INSTALLED', '') in ('', '0'):
        return
    checkout = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if os.path.abspath(eloop.__file__).startswith(os.path.join(checkout, 'eloop') + os.sep):
        pytest.exit(f'eloop was imported from the checkout ({eloop.__file__}), not from the '
                    f'installation: run the pytest script, not python -m pytest', returncode=4)
    if not eloop.info()['compiled'] and os.environ.get('ELOOP_PURE', '') in ('', '0'):
        pytest.exit(f'the installed eloop ({eloop.__file__}) is not compiled', returncode=4)


@pytest.fixture(params=TRIGGERS)
def trigger(request):
    """The poller's trigger mode under test."""
    return request.param


@pytest.fixture
def loop(trigger):
    """A fresh eloop loop in the trigger mode under test, closed after the test."""
    loop = eloop.new_event_loop(trigger=trigger)
    yield loop
    if not loop.is_closed():
        loop.close()


@pytest.fixture
def run(loop):
    """run(coro, timeout=5): run a coroutine on `loop`, failing rather than hanging past timeout."""
    def run_with_timeout(coro, timeout=5.0):
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))
    return run_with_timeout


@pytest.fixture
def pair():
    """A connected pair of non-blocking stream sockets, closed after the test."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()
