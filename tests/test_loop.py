"""The scheduler: asyncio's _run_once semantics, handles, running and stopping, thread safety."""

import asyncio
import contextvars
import os
import random
import re
import socket
import sys
import threading
import time

import pytest


def run_one_iteration(loop):
    """Run exactly one iteration of the loop (stop() lets the current iteration finish)."""
    loop.call_soon(loop.stop)
    loop.run_forever()


# -- scheduling order -------------------------------------------------------------------------

def test_callbacks_run_in_fifo_order(loop):
    order = []
    for i in range(100):
        loop.call_soon(order.append, i)
    run_one_iteration(loop)
    assert order == list(range(100))


def test_callbacks_scheduled_by_a_callback_wait_for_the_next_iteration(loop):
    order = []

    def first():
        order.append('first')
        loop.call_soon(order.append, 'scheduled by first')

    loop.call_soon(first)
    loop.call_soon(order.append, 'second')
    run_one_iteration(loop)
    assert order == ['first', 'second']
    run_one_iteration(loop)
    assert order == ['first', 'second', 'scheduled by first']


def test_stop_lets_the_current_iteration_finish(loop):
    order = []
    loop.call_soon(loop.stop)
    loop.call_soon(order.append, 'after stop')
    loop.run_forever()
    assert order == ['after stop']
    assert not loop.is_running()


def test_stop_before_run_forever_runs_one_iteration(loop):
    order = []
    loop.call_soon(order.append, 1)
    loop.stop()
    loop.run_forever()
    assert order == [1]


def test_call_at_fires_in_time_order(loop):
    order = []
    now = loop.time()
    for offset in (0.03, 0.01, 0.04, 0.02):
        loop.call_at(now + offset, order.append, offset)
    loop.call_at(now + 0.05, loop.stop)
    loop.run_forever()
    assert order == [0.01, 0.02, 0.03, 0.04]
    assert loop.time() >= now + 0.05


def test_call_later_fires_after_its_delay_and_in_order(loop):
    fired = []
    start = loop.time()
    loop.call_later(0.04, lambda: fired.append(('late', loop.time() - start)))
    loop.call_later(0.02, lambda: fired.append(('early', loop.time() - start)))
    loop.call_later(0.06, loop.stop)
    loop.run_forever()
    assert [name for name, _ in fired] == ['early', 'late']
    assert fired[0][1] >= 0.02 - loop._clock_resolution
    assert fired[1][1] >= 0.04 - loop._clock_resolution


def test_call_later_zero_and_negative_delay_fire_next_iteration(loop):
    fired = []
    loop.call_later(0, fired.append, 'zero')
    loop.call_later(-5, fired.append, 'negative')
    loop.call_later(0.001, loop.stop)
    loop.run_forever()
    assert sorted(fired) == ['negative', 'zero']


def test_none_delay_or_when_is_a_type_error(loop):
    with pytest.raises(TypeError):
        loop.call_later(None, print)
    with pytest.raises(TypeError):
        loop.call_at(None, print)


def test_when_returns_the_time_given_to_call_at_unchanged(loop):
    # asyncio keeps the caller's object: call_at(5).when() is the int 5 (aiohttp relies on it).
    timer = loop.call_at(5, lambda: None)
    assert timer.when() == 5 and type(timer.when()) is int
    timer.cancel()


@pytest.mark.parametrize('when', ['5', object()])
def test_a_when_that_is_not_a_number_is_a_type_error_and_the_loop_still_runs(loop, when):
    with pytest.raises(TypeError):
        loop.call_at(when, lambda: None)
    loop.run_until_complete(asyncio.sleep(0.001))
    assert not loop._scheduled


def test_timer_due_within_clock_resolution_fires_in_this_iteration(loop):
    # A timer less than one clock tick away counts as due: it must not cost another iteration.
    loop._clock_resolution = 0.5
    fired = []
    loop.call_at(loop.time() + 0.3, fired.append, 'almost due')
    run_one_iteration(loop)
    assert fired == ['almost due']


