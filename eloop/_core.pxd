# C types for _core.py (Cython "pure Python mode": this file augments the .py of the same name).
#
# LoopCore is a C type with a C struct of the fields below. The public Loop (in _loop.py) is a
# Python class over it and plain mixins, so it still has an instance __dict__ for every other
# attribute, and a method that a Python subclass or an instance overrides still wins (cpdef).

cimport cython

from eloop._handles cimport (Runnable, Handle, TimerHandle, init_handle, init_timer,
                            set_container_gc_visible, set_gc_visible)
from eloop._epoll cimport EpollPoller
from eloop._proactor cimport Proactor
from eloop._builtin_call cimport call_with_one, call_without_arguments

cdef bint _COMPILED
cdef double _NO_TIMER_DUE

# Module constants and the callables of the hot paths as C variables: Python 3.12+ no longer
# lets Cython cache a lookup of a module global, and these are read at every iteration or call.
cdef Py_ssize_t _MIN_SCHEDULED_TIMER_HANDLES, _OWN_FDS
cdef double _MIN_CANCELLED_TIMER_HANDLES_FRACTION, _MAXIMUM_POLL_TIMEOUT
cdef object _monotonic, _Future, _Task

# Python 3.12+ keeps a call like `loop.call_soon(...)` in Python code fast (a cached method
# lookup) only for an object whose instance dict has not been made. Cython makes LoopCore's dict
# when it makes the loop; this drops it while it is still empty: CPython makes it again if an
# attribute is ever set in it, as it does for any lazily made instance dict. (3.11 caches the
# lookup with the dict, and keeps it.)
cdef extern from *:
    """
    static void eloop_drop_empty_instance_dict(PyObject *obj) {
    #if PY_VERSION_HEX >= 0x030C0000
        Py_ssize_t offset = Py_TYPE(obj)->tp_dictoffset;
        if (offset > 0) {
            PyObject **dictptr = (PyObject **)((char *)obj + offset);
            if (*dictptr != NULL && PyDict_CheckExact(*dictptr) && PyDict_GET_SIZE(*dictptr) == 0) {
                Py_CLEAR(*dictptr);
            }
        }
    #endif
    }
    """
    void _drop_empty_instance_dict "eloop_drop_empty_instance_dict" (object obj)


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

    # The attributes that Loop and its mixins set (_loop.py, _network.py, _signals.py): C fields
    # here, so that a loop's instance dict stays empty, and is dropped (see
    # _drop_empty_instance_dict), unless its user sets an attribute of their own or patches a
    # method on the instance.
    cdef public object _config
    cdef public object _transports
    cdef public object _default_executor
    cdef public object _executor_shutdown_called
    cdef public object _asyncgens
    cdef public object _asyncgens_shutdown_called
    cdef public object _servers
    cdef public object _acceptors
    cdef public object _unix_server_sockets
    cdef public object _reader_fileobjs
    cdef public object _writer_fileobjs
    cdef public object _signal_handlers
    cdef public object _signal_pipe
    cdef public object _recv_view
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
    cdef _set_queues_visible(self, bint visible)
    @cython.locals(timer=TimerHandle)
    cpdef _set_pending_handles_visible(self, bint visible)
    cdef _show_pending_handles_when_stopped(self)

    @cython.locals(timer=TimerHandle)
    cpdef _drop_pending_callbacks(self)

    @cython.locals(live=list, scheduled=list, timer=TimerHandle, latest_due=double)
    cdef list _drop_cancelled_timers(self)

    @cython.locals(due=list, timer=TimerHandle)
    cdef _make_all_timers_ready(self)
