# C types for _core.py (Cython "pure Python mode": this file augments the .py of the same name).
#
# LoopCore is a C type with a C struct of the fields below. The public Loop (in _loop.py) is a
# Python class over it and plain mixins, so it still has an instance __dict__ for every other
# attribute, and a method that a Python subclass or an instance overrides still wins (cpdef).

cimport cython

from eloop._handles cimport Handle, TimerHandle
from eloop._epoll cimport EpollPoller
from eloop._proactor cimport Proactor


cdef class _Wakeup:
    cdef public int fd
    cdef public bint _cancelled
    cdef public unsigned long long count

    cpdef _run(self)


cdef class LoopCore:
    cdef public object _ready
    cdef public list _scheduled
    cdef public Py_ssize_t _timer_cancelled_count
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
    cdef public unsigned long long _n_callbacks
    cdef public EpollPoller _poller
    cdef public Proactor _proactor
    cdef public int _wakeup_fd
    cdef public _Wakeup _wakeup
    cdef dict __dict__

    cpdef double time(self)
    cpdef _check_closed(self)
    cpdef _add_callback(self, handle)
    cpdef _timer_handle_cancelled(self, TimerHandle handle)

    @cython.locals(scheduled=list, sched_count=Py_ssize_t, ntodo=Py_ssize_t, i=Py_ssize_t,
                   end_time=double, handle=object)
    cpdef _run_once(self)
