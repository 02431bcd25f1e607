# C types for _epoll.py (Cython "pure Python mode": this file augments the .py of the same name).

cimport cython

from eloop._epoll_wait cimport EpollWaiter
from eloop._handles cimport Runnable, Handle
from eloop._builtin_call cimport call_with_one

# The event masks the dispatch tests, as C ints.
cdef bint _COMPILED
cdef unsigned int _READ_EVENTS, _WRITE_EVENTS, _HANGUP_EVENTS, _EDGE_MASK

cdef class FdWatch:
    # The 8-byte fields first, then the 4-byte ones together (one per watched fd: no padding).
    cdef public object reader
    cdef public object writer
    cdef public object owner
    cdef public int fd
    cdef public unsigned int mask
    cdef public bint readable
    cdef public bint writable
    cdef public bint hangup
    cdef public unsigned int registration


cdef class _Rearming(Runnable):
    cdef public Handle handle
    cdef public EpollPoller poller
    cdef public int fd

    cpdef _run(self)


cdef class EpollPoller:
    cdef public bint edge_triggered
    cdef public object _epoll
    cdef public EpollWaiter waiter
    cdef public dict _watches
    cdef public unsigned long long n_ctl
    cdef public unsigned long long n_events
    cdef public unsigned long long n_recv
    cdef public unsigned long long n_recv_eagain
    cdef public unsigned long long n_send
    cdef public unsigned long long n_send_eagain
    cdef unsigned int _n_registrations
    cdef int _until_stale_check
    cdef public object on_ready

    cpdef unsigned int park_reader(self, int fd, op, owner=*, unsigned int registration=*) except? 0
    cpdef unsigned int park_writer(self, int fd, op, owner=*, unsigned int registration=*) except? 0
    cpdef unpark_reader(self, int fd, op)
    cpdef unpark_writer(self, int fd, op)
    cpdef readable_exhausted(self, int fd)
    @cython.locals(watch=FdWatch)
    cpdef bint readable_drained(self, int fd)
    cpdef writable_exhausted(self, int fd)
    cpdef int poll(self, double timeout) except -1
    @cython.locals(edge=bint, waiter=EpollWaiter, watches=dict, i=Py_ssize_t, fd=int,
                   mask=cython.uint, watch=FdWatch)
    cpdef dispatch(self, events, Py_ssize_t count=*)
    @cython.locals(count=int)
    cdef wait_and_dispatch(self, double timeout)
    cdef bint _rebuilt_for_stale(self, events) except -1
    cpdef FdWatch _watch(self, int fd)
    cpdef _rearm(self, int fd)
