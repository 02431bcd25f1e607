"""Shared fixtures: every test that takes `loop` runs once per trigger mode."""

import asyncio
import socket

import pytest

import eloop


@pytest.fixture(params=['level', 'edge'])
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
