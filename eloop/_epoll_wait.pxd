# C declarations of _epoll_wait.pyx, so that the compiled poller (_epoll.pxd) calls it in C.

from libc.stdint cimport uint32_t, uint64_t

cdef extern from "sys/epoll.h" nogil:
    ctypedef union epoll_data_t:
        void *ptr
        int fd
        uint32_t u32
        uint64_t u64

    cdef struct epoll_event:
        uint32_t events
        epoll_data_t data

    int epoll_wait(int epfd, epoll_event *events, int maxevents, int timeout)


cdef class EpollWaiter:
    cdef object _epoll
    cdef int _epfd
    cdef epoll_event *_events
    cdef int _capacity
    cdef bint _look_first
    cdef public unsigned long long n_calls

    cdef int _reserve(self, int capacity) except -1
    cpdef wait(self, double timeout)
    cdef int wait_events(self, double timeout) except -1
    cdef wait_result(self, int n)

    # The events of the last wait_events, read from the C array (the compiled poller's
    # dispatch: no (fd, events) pair is made per event).
    cdef inline int event_fd(self, int i):
        return self._events[i].data.fd

    cdef inline uint32_t event_mask(self, int i):
        return self._events[i].events
