# cython: language_level=3
"""Waiting for epoll events: epoll_wait into a reused C array (twin of _epoll_wait.py).

`EpollWaiter(epoll).wait(timeout)` behaves as select.epoll.poll(timeout): it waits up to
`timeout` seconds (negative: for ever; the wait is rounded up to whole milliseconds) and returns
the ready fds as (fd, events) pairs. What it saves per call is what the loop pays at every
iteration that polls: poll's argument parsing and its buffer allocated afresh, a list built even
when nothing is ready (an empty tuple is returned then), and the release of the GIL around a wait
that cannot block: while the loop is busy it first looks without waiting, and only if nothing is
ready waits with the GIL released; once a look found nothing, it waits at once (a syscall less per
wake-up of a loop that waits for its peers) until a wait reports several fds. Its buffer starts at 256 events and doubles, up to 8192, each
time a wait fills it.

This is the only module of eloop written in Cython proper: the kernel interface needs a C array
of struct epoll_event. Everything else is plain Python compiled with augmenting .pxd files.
"""

from libc.errno cimport errno, EINTR
from libc.stdlib cimport realloc, free
from libc.math cimport ceil
from cpython.exc cimport PyErr_CheckSignals, PyErr_SetFromErrno

# The longest wait in milliseconds that epoll_wait takes (an int); longer is clamped, as the
# loop never asks for more than a day anyway.
cdef int _MAX_TIMEOUT_MS = 2147483647
cdef int _FIRST_CAPACITY = 256
cdef int _MAX_CAPACITY = 8192


cdef class EpollWaiter:

    def __cinit__(self, epoll):
        self._epoll = epoll  # keeps the epoll object, and so its fd, alive
        self._epfd = epoll.fileno()
        self._events = NULL
        self._capacity = 0
        self.n_calls = 0
        self._look_first = True
        self._reserve(_FIRST_CAPACITY)

    def __dealloc__(self):
        free(self._events)

    cdef int _reserve(self, int capacity) except -1:
        cdef epoll_event *events = <epoll_event *>realloc(self._events,
                                                           capacity * sizeof(epoll_event))
        if events == NULL:
            raise MemoryError()
        self._events = events
        self._capacity = capacity
        return 0

    cpdef wait(self, double timeout):
        """Wait up to `timeout` seconds; the ready fds as a sequence of (fd, events) pairs."""
        return self.wait_result(self.wait_events(timeout))

    cdef wait_result(self, int n):
        """The `n` events of the last wait_events as wait() returns them."""
        cdef int i
        cdef list ready
        if n == 0:
            return ()
        ready = [None] * n
        for i in range(n):
            ready[i] = (self._events[i].data.fd, self._events[i].events)
        return ready

    cdef int wait_events(self, double timeout) except -1:
        """wait(), leaving the events in the C array (see event_fd and event_mask): their
        number."""
        cdef int ms, n
        if timeout < 0:
            ms = -1
        elif timeout * 1000.0 >= _MAX_TIMEOUT_MS:
            ms = _MAX_TIMEOUT_MS
        else:
            ms = <int>ceil(timeout * 1000.0)
        if ms == 0 or self._look_first:
            # A look without waiting first, holding the GIL: in a busy loop events are often
            # there already, and releasing and taking back the GIL costs more than this call.
            n = epoll_wait(self._epfd, self._events, self._capacity, 0)
            self.n_calls += 1
            if n == 0 and ms != 0:
                # Nothing was there: the loop is waiting for its peers, one event at a time. A
                # look first would be a second syscall per wake-up: wait at once from now on.
                self._look_first = False
                self.n_calls += 1
                with nogil:
                    n = epoll_wait(self._epfd, self._events, self._capacity, ms)
        else:
            self.n_calls += 1
            with nogil:
                n = epoll_wait(self._epfd, self._events, self._capacity, ms)
            # Several fds at once: the loop is busy again, and looks first.
            self._look_first = n > 1
        if n < 0:
            if errno == EINTR:
                # A signal: run its Python handler (which may raise); the loop's next iteration
                # waits again with what is left of its timeout.
                if PyErr_CheckSignals() < 0:
                    return -1
                return 0
            PyErr_SetFromErrno(OSError)
            return -1
        if n == self._capacity and n < _MAX_CAPACITY:
            # More fds may be ready than fit: make room for them at the next wait (the events
            # are moved with the array).
            self._reserve(2 * n)
        return n
