# C types for _core.py (Cython "pure Python mode": this file augments the .py of the same name).
#
# LoopCore is a C type with a C struct of the fields below. The public Loop (in _loop.py) is a
# Python class over it and plain mixins, so it still has an instance __dict__ for every other
# attribute, and a method that a Python subclass or an instance overrides still wins (cpdef).

cimport cython

from eloop._handles cimport (Runnable, Handle, TimerHandle, init_handle, init_timer,
                            set_gc_visible)
from eloop._epoll cimport EpollPoller
from eloop._proactor cimport Proactor

cdef bint _COMPILED
cdef double _NO_TIMER_DUE


# The timer heap, with C comparisons of the due times.
cdef _push_timer(list heap, TimerHandle timer)

@cython.locals(last=TimerHandle, first=TimerHandle, end=Py_ssize_t, pos=Py_ssize_t,
               child=Py_ssize_t, right=Py_ssize_t)
cdef TimerHandle _pop_timer(list heap)

@cython.locals(timer=TimerHandle)
cdef double _due_time(list heap, Py_ssize_t pos)

@cython.locals(when=double, parent_pos=Py_ssize_t, parent=TimerHandle)
cdef _sift_up(list heap, Py_ssize_t pos, TimerHandle timer)


cdef class _Wakeup(Runnable):
    cdef public int fd
    cdef public unsigned long long count

    cpdef _run(self)


cdef class LoopCore:
    cdef public object _ready
    cdef public object _ready_append
    cdef public list _scheduled
    cdef public double _latest_due
    cdef public Py_ssize_t _timer_cancelled_count
    cdef public bint _hiding_handles_while_stopped
    cdef public bint _stopping
    cdef public bint _closed
    cdef public object _thread_id
    cdef public double _clock_resolution
    cdef public bint _debug
    cdef public double slow_callback_duration
    cdef public object _current_handle
    cdef public object _task_factory
    cdef public object _exception_handler
    cdef public bint _coroutine_origin_tracking_enabled
    cdef public object _coroutine_origin_tracking_saved_depth
    cdef public unsigned long long _n_iterations
    cdef public long long _n_extra_callbacks
    cdef public unsigned long long _n_skipped_polls
    cdef public EpollPoller _poller
    cdef public Proactor _proactor
    cdef public int _wakeup_fd
    cdef public _Wakeup _wakeup
    cdef dict __dict__

    cpdef double time(self)
    cpdef _check_closed(self)
    cpdef _add_callback(self, handle)
    cpdef _timer_handle_cancelled(self, TimerHandle handle)
    cdef TimerHandle _schedule(self, when, callback, tuple args, context)

    cpdef _run_once(self)
    @cython.locals(ready=object, popleft=object, poller=EpollPoller, watches=dict,
                   scheduled=list, count=Py_ssize_t,
                   ntodo=Py_ssize_t, timeout=double, end_time=double,
                   timer=TimerHandle, handle=Runnable)
    cdef _run_iterations(self, bint once)

    cdef _hiding_while_stopped(self)
    @cython.locals(timer=TimerHandle)
    cpdef _set_pending_handles_visible(self, bint visible)
    cdef _show_pending_handles_when_stopped(self)

    @cython.locals(timer=TimerHandle)
    cpdef _drop_pending_callbacks(self)

    @cython.locals(live=list, timer=TimerHandle, latest_due=double)
    cdef list _drop_cancelled_timers(self)

    @cython.locals(due=list, timer=TimerHandle)
    cdef _make_all_timers_ready(self)
