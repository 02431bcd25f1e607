"""Callback handles: what call_soon, call_later and call_at return and the ready queue holds.

They keep the exact behaviour of asyncio.Handle and asyncio.TimerHandle (repr, cancel, the
exception-handler context of a failing callback, source tracebacks in debug mode) but are eloop's
own types, so that Cython can compile them to C structs with C-level `_run` calls.
"""

import struct
import sys
from asyncio import format_helpers
from contextvars import Context, copy_context

try:
    import cython
except ImportError:  # plain Python without Cython installed: nothing is compiled
    _COMPILED = False
else:
    _COMPILED = cython.compiled


# The arguments of a callback called with none: `*args` of no argument is this very tuple (the
# interpreter's one empty tuple).
_NO_ARGS = ()

# The modules between a caller and the handle it gets (call_soon, call_later, ...). A creation
# traceback leaves their frames out so that it ends at the caller's line. Compiled, they have no
# frames at all; so the traceback is the same in both modes.
_SCHEDULING_MODULES = frozenset({__name__, __name__.rpartition('.')[0] + '._core'})


def _extract_stack():
    """The creation traceback kept on handles in debug mode, as asyncio keeps it."""
    frame = sys._getframe(0)
    while frame is not None and frame.f_globals.get('__name__') in _SCHEDULING_MODULES:
        frame = frame.f_back
    return format_helpers.extract_stack(frame)


class Runnable:
    """What the loop's ready queue holds: something to run once, skipped if cancelled meanwhile.

    Handles, the completion queue's operations and the poller's own waiters derive from it, so that
    compiled, the loop reads `_cancelled` and calls `_run` in C (a vtable call) rather than by
    looking the method up on each object. A plain-Python subclass works too, at Python speed.
    """

    __slots__ = ('_cancelled',)

    def _run(self):
        raise NotImplementedError


def _in_empty_context():
    """Whether no context variable is set in the current context. Compiled, the thread's
    current context is read without copying it (NULL: no context made or entered yet)."""
    if _COMPILED:
        current = PyThreadState_Get().context
        return current == cython.NULL or len(cython.cast(object, current)) == 0
    return len(copy_context()) == 0


def init_handle(handle, callback, args, loop, context, debug, oneshot=False, waits=False):
    """Fill in a handle made by Handle.__new__ and return it: Handle() without the constructor
    call, which the loop's hot paths avoid (compiled, this is a C function that takes the loop's
    debug flag as a C int). The one body behind Handle() and the loop's handles.

    `oneshot` makes a one-shot handle (see Handle) when compiled and not in debug mode. `waits`
    says it is a timer: see below.
    """
    if context is None and not (waits and oneshot and _COMPILED and not debug
                                and _in_empty_context()):
        # (Compiled, the C function that contextvars.copy_context calls.)
        context = PyContext_CopyCurrent() if _COMPILED else copy_context()
    # None: a one-shot timer made in an empty context, which it would copy for nothing. It runs
    # in a new empty context, made when it runs (or when get_context() asks). Timers wait, many
    # at once: that is an object less per pending timer, and for the GC to count (see Handle).
    # A call_soon handle runs within the iteration, where the copy costs less than the test.
    handle._context = context
    handle._loop = loop
    handle._callback = callback
    handle._args = args
    handle._cancelled = False
    handle._repr = None
    if oneshot and _COMPILED and not debug:
        handle._oneshot = True
        # Hidden from the cyclic GC: its loop shows it again when it must (see Handle). (Made by
        # eloop's allocator, it is not tracked yet: see _allocate_uncounted.)
        if PyObject_GC_IsTracked(handle):
            PyObject_GC_UnTrack(handle)
    else:
        handle._oneshot = False
        if _COMPILED and not PyObject_GC_IsTracked(handle):
            PyObject_GC_Track(handle)
    if debug:
        handle._source_traceback = _extract_stack()
    else:
        handle._source_traceback = None
    return handle


