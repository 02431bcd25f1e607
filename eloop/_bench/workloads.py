"""What the benchmark measures: each workload's name, kind, size and reported metrics.

Kinds: 'internals' runs in one child process on the loop under test (eloop._bench.inproc);
'echo', 'http' and 'c10k' start a server child on the loop under test (eloop._bench.servers)
and load it from a separate process pinned to another core.
"""

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool


OPS = Metric('ops_per_s', 'ops/s', '/s', True)
REQUESTS = Metric('rps', 'req/s', '/s', True)
SERVER_CPU = Metric('cpu_us_per_req', 'server CPU/req', 'µs', False)
MEMORY = Metric('kib_per_conn', 'server RSS/conn', 'KiB', False)
ROUND = Metric('round_ms', 'round time', 'ms', False)
# System calls per request: epoll_wait, epoll_ctl, recv and send as the server's loop counts them
# (loops with eloop's loop.stats() only), and every call of the server as strace -c counts it
# (with --strace, any loop).
LOOP_SYSCALLS = Metric('syscalls_per_req', 'syscalls/req', '', False)
STRACE_SYSCALLS = Metric('strace_syscalls_per_req', 'strace sys/req', '', False)


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str           # 'internals' | 'echo' | 'http' | 'c10k'
    what: str           # one line for the report and --list
    count: int = 0      # operations (internals) or connections (c10k), before --scale
    size: int = 0       # message bytes (echo, c10k)
    server: str = ''    # which server eloop._bench.servers runs
    metrics: tuple = ()

    def scaled(self, scale):
        """The same workload with its count multiplied by `scale` (at least 1)."""
        return replace(self, count=max(1, round(self.count * scale))) if self.count else self

    @property
    def has_c_reference(self):
        """The C echo server can stand in for workloads that only need an echo."""
        return self.server == 'echo-protocol'


_INTERNALS = (OPS,)
_LOAD = (REQUESTS, SERVER_CPU, LOOP_SYSCALLS, STRACE_SYSCALLS)

WORKLOADS = {w.name: w for w in (
    Workload('call_soon', 'internals', 'chained call_soon callbacks', count=1_000_000, metrics=_INTERNALS),
    Workload('call_later', 'internals', 'call_later timers, seeded random delays, half cancelled',
             count=100_000, metrics=_INTERNALS),
    Workload('tasks', 'internals', 'tasks each awaiting sleep(0)', count=100_000, metrics=_INTERNALS),
    Workload('sockpair', 'internals', 'socketpair round trips through Protocols, 1 byte echoed',
             count=100_000, metrics=_INTERNALS),
    Workload('tcp-echo-1k', 'echo', 'TCP echo through Protocols, 1 KiB messages',
             size=1024, server='echo-protocol', metrics=_LOAD),
    Workload('tcp-echo-10k', 'echo', 'TCP echo through Protocols, 10 KiB messages',
             size=10 * 1024, server='echo-protocol', metrics=_LOAD),
    Workload('tcp-echo-100k', 'echo', 'TCP echo through Protocols, 100 KiB messages',
             size=100 * 1024, server='echo-protocol', metrics=_LOAD),
    Workload('streams-echo-1k', 'echo', 'TCP echo through asyncio streams, 1 KiB messages',
             size=1024, server='echo-streams', metrics=_LOAD),
    # Large messages overflow the StreamReader's buffer limit: flow control pauses and resumes
    # reading several times a message, which costs epoll_ctl calls in LT mode and none in ET.
    Workload('streams-echo-1m', 'echo',
             'TCP echo through asyncio streams, 1 MiB messages (reading pauses and resumes)',
             size=1024 * 1024, server='echo-streams', metrics=_LOAD),
    Workload('http-httptools', 'http', 'HTTP/1.1 keep-alive, httptools parser on a Protocol',
             server='http-httptools', metrics=_LOAD),
    Workload('http-aiohttp', 'http', 'HTTP/1.1 keep-alive, aiohttp.web hello world',
             server='http-aiohttp', metrics=_LOAD),
    Workload('c10k', 'c10k', 'idle connections held, then one 32-byte echo on each',
             count=10_000, size=32, server='echo-protocol', metrics=(MEMORY, ROUND)),
)}

GROUPS = {
    'internals': [w for w in WORKLOADS if WORKLOADS[w].kind == 'internals'],
    'echo': [w for w in WORKLOADS if WORKLOADS[w].kind == 'echo'],
    'http': [w for w in WORKLOADS if WORKLOADS[w].kind == 'http'],
    'all': list(WORKLOADS),
}


def select(spec):
    """Workload names from a comma-separated list of names and group names, in order, once each."""
    names = []
    for item in filter(None, (part.strip() for part in spec.split(','))):
        if item in GROUPS:
            names.extend(GROUPS[item])
        elif item in WORKLOADS:
            names.append(item)
        else:
            known = ', '.join([*GROUPS, *WORKLOADS])
            raise ValueError(f'unknown workload {item!r}: expected some of {known}')
    return list(dict.fromkeys(names))
