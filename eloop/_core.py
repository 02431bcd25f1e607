"""The scheduler: ready queue, timer heap, one loop iteration, and the poller under them.

This is the hot core of the loop, compiled by Cython with `_core.pxd` when a compiler exists. Its
scheduling semantics are exactly those of asyncio.BaseEventLoop._run_once: each iteration runs the
callbacks that were ready when it started and no more; timers due within the clock resolution
fire; cancelled timers are dropped from the head of the heap, or all at once when they are many;
the poller is asked not to wait when anything is ready.
"""

import collections
import gc
import heapq
import logging
import math
import operator
import os
import sys
import threading
import time
import weakref
from time import monotonic

from asyncio import coroutines
from asyncio import events
from asyncio import futures
from asyncio import tasks

from . import _epoll
from . import _proactor
from ._handles import (Handle, Runnable, TimerHandle, init_handle, init_timer,
                       set_container_gc_visible, set_gc_visible)

try:
    import cython
except ImportError:  # plain Python without Cython installed: nothing is compiled
    _COMPILED = False
else:
    _COMPILED = cython.compiled

logger = logging.getLogger('asyncio')

# Above this many scheduled timers, if more than this fraction of them are cancelled, the heap is
# rebuilt without them (asyncio's constants, for the same memory behaviour).
_MIN_SCHEDULED_TIMER_HANDLES = 100
_MIN_CANCELLED_TIMER_HANDLES_FRACTION = 0.5
# The longest the poller waits in one call, as asyncio (some kernels refuse longer timeouts).
_MAXIMUM_POLL_TIMEOUT = 24 * 3600
# The fds the poller watches for the loop itself: the wakeup eventfd of call_soon_threadsafe.
_OWN_FDS = 1

# What the hot paths call, bound once (compiled, C variables: see _core.pxd).
_monotonic = monotonic
_Future = futures.Future
_Task = tasks.Task

_timer_due_time = operator.attrgetter('_due')
# The latest due time of an empty timer heap. Compiled, a C constant: a loop closed by its
# __del__ at interpreter exit, when module globals such as `math` may already be None, still
# empties its heap.
_NO_TIMER_DUE = -math.inf

# The loops that hid handles from the cyclic GC while they were not running (see
# LoopCore._hiding_while_stopped).
_loops_hiding_handles = weakref.WeakSet()
# The generation whose collections see every object: 2 up to Python 3.13; Python 3.14's
# incremental collector may collect the old objects in steps reported as generation 1.
_OLDEST_GC_GENERATION = 2 if sys.version_info < (3, 14) else 1


def _show_hidden_handles(phase, info):
    """A gc callback: the loops that are not running show a full collection the handles they
    hid, so that it finds the cycles through them; those still pending after it are hidden again
    (a loop found unreachable is gone by then). A running loop's handles stay hidden."""
    if info['generation'] < _OLDEST_GC_GENERATION or not _loops_hiding_handles:
        return
    visible = phase == 'start'
    for loop in list(_loops_hiding_handles):
        if not loop.is_running():
            loop._set_pending_handles_visible(visible)


def _run_until_complete_cb(fut):
    if not fut.cancelled():
        exc = fut.exception()
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            # Let the exception propagate out of run_forever() as asyncio does.
            return
    fut.get_loop().stop()


def _drop_own_frames(source_traceback):
    """End a Task's creation traceback at its creator's line, as asyncio does: drop the frames of
    this module (when compiled, it has none)."""
    while source_traceback and source_traceback[-1].filename == __file__:
        del source_traceback[-1]