def test_waiting_for_a_timer_sleeps_rather_than_spins(loop):
    loop.call_later(0.1, loop.stop)
    before = loop.stats()['iterations']
    cpu = time.process_time()
    loop.run_forever()
    assert loop.stats()['iterations'] - before <= 5
    assert time.process_time() - cpu < 0.05


def test_poll_does_not_wait_when_callbacks_are_ready(loop):
    # A far timer must not make the loop sleep while something is ready.
    loop.call_later(60, lambda: None)
    loop.call_soon(loop.stop)
    start = time.monotonic()
    loop.run_forever()
    assert time.monotonic() - start < 1


def test_callback_chains_do_not_sleep(loop):
    count = 0

    def step():
        nonlocal count
        count += 1
        if count < 1000:
            loop.call_soon(step)
        else:
            loop.stop()
    loop.call_later(60, lambda: None)
    loop.call_soon(step)
    start = time.monotonic()
    loop.run_forever()
    assert count == 1000
    assert time.monotonic() - start < 2



def test_io_that_becomes_ready_during_a_callback_chain_is_handled_at_the_next_iteration(loop):
    # asyncio polls at every iteration, also while callbacks are ready, so code that yields
    # (sleep(0), a chain of call_soon) lets ready I/O in one iteration later. A loop that
    # skipped polls while busy let the chain run ahead of it (aiohttp's shutdown tests lost a
    # websocket close frame so).
    reader, writer = socket.socketpair()
    seen = []

    def on_readable():
        seen.append('readable')
        loop.remove_reader(reader)

    def step(n):
        seen.append(n)
        if n == 5:
            writer.send(b'x')  # ready from now on: the next iteration's poll sees it
        if n < 50:
            loop.call_soon(step, n + 1)
        else:
            loop.stop()

    loop.add_reader(reader, on_readable)
    loop.call_soon(step, 0)
    try:
        loop.run_forever()
    finally:
        reader.close()
        writer.close()
    # Step 6 was queued before the poll of its iteration, the reader's callback after it.
    assert seen.index('readable') == seen.index(6) + 1, seen

# -- cancelled timers ---------------------------------------------------------------------------

def test_cancelled_timer_at_the_head_is_dropped(loop):
    first = loop.call_later(10, print)
    loop.call_later(20, print)
    first.cancel()
    run_one_iteration(loop)
    assert len(loop._scheduled) == 1


def test_many_cancelled_timers_are_compacted(loop):
    timers = [loop.call_later(100 + i, print) for i in range(300)]
    # Cancel most, but not the earliest: they are not at the head of the heap.
    for timer in timers[1:250]:
        timer.cancel()
    run_one_iteration(loop)
    assert len(loop._scheduled) == 51
    assert loop._timer_cancelled_count == 0
    assert not timers[0].cancelled()


def test_many_random_timers_fire_in_time_order_and_cancelled_ones_never(loop):
    # Enough timers, with ties and cancellations, to exercise every path of the timer heap
    # (compiled, eloop's own sift on the due times; plain Python, heapq) and its compaction.
    rng = random.Random(5)
    now = loop.time()
    fired = []
    timers = []
    for i in range(3000):
        when = now + rng.choice((rng.random() * 0.05, 0.025))
        timers.append(loop.call_at(when, fired.append, (when, i)))
    cancelled = set(rng.sample(range(len(timers)), 1800))
    for i in cancelled:
        timers[i].cancel()
    loop.call_at(now + 0.06, loop.stop)
    loop.run_forever()
    assert [when for when, _ in fired] == sorted(when for when, _ in fired)
    assert {i for _, i in fired} == set(range(len(timers))) - cancelled
    assert len(loop._scheduled) == 0 and loop._timer_cancelled_count == 0


