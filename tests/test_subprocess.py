"""Subprocesses: asyncio.create_subprocess_exec/shell and loop.subprocess_exec/shell on eloop."""

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import threading

import pytest

from eloop import _subprocess

PY = sys.executable


def test_exit_codes(run):
    async def main():
        codes = []
        for code in (0, 1, 7, 255):
            proc = await asyncio.create_subprocess_exec(PY, '-c', f'raise SystemExit({code})')
            codes.append(await proc.wait())
            assert proc.returncode == code
        proc = await asyncio.create_subprocess_shell('exit 42')
        codes.append(await proc.wait())
        return codes
    assert run(main(), timeout=30) == [0, 1, 7, 255, 42]


def test_terminate_kill_and_send_signal(run):
    async def main():
        results = []
        for stop, expected in (('terminate', -signal.SIGTERM), ('kill', -signal.SIGKILL)):
            proc = await asyncio.create_subprocess_exec(
                PY, '-c', 'import sys, time; print("up", flush=True); time.sleep(30)',
                stdout=subprocess.PIPE)
            assert await proc.stdout.readline() == b'up\n'
            getattr(proc, stop)()
            results.append(await proc.wait() == expected)
        proc = await asyncio.create_subprocess_exec(
            PY, '-c', 'import sys, time; print("up", flush=True); time.sleep(30)',
            stdout=subprocess.PIPE)
        await proc.stdout.readline()
        proc.send_signal(signal.SIGUSR1)
        results.append(await proc.wait() == -signal.SIGUSR1)
        # Once its exit was reported, the process is gone: asyncio raises ProcessLookupError.
        with pytest.raises(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        return results
    assert run(main(), timeout=30) == [True, True, True]


def test_large_stdout_through_streams(run):
    """8 MiB written by the child arrive whole through asyncio.StreamReader."""
    async def main():
        code = ('import sys, hashlib\n'
                'data = bytes(range(256)) * (8 * 4096)\n'
                'sys.stdout.buffer.write(data)\n'
                'sys.stderr.write(hashlib.sha256(data).hexdigest())\n')
        proc = await asyncio.create_subprocess_exec(
            PY, '-c', code, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        digest = hashlib.sha256()
        total = 0
        while True:
            chunk = await proc.stdout.read(1 << 16)
            if not chunk:
                break
            total += len(chunk)
            digest.update(chunk)
        expected = (await proc.stderr.read()).decode()
        assert await proc.wait() == 0
        assert total == 8 << 20
        assert digest.hexdigest() == expected
    run(main(), timeout=60)


def test_stdin_feeding_and_communicate(run):
    async def main():
        data = os.urandom(4 << 20)
        proc = await asyncio.create_subprocess_exec(
            PY, '-c', 'import sys, hashlib; '
                      'print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())',
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for start in range(0, len(data), 1 << 18):
            proc.stdin.write(data[start:start + (1 << 18)])
            await proc.stdin.drain()
        proc.stdin.close()
        out = await proc.stdout.read()
        assert out.decode().strip() == hashlib.sha256(data).hexdigest()
        assert await proc.wait() == 0

        proc = await asyncio.create_subprocess_exec(
            PY, '-c', 'import sys; d = sys.stdin.buffer.read(); '
                      'sys.stdout.buffer.write(d[::-1]); sys.stderr.buffer.write(b"err")',
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await proc.communicate(b'abc' * 100_000)
        assert out == (b'abc' * 100_000)[::-1]
        assert err == b'err'
        assert proc.returncode == 0
    run(main(), timeout=60)


def test_many_concurrent_short_processes(run):
    async def main():
        procs = [await asyncio.create_subprocess_exec('/bin/sh', '-c', f'exit {i % 5}')
                 for i in range(50)]
        return await asyncio.gather(*(p.wait() for p in procs))
    assert run(main(), timeout=60) == [i % 5 for i in range(50)]


def test_process_killed_while_its_output_is_read(run):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, '-c', 'import sys\nwhile True: sys.stdout.write("x" * 1000); sys.stdout.flush()',
            stdout=subprocess.PIPE)
        assert len(await proc.stdout.readexactly(100_000)) == 100_000
        proc.kill()
        rest = await proc.stdout.read()  # whatever was in the pipe, then EOF
        assert isinstance(rest, bytes)
        assert await proc.wait() == -signal.SIGKILL
    run(main(), timeout=30)


def test_stdio_redirections(run, tmp_path):
    async def main():
        # stderr=STDOUT merges both into one pipe.
        proc = await asyncio.create_subprocess_exec(
            PY, '-c', 'import sys; sys.stdout.write("out "); sys.stdout.flush(); '
                      'sys.stderr.write("err")',
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out, err = await proc.communicate()
        assert out == b'out err' and err is None
        # DEVNULL: nothing to read, and stdin reads EOF.
        proc = await asyncio.create_subprocess_exec(
            PY, '-c', 'import sys; print(repr(sys.stdin.read()))',
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out, _ = await proc.communicate()
        assert out.strip() == b"''"
        assert proc.stdin is None and proc.stderr is None
        # A file object and a raw fd.
        path = tmp_path / 'out.txt'
        with open(path, 'wb') as f:
            proc = await asyncio.create_subprocess_shell('echo to-file', stdout=f)
            assert await proc.wait() == 0
        assert path.read_bytes() == b'to-file\n'
        r, w = os.pipe()
        proc = await asyncio.create_subprocess_shell('echo to-fd', stdout=w)
        os.close(w)
        assert await proc.wait() == 0
        assert os.read(r, 100) == b'to-fd\n'
        os.close(r)
    run(main(), timeout=30)


def test_argument_errors_are_asyncios(run, loop):
    async def main():
        for kwargs in ({'universal_newlines': True}, {'shell': True}, {'bufsize': 1},
                       {'text': True}, {'encoding': 'utf-8'}, {'errors': 'strict'}):
            with pytest.raises(ValueError):
                await loop.subprocess_exec(asyncio.SubprocessProtocol, 'true', **kwargs)
        for kwargs in ({'universal_newlines': True}, {'shell': False}, {'bufsize': 1},
                       {'text': True}, {'encoding': 'utf-8'}, {'errors': 'strict'}):
            with pytest.raises(ValueError):
                await loop.subprocess_shell(asyncio.SubprocessProtocol, 'true', **kwargs)
        with pytest.raises(ValueError, match='cmd must be a string'):
            await loop.subprocess_shell(asyncio.SubprocessProtocol, ['true'])
        with pytest.raises(FileNotFoundError):
            await asyncio.create_subprocess_exec('/nonexistent/program')
    run(main())


class Events(asyncio.SubprocessProtocol):
    def __init__(self):
        self.events = []
        self.data = {1: b'', 2: b''}
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.events.append('made')

    def pipe_data_received(self, fd, data):
        self.data[fd] += data

    def pipe_connection_lost(self, fd, exc):
        self.events.append(('pipe_lost', fd, exc))

    def process_exited(self):
        self.events.append('exited')

    def connection_lost(self, exc):
        self.events.append(('lost', exc))
        self.done.set_result(None)


def test_transport_api_and_protocol_events(run):
    async def main():
        loop = asyncio.get_running_loop()
        transport, proto = await loop.subprocess_exec(
            Events, PY, '-c', 'import sys; sys.stdout.write(sys.stdin.read().upper())')
        assert isinstance(transport, asyncio.SubprocessTransport)
        assert transport.get_pid() > 0
        assert transport.get_returncode() is None
        assert transport.get_extra_info('subprocess').pid == transport.get_pid()
        stdin = transport.get_pipe_transport(0)
        assert isinstance(stdin, asyncio.WriteTransport)
        assert isinstance(transport.get_pipe_transport(1), asyncio.ReadTransport)
        assert transport.get_pipe_transport(3) is None
        stdin.write(b'shout')
        stdin.close()
        await proto.done
        assert proto.data[1] == b'SHOUT'
        assert transport.get_returncode() == 0
        assert proto.events[0] == 'made'
        assert proto.events[-1] == ('lost', None)
        assert 'exited' in proto.events
        assert {e for e in proto.events if isinstance(e, tuple) and e[0] == 'pipe_lost'} == {
            ('pipe_lost', 0, None), ('pipe_lost', 1, None), ('pipe_lost', 2, None)}
        transport.close()
    run(main(), timeout=30)


def test_close_kills_a_running_process(run):
    async def main():
        loop = asyncio.get_running_loop()
        transport, proto = await loop.subprocess_exec(Events, PY, '-c', 'import time; '
                                                      'time.sleep(30)')
        transport.close()
        assert transport.is_closing()
        await proto.done
        assert transport.get_returncode() == -signal.SIGKILL
    run(main(), timeout=30)


def test_exit_is_noticed_through_a_pidfd_without_threads(run):
    if not hasattr(os, 'pidfd_open'):
        pytest.skip('this Python has no os.pidfd_open')

    async def main():
        before = threading.active_count()
        proc = await asyncio.create_subprocess_exec(PY, '-c', 'pass')
        during = threading.active_count()
        assert await proc.wait() == 0
        return before, during
    before, during = run(main(), timeout=30)
    assert during == before


def test_waitpid_thread_where_there_is_no_pidfd(run, monkeypatch):
    monkeypatch.setattr(_subprocess, '_open_pidfd', lambda pid: None)

    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, '-c', 'print("hi")', stdout=subprocess.PIPE)
        out, _ = await proc.communicate()
        assert out == b'hi\n'
        assert proc.returncode == 0
        procs = [await asyncio.create_subprocess_shell(f'exit {i}') for i in range(5)]
        return await asyncio.gather(*(p.wait() for p in procs))
    assert run(main(), timeout=30) == [0, 1, 2, 3, 4]


def test_status_taken_by_someone_else_is_255_or_what_popen_saw(run, caplog):
    async def main():
        loop = asyncio.get_running_loop()
        transport, proto = await loop.subprocess_exec(Events, 'sleep', '0.2', stdin=None,
                                                      stdout=None, stderr=None)
        # Someone else collects the status first (another library calling os.waitpid); it
        # blocks the loop until the process exits, so the loop cannot have collected it.
        os.waitpid(transport.get_pid(), 0)
        await proto.done
        transport.close()
        return transport.get_returncode()
    assert run(main(), timeout=30) == 255
    assert 'exit status already read' in caplog.text


@pytest.fixture
def eloop_policy():
    """eloop's policy installed for the test, the previous one restored after it."""
    import warnings
    import eloop
    previous = asyncio.get_event_loop_policy()
    policy = eloop.EventLoopPolicy()
    asyncio.set_event_loop_policy(policy)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)  # the watcher API, from 3.12
        yield policy
    asyncio.set_event_loop_policy(previous)


def make_thread_watcher(active=True):
    """A program's own child watcher: reports each exit from a thread, counting the calls."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)  # subclassing it, from 3.12

        class ThreadWatcher(asyncio.AbstractChildWatcher):
            def __init__(self):
                self.handled = []

            def __enter__(self):
                return self

            def __exit__(self, *exc_info):
                pass

            def is_active(self):
                return active

            def add_child_handler(self, pid, callback, *args):
                self.handled.append(pid)

                def wait():
                    _, status = os.waitpid(pid, 0)
                    callback(pid, os.waitstatus_to_exitcode(status), *args)
                threading.Thread(target=wait, daemon=True).start()

            def remove_child_handler(self, pid):
                return True

            def attach_loop(self, loop):
                pass

            def close(self):
                pass

    return ThreadWatcher()


@pytest.mark.skipif(not hasattr(asyncio, 'set_child_watcher'),
                    reason='Python 3.14 has no child watchers')
def test_a_child_watcher_the_program_installed_is_used(run, eloop_policy):
    async def main():
        inactive = make_thread_watcher(active=False)
        asyncio.set_child_watcher(inactive)
        with pytest.raises(RuntimeError):
            await asyncio.create_subprocess_exec(PY, '-c', 'pass')
        assert inactive.handled == []

        watcher = make_thread_watcher()
        asyncio.set_child_watcher(watcher)
        proc = await asyncio.create_subprocess_exec(PY, '-c', 'raise SystemExit(3)')
        assert await proc.wait() == 3
        assert watcher.handled == [proc.pid]
    run(main(), timeout=30)
