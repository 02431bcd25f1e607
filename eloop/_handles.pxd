# C types for _handles.py (Cython "pure Python mode": this file augments the .py of the same name).

# Used when compiled in place of Context.run (Handle._run) and copy_context (init_handle).
from cpython.contextvars cimport PyContext_CopyCurrent, PyContext_Enter, PyContext_Exit

# Used by init_handle and set_gc_visible (see Handle).
cdef extern from "Python.h":
    int PyObject_GC_IsTracked(object op)
    void PyObject_GC_Track(object op)
    void PyObject_GC_UnTrack(object op)

cdef bint _COMPILED


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


cpdef Handle init_handle(Handle handle, callback, args, loop, context, bint debug,
                         bint oneshot=*)
cpdef TimerHandle init_timer(TimerHandle timer, when, callback, args, loop, context,
                             bint debug, bint oneshot=*)
cpdef set_gc_visible(Handle handle, bint visible)
