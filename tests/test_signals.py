"""add_signal_handler / remove_signal_handler: Unix signals dispatched as loop callbacks."""

import asyncio
import os
import signal
import threading
import time

import pytest


@pytest.fixture(autouse=True)
def restore_signal_state():
    """Leave SIGUSR1/SIGUSR2 and the wakeup fd as they were, whatever the test did."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGUSR1, signal.SIGUSR2)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
    signal.set_wakeup_fd(-1)


def test_handler_runs_when_the_signal_arrives(loop):
    received = []

    def handler(*args):
        received.append(args)
        loop.stop()
    loop.add_signal_handler(signal.SIGUSR1, handler, 'arg', 2)
    loop.call_soon(os.kill, os.getpid(), signal.SIGUSR1)
    loop.call_later(5, loop.stop)
    loop.run_forever()
    assert received == [('arg', 2)]


def test_a_signal_wakes_a_loop_sleeping_in_the_poller(loop):
    received = []
    loop.add_signal_handler(signal.SIGUSR1, lambda: (received.append(True), loop.stop()))
    loop.call_later(60, loop.stop)

    def send_later():
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGUSR1)
    thread = threading.Thread(target=send_later)
    start = time.monotonic()
    thread.start()
    loop.run_forever()
    thread.join()
    assert received == [True]
    assert time.monotonic() - start < 1


def test_handlers_of_two_signals(loop):
    received = []
    loop.add_signal_handler(signal.SIGUSR1, received.append, 'usr1')
    loop.add_signal_handler(signal.SIGUSR2, received.append, 'usr2')

    async def main():
        os.kill(os.getpid(), signal.SIGUSR1)
        os.kill(os.getpid(), signal.SIGUSR2)
        for _ in range(100):
            if len(received) == 2:
                break
            await asyncio.sleep(0.01)
    loop.run_until_complete(main())
    assert sorted(received) == ['usr1', 'usr2']


def test_remove_signal_handler(loop):
    loop.add_signal_handler(signal.SIGUSR1, print)
    assert signal.getsignal(signal.SIGUSR1) not in (signal.SIG_DFL, signal.SIG_IGN)
    assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert loop.remove_signal_handler(signal.SIGUSR1) is False
    assert loop.remove_signal_handler(signal.SIGUSR2) is False


def test_removing_sigint_restores_keyboard_interrupt(loop):
    saved = signal.getsignal(signal.SIGINT)
    try:
        loop.add_signal_handler(signal.SIGINT, print)
        loop.remove_signal_handler(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, saved)


def test_a_new_handler_replaces_the_old_one(loop):
    received = []
    loop.add_signal_handler(signal.SIGUSR1, received.append, 'old')
    loop.add_signal_handler(signal.SIGUSR1, received.append, 'new')

    async def main():
        os.kill(os.getpid(), signal.SIGUSR1)
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.01)
    loop.run_until_complete(main())
    assert received == ['new']


def test_bad_signals(loop):
    with pytest.raises(TypeError):
        loop.add_signal_handler('SIGUSR1', print)
    with pytest.raises(ValueError):
        loop.add_signal_handler(10_000, print)
    with pytest.raises(ValueError):
        loop.add_signal_handler(0, print)
    with pytest.raises(TypeError):
        loop.remove_signal_handler('SIGUSR1')
    with pytest.raises(ValueError):
        loop.remove_signal_handler(10_000)


def test_uncatchable_signal(loop):
    with pytest.raises(RuntimeError):
        loop.add_signal_handler(signal.SIGKILL, print)
    with pytest.raises(RuntimeError):
        loop.add_signal_handler(signal.SIGSTOP, print)
    assert loop.remove_signal_handler(signal.SIGKILL) is False


def test_coroutine_callback_is_refused(loop):
    async def coro_function():
        pass
    with pytest.raises(TypeError):
        loop.add_signal_handler(signal.SIGUSR1, coro_function)
    coro = coro_function()
    with pytest.raises(TypeError):
        loop.add_signal_handler(signal.SIGUSR1, coro)
    coro.close()


def test_only_the_main_thread_can_add_handlers(loop):
    errors = []

    def in_thread():
        try:
            loop.add_signal_handler(signal.SIGUSR1, print)
        except RuntimeError as exc:
            errors.append(exc)
    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert len(errors) == 1
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL


def test_closed_loop_refuses_handlers(loop):
    loop.close()
    with pytest.raises(RuntimeError):
        loop.add_signal_handler(signal.SIGUSR1, print)


def test_close_removes_the_handlers(loop):
    loop.add_signal_handler(signal.SIGUSR1, print)
    loop.close()
    assert signal.getsignal(signal.SIGUSR1) == signal.SIG_DFL
    assert signal.set_wakeup_fd(-1) == -1


def test_a_cancelled_handler_is_not_run(loop):
    received = []
    loop.add_signal_handler(signal.SIGUSR1, received.append, 'ran')
    loop._signal_handlers[signal.SIGUSR1].cancel()

    async def main():
        os.kill(os.getpid(), signal.SIGUSR1)
        for _ in range(10):
            await asyncio.sleep(0.01)
    loop.run_until_complete(main())
    assert received == []