def init_timer(timer, when, callback, args, loop, context, debug, oneshot=False):
    """Fill in a timer made by TimerHandle.__new__ and return it (see init_handle)."""
    init_handle(timer, callback, args, loop, context, debug, oneshot, True)
    # `_when` is the caller's value, returned by when() as asyncio returns it (call_at(5) gives
    # 5, not 5.0); `_due` is the same time as a float (a C double compiled), the heap's key.
    timer._when = when
    timer._due = when
    timer._scheduled = False
    return timer


def set_gc_visible(handle, visible):
    """Compiled, show a one-shot handle to the cyclic GC or hide it (see Handle); otherwise
    nothing."""
    if not _COMPILED or not handle._oneshot:
        return
    set_container_gc_visible(handle, visible)


def set_container_gc_visible(container, visible):
    """Compiled, have the cyclic GC track a container or not; otherwise nothing (plain Python
    cannot untrack). An object of a type that the GC does not know is left as it is."""
    if not _COMPILED or not PyObject_IS_GC(container):
        return
    if visible:
        if not PyObject_GC_IsTracked(container):
            PyObject_GC_Track(container)
    elif PyObject_GC_IsTracked(container):
        PyObject_GC_UnTrack(container)


class Handle(Runnable):
    """A callback with its arguments and context, scheduled on a loop.

    Compiled, the handles of the loop's call_soon, call_later and call_at (outside debug mode) are
    one-shot: they drop their callback, arguments and context once run or cancelled, or when their
    loop is closed. So the repr of such a handle that has run names no callback, and its
    get_context() is None, as after cancel(). (In plain Python and in debug mode, handles are
    asyncio's in every respect.) A one-shot timer made in an empty context makes the (empty)
    context it runs in when it runs, or when get_context() first asks for it, not at once.

    Why: while their loop runs, the loop hides them from the cyclic GC, whose passes over
    the many short-lived handles of a busy loop cost more than running them (rloop's handles are
    Rust objects that the GC does not see either). That is safe because a running loop is alive,
    and so is everything in its queues; a handle that leaves the queues refers to nothing that
    could close a cycle; and a loop that is not running shows its pending handles to the GC
    (when it stops, and before each full collection for those it made while stopped: see
    LoopCore._hiding_while_stopped), so that an abandoned loop is collected with its pending
    callbacks as asyncio's would be.
    """

    __slots__ = ('_callback', '_args', '_loop', '_oneshot', '_source_traceback', '_repr',
                 '__weakref__', '_context')

    def __init__(self, callback, args, loop, context=None):
        init_handle(self, callback, args, loop, context, loop._debug)

    def _forget(self):
        """Drop what a one-shot handle refers to: it has run, or will never run."""
        self._callback = None
        self._args = None
        self._context = None

    def _repr_info(self):
        info = [self.__class__.__name__]
        if self._cancelled:
            info.append('cancelled')
        if self._callback is not None:
            info.append(format_helpers._format_callback_source(self._callback, self._args))
        if self._source_traceback:
            frame = self._source_traceback[-1]
            info.append(f'created at {frame[0]}:{frame[1]}')
        return info

    def __repr__(self):
        if self._repr is not None:
            return self._repr
        return '<{}>'.format(' '.join(self._repr_info()))

    def get_context(self):
        if self._context is None and self._callback is not None:
            # A pending one-shot handle made in an empty context: the context it will run in is
            # made now (see init_handle).
            self._context = PyContext_New() if _COMPILED else Context()
        return self._context

    def cancel(self):
        if not self._cancelled:
            self._cancelled = True
            if self._loop._debug:
                # Keep the text of the callback for "Executing <Handle ...> took N seconds".
                self._repr = repr(self)
            self._callback = None
            self._args = None
            if self._oneshot:
                self._context = None

    def cancelled(self):
        return self._cancelled

    def _run(self):
        try:
            if _COMPILED:
                # What Context.run does, without making a bound method and a tuple of its
                # arguments at each call (PyContext_Enter/Exit are cimported in _handles.pxd).
                context = self._context
                if context is None:  # made in an empty context (see init_handle)
                    context = PyContext_New()
                PyContext_Enter(context)
                try:
                    if self._args is _NO_ARGS:
                        # Most callbacks take no argument (a task's step, a future's wakeup):
                        # called so, there is no argument tuple to unpack, nor a recursion check.
                        self._callback()
                    else:
                        self._callback(*self._args)
                finally:
                    PyContext_Exit(context)
            elif self._args:
                self._context.run(self._callback, *self._args)
            else:  # the common case, called without building an argument tuple for *args
                self._context.run(self._callback)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._report_exception(exc)
        finally:
            if self._oneshot:  # (what _forget does, without a method call per callback)
                self._callback = self._args = self._context = None

    def _report_exception(self, exc):
        source = format_helpers._format_callback_source(self._callback, self._args)
        context = {
            'message': f'Exception in callback {source}',
            'exception': exc,
            'handle': self,
        }
        if self._source_traceback:
            context['source_traceback'] = self._source_traceback
        self._loop.call_exception_handler(context)


