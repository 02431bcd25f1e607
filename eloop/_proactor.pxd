# C types for _proactor.py (Cython "pure Python mode": this file augments the .py of the same name).

from eloop._handles cimport Runnable

cdef class Operation(Runnable):
    cdef public Proactor proactor
    cdef public object sock
    cdef public int fd
    cdef public object future

    cpdef perform(self)
    cpdef _run(self)
    cpdef complete(self, result)
    cpdef fail(self, exc)


cdef class Recv(Operation):
    cdef public object nbytes


cdef class RecvInto(Operation):
    cdef public object buffer
    cdef public object nbytes


cdef class RecvFrom(Operation):
    cdef public object nbytes


cdef class RecvFromInto(Operation):
    cdef public object buffer
    cdef public object nbytes


cdef class Accept(Operation):
    pass


cdef class SendAll(Operation):
    cdef public object view
    cdef public Py_ssize_t sent


cdef class SendTo(Operation):
    cdef public object data
    cdef public object address


cdef class Connect(Operation):
    cdef public object address


cdef class SendFile(Operation):
    cdef public object file_fd
    cdef public object offset
    cdef public object count
    cdef public object sent


cdef class Proactor:
    cdef public object _poller
    cdef public unsigned long long n_completed_at_once
    cdef public unsigned long long n_parked

    cpdef submit(self, Operation op)
    cpdef park(self, Operation op)
    cpdef _park(self, Operation op)
    cpdef exhausted(self, Operation op)
    cpdef withdraw(self, Operation op)
