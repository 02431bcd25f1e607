"""Subprocesses: loop.subprocess_exec / subprocess_shell and their transport.

The transport is asyncio.base_subprocess.BaseSubprocessTransport with eloop's process start. That
class speaks to the loop only through its public API (connect_read_pipe, connect_write_pipe,
call_soon, create_task, create_future, get_debug), so it brings no BaseEventLoop internals along,
and it is what asyncio.subprocess.Process is written against (`_wait()`, the pipe protocols, the
order of pipe_data_received / process_exited / connection_lost), in the exact version of the
running Python. The pipes are eloop's own pipe transports.

The process's exit is noticed through a pidfd parked with the poller like any other fd: no thread
and no SIGCHLD handler. Where the kernel has no pidfd_open (before Linux 5.3, or a sandbox that
forbids it), a thread per process waits in os.waitpid, as asyncio's ThreadedChildWatcher does.
A child watcher that a program installed itself with asyncio's API (3.10-3.13) is used instead,
as asyncio would, unless it is asyncio's thread or pidfd watcher, which eloop replaces.
"""

import itertools
import os
import subprocess
import sys
import threading

from asyncio import base_subprocess
from asyncio import events
from asyncio import log
from asyncio import unix_events

from ._handles import Handle

# Returned for a process whose status was collected by someone else (asyncio's value).
UNKNOWN_RETURNCODE = 255
# Up to 3.11 asyncio uses the object a child watcher's __enter__ returns; from 3.12 the watcher.
USE_WHAT_ENTER_RETURNS = sys.version_info < (3, 12)

_thread_counter = itertools.count()


class SubprocessTransport(base_subprocess.BaseSubprocessTransport):
    """asyncio's subprocess transport, started with subprocess.Popen."""

    def _start(self, args, shell, stdin, stdout, stderr, bufsize, **kwargs):
        self._proc = subprocess.Popen(
            args, shell=shell, stdin=stdin, stdout=stdout, stderr=stderr,
            universal_newlines=False, bufsize=bufsize, **kwargs)


# -- noticing the exit -------------------------------------------------------------------------

def watch_exit(loop, transport):
    """Call transport._process_exited(returncode) on the loop once the process has exited."""
    proc = transport._proc
    pidfd = _open_pidfd(proc.pid)
    if pidfd is None:
        _watch_with_thread(loop, transport, proc)
    else:
        reaper = Handle(_reap_from_pidfd, (loop, transport, proc, pidfd), loop, None)
        loop._poller.park_reader(pidfd, reaper, reaper)


def _open_pidfd(pid):
    """A pidfd of the child, or None where the kernel (or a sandbox) does not give one."""
    if not hasattr(os, 'pidfd_open'):
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:  # ENOSYS before Linux 5.3, EPERM under some seccomp filters
        return None


def _reap_from_pidfd(loop, transport, proc, pidfd):
    """The pidfd became readable: the process has exited; collect its status."""
    try:
        pid, status = os.waitpid(proc.pid, os.WNOHANG)
    except ChildProcessError:
        returncode = _status_collected_elsewhere(proc)
    else:
        if pid == 0:
            return  # not exited after all (cannot happen with a pidfd): stay parked
        returncode = os.waitstatus_to_exitcode(status)
    loop._poller.forget(pidfd)
    os.close(pidfd)
    _log_exit(loop, proc.pid, returncode)
    # As asyncio since 3.12: the exit is reported one iteration after it is noticed.
    loop.call_soon(transport._process_exited, returncode)


def _status_collected_elsewhere(proc):
    # Popen.poll() (called by transport.close()) may have collected it: then Popen knows it.
    if proc.returncode is not None:
        return proc.returncode
    log.logger.warning('child process pid %d exit status already read:  will report '
                       'returncode 255', proc.pid)
    return UNKNOWN_RETURNCODE


def _log_exit(loop, pid, returncode):
    if loop.get_debug():
        log.logger.debug('process %s exited with returncode %s', pid, returncode)


def _watch_with_thread(loop, transport, proc):
    thread = threading.Thread(target=_wait_in_thread, args=(loop, transport, proc),
                              name=f'eloop-waitpid-{next(_thread_counter)}', daemon=True)
    thread.start()


def _wait_in_thread(loop, transport, proc):
    try:
        _, status = os.waitpid(proc.pid, 0)
    except ChildProcessError:
        returncode = _status_collected_elsewhere(proc)
    else:
        returncode = os.waitstatus_to_exitcode(status)
    _log_exit(loop, proc.pid, returncode)
    try:
        loop.call_soon_threadsafe(transport._process_exited, returncode)
    except RuntimeError:  # the loop was closed while the process ran
        log.logger.warning('Loop %r that handles pid %r is closed', loop, proc.pid)


# -- the loop's API ----------------------------------------------------------------------------

