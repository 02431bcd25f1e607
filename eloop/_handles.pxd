# C types for _handles.py (Cython "pure Python mode": this file augments the .py of the same name).

# Used when compiled in place of Context.run (Handle._run), copy_context (init_handle) and
# Context() (Handle._run, Handle.get_context).
from cpython.contextvars cimport (PyContext_CopyCurrent, PyContext_Enter, PyContext_Exit,
                                  PyContext_New)
from cpython.ref cimport PyObject

# The current context, read without copying it (see _in_empty_context): the `context` member of
# the thread state (struct _ts), public in CPython's headers from 3.7 on.
cdef extern from "Python.h":
    ctypedef struct _ThreadContext "PyThreadState":
        PyObject *context
    _ThreadContext *PyThreadState_Get()

# Used by init_handle and set_gc_visible (see Handle).
cdef extern from "Python.h":
    int PyObject_GC_IsTracked(object op)
    void PyObject_GC_Track(object op)
    void PyObject_GC_UnTrack(object op)

cdef bint _COMPILED
cdef tuple _NO_ARGS


cdef class Runnable:
    cdef public bint _cancelled

    cpdef _run(self)


cdef class Handle(Runnable):
    cdef public object _callback
    cdef public object _args
    cdef public object _loop
    cdef public bint _oneshot
    cdef public object _source_traceback
    cdef public object _repr
    cdef public object _context
    cdef object __weakref__

    cpdef _run(self)
    cpdef cancel(self)
    cpdef _forget(self)


cdef class TimerHandle(Handle):
    cdef public bint _scheduled
    cdef public object _when
    cdef public double _due

    cpdef cancel(self)


cdef inline bint _in_empty_context() except -1

cpdef Handle init_handle(Handle handle, callback, args, loop, context, bint debug,
                         bint oneshot=*, bint waits=*)
cpdef TimerHandle init_timer(TimerHandle timer, when, callback, args, loop, context,
                             bint debug, bint oneshot=*)
cpdef set_gc_visible(Handle handle, bint visible)