class TimerHandle(Handle):
    """A handle due at a point of the loop's clock; ordered by that point in the timer heap."""

    __slots__ = ('_scheduled', '_when', '_due')

    def __init__(self, when, callback, args, loop, context=None):
        init_timer(self, when, callback, args, loop, context, loop._debug)

    def _repr_info(self):
        info = Handle._repr_info(self)
        info.insert(2 if self._cancelled else 1, f'when={self._when}')
        return info

    def __hash__(self):
        return hash(self._when)

    def __lt__(self, other):
        if isinstance(other, TimerHandle):
            return self._when < other._when
        return NotImplemented

    def __le__(self, other):
        if isinstance(other, TimerHandle):
            return self._when < other._when or self.__eq__(other)
        return NotImplemented

    def __gt__(self, other):
        if isinstance(other, TimerHandle):
            return self._when > other._when
        return NotImplemented

    def __ge__(self, other):
        if isinstance(other, TimerHandle):
            return self._when > other._when or self.__eq__(other)
        return NotImplemented

    def __eq__(self, other):
        if isinstance(other, TimerHandle):
            return (self._when == other._when and
                    self._callback == other._callback and
                    self._args == other._args and
                    self._cancelled == other._cancelled)
        return NotImplemented

    def cancel(self):
        if not self._cancelled:
            self._loop._timer_handle_cancelled(self)
        Handle.cancel(self)

    def when(self):
        """The absolute time, on the loop's clock, at which the callback is due."""
        return self._when


def _allocate_uncounted(*handle_types):
    """Compiled, allocate the loop's handles without counting them toward the cyclic GC's next
    collection, and untracked: init_handle tracks those that the GC must see from the start.

    The GC collects once the objects of GC types allocated since its last pass (less those freed)
    pass a threshold. A handle counts although its loop hides it from the GC while it waits (see
    Handle): 100,000 tasks waiting for their first step are 100,000 handles more in that count,
    so more collections, each of them over all the tasks and coroutines that are not garbage
    (rloop's handles are not GC objects, and do not count). Left uncounted, a handle still is a
    GC object, tracked whenever its loop shows it to the GC.

    The allocator needs the size of the GC's header before an object; it is measured here, and
    the standard allocator is kept if it is not the two words it is in CPython 3.8-3.14 (or if
    the interpreter has no such header, as a free-threaded build has not)."""
    if not _COMPILED:
        return
    word = struct.calcsize('P')
    for handle_type in handle_types:
        sample = handle_type.__new__(handle_type)
        header = sys.getsizeof(sample) - handle_type.__basicsize__
        if header == 2 * word:
            _allocate_uncounted_c(handle_type, header)


_allocate_uncounted(Handle, TimerHandle)
