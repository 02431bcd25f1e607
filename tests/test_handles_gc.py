"""The one-shot handles of call_soon, call_later and call_at leave nothing to leak.

Compiled, these handles are not tracked by the cyclic GC, so a reference cycle through one of
them could never be collected; they avoid that by dropping their callback, arguments and
context once run, once cancelled, or when their loop is closed or dropped (see
eloop/_handles.py). These tests build such cycles and check that the GC collects them.
"""

import asyncio
import contextvars
import gc
import warnings
import weakref

import pytest

import eloop


class Sentinel:
    """Something a coroutine or a callback keeps, whose weak reference tells if it was freed."""


def collected(ref):
    gc.collect()
    return ref() is None


async def sleep_holding(sentinel, started):
    # asyncio.sleep keeps its TimerHandle in this frame, and the handle's arguments hold the
    # future that this task waits on: a cycle through the handle until the timer runs.
    started.set_result(None)
    await asyncio.sleep(1000, sentinel)


def start_sleeping_task(loop):
    """A task pending in asyncio.sleep(1000) on `loop`; a weak reference to what it keeps."""
    sentinel = Sentinel()
    started = loop.create_future()
    task = loop.create_task(sleep_holding(sentinel, started))
    loop.run_until_complete(started)
    return weakref.ref(sentinel), weakref.ref(task)


def test_a_task_pending_on_a_closed_loop_is_collected(trigger):
    loop = eloop.new_event_loop(trigger=trigger)
    loop.set_exception_handler(lambda loop, context: None)  # "Task was destroyed but ..."
    sentinel, task = start_sleeping_task(loop)
    loop.close()
    del loop
    assert collected(sentinel)
    assert task() is None


def test_a_task_pending_on_a_dropped_unclosed_loop_is_collected(trigger):
    loop = eloop.new_event_loop(trigger=trigger)
    loop.set_exception_handler(lambda loop, context: None)
    sentinel, task = start_sleeping_task(loop)
    dropped_loop = weakref.ref(loop)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ResourceWarning)  # "unclosed event loop"
        del loop
        assert collected(sentinel)
    assert task() is None
    assert dropped_loop() is None


@pytest.mark.parametrize('schedule', ['call_soon', 'call_later', 'call_at'])
def test_a_dropped_loop_that_never_ran_is_collected_with_its_handles(trigger, schedule):
    # Made while the loop is not running, the handle refers to a future of the loop: a cycle
    # through the loop's queue, the handle and the future, for the next full collection.
    loop = eloop.new_event_loop(trigger=trigger)
    sentinel = Sentinel()
    make_handle(loop, schedule, loop.create_future().set_result, sentinel)
    dropped_loop = weakref.ref(loop)
    sentinel = weakref.ref(sentinel)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ResourceWarning)  # "unclosed event loop"
        del loop
        assert collected(sentinel)
    assert dropped_loop() is None


@pytest.mark.parametrize('queue', ['ready', 'timers'])
def test_a_dropped_loop_is_collected_with_the_callbacks_left_when_it_stopped(trigger, queue):
    # While it runs, the loop hides its queues from the GC (a running loop is alive); once it
    # stops, a cycle through a callback left in them (to a future of the loop) must be found.
    loop = eloop.new_event_loop(trigger=trigger)
    futures = []

    def stop_with_a_callback_left():
        loop.stop()
        future = loop.create_future()
        if queue == 'ready':
            loop.call_soon(future.set_result, Sentinel())  # after stop(): for the next run
        else:
            loop.call_later(1000, future.set_result, Sentinel())
        futures.append(weakref.ref(future))
    loop.call_soon(stop_with_a_callback_left)
    loop.run_forever()
    dropped_loop = weakref.ref(loop)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', ResourceWarning)  # "unclosed event loop"
        del loop
        assert collected(futures[0])
    assert dropped_loop() is None


@pytest.mark.parametrize('schedule', ['call_soon', 'call_later', 'call_at'])
def test_a_handle_that_its_callback_keeps_is_collected_once_run(loop, schedule):
    holder = Sentinel()
    holder.handle = make_handle(loop, schedule, holder.__init__)  # callback -> holder -> handle
    ref = weakref.ref(holder)
    del holder
    loop.run_until_complete(asyncio.sleep(0.002))
    assert collected(ref)


@pytest.mark.parametrize('schedule', ['call_soon', 'call_later', 'call_at'])
def test_a_handle_that_its_callback_keeps_is_collected_once_cancelled(loop, schedule):
    holder = Sentinel()
    holder.handle = make_handle(loop, schedule, holder.__init__)
    ref = weakref.ref(holder)
    holder.handle.cancel()
    del holder
    assert collected(ref)