def test_a_cancelled_timer_does_not_fire(loop):
    fired = []
    timer = loop.call_later(0.01, fired.append, 'cancelled')
    loop.call_later(0.02, loop.stop)
    timer.cancel()
    loop.run_forever()
    assert fired == []


def test_a_cancelled_handle_does_not_run(loop):
    fired = []
    handle = loop.call_soon(fired.append, 1)
    handle.cancel()
    run_one_iteration(loop)
    assert fired == []


# -- contexts -----------------------------------------------------------------------------------

VAR = contextvars.ContextVar('VAR', default='default')


@pytest.mark.skipif(sys.version_info < (3, 11), reason='Task(context=) is new in Python 3.11')
def test_context_argument_is_honoured(loop):
    seen = {}
    ctx = contextvars.copy_context()
    ctx.run(VAR.set, 'given')

    def record(name):
        seen[name] = VAR.get()

    loop.call_soon(record, 'call_soon', context=ctx)
    loop.call_later(0, record, 'call_later', context=ctx)
    loop.call_at(loop.time(), record, 'call_at', context=ctx)
    loop.call_soon_threadsafe(record, 'call_soon_threadsafe', context=ctx)

    async def coro():
        record('create_task')
    task = loop.create_task(coro(), context=ctx)
    loop.run_until_complete(task)
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert seen == dict.fromkeys(
        ['call_soon', 'call_later', 'call_at', 'call_soon_threadsafe', 'create_task'], 'given')


def test_callbacks_run_in_a_copy_of_the_scheduling_context(loop):
    seen = []
    token = VAR.set('at scheduling')
    try:
        loop.call_soon(lambda: (seen.append(VAR.get()), VAR.set('changed by callback')))
    finally:
        VAR.reset(token)
    loop.call_soon(lambda: seen.append(VAR.get()))
    run_one_iteration(loop)
    assert seen == ['at scheduling', 'default']


def test_callbacks_scheduled_in_an_empty_context_each_run_in_one_of_their_own(loop):
    """Nothing to copy from an empty context (eloop then makes the callback's context when it
    runs): what a callback sets is still seen neither by the next one nor by the scheduler."""
    seen = []

    def schedule():
        loop.call_soon(lambda: (seen.append(VAR.get()), VAR.set('changed by callback')))
        loop.call_later(0, lambda: (seen.append(VAR.get()), VAR.set('changed by timer')))
        loop.call_soon(lambda: seen.append(VAR.get()))
    scheduling_context = contextvars.Context()
    scheduling_context.run(schedule)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert seen == ['default', 'default', 'default']
    assert VAR not in scheduling_context


@pytest.mark.parametrize('schedule', ['call_soon', 'call_later'])
def test_get_context_of_a_handle_made_in_an_empty_context(loop, schedule):
    """get_context() gives the context the callback runs in, before it runs."""
    def callback():
        VAR.set('set by callback')

    def make_handle():
        if schedule == 'call_soon':
            return loop.call_soon(callback)
        return loop.call_later(0, callback)
    handle = contextvars.Context().run(make_handle)
    other = contextvars.Context().run(make_handle)
    context = handle.get_context()
    assert isinstance(context, contextvars.Context) and len(context) == 0
    assert handle.get_context() is context
    assert other.get_context() is not context
    loop.run_until_complete(asyncio.sleep(0.01))
    assert context[VAR] == 'set by callback'


# -- handles --------------------------------------------------------------------------------

def callback_for_repr(*args):
    pass


def test_handle_methods(loop):
    ctx = contextvars.copy_context()
    handle = loop.call_soon(callback_for_repr, 1, context=ctx)
    assert handle.get_context() is ctx
    assert not handle.cancelled()
    handle.cancel()
    assert handle.cancelled()
    handle.cancel()  # twice is harmless
    assert handle.cancelled()


