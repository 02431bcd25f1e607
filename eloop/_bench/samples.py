"""Taking one sample: one workload on one loop, in fresh child processes.

A sample is {'metrics': {...}, 'label': ...} or {'error': '...'}; a failure of the loop under
test, of its server or of the load becomes the sample's error, never an exception out of here.
"""

import time
from dataclasses import dataclass

from . import loops, native, procs, strace

START_TIMEOUT = 30.0      # a child has this long to start and answer
REQUEST_CAP = 10_000_000  # the load also stops after this many requests, whatever the duration
# The system calls of the loop's own I/O that loop.stats() counts: their sum per request is the
# syscalls/req figure; the EAGAIN results (already among them) are reported beside.
LOOP_SYSCALLS = ('epoll_wait', 'epoll_ctl', 'recv_calls', 'send_calls')
LOOP_EAGAIN = ('recv_eagain', 'send_eagain')


@dataclass(frozen=True)
class Settings:
    duration: float = 3.0   # seconds of load per sample
    conns: int = 50         # concurrent connections of the echo and HTTP loads
    server_cpu: int = None  # CPU the loop under test is pinned to
    client_cpu: int = None  # CPU the load generator is pinned to
    strace: bool = False    # count the server's syscalls with strace -c, in a load of their own

    @classmethod
    def for_this_machine(cls, **options):
        cpus = procs.usable_cpus()
        client = cpus[1] if len(cpus) > 1 else None
        return cls(server_cpu=cpus[0] if client is not None else None, client_cpu=client, **options)


def take(workload, loop, settings):
    """One sample of `workload` on `loop`."""
    measure = {'internals': _internals, 'echo': _echo, 'http': _http, 'c10k': _c10k}[workload.kind]
    try:
        return measure(workload, loop, settings)
    except (procs.ChildError, native.BuildError, strace.StraceError) as exc:
        return {'error': str(exc)}
    except Exception as exc:  # an unexpected answer is this cell's failure, not the run's end
        return {'error': f'{type(exc).__name__}: {exc}'}


def _python_child(module, loop, *args, cpu=None, stdin=False):
    env = dict(loops.child_environment(loop), PYTHONPATH=procs.child_pythonpath())
    return procs.Child(procs.python_module(module, *args), cpu=cpu, env=env, stdin=stdin)


def _internals(workload, loop, settings):
    args = ('--loop', loop, '--workload', workload.name, '--count', workload.count)
    with _python_child('eloop._bench.inproc', loop, *args, cpu=settings.server_cpu) as worker:
        return worker.read_json(START_TIMEOUT + 60 + workload.count / 1000)


class _Server:
    """The server under test for one sample; `error` says why it did not start."""

    def __init__(self, workload, loop, settings):
        if loop == loops.C_REFERENCE:
            self.child = procs.Child([native.echo_server(), '--port', '0'], cpu=settings.server_cpu)
        else:
            args = ('--loop', loop, '--workload', workload.name, '--port', 0)
            self.child = _python_child('eloop._bench.servers', loop, *args, cpu=settings.server_cpu,
                                       stdin=True)
        self.pid = self.child.pid
        answer = self.child.read_json(START_TIMEOUT)
        self.error = answer.get('error')
        self.port = answer.get('port')
        self.label = answer.get('label', 'C epoll echo server (reference)')
        self.counts = answer.get('stats', False)

    def loop_stats(self):
        """The server loop's stats() now, or None for a loop that keeps none."""
        if not self.counts:
            return None
        self.child.send_line('stats')
        return self.child.read_json(START_TIMEOUT)['stats']

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.child.stop()


def _start_server(workload, loop, settings):
    server = _Server(workload, loop, settings)
    if server.error:
        server.child.stop()
        raise procs.ChildError(server.error)
    return server


def _run_echo_client(port, settings, *args):
    argv = [native.echo_client(), '--port', str(port), '--conns', str(settings.conns),
            '--duration', str(settings.duration), '--requests', str(REQUEST_CAP), *map(str, args)]
    with procs.Child(argv, cpu=settings.client_cpu) as client:
        result = client.read_json(settings.duration + START_TIMEOUT + 60)
        client.wait(10)
    return _checked(result)


def _checked(result):
    """The load generator's result, unless it saw an error (a wrong byte, a lost connection)."""
    if result.get('errors'):
        raise procs.ChildError(f"load generator: {result['errors']} errors, "
                               f"first: {result['first_error']}")
    return result


def _load_figures(server, run_load, settings):
    """req/s from the load, the server's CPU time and system calls per request over the same
    window; with settings.strace, every syscall of the server per request in a second load."""
    stats_before = server.loop_stats()
    cpu_before = procs.cpu_seconds(server.pid)
    requests, seconds = run_load()
    server_cpu = procs.cpu_seconds(server.pid) - cpu_before
    stats_after = server.loop_stats()
    if not requests:
        raise procs.ChildError('no request completed')
    sample = {'metrics': {'rps': requests / seconds, 'cpu_us_per_req': server_cpu / requests * 1e6,
                          'requests': requests, 'seconds': seconds,
                          'server_cpu_seconds': server_cpu},
              'label': server.label}
    if stats_before is not None:
        _add_loop_syscalls(sample, stats_before, stats_after, requests)
    if settings.strace:
        _add_strace_syscalls(sample, server, run_load)
    return sample