class SubprocessMixin:
    """subprocess_exec and subprocess_shell of the loop."""

    async def subprocess_shell(self, protocol_factory, cmd, *, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               universal_newlines=False, shell=True, bufsize=0,
                               encoding=None, errors=None, text=None, **kwargs):
        """Run `cmd` with the shell; return (transport, protocol)."""
        if not isinstance(cmd, (bytes, str)):
            raise ValueError('cmd must be a string')
        if universal_newlines:
            raise ValueError('universal_newlines must be False')
        if not shell:
            raise ValueError('shell must be True')
        _check_binary_unbuffered(bufsize, text, encoding, errors)
        return await self._start_subprocess(protocol_factory, cmd, True,
                                            f'run shell command {cmd!r}',
                                            stdin, stdout, stderr, bufsize, kwargs)

    async def subprocess_exec(self, protocol_factory, program, *args, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              universal_newlines=False, shell=False, bufsize=0,
                              encoding=None, errors=None, text=None, **kwargs):
        """Run `program` with `args`; return (transport, protocol)."""
        if universal_newlines:
            raise ValueError('universal_newlines must be False')
        if shell:
            raise ValueError('shell must be False')
        _check_binary_unbuffered(bufsize, text, encoding, errors)
        # The debug log names the program only: its arguments may hold secrets (a password).
        return await self._start_subprocess(protocol_factory, (program,) + args, False,
                                            f'execute program {program!r}',
                                            stdin, stdout, stderr, bufsize, kwargs)

    async def _start_subprocess(self, protocol_factory, args, shell, description, stdin, stdout,
                                stderr, bufsize, kwargs):
        protocol = protocol_factory()
        if self._debug:
            _log_subprocess(description, stdin, stdout, stderr)
        transport = await self._make_subprocess_transport(
            protocol, args, shell, stdin, stdout, stderr, bufsize, **kwargs)
        if self._debug:
            log.logger.info('%s: %r', description, transport)
        return transport, protocol

    async def _make_subprocess_transport(self, protocol, args, shell, stdin, stdout, stderr,
                                         bufsize, extra=None, **kwargs):
        watcher = installed_child_watcher()
        if watcher is not None:
            return await self._make_watched_subprocess_transport(
                watcher, protocol, args, shell, stdin, stdout, stderr, bufsize, extra, kwargs)
        waiter = self.create_future()
        transport = SubprocessTransport(self, protocol, args, shell, stdin, stdout, stderr,
                                        bufsize, waiter=waiter, extra=extra, **kwargs)
        watch_exit(self, transport)
        await _connect_or_close(transport, waiter)
        return transport

    async def _make_watched_subprocess_transport(self, watcher, protocol, args, shell, stdin,
                                                 stdout, stderr, bufsize, extra, kwargs):
        """asyncio's way, for a child watcher the program installed: it reports the exit."""
        with watcher as entered:
            if USE_WHAT_ENTER_RETURNS:
                watcher = entered
            if not watcher.is_active():
                # Refuse before the process is started: nobody would notice its exit.
                raise RuntimeError('asyncio.get_child_watcher() is not activated, '
                                   'subprocess support is not installed.')
            waiter = self.create_future()
            transport = SubprocessTransport(self, protocol, args, shell, stdin, stdout, stderr,
                                            bufsize, waiter=waiter, extra=extra, **kwargs)
            watcher.add_child_handler(transport.get_pid(), self._child_watcher_callback,
                                      transport)
            await _connect_or_close(transport, waiter)
        return transport

    def _child_watcher_callback(self, pid, returncode, transport):
        self.call_soon_threadsafe(transport._process_exited, returncode)


async def _connect_or_close(transport, waiter):
    """Wait until the pipes are connected; on failure close the transport and reap the child."""
    try:
        await waiter
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException:
        transport.close()
        await transport._wait()
        raise


def installed_child_watcher():
    """The child watcher a program installed with asyncio's API (3.10-3.13), if it must be used.

    A watcher that reaps children itself (asyncio's SIGCHLD-based ones) or a program's own must
    see every child, or it would collect statuses eloop then misses. asyncio's thread and pidfd
    watchers are left out: eloop does what they do, with no private API of the loop.
    """
    policy = _current_policy()
    watcher = getattr(policy, '_watcher', None)  # asyncio's Unix policy keeps it there
    if watcher is None or isinstance(watcher, _EQUIVALENT_WATCHERS):
        return None
    return watcher


def _current_policy():
    get_policy = getattr(events, '_get_event_loop_policy', None)  # 3.14 deprecates the public
    return get_policy() if get_policy is not None else events.get_event_loop_policy()


_EQUIVALENT_WATCHERS = tuple(
    cls for cls in (getattr(unix_events, 'ThreadedChildWatcher', None),
                    getattr(unix_events, 'PidfdChildWatcher', None))
    if cls is not None)


def _check_binary_unbuffered(bufsize, text, encoding, errors):
    """asyncio's subprocesses speak bytes through unbuffered pipes: refuse anything else."""
    if bufsize != 0:
        raise ValueError('bufsize must be 0')
    if text:
        raise ValueError('text must be False')
    if encoding is not None:
        raise ValueError('encoding must be None')
    if errors is not None:
        raise ValueError('errors must be None')


def _format_pipe(fd):
    if fd == subprocess.PIPE:
        return '<pipe>'
    if fd == subprocess.STDOUT:
        return '<stdout>'
    return repr(fd)


def _log_subprocess(msg, stdin, stdout, stderr):
    info = [msg]
    if stdin is not None:
        info.append(f'stdin={_format_pipe(stdin)}')
    if stdout is not None and stderr == subprocess.STDOUT:
        info.append(f'stdout=stderr={_format_pipe(stdout)}')
    else:
        if stdout is not None:
            info.append(f'stdout={_format_pipe(stdout)}')
        if stderr is not None:
            info.append(f'stderr={_format_pipe(stderr)}')
    log.logger.debug(' '.join(info))
