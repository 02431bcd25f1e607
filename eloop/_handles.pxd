# C types for _handles.py (Cython "pure Python mode": this file augments the .py of the same name).

cdef class Handle:
    cdef public object _callback
    cdef public object _args
    cdef public bint _cancelled
    cdef public object _loop
    cdef public object _source_traceback
    cdef public object _repr
    cdef public object _context
    cdef object __weakref__

    cpdef _run(self)


cdef class TimerHandle(Handle):
    cdef public bint _scheduled
    cdef public double _when
