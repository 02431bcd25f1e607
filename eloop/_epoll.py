"""The epoll backend's poller: which fds the loop waits on, and what becomes ready.

Each fd has a `FdWatch`: at most one waiter for reading and one for writing. A waiter is anything
the loop can put in its ready queue (a `Runnable`: `_cancelled` and `_run()`): a Handle given to
add_reader/add_writer, or an operation of the completion queue parked until its fd is ready.

Two trigger modes:

* level-triggered (LT): the epoll interest set follows the waiters. Adding or removing a waiter
  costs an epoll_ctl; epoll reports an fd for as long as it is ready.
* edge-triggered (ET): an fd is registered once for IN|OUT|RDHUP with EPOLLET, and readiness is kept
  here in user space (as tokio's mio does). A change of waiters costs no syscall. Epoll reports an
  fd only when it becomes ready again, so every consumer reads or writes until EAGAIN and then says
  so (`readable_exhausted` / `writable_exhausted`).

The readiness API of asyncio (add_reader) promises level-triggered calls: a callback that reads one
byte of ten is called again. In ET mode a Handle of that API is wrapped in `_Rearming`, which
re-arms the fd after each call (EPOLL_CTL_MOD makes epoll check the fd's readiness again and report
it if it still holds), so the promise is kept in both modes.
"""

import errno
import select
import weakref

try:
    import cython
except ImportError:  # plain Python without Cython installed: nothing is compiled
    _COMPILED = False
else:
    _COMPILED = cython.compiled

from ._epoll_wait import EpollWaiter
from ._handles import Runnable

EPOLLIN = select.EPOLLIN
EPOLLOUT = select.EPOLLOUT
EPOLLERR = select.EPOLLERR
EPOLLHUP = select.EPOLLHUP
EPOLLRDHUP = select.EPOLLRDHUP
EPOLLET = select.EPOLLET

_READ_EVENTS = EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP
_WRITE_EVENTS = EPOLLOUT | EPOLLERR | EPOLLHUP
# Events after which a socket's queue may hold an EOF or error no later edge will announce.
_HANGUP_EVENTS = EPOLLRDHUP | EPOLLHUP | EPOLLERR
_EDGE_MASK = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET

# Errors of epoll_ctl that mean "this fd is not what we think it is": it was closed (and maybe its
# number reused) behind the poller's back.
_STALE_ERRNOS = (errno.ENOENT, errno.EBADF)

# In LT mode, every this many polls that report events, the fds reported are checked against their
# registrations: a registration whose fd was closed while a duplicate keeps its file open is
# reported at every poll, and this bounds the spin it causes to this many iterations.
_STALE_CHECK_POLLS = 256


class FdWatch:
    """The waiters of one fd and, in ET mode, its readiness as last reported."""

    __slots__ = ('fd', 'reader', 'writer', 'mask', 'readable', 'writable', 'hangup', 'owner',
                 'registration')

    def __init__(self, fd):
        self.fd = fd
        self.reader = None
        self.writer = None
        # The events epoll is asked for on this fd (0: not registered).
        self.mask = 0
        self.readable = False
        self.writable = False
        # In ET mode, set for good once epoll reported a hangup or an error: see readable_drained.
        self.hangup = False
        # In ET mode, a weak reference to the object the registration was made for: while the
        # same live object asks again, the registration is still valid and costs no syscall. No
        # callback: once the object is gone, the next registration of the number finds it dead.
        self.owner = None
        # In ET mode, the number of the registration (0: none): a caller that keeps it
        # and shows it again proves the registration is still its own, with no object kept here.
        self.registration = 0


class _Rearming(Runnable):
    """In ET mode, runs an add_reader/add_writer handle and then re-arms its fd.

    The re-arm makes epoll report the fd again if it is still ready, which is the level-triggered
    promise of asyncio's readiness API, kept with one epoll_ctl per call.
    """

    __slots__ = ('handle', 'poller', 'fd')

    def __init__(self, handle, poller, fd):
        self.handle = handle
        self.poller = poller
        self.fd = fd
        # Never set: the handle may be cancelled directly (remove_reader cancels the handle it
        # returns), so _run asks the handle.
        self._cancelled = False

    def cancel(self):
        self.handle.cancel()

    def _run(self):
        if self.handle._cancelled:
            return
        self.handle._run()
        self.poller._rearm(self.fd)


