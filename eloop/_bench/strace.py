"""--strace: the system calls of a server under load, counted by `strace -c -f` attached to it.

strace stops the server at every system call, so a load under it measures strace more than the
loop: it gets a load of its own, after the measured one, and only its call counts are kept.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

ATTACH_TIMEOUT = 10.0


class StraceError(RuntimeError):
    """strace could not attach, or printed no summary."""


def strace():
    """The strace program's path, or None."""
    return shutil.which('strace')


class Attached:
    """strace -c -f attached to `pid` (all its threads) from __enter__ until counts()."""

    def __init__(self, pid):
        self.pid = pid
        self._output = tempfile.NamedTemporaryFile(prefix='eloop-strace-', suffix='.txt')
        self._process = None

    def __enter__(self):
        argv = [strace(), '-c', '-f', '-q', '-o', self._output.name, '-p', str(self.pid)]
        self._process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, start_new_session=True)
        self._wait_until_traced()
        return self

    def _wait_until_traced(self):
        deadline = time.monotonic() + ATTACH_TIMEOUT
        while not _tracer_pid(self.pid):
            if self._process.poll() is not None:
                raise StraceError(f'strace could not attach: {self._stderr()}')
            if time.monotonic() > deadline:
                raise StraceError(f'strace did not attach within {ATTACH_TIMEOUT:g} s')
            time.sleep(0.01)

    def counts(self):
        """Detach; {syscall: calls} since attaching, with 'total'."""
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(ATTACH_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise StraceError('strace did not stop on SIGINT') from None
        with open(self._output.name) as f:
            found = parse_summary(f.read())
        if 'total' not in found:
            raise StraceError(f'strace printed no summary: {self._stderr()}')
        return found

    def _stderr(self):
        return self._process.stderr.read().decode(errors='replace').strip()[-300:]

    def __exit__(self, *exc):
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process.stderr.close()
        self._output.close()


def parse_summary(text):
    """{syscall: calls} from the table of `strace -c` (the errors column may be empty)."""
    counts = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 5 and words[0].replace('.', '', 1).isdigit():
            counts[words[-1]] = int(words[3])
    return counts


def _tracer_pid(pid):
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('TracerPid:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