def _add_loop_syscalls(sample, before, after, requests):
    """The syscalls that the server's loop counted between two stats(), per request."""
    if not all(key in after for key in LOOP_SYSCALLS + LOOP_EAGAIN):
        return  # a loop with stats() of its own kind: nothing comparable
    per_request = {key: (after[key] - before[key]) / requests
                   for key in LOOP_SYSCALLS + LOOP_EAGAIN}
    sample['metrics']['syscalls_per_req'] = sum(per_request[key] for key in LOOP_SYSCALLS)
    sample['loop_syscalls_per_req'] = per_request


def _add_strace_syscalls(sample, server, run_load):
    """Every syscall of the server per request, counted by strace over a load of its own."""
    with strace.Attached(server.pid) as tracer:
        requests, _ = run_load()
        counts = tracer.counts()
    if requests:
        sample['metrics']['strace_syscalls_per_req'] = counts['total'] / requests
        sample['strace_syscalls_per_req'] = {name: calls / requests
                                             for name, calls in counts.items()}


def _echo(workload, loop, settings):
    with _start_server(workload, loop, settings) as server:
        def run_load():
            result = _run_echo_client(server.port, settings, '--size', workload.size)
            return result['requests'], result['seconds']
        return _load_figures(server, run_load, settings)


def _http(workload, loop, settings):
    with _start_server(workload, loop, settings) as server:
        def run_load():
            if native.wrk():
                return _run_wrk(server.port, settings)
            result = _run_echo_client(server.port, settings, '--mode', 'http')
            return result['requests'], result['seconds']
        sample = _load_figures(server, run_load, settings)
        sample['load'] = 'wrk' if native.wrk() else 'echo_client --mode http'
        return sample


def _run_wrk(port, settings):
    duration = max(1, round(settings.duration))
    argv = [native.wrk(), '-t1', f'-c{settings.conns}', f'-d{duration}s', '--timeout', '5s',
            f'http://127.0.0.1:{port}/']
    with procs.Child(argv, cpu=settings.client_cpu) as wrk:
        wrk.wait(duration + START_TIMEOUT)
        output = wrk.process.stdout.read().decode(errors='replace')
    return _parse_wrk(output)


def _parse_wrk(output):
    """(requests, seconds) from wrk's report; ChildError if it reports errors."""
    requests = seconds = None
    for line in output.splitlines():
        words = line.split()
        if 'requests in' in line:
            requests = int(words[0])
            seconds = _wrk_seconds(words[3].rstrip(','))
        elif line.strip().startswith(('Socket errors:', 'Non-2xx')):
            raise procs.ChildError(f'wrk: {line.strip()}')
    if requests is None:
        raise procs.ChildError(f'wrk printed no result: {output.strip()[-300:]}')
    return requests, seconds


def _wrk_seconds(text):
    for suffix, factor in (('ms', 1e-3), ('us', 1e-6), ('s', 1.0), ('m', 60.0)):
        if text.endswith(suffix):
            return float(text[:-len(suffix)]) * factor
    raise procs.ChildError(f'wrk: unreadable duration {text!r}')


def _c10k(workload, loop, settings):
    """Hold `count` idle connections, then one small echo on each: memory and round time."""
    with _start_server(workload, loop, settings) as server:
        fds_before, rss_before = procs.open_fds(server.pid), procs.rss_kib(server.pid)
        argv = [native.echo_client(), '--port', str(server.port), '--conns', str(workload.count),
                '--size', str(workload.size), '--per-conn', '1', '--hold', '--duration', '600']
        with procs.Child(argv, cpu=settings.client_cpu, stdin=True) as client:
            client.read_json(START_TIMEOUT + workload.count / 100)
            _wait_for_fds(server.pid, fds_before + workload.count)
            rss_held = procs.rss_kib(server.pid)
            client.send_line('go')
            result = _checked(client.read_json(START_TIMEOUT + workload.count / 100))
            client.wait(10)
        return {'metrics': {'kib_per_conn': (rss_held - rss_before) / workload.count,
                            'round_ms': result['seconds'] * 1e3,
                            'connect_s': result['connect_seconds']},
                'label': server.label}


def _wait_for_fds(pid, count, timeout=START_TIMEOUT):
    """Wait until the server has accepted the connections (holds `count` fds)."""
    deadline = time.monotonic() + timeout
    while procs.open_fds(pid) < count:
        if time.monotonic() > deadline:
            raise procs.ChildError(f'server accepted only {procs.open_fds(pid)} of {count} fds '
                                   f'within {timeout:g} s')
        time.sleep(0.05)