def test_timer_handle_methods(loop):
    when = loop.time() + 10
    timer = loop.call_at(when, callback_for_repr)
    assert timer.when() == when
    later = loop.call_later(5, callback_for_repr)
    assert loop.time() + 4 < later.when() <= loop.time() + 5
    assert later < timer and timer > later
    timer.cancel()
    assert timer.cancelled()
    assert loop._timer_cancelled_count == 1


def _strip_when(text):
    return re.sub(r'when=[0-9.e+-]+', 'when=T', text)


def test_handle_repr_matches_asyncio(loop):
    stock = asyncio.new_event_loop()
    try:
        for make in (lambda lp: lp.call_soon(callback_for_repr, 1, 'a'),
                     lambda lp: lp.call_at(42.0, callback_for_repr)):
            ours, theirs = make(loop), make(stock)
            assert _strip_when(repr(ours)) == _strip_when(repr(theirs))
            ours.cancel()
            theirs.cancel()
            assert _strip_when(repr(ours)) == _strip_when(repr(theirs))
            assert 'cancelled' in repr(ours)
    finally:
        stock.close()
    assert 'when=42.0' in repr(loop.call_at(42.0, callback_for_repr))


def test_handle_repr_in_debug_mode_names_where_it_was_created(loop):
    loop.set_debug(True)
    handle = loop.call_soon(callback_for_repr)
    assert re.search(r'created at .*test_loop\.py:\d+', repr(handle))
    handle.cancel()
    # Cancelling in debug mode keeps the callback's text for slow-callback warnings.
    assert 'callback_for_repr' in repr(handle)


# -- call_soon_threadsafe ------------------------------------------------------------------

def test_call_soon_threadsafe_wakes_a_sleeping_loop(loop):
    loop.call_later(60, loop.stop)
    ran_in = []

    def from_thread():
        time.sleep(0.1)
        loop.call_soon_threadsafe(lambda: (ran_in.append(threading.get_ident()), loop.stop()))

    thread = threading.Thread(target=from_thread)
    start = time.monotonic()
    thread.start()
    loop.run_forever()
    elapsed = time.monotonic() - start
    thread.join()
    assert ran_in == [threading.get_ident()]
    assert elapsed < 1
    assert loop.stats()['threadsafe_wakeups'] >= 1


def test_wakeup_uses_an_eventfd(loop):
    assert os.readlink(f'/proc/self/fd/{loop._wakeup_fd}') == 'anon_inode:[eventfd]'


def test_many_threadsafe_calls_all_run(loop):
    results = []
    done = threading.Event()

    def producer():
        for i in range(1000):
            loop.call_soon_threadsafe(results.append, i)
        loop.call_soon_threadsafe(loop.stop)
        done.set()

    loop.call_later(10, loop.stop)
    thread = threading.Thread(target=producer)
    thread.start()
    while not done.is_set() or loop.is_running():
        loop.run_forever()
        if done.is_set():
            break
    thread.join()
    run_one_iteration(loop)
    assert results == list(range(1000))


# -- running, stopping, closing ------------------------------------------------------------

def test_run_until_complete_returns_the_result(loop):
    async def answer():
        await asyncio.sleep(0)
        return 42
    assert loop.run_until_complete(answer()) == 42


def test_run_until_complete_raises_the_exception(loop):
    async def fail():
        raise ZeroDivisionError
    with pytest.raises(ZeroDivisionError):
        loop.run_until_complete(fail())


def test_run_until_complete_accepts_a_future(loop):
    fut = loop.create_future()
    loop.call_soon(fut.set_result, 'done')
    assert loop.run_until_complete(fut) == 'done'


def test_run_until_complete_refuses_a_future_of_another_loop(loop):
    other = asyncio.new_event_loop()
    try:
        with pytest.raises(ValueError):
            loop.run_until_complete(other.create_future())
    finally:
        other.close()


def test_run_until_complete_stopped_before_the_future_is_done(loop):
    fut = loop.create_future()
    loop.call_soon(loop.stop)
    with pytest.raises(RuntimeError, match='Event loop stopped before Future completed'):
        loop.run_until_complete(fut)
    assert not loop.is_running()