class EpollPoller:
    """A hand-written epoll poller in level- or edge-triggered mode."""

    def __init__(self, edge_triggered=False):
        self.edge_triggered = bool(edge_triggered)
        self._epoll = select.epoll()
        # waiter.wait(timeout) is the epoll_wait: the loop calls it and hands what it returns,
        # if anything, to dispatch() (see poll()).
        self.waiter = EpollWaiter(self._epoll)
        self._watches = {}
        # Counters read by loop statistics: epoll_ctl calls made and events seen.
        self.n_ctl = 0
        # Also read by loop statistics, counted by the stream transports, which reach the poller
        # at every read and write anyway: their receive calls (recv, recv_into) and send calls
        # (send, sendmsg), and how many of each met EAGAIN.
        self.n_recv = 0
        self.n_recv_eagain = 0
        self.n_send = 0
        self.n_send_eagain = 0
        # ET registrations made so far: the last one's number.
        self._n_registrations = 0
        self.n_events = 0
        self._until_stale_check = _STALE_CHECK_POLLS
        # Set by the loop: called with each waiter that becomes ready (it appends to the ready
        # queue). Set per instance, not on the class, so that Cython can make this a C field.
        self.on_ready = None

    # -- life cycle -------------------------------------------------------------------------

    def fileno(self):
        return self._epoll.fileno()

    def close(self):
        self._watches.clear()
        self._epoll.close()

    @property
    def closed(self):
        return self._epoll.closed

    def __len__(self):
        return len(self._watches)

    # -- queries ----------------------------------------------------------------------------

    def get_reader(self, fd):
        watch = self._watches.get(fd)
        return None if watch is None else _unwrap(watch.reader)

    def get_writer(self, fd):
        watch = self._watches.get(fd)
        return None if watch is None else _unwrap(watch.writer)

    def readers(self):
        """The read waiters of all watched fds (as get_reader gives them)."""
        return [_unwrap(watch.reader) for watch in list(self._watches.values())
                if watch.reader is not None]

    def has_fd(self, fd):
        return fd in self._watches

    # -- the readiness interface (add_reader / add_writer) ----------------------------------

    def watch_readable(self, fd, handle):
        """Call `handle` whenever fd is readable; returns the waiter it replaces, or None."""
        watch = self._watch(fd)
        old = _unwrap(watch.reader)
        if self.edge_triggered:
            watch.reader = _Rearming(handle, self, fd)
            # Registering (or re-arming) makes epoll report the fd now if it is already ready.
            self._register_edge(watch, None, 0)
        else:
            watch.reader = handle
            self._update_level(watch, recheck=old is not None)
        return old

    def watch_writable(self, fd, handle):
        """Call `handle` whenever fd is writable; returns the waiter it replaces, or None."""
        watch = self._watch(fd)
        old = _unwrap(watch.writer)
        if self.edge_triggered:
            watch.writer = _Rearming(handle, self, fd)
            self._register_edge(watch, None, 0)
        else:
            watch.writer = handle
            self._update_level(watch, recheck=old is not None)
        return old

    def unwatch_readable(self, fd):
        """Stop calling the reader of fd; returns it, or None if there was none."""
        return self._drop_waiter(fd, reading=True, owned_by_user=True)

    def unwatch_writable(self, fd):
        return self._drop_waiter(fd, reading=False, owned_by_user=True)

    # -- the completion interface (operations parked until their fd is ready) ---------------

    def park_reader(self, fd, op, owner=None, registration=0):
        """Park `op` until fd is readable.

        In ET mode the fd's registration is checked, and made again if it may not be the
        caller's: `owner` is the object the fd belongs to (a socket), or `registration` the
        number this call returned to the caller last time (0: none yet). Returns the number of
        the fd's registration (0 in LT mode), for a caller that owns the fd to show next time.
        """
        watch = self._watch(fd)
        replaced = watch.reader is not None
        watch.reader = op
        if self.edge_triggered:
            self._register_edge(watch, owner, registration)
            if watch.readable:
                # Readiness came while nobody waited: the edge is gone, so run the op now.
                self.on_ready(op)
        else:
            self._update_level(watch, recheck=replaced)
        return watch.registration

    def park_writer(self, fd, op, owner=None, registration=0):
        watch = self._watch(fd)
        replaced = watch.writer is not None
        watch.writer = op
        if self.edge_triggered:
            self._register_edge(watch, owner, registration)
            if watch.writable:
                self.on_ready(op)
        else:
            self._update_level(watch, recheck=replaced)
        return watch.registration

    def unpark_reader(self, fd, op):
        """Withdraw `op` if it is still the reader parked on fd."""
        watch = self._watches.get(fd)
        if watch is not None and watch.reader is op:
            self._drop_waiter(fd, reading=True, owned_by_user=False)

    def unpark_writer(self, fd, op):
        watch = self._watches.get(fd)
        if watch is not None and watch.writer is op:
            self._drop_waiter(fd, reading=False, owned_by_user=False)

    def readable_exhausted(self, fd):
        """A read on fd met EAGAIN: in ET mode, wait for the next edge."""
        watch = self._watches.get(fd)
        if watch is not None:
            watch.readable = False

    def readable_drained(self, fd):
        """A read on fd returned less than it asked for; True if the reader may stop there.

        A short read emptied the socket's queue, and new data makes a new edge, so in ET mode the
        fd's readiness ends here as at EAGAIN, and the EAGAIN call is saved. Unless a hangup or
        error was reported: an EOF queued behind the data read gets no edge of its own, so the
        reader must read on until EAGAIN (False). In LT mode epoll reports the fd again anyway.
        """
        if not self.edge_triggered:
            return True
        watch = self._watches.get(fd)
        if watch is None:
            return True
        if watch.hangup:
            return False
        watch.readable = False
        return True

    def writable_exhausted(self, fd):
        watch = self._watches.get(fd)
        if watch is not None:
            watch.writable = False

    def forget(self, fd):
        """The fd is about to be closed by its owner: drop it and its registration."""
        watch = self._watches.pop(fd, None)
        if watch is not None and watch.mask:
            self._unregister(fd)
        return watch

    # -- polling ----------------------------------------------------------------------------

    def poll(self, timeout):
        """Wait up to `timeout` seconds (negative: for ever) and hand the ready waiters to
        on_ready; the number of events. (The loop makes the same two calls itself.)"""
        events = self.waiter.wait(timeout)
        if events:
            self.dispatch(events)
        return len(events)

    def dispatch(self, events, count=-1):
        """Hand the waiters of the events epoll reported to on_ready: the (fd, events) pairs of
        `events`; or compiled, `events` None, the first `count` events of the waiter's C array
        (see wait_and_dispatch), for which no pair is made."""
        if count < 0:
            count = len(events)
        self.n_events += count
        edge = self.edge_triggered
        waiter = self.waiter
        if not edge:
            self._until_stale_check -= 1
            if self._until_stale_check <= 0 and self._rebuilt_for_stale(
                    waiter.wait_result(count) if events is None else events):
                return  # level-triggered: what is really ready is reported again
        watches = self._watches
        on_ready = self.on_ready
        i = 0
        while i < count:  # (not a range: plain Python would make one per poll)
            if events is None:
                fd = waiter.event_fd(i)
                mask = waiter.event_mask(i)
            else:
                fd, mask = events[i]
            i += 1
            watch = watches.get(fd)
            if watch is None:
                self._drop_stale(fd)
                continue
            if mask & _READ_EVENTS:
                if edge:
                    watch.readable = True
                    if mask & _HANGUP_EVENTS:
                        watch.hangup = True
                reader = watch.reader
                if reader is not None:
                    if _COMPILED:  # (deque.append's C function: see _builtin_call.pxd)
                        call_with_one(on_ready, reader)
                    else:
                        on_ready(reader)
            if mask & _WRITE_EVENTS:
                if edge:
                    watch.writable = True
                writer = watch.writer
                if writer is not None:
                    if _COMPILED:
                        call_with_one(on_ready, writer)
                    else:
                        on_ready(writer)
            if not edge and watch.reader is None and watch.writer is None:
                self._drop_stale(fd)

    def wait_and_dispatch(self, timeout):
        """Compiled only: poll(), its events dispatched from the waiter's C array, and its
        result dropped."""
        count = self.waiter.wait_events(timeout)
        if count:
            self.dispatch(None, count)

    def _rebuilt_for_stale(self, events):
        """Level-triggered, one batch of events in _STALE_CHECK_POLLS: if one comes from the
        registration of a closed file, rebuild the epoll set, and say so."""
        self._until_stale_check = _STALE_CHECK_POLLS
        if self._reports_stale_registration(events):
            self._rebuild()
            return True
        return False

    # -- internals --------------------------------------------------------------------------

    def _watch(self, fd):
        watch = self._watches.get(fd)
        if watch is None:
            watch = self._watches[fd] = FdWatch(fd)
        return watch

    def _drop_waiter(self, fd, reading, owned_by_user):
        watch = self._watches.get(fd)
        if watch is None:
            return None
        if reading:
            old, watch.reader = watch.reader, None
        else:
            old, watch.writer = watch.writer, None
        if old is None:
            return None
        if self.edge_triggered:
            # An fd of the readiness API may be closed by its user right after this call, and its
            # number reused: keep no registration for it once nobody waits on it.
            if owned_by_user and watch.reader is None and watch.writer is None:
                self.forget(fd)
        else:
            self._update_level(watch)
        return _unwrap(old)

    def _update_level(self, watch, recheck=False):
        """LT mode: make the interest registered with epoll match the waiters.

        `recheck`: a waiter was replaced, maybe one left behind by a user who closed the fd
        without removing it. The number may now name a new file, unknown to epoll: a MOD finds
        out (ENOENT) and registers it.
        """
        mask = 0
        if watch.reader is not None:
            mask |= EPOLLIN
        if watch.writer is not None:
            mask |= EPOLLOUT
        if mask == watch.mask:
            if recheck and mask:
                self._modify(watch.fd, mask)
            return
        fd = watch.fd
        if mask == 0:
            self._unregister(fd)
            del self._watches[fd]
        elif watch.mask == 0:
            self._register(fd, mask)
        else:
            self._modify(fd, mask)
        watch.mask = mask

    def _register_edge(self, watch, owner, registration):
        """ET mode: make sure fd is registered, once, for every event."""
        if watch.mask:
            if registration and registration == watch.registration:
                return
            if owner is not None and watch.owner is not None and watch.owner() is owner:
                return
            # Registered for another (or unknown) owner: the fd may have been closed and its
            # number reused since, so register again; EEXIST means it was still ours.
            self._modify(watch.fd, _EDGE_MASK)
        else:
            self._register(watch.fd, _EDGE_MASK)
            watch.mask = _EDGE_MASK
        # Epoll reports the fd's readiness anew after this call: what was known of it may have
        # been another file's.
        watch.readable = watch.writable = watch.hangup = False
        # Numbered within 32 bits (a C field compiled): after 2**32 - 1, again from 1.
        self._n_registrations = self._n_registrations % 0xFFFFFFFF + 1
        watch.registration = self._n_registrations
        watch.owner = None if owner is None else weakref.ref(owner)

    def _rearm(self, fd):
        watch = self._watches.get(fd)
        if watch is not None and watch.mask:
            try:
                self._modify(fd, watch.mask)
            except OSError as exc:
                if exc.errno != errno.EBADF:
                    raise
                # The callback's user closed the fd without remove_reader/remove_writer.
                self._rebuild()

    def _register(self, fd, mask):
        self.n_ctl += 1
        try:
            self._epoll.register(fd, mask)
        except FileExistsError:
            self._epoll.modify(fd, mask)

    def _modify(self, fd, mask):
        self.n_ctl += 1
        try:
            self._epoll.modify(fd, mask)
        except FileNotFoundError:
            # Closed behind our back and its number reused: this is a new file to register.
            self._epoll.register(fd, mask)

    def _unregister(self, fd):
        """Remove fd's registration; False if epoll no longer knows the fd by that number."""
        self.n_ctl += 1
        try:
            self._epoll.unregister(fd)
        except OSError as exc:
            if exc.errno not in _STALE_ERRNOS:
                raise
            return False
        return True

    def _drop_stale(self, fd):
        """An event for an fd nobody waits on (closed or handed over behind our back)."""
        watch = self._watches.get(fd)
        if watch is not None:
            if watch.reader is not None or watch.writer is not None:
                return
            del self._watches[fd]
        if not self._unregister(fd):
            # The event came from a registration whose fd was closed (or its number reused)
            # while a duplicate keeps the file open: epoll_ctl cannot name it any more.
            self._rebuild()

    def _reports_stale_registration(self, events):
        """True if an event of this batch comes from a registration whose fd was closed."""
        if len({fd for fd, _ in events}) != len(events):
            return True  # one number, two registrations: the old file's and the new one's
        watches = self._watches
        for fd, _ in events:
            watch = watches.get(fd)
            if watch is not None and watch.mask:
                self.n_ctl += 1
                try:
                    self._epoll.modify(fd, watch.mask)
                except OSError as exc:
                    if exc.errno in _STALE_ERRNOS:
                        return True
                    raise
        return False

    def _rebuild(self):
        """Replace the epoll instance, registering again every watched fd that is still open.

        A registration outlives the close of its fd while a duplicate of the fd (another
        process's, a dup()) keeps the file open, and epoll_ctl can no longer name it: only a new
        instance forgets it. The waiters of fds found closed run once, so that a parked operation
        fails with EBADF rather than waiting forever.
        """
        old, self._epoll = self._epoll, select.epoll()
        self.waiter = EpollWaiter(self._epoll)
        old.close()
        # The new instance may have taken the number of a closed fd: that fd is closed too.
        own_fd = self._epoll.fileno()
        for fd, watch in list(self._watches.items()):
            if not watch.mask:
                continue
            if fd != own_fd:
                self.n_ctl += 1
                try:
                    self._epoll.register(fd, watch.mask)
                    continue
                except OSError as exc:
                    if exc.errno != errno.EBADF:
                        raise
            del self._watches[fd]
            for waiter in (watch.reader, watch.writer):
                if waiter is not None:
                    self.on_ready(waiter)


def _unwrap(waiter):
    return waiter.handle if type(waiter) is _Rearming else waiter
