"""The C programs of the benchmark: built with the system `cc` into a cache directory on first
use (rebuilt when the source changes), and `wrk`, found on PATH when installed."""

import hashlib
import os
import shutil
import subprocess
import tempfile

SOURCE_DIR = os.path.dirname(os.path.abspath(__file__))


class BuildError(RuntimeError):
    """A C program could not be built; the cells that need it report this message."""


def cache_dir():
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'eloop-bench')


def build(name):
    """The path of the executable built from `<name>.c`, compiling it if it is not cached."""
    source = os.path.join(SOURCE_DIR, f'{name}.c')
    with open(source, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    target = os.path.join(cache_dir(), f'{name}-{digest}')
    if not os.path.exists(target):
        _compile(source, target)
    return target


def _compile(source, target):
    compiler = os.environ.get('CC') or shutil.which('cc') or shutil.which('gcc')
    if compiler is None:
        raise BuildError('no C compiler (cc) to build the load generator')
    os.makedirs(os.path.dirname(target), exist_ok=True)
    # Build beside the target, then rename: a parallel run never sees half a binary.
    fd, partial = tempfile.mkstemp(dir=os.path.dirname(target))
    os.close(fd)
    try:
        done = subprocess.run([compiler, '-O2', '-o', partial, source],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise BuildError(f'{compiler} failed on {os.path.basename(source)}: '
                             f'{done.stderr.strip()[-300:]}')
        os.chmod(partial, 0o755)
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def echo_client():
    return build('echo_client')


def echo_server():
    return build('echo_server')


def wrk():
    """The path of wrk, or None when it is not installed."""
    return shutil.which('wrk')