def test_is_running_and_the_running_loop(loop):
    seen = []

    def inside():
        seen.append(loop.is_running())
        seen.append(asyncio.get_running_loop() is loop)
        loop.stop()
    assert not loop.is_running()
    loop.call_soon(inside)
    loop.run_forever()
    assert seen == [True, True]
    assert not loop.is_running()
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def errors_of_running(target):
    """The RuntimeError messages of target.run_forever() and target.run_until_complete()."""
    errors = []
    try:
        target.run_forever()
    except RuntimeError as exc:
        errors.append(str(exc))
    coro = asyncio.sleep(0)
    try:
        target.run_until_complete(coro)
    except RuntimeError as exc:
        errors.append(str(exc))
    coro.close()
    return errors


def test_running_a_running_loop_is_an_error(loop):
    errors = []

    def inside():
        errors.extend(errors_of_running(loop))
        loop.stop()
    loop.call_soon(inside)
    loop.run_forever()
    assert len(errors) == 2
    assert all('already running' in message for message in errors)


def test_running_a_loop_inside_another_running_loop_is_an_error(loop):
    outer = asyncio.new_event_loop()

    async def inside(target):
        return errors_of_running(target)
    try:
        errors = outer.run_until_complete(inside(loop))
    finally:
        outer.close()
    assert len(errors) == 2
    assert all('another loop is running' in message for message in errors)
    # And the other way round: a stock loop sees that an eloop loop is running.
    stock = asyncio.new_event_loop()
    try:
        errors = loop.run_until_complete(inside(stock))
    finally:
        stock.close()
    assert 'another loop is running' in errors[0]


def test_closing_a_running_loop_is_an_error(loop):
    errors = []

    def inside():
        try:
            loop.close()
        except RuntimeError as exc:
            errors.append(exc)
        loop.stop()
    loop.call_soon(inside)
    loop.run_forever()
    assert len(errors) == 1
    assert not loop.is_closed()


def test_closed_loop_refuses_work(loop):
    loop.close()
    assert loop.is_closed()
    loop.close()  # twice is harmless
    for schedule in (lambda: loop.call_soon(print),
                     lambda: loop.call_later(1, print),
                     lambda: loop.call_at(1, print),
                     lambda: loop.call_soon_threadsafe(print),
                     loop.run_forever):
        with pytest.raises(RuntimeError, match='closed'):
            schedule()
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match='closed'):
        loop.run_until_complete(coro)
    coro.close()
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match='closed'):
        loop.create_task(coro)
    coro.close()


def test_close_drops_what_is_scheduled_and_releases_fds(loop):
    loop.call_soon(print)
    loop.call_later(10, print)
    wakeup_fd, epoll_fd = loop._wakeup_fd, loop._poller.fileno()
    loop.close()
    assert len(loop._ready) == 0 and len(loop._scheduled) == 0
    for fd in (wakeup_fd, epoll_fd):
        with pytest.raises(OSError):
            os.fstat(fd)


def test_keyboard_interrupt_in_a_callback_propagates_and_the_loop_stays_usable(loop):
    def interrupt():
        raise KeyboardInterrupt
    loop.call_soon(interrupt)
    with pytest.raises(KeyboardInterrupt):
        loop.run_forever()
    assert not loop.is_running()
    assert loop.run_until_complete(asyncio.sleep(0, 'again')) == 'again'


def test_a_failing_callback_does_not_stop_the_loop(loop, caplog):
    order = []

    def fail():
        raise ValueError('boom')
    loop.call_soon(fail)
    loop.call_soon(order.append, 'next')
    run_one_iteration(loop)
    assert order == ['next']
    assert 'Exception in callback' in caplog.text
    assert 'boom' in caplog.text


def test_time_is_monotonic(loop):
    first = loop.time()
    assert abs(first - time.monotonic()) < 1
    assert loop.time() >= first