def fileobj_to_fd(fileobj):
    """The fd of an int or of an object with fileno(), as the selectors module defines it."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f'Invalid file object: {fileobj!r}') from None
    if fd < 0:
        raise ValueError(f'Invalid file descriptor: {fd}')
    return fd


def _remember_fileobj(fileobjs, fileobj):
    """The fd of fileobj, noted with it in `fileobjs` when it is not a plain int."""
    fd = fileobj_to_fd(fileobj)
    if fileobj is fd:
        fileobjs.pop(fd, None)
    else:
        fileobjs[fd] = fileobj
    return fd


def _forget_fileobj(fileobjs, fileobj):
    """The fd that fileobj was added with, and `fileobjs` without it. A socket closed in the
    meantime says fileno() -1: its fd is the one it was noted with."""
    try:
        fd = fileobj_to_fd(fileobj)
    except ValueError:
        for fd, noted in fileobjs.items():
            if noted is fileobj:
                break
        else:
            raise
    fileobjs.pop(fd, None)
    return fd


def _push_timer(heap, timer):
    """Add `timer` to the heap of timers, ordered by due time.

    Compiled, a sift that compares the C doubles `_due` directly; heapq would compare through
    TimerHandle.__lt__, a Python-level call per comparison. In plain Python heapq's C code is the
    faster of the two, so it is used there.
    """
    if not _COMPILED:
        heapq.heappush(heap, timer)
        return
    heap.append(timer)
    _sift_up(heap, len(heap) - 1, timer)


def _pop_timer(heap):
    """Remove and return the earliest timer of the heap (heapq.heappop's algorithm)."""
    if not _COMPILED:
        return heapq.heappop(heap)
    last = heap.pop()
    end = len(heap)
    if not end:
        return last
    first = heap[0]
    # As heapq does: move the earlier child up into the hole down to a leaf, then put the last
    # timer in that leaf and sift it up (fewer comparisons than stopping half-way down).
    pos = 0
    child = 1
    while child < end:
        right = child + 1
        if right < end and not _due_time(heap, child) < _due_time(heap, right):
            child = right
        heap[pos] = heap[child]
        pos = child
        child = 2 * pos + 1
    _sift_up(heap, pos, last)
    return first


def _due_time(heap, pos):
    timer = heap[pos]
    return timer._due


def _sift_up(heap, pos, timer):
    """Put `timer` at `pos` or above it, moving later parents down (heapq's _siftdown)."""
    when = timer._due
    while pos:
        parent_pos = (pos - 1) >> 1
        parent = heap[parent_pos]
        if not when < parent._due:
            break
        heap[pos] = parent
        pos = parent_pos
    heap[pos] = timer


class _Wakeup(Runnable):
    """The reader of the loop's eventfd: drains it so that the next write wakes the poller again."""

    __slots__ = ('fd', 'count')

    def __init__(self, fd):
        self.fd = fd
        self._cancelled = False
        self.count = 0

    def _run(self):
        try:
            os.eventfd_read(self.fd)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            pass  # the loop is being closed from another thread
        self.count += 1


class LoopCore:
    """Scheduling, the poller and the completion queue of an eloop event loop."""

    def __init__(self, edge_triggered=False):
        self._ready = collections.deque()
        # Bound once (the deque is never replaced): call_soon and the poller append through it.
        self._ready_append = self._ready.append
        self._scheduled = []
        # No timer of the heap is due later than this (-inf: the heap is empty). When the clock
        # has passed it, every timer is due and they are sorted at once rather than popped.
        self._latest_due = _NO_TIMER_DUE
        self._timer_cancelled_count = 0
        self._hiding_handles_while_stopped = False
        self._stopping = False
        self._closed = False
        self._thread_id = None
        self._clock_resolution = time.get_clock_info('monotonic').resolution
        self._debug = coroutines._is_debug_mode()
        self.slow_callback_duration = 0.1
        self._current_handle = None
        self._task_factory = None
        self._exception_handler = None
        self._coroutine_origin_tracking_enabled = False
        self._coroutine_origin_tracking_saved_depth = None
        # Statistics (see stats()). An iteration commonly polls and runs one callback, so what
        # is counted is the iteration and any departure from that: each counter update costs
        # plain Python an int object, a sizeable part of a short iteration.
        self._n_iterations = 0
        self._n_extra_callbacks = 0  # the sum of (callbacks run - 1) over iterations
        self._n_skipped_polls = 0
        # The objects given to add_reader/add_writer, by fd: a socket closed since then has
        # fileno() -1, and remove_reader/remove_writer find its fd by the object (as selectors do).
        self._reader_fileobjs = {}
        self._writer_fileobjs = {}

        self._poller = _epoll.EpollPoller(edge_triggered)
        self._poller.on_ready = self._ready_append
        self._proactor = _proactor.Proactor(self._poller)
        # call_soon_threadsafe wakes a sleeping poller by writing to this eventfd.
        self._wakeup_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._wakeup = _Wakeup(self._wakeup_fd)
        self._poller.park_reader(self._wakeup_fd, self._wakeup)

    def _forget_empty_instance_dict(self):
        """Compiled, drop the loop's instance dict if nothing is in it yet (Python 3.12+ calls
        the methods of an object without one faster: see _core.pxd). Plain Python keeps it."""
        if _COMPILED:
            _drop_empty_instance_dict(self)

    # -- the clock ----------------------------------------------------------------------------

    def time(self):
        """The loop's clock: time.monotonic()."""
        return _monotonic()

    # -- scheduling callbacks -------------------------------------------------------------------

    def call_soon(self, callback, *args, context=None):
        """Call `callback(*args)` in a coming iteration, in the order of the calls."""
        if self._closed:  # (_check_closed, inlined: the hottest call of all)
            self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, 'call_soon')
        handle = init_handle(Handle.__new__(Handle), callback, args, self, context, self._debug,
                             True)
        if self._thread_id is None:  # (the loop is not running: rare, and cheap to test)
            self._hiding_while_stopped()
        if _COMPILED:  # deque.append's C function, called directly (see _builtin_call.pxd)
            call_with_one(self._ready_append, handle)
        else:
            self._ready_append(handle)
        return handle

    def call_later(self, delay, callback, *args, context=None):
        """Call `callback(*args)` after `delay` seconds."""
        if delay is None:
            raise TypeError('delay must not be None')
        return self._schedule(self.time() + delay, callback, args, context)

    def call_at(self, when, callback, *args, context=None):
        """Call `callback(*args)` at `when` on the loop's clock."""
        if when is None:
            raise TypeError('when cannot be None')
        return self._schedule(when, callback, args, context)

    def _schedule(self, when, callback, args, context):
        """call_at's work, shared with call_later (in C when compiled, not a Python-level call)."""
        self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, 'call_at')
        timer = init_timer(TimerHandle.__new__(TimerHandle), when, callback, args, self, context,
                           self._debug, True)
        # Compared before the push: a `when` that is not a number raises TypeError here (compiled,
        # already in init_timer) and never reaches the heap, where it would break the loop.
        if timer._due > self._latest_due:
            self._latest_due = timer._due
        _push_timer(self._scheduled, timer)
        timer._scheduled = True
        if self._thread_id is None:  # (the loop is not running: rare, and cheap to test)
            self._hiding_while_stopped()
        return timer

    def call_soon_threadsafe(self, callback, *args, context=None):
        """call_soon from any thread: also wakes the loop if it sleeps in the poller."""
        self._check_closed()
        if self._debug:
            self._check_callback(callback, 'call_soon_threadsafe')
        handle = init_handle(Handle.__new__(Handle), callback, args, self, context, self._debug,
                             True)
        # One-shot, but in the GC's view: the loop may stop before this thread appends it.
        set_gc_visible(handle, True)
        self._ready_append(handle)
        self._write_to_self()
        return handle

    def _write_to_self(self):
        try:
            os.eventfd_write(self._wakeup_fd, 1)
        except OSError:
            # Closed by another thread, or the counter is full: the loop wakes anyway.
            pass

    def _add_callback(self, handle):
        if not handle._cancelled:
            self._ready_append(handle)

    def _add_callback_signalsafe(self, handle):
        self._add_callback(handle)
        self._write_to_self()

    def _timer_handle_cancelled(self, handle):
        if handle._scheduled:
            self._timer_cancelled_count += 1

    def _check_callback(self, callback, method):
        if coroutines.iscoroutine(callback) or coroutines.iscoroutinefunction(callback):
            raise TypeError(f'coroutines cannot be used with {method}()')
        if not callable(callback):
            raise TypeError(f'a callable object was expected by {method}(), got {callback!r}')

    def _check_thread(self):
        """Debug mode: refuse non-thread-safe calls from a thread other than the loop's."""
        if self._thread_id is None:
            return
        if threading.get_ident() != self._thread_id:
            raise RuntimeError('Non-thread-safe operation invoked on an event loop other '
                               'than the current one')

    def _check_closed(self):
        if self._closed:
            raise RuntimeError('Event loop is closed')

    # -- futures and tasks ----------------------------------------------------------------------

    def create_future(self):
        return _Future(loop=self)

    if sys.version_info >= (3, 13):
        def create_task(self, coro, **kwargs):
            """Schedule a coroutine as a Task; keyword arguments go to the Task (or factory)."""
            if self._closed:
                self._check_closed()
            if self._task_factory is not None:
                return self._task_factory(self, coro, **kwargs)
            task = _Task(coro, loop=self, **kwargs)
            if self._debug:
                _drop_own_frames(task._source_traceback)
            return task
    else:
        def create_task(self, coro, *, name=None, context=None):
            """Schedule a coroutine as a Task, named and in a context if asked."""
            if self._closed:
                self._check_closed()
            if self._task_factory is not None:
                if context is None:
                    task = self._task_factory(self, coro)
                else:
                    task = self._task_factory(self, coro, context=context)
                if name is not None:
                    task.set_name(name)
                return task
            # No context argument unless one is given: Python 3.10's Task takes none.
            if context is None:
                task = _Task(coro, loop=self, name=name)
            else:
                task = _Task(coro, loop=self, name=name, context=context)
            if self._debug:
                _drop_own_frames(task._source_traceback)
            return task

    def set_task_factory(self, factory):
        if factory is not None and not callable(factory):
            raise TypeError('task factory must be a callable or None')
        self._task_factory = factory

    def get_task_factory(self):
        return self._task_factory

    # -- running --------------------------------------------------------------------------------

    def is_running(self):
        return self._thread_id is not None

    def is_closed(self):
        return self._closed

    def _check_running(self):
        if self.is_running():
            raise RuntimeError('This event loop is already running')
        if events._get_running_loop() is not None:
            raise RuntimeError('Cannot run the event loop while another loop is running')

    def run_forever(self):
        """Run iterations until stop() is called."""
        self._check_closed()
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug)
        old_agen_hooks = sys.get_asyncgen_hooks()
        try:
            self._thread_id = threading.get_ident()
            sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                                   finalizer=self._asyncgen_finalizer_hook)
            events._set_running_loop(self)
            self._set_pending_handles_visible(False)
            self._set_queues_visible(False)
            self._run_iterations(False)
        finally:
            self._set_queues_visible(True)
            self._show_pending_handles_when_stopped()
            self._stopping = False
            self._thread_id = None
            events._set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*old_agen_hooks)

    def run_until_complete(self, future):
        """Run until `future` (a coroutine is wrapped in a Task) is done; return its result."""
        self._check_closed()
        self._check_running()
        new_task = not futures.isfuture(future)
        future = tasks.ensure_future(future, loop=self)
        if new_task:
            # The caller cannot see this task: an exception is raised if it does not complete,
            # so its "pending task destroyed" message would only be noise.
            future._log_destroy_pending = False
        future.add_done_callback(_run_until_complete_cb)
        try:
            self.run_forever()
        except BaseException:
            if new_task and future.done() and not future.cancelled():
                # The coroutine raised a BaseException: consume it, the caller has no way to.
                future.exception()
            raise
        finally:
            future.remove_done_callback(_run_until_complete_cb)
        if not future.done():
            raise RuntimeError('Event loop stopped before Future completed.')
        return future.result()

    def stop(self):
        """Stop after the current iteration; callbacks already scheduled still run."""
        self._stopping = True

    def _run_once(self):
        """One iteration of the loop (asyncio's name for it)."""
        self._run_iterations(True)

    def _run_iterations(self, once):
        """Run iterations until stop() is called (or just one if `once`). Each compacts the
        timers, polls, makes due timers ready and runs what is ready. One method rather than a
        call per iteration: that call, and the attribute reads hoisted out of the loop, are a
        sizeable part of an iteration in plain Python."""
        ready = self._ready
        popleft = ready.popleft  # (compiled, its C function is called: see _builtin_call.pxd)
        poller = self._poller
        watches = poller._watches
        while True:
            scheduled = self._scheduled
            if scheduled:
                count = len(scheduled)
                if (count > _MIN_SCHEDULED_TIMER_HANDLES and self._timer_cancelled_count / count
                        > _MIN_CANCELLED_TIMER_HANDLES_FRACTION):
                    scheduled = self._drop_cancelled_timers()
                else:
                    while scheduled:
                        timer = scheduled[0]
                        if not timer._cancelled:
                            break
                        self._timer_cancelled_count -= 1
                        _pop_timer(scheduled)
                        timer._scheduled = False
                        if not scheduled:
                            self._latest_due = _NO_TIMER_DUE

            if ready or self._stopping:
                timeout = 0.0
            elif scheduled:
                timer = scheduled[0]
                timeout = timer._due - self.time()
                if timeout < 0:
                    timeout = 0.0
                elif timeout > _MAXIMUM_POLL_TIMEOUT:
                    timeout = _MAXIMUM_POLL_TIMEOUT
            else:
                timeout = -1.0  # wait until an fd is ready
            if timeout != 0 or len(watches) > _OWN_FDS:
                # Every iteration polls, as asyncio's does, even with callbacks ready: code that
                # yields with sleep(0) to let ready I/O in relies on it (aiohttp's shutdown of
                # websockets does). The poller's waiter is the kernel call itself
                # (select.epoll.poll in plain Python): no Python-level call on the way when
                # nothing is ready.
                if _COMPILED:
                    poller.wait_and_dispatch(timeout)  # (no (fd, events) pair per event)
                else:
                    events = poller.waiter.wait(timeout)
                    if events:
                        poller.dispatch(events)
                    # Not kept while the callbacks run, nor until the next poll: the list
                    # and its (fd, events) pairs are as long as the busiest poll.
                    events = None
            else:
                # Callbacks are ready and the poller watches only the loop's own wakeup eventfd:
                # a poll could only report a call_soon_threadsafe whose callback is queued
                # already, so the syscall is skipped (as libuv skips it when it watches no fd).
                self._n_skipped_polls += 1

            if scheduled:  # (the clock is read only when there are timers)
                end_time = self.time() + self._clock_resolution
                if self._latest_due < end_time:
                    self._make_all_timers_ready()
                else:
                    while scheduled:
                        timer = scheduled[0]
                        if timer._due >= end_time:
                            break
                        _pop_timer(scheduled)
                        timer._scheduled = False
                        if _COMPILED:  # (not a method lookup by name per timer)
                            call_with_one(self._ready_append, timer)
                        else:
                            ready.append(timer)
                    if not scheduled:
                        self._latest_due = _NO_TIMER_DUE

            # Run what was ready when this point was reached, not what those callbacks
            # schedule: that waits for the next iteration. popleft() is thread-safe.
            ntodo = len(ready)
            self._n_iterations += 1
            if ntodo != 1:
                self._n_extra_callbacks += ntodo - 1
            if self._debug:
                self._run_ready_debug(ntodo)
            else:
                while ntodo:
                    ntodo -= 1
                    handle = call_without_arguments(popleft) if _COMPILED else popleft()
                    if handle._cancelled:
                        continue
                    handle._run()
                handle = None  # break the cycle through the frame when a callback raised
            if once or self._stopping:
                return

    def _run_ready_debug(self, ntodo):
        ready = self._ready
        for _ in range(ntodo):
            handle = ready.popleft()
            if handle._cancelled:
                continue
            try:
                self._current_handle = handle
                t0 = self.time()
                handle._run()
                dt = self.time() - t0
                if dt >= self.slow_callback_duration:
                    logger.warning('Executing %s took %.3f seconds', _format_handle(handle), dt)
            finally:
                self._current_handle = None
        handle = None

    def _make_all_timers_ready(self):
        """Every timer is due: queue them in the order of their due times, and empty the heap.

        After a pause of the loop or a burst of short timers, one sort of the live timers (C
        work, on float keys) costs much less than popping the timers one by one.
        """
        due = []
        for timer in self._scheduled:
            timer._scheduled = False
            if not timer._cancelled:
                due.append(timer)
        self._scheduled.clear()
        self._latest_due = _NO_TIMER_DUE
        self._timer_cancelled_count = 0
        due.sort(key=_timer_due_time)
        self._ready.extend(due)

    def _hiding_while_stopped(self):
        """Compiled, the one-shot handles (see Handle) are hidden from the cyclic GC when they are
        made (init_handle); the loop has just made one while it is not running.

        A running loop is alive, and so is what its queues hold: the GC has nothing to find
        there, and each of its passes would go over every pending handle. A loop that is not
        running may be dropped: its pending handles must be in the GC's view then, for a cycle
        through them and the loop (a timer whose argument is a future of the loop) to be found.
        So a loop shows them when it stops; the handles it hides while it is not running, it
        shows to each full collection (the gc callback _show_hidden_handles).
        """
        if _COMPILED and not self._hiding_handles_while_stopped:
            self._hiding_handles_while_stopped = True
            _loops_hiding_handles.add(self)

    def _show_pending_handles_when_stopped(self):
        """The loop stops: show its pending one-shot handles to the cyclic GC (see
        _hiding_while_stopped)."""
        self._set_pending_handles_visible(True)
        if self._hiding_handles_while_stopped:
            self._hiding_handles_while_stopped = False
            _loops_hiding_handles.discard(self)

    def _set_queues_visible(self, visible):
        """Compiled, show the ready queue and the timer heap to the cyclic GC, or hide them while
        the loop runs. A running loop is alive, and so is what they hold, yet each full
        collection would go over every pending handle in them, a cache miss each (100,000 tasks
        just made: 5% of the time of the full collections). The heap is hidden as it is: it is
        emptied in place, never replaced while the loop runs."""
        set_container_gc_visible(self._ready, visible)
        set_container_gc_visible(self._scheduled, visible)

    def _set_pending_handles_visible(self, visible):
        """Compiled, show the one-shot handles of the queues to the cyclic GC or hide them: a pass
        over the queues, at each start and stop of the loop."""
        if not _COMPILED:
            return
        for handle in self._ready:
            if isinstance(handle, Handle):
                set_gc_visible(handle, visible)
        for timer in self._scheduled:
            set_gc_visible(timer, visible)

    def _drop_pending_callbacks(self):
        """Empty the ready queue and the timer heap (the loop is closing). Their one-shot
        handles will never run: they drop what they refer to, as after running (see Handle)."""
        for handle in self._ready:
            if isinstance(handle, Handle) and handle._oneshot:
                handle._forget()
        self._ready.clear()
        for timer in self._scheduled:
            timer._scheduled = False
            if timer._oneshot:
                timer._forget()
        self._scheduled = []
        self._latest_due = _NO_TIMER_DUE
        self._timer_cancelled_count = 0

    def _drop_cancelled_timers(self):
        """Rebuild the heap without its cancelled timers (they are many); return the new heap."""
        live = []
        latest_due = _NO_TIMER_DUE
        for timer in self._scheduled:
            if timer._cancelled:
                timer._scheduled = False
            else:
                live.append(timer)
                if timer._due > latest_due:
                    latest_due = timer._due
        self._latest_due = latest_due
        # A sorted list is a heap, and sorting on float keys is C work where heapify would compare
        # through TimerHandle.__lt__.
        live.sort(key=_timer_due_time)
        scheduled = self._scheduled
        scheduled[:] = live  # in place: the heap keeps its GC tracking (see _set_queues_visible)
        self._timer_cancelled_count = 0
        return scheduled

    # -- debug ----------------------------------------------------------------------------------

    def get_debug(self):
        return self._debug

    def set_debug(self, enabled):
        self._debug = bool(enabled)
        if self.is_running():
            self.call_soon_threadsafe(self._set_coroutine_origin_tracking, enabled)

    def _set_coroutine_origin_tracking(self, enabled):
        if bool(enabled) == bool(self._coroutine_origin_tracking_enabled):
            return
        if enabled:
            self._coroutine_origin_tracking_saved_depth = sys.get_coroutine_origin_tracking_depth()
            from asyncio import constants
            sys.set_coroutine_origin_tracking_depth(constants.DEBUG_STACK_DEPTH)
        else:
            sys.set_coroutine_origin_tracking_depth(self._coroutine_origin_tracking_saved_depth)
        self._coroutine_origin_tracking_enabled = enabled

    # -- the readiness interface ----------------------------------------------------------------

    def add_reader(self, fd, callback, *args):
        """Call `callback(*args)` whenever fd is readable (level-triggered in both modes)."""
        self._check_closed()
        fd = _remember_fileobj(self._reader_fileobjs, fd)
        self._ensure_fd_no_transport(fd)
        handle = init_handle(Handle.__new__(Handle), callback, args, self, None, self._debug)
        old = self._poller.watch_readable(fd, handle)
        if old is not None:
            old.cancel()

    def remove_reader(self, fd):
        """Stop watching fd for reading; True if it was watched."""
        if self._closed:
            return False
        fd = _forget_fileobj(self._reader_fileobjs, fd)
        self._ensure_fd_no_transport(fd)
        old = self._poller.unwatch_readable(fd)
        if old is None:
            return False
        old.cancel()
        return True

    def add_writer(self, fd, callback, *args):
        """Call `callback(*args)` whenever fd is writable (level-triggered in both modes)."""
        self._check_closed()
        fd = _remember_fileobj(self._writer_fileobjs, fd)
        self._ensure_fd_no_transport(fd)
        handle = init_handle(Handle.__new__(Handle), callback, args, self, None, self._debug)
        old = self._poller.watch_writable(fd, handle)
        if old is not None:
            old.cancel()

    def remove_writer(self, fd):
        """Stop watching fd for writing; True if it was watched."""
        if self._closed:
            return False
        fd = _forget_fileobj(self._writer_fileobjs, fd)
        self._ensure_fd_no_transport(fd)
        old = self._poller.unwatch_writable(fd)
        if old is None:
            return False
        old.cancel()
        return True

    @property
    def _selector(self):
        # Code written for asyncio's selector loops (CPython's own tests among it) reads this
        # attribute to describe the loop's I/O multiplexer; eloop's is its poller.
        return self._poller

    def _ensure_fd_no_transport(self, fd):
        """Refuse to let the readiness API take over an fd that one of eloop's transports owns.

        A stream transport that is reading is found as its fd's reader (its stream, which knows
        its transport); any other transport is in loop._transports.
        """
        transport = self._transports.get(fd)
        if transport is None or transport.is_closing():
            transport = getattr(self._poller.get_reader(fd), 'transport', None)
        if transport is not None and not transport.is_closing():
            raise RuntimeError(f'File descriptor {fd!r} is used by transport {transport!r}')

    # -- statistics -----------------------------------------------------------------------------

    def stats(self):
        """Counters of this loop's work since it was created, for users to read."""
        poller = self._poller
        proactor = self._proactor
        polls = self._n_iterations - self._n_skipped_polls
        epoll_wait_calls = poller.waiter.n_calls  # None: one call per poll
        return {
            'iterations': self._n_iterations,
            'callbacks': self._n_iterations + self._n_extra_callbacks,
            'polls': polls,
            'poll_events': poller.n_events,
            # The system calls of the loop's own I/O: epoll_wait, epoll_ctl, and the receive and
            # send calls of its stream transports.
            'epoll_wait': polls if epoll_wait_calls is None else epoll_wait_calls,
            'epoll_ctl': poller.n_ctl,
            'recv_calls': poller.n_recv,
            'recv_eagain': poller.n_recv_eagain,
            'send_calls': poller.n_send,
            'send_eagain': poller.n_send_eagain,
            'fds_watched': len(poller),
            'ops_completed_at_once': proactor.n_completed_at_once,
            'ops_parked': proactor.n_parked,
            'threadsafe_wakeups': self._wakeup.count,
            'timers_scheduled': len(self._scheduled),
            'ready': len(self._ready),
        }


if _COMPILED:
    gc.callbacks.append(_show_hidden_handles)


def _format_handle(handle):
    callback = getattr(handle, '_callback', None)
    task = getattr(callback, '__self__', None)
    if isinstance(task, tasks.Task):
        # Name the task rather than its __step method: that is what the user recognises.
        return repr(task)
    return str(handle)
