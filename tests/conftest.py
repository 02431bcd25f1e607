"""Shared fixtures: every test that takes `loop` runs once per trigger mode."""

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
