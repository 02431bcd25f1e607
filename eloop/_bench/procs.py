"""Child processes of the benchmark, and what /proc tells about them.

Every child runs in its own session (so its process group can be killed whole), optionally
pinned to one CPU, with its stderr kept in a file for the error message if it fails.
"""

import contextlib
import os
import select
import signal
import subprocess
import sys
import tempfile
import time


class ChildError(RuntimeError):
    """A child failed to answer as expected; the message names what it said on stderr."""


def usable_cpus():
    """The CPUs this process may run on, in order: the server takes the first, the load the second."""
    return sorted(os.sched_getaffinity(0))


def _pin(cpu):
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


class Child:
    """One child process: read JSON lines from its stdout, write lines to its stdin, stop it."""

    def __init__(self, argv, cpu=None, env=None, stdin=False):
        self._stderr = tempfile.TemporaryFile()
        self._buffer = b''
        full_env = dict(os.environ, **(env or {}))
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self._stderr, env=full_env, start_new_session=True, preexec_fn=_pin(cpu))
        self.pid = self.process.pid

    def read_json(self, timeout):
        """The next line of stdout as a JSON object; ChildError if none comes within `timeout`."""
        import json
        line = self._read_line(timeout)
        try:
            return json.loads(line)
        except ValueError:
            raise ChildError(f'unexpected output {line[:200]!r}{self._stderr_tail()}') from None

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while b'\n' not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChildError(f'no answer within {timeout:g} s{self._stderr_tail()}')
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                chunk = os.read(fd, 65536)
                if not chunk:
                    code = self.process.wait()
                    raise ChildError(f'exited with status {code} before answering'
                                     f'{self._stderr_tail()}')
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b'\n')
        return line.decode(errors='replace')

    def send_line(self, text):
        self.process.stdin.write(text.encode() + b'\n')
        self.process.stdin.flush()

    def wait(self, timeout):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ChildError(f'still running after {timeout:g} s{self._stderr_tail()}') from None

    def stderr_text(self):
        self._stderr.seek(0)
        return self._stderr.read().decode(errors='replace')

    def _stderr_tail(self):
        text = self.stderr_text().strip()
        return f'; stderr: {text[-300:]}' if text else ''

    def stop(self):
        """Kill the child's whole process group and reap it; safe to call twice."""
        for sig, grace in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
            if self.process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        # The group may outlive its leader (a server's helper threads are in it, processes too).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def python_module(module, *args):
    """argv to run `python -m module args` with this interpreter."""
    return [sys.executable, '-m', module, *map(str, args)]


def child_pythonpath():
    """PYTHONPATH that makes a child import the same eloop as this process."""
    import eloop
    root = os.path.dirname(os.path.dirname(os.path.abspath(eloop.__file__)))
    existing = os.environ.get('PYTHONPATH')
    return root + (os.pathsep + existing if existing else '')


def cpu_seconds(pid):
    """User+system CPU time of all threads of `pid` so far.

    Read from /proc/PID/task/*/schedstat (nanoseconds) where the kernel keeps it, else from
    /proc/PID/stat (clock ticks, 10 ms): the same time the process's own os.times() counts.
    """
    try:
        total = 0
        for task in os.listdir(f'/proc/{pid}/task'):
            with open(f'/proc/{pid}/task/{task}/schedstat') as f:
                total += int(f.read().split()[0])
        if total:
            return total / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rpartition(')')[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def rss_kib(pid):
    """Resident memory of `pid` in KiB (VmRSS of /proc/PID/status)."""
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise ChildError(f'no VmRSS for process {pid}')


def open_fds(pid):
    """How many file descriptors `pid` holds."""
    return len(os.listdir(f'/proc/{pid}/fd'))