def test_a_handle_whose_context_keeps_it_is_collected_once_run(loop):
    var = contextvars.ContextVar('handle_holder')
    holder = Sentinel()
    var.set(holder)  # the handle's copy of the context -> holder -> handle
    holder.handle = loop.call_soon(lambda: None)
    ref = weakref.ref(holder)
    var.set(None)
    del holder
    loop.run_until_complete(asyncio.sleep(0))
    assert collected(ref)


def make_handle(loop, schedule, callback, *args):
    if schedule == 'call_soon':
        return loop.call_soon(callback, *args)
    if schedule == 'call_later':
        return loop.call_later(0.001, callback, *args)
    return loop.call_at(loop.time() + 0.001, callback, *args)


def test_a_timer_of_a_closed_loop_can_still_be_cancelled(trigger):
    loop = eloop.new_event_loop(trigger=trigger)
    timer = loop.call_later(10, print)
    loop.close()
    timer.cancel()
    assert timer.cancelled()


def test_a_handle_of_a_running_loop_that_its_callback_keeps_is_collected(loop):
    async def schedule_and_wait():
        holder = Sentinel()
        holder.handle = loop.call_soon(holder.__init__)
        ref = weakref.ref(holder)
        del holder
        await asyncio.sleep(0)
        gc.collect()
        return ref
    assert loop.run_until_complete(schedule_and_wait())() is None


def test_pending_timers_of_a_stopped_loop_are_in_the_gcs_view(loop):
    # The timer is made while the loop runs and is still pending when it stops: a cycle through
    # it and the loop (the timer's argument is a future of the loop) must be collectable then.
    async def schedule():
        future = loop.create_future()
        loop.call_later(1000, future.set_result, Sentinel())
        return weakref.ref(future)
    future = loop.run_until_complete(schedule())
    assert gc.is_tracked(loop._scheduled[0])
    assert future() is not None  # the loop holds it


def test_handles_in_debug_mode_keep_their_callback_as_asyncio(loop):
    loop.set_debug(True)
    handle = loop.call_soon(print, 'ran')
    loop.run_until_complete(asyncio.sleep(0))
    assert handle._callback is print
    assert 'print' in repr(handle)


def test_handles_of_a_stopped_loop_outlive_full_collections_and_run(loop):
    # A full collection sees them (and a loop found unreachable goes); a loop still in use
    # keeps them pending, to run when it runs.
    future = loop.create_future()
    loop.call_later(0.001, future.set_result, 'ran')
    gc.collect()
    gc.collect()
    assert loop.run_until_complete(future) == 'ran'


@pytest.mark.skipif(not eloop.info()['compiled'],
                    reason='plain-Python handles are Python objects, which the GC counts')
def test_waiting_handles_do_not_bring_the_next_collection_nearer(loop):
    # The GC collects when the GC objects allocated since its last pass pass a threshold.
    # Compiled, the handles of call_soon and call_later are hidden from the GC while they wait,
    # and are not counted either: 100,000 tasks waiting for their first step would otherwise
    # bring 100,000 objects more into that count, and more full collections.
    context = contextvars.copy_context()
    gc.disable()
    try:
        before = gc.get_count()[0]
        # (Given a context, as a task gives its own: a copy of the current one would count.)
        handles = [loop.call_soon(int, context=context) for _ in range(1000)]
        handles += [loop.call_later(1000, int, context=context) for _ in range(1000)]
        counted = gc.get_count()[0] - before
    finally:
        gc.enable()
    assert counted < 100  # (the list, and what it grew into)
    for handle in handles:
        handle.cancel()


def test_handles_that_the_gc_sees_are_collected_in_a_cycle(loop):
    # Handles of debug mode keep their callback (as asyncio's do) and are tracked by the GC,
    # though not counted: a cycle through one is collected.
    loop.set_debug(True)
    holder = Sentinel()
    holder.handle = loop.call_soon(holder.__init__)
    holder.timer = loop.call_later(0.001, holder.__init__)
    assert gc.is_tracked(holder.handle) and gc.is_tracked(holder.timer)
    ref = weakref.ref(holder)
    del holder
    loop.run_until_complete(asyncio.sleep(0.002))
    assert collected(ref)


def test_a_python_subclass_of_the_handles_is_collected_in_a_cycle(loop):
    from eloop._handles import Handle, TimerHandle

    class LabelledHandle(Handle):
        label = 'mine'

    class LabelledTimer(TimerHandle):
        pass

    holder = Sentinel()
    holder.handle = LabelledHandle(holder.__init__, (), loop)
    holder.timer = LabelledTimer(loop.time(), holder.__init__, (), loop)
    holder.handle._run()
    assert holder.handle.label == 'mine'
    assert gc.is_tracked(Handle(print, (), loop)) and gc.is_tracked(holder.timer)
    assert holder.timer.when() <= loop.time()
    ref = weakref.ref(holder)
    del holder
    assert collected(ref)
