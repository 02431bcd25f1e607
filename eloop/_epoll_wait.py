"""Waiting for epoll events: the plain-Python twin of _epoll_wait.pyx.

Both give an `EpollWaiter(epoll)` whose `wait(timeout)` waits up to `timeout` seconds (negative:
for ever) and returns the ready fds as a sequence of (fd, events) pairs, as select.epoll.poll
does. Here it is select.epoll.poll itself (up to FD_SETSIZE - 1 events a call); compiled, the
.pyx calls epoll_wait into a reused C array and skips the Python-level overhead of poll (argument
parsing, a fresh buffer, releasing the GIL for a wait that cannot block). The poller uses
whichever is imported.
"""


class EpollWaiter:
    __slots__ = ('wait',)

    # The epoll_wait calls made: not counted here, where each wait is one call (see
    # LoopCore.stats); compiled, a busy loop's wait that finds nothing ready at once makes two.
    n_calls = None

    def __init__(self, epoll):
        # The bound C method itself, so that plain Python pays no extra call to reach it.
        self.wait = epoll.poll
