"""python -m eloop bench: eloop beside asyncio, uvloop and rloop, in one interleaved run."""

import argparse
import sys

from . import loops, native, progress, report, runner, samples, stats, strace, workloads

QUICK_SCALE = 0.1
QUICK_DURATION = 1.0
DEFAULT_ROUNDS = 5
QUICK_ROUNDS = 2
ALL_LOOPS = (*loops.DEFAULT_LOOPS, loops.C_REFERENCE)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m eloop bench',
        description='Benchmark eloop beside stock asyncio, uvloop and rloop: every sample in a '
                    'fresh process, loops interleaved over rounds, medians and ratios printed.')
    parser.add_argument('--loops', default=','.join(ALL_LOOPS),
                        help=f'comma-separated, from {",".join(ALL_LOOPS)} (default: all installed; '
                             f'{loops.C_REFERENCE} is the C reference server of the echo workloads). '
                             f'A loop named twice is measured twice, the second row as '
                             f'{loops.repeat_name("NAME", 2)}: their ratio shows the noise')
    parser.add_argument('--workloads', default='all',
                        help='comma-separated workload or group names (see --list; default: all)')
    parser.add_argument('--rounds', type=int, help=f'rounds per workload (default {DEFAULT_ROUNDS}, '
                                                   f'{QUICK_ROUNDS} with --quick)')
    parser.add_argument('--quick', action='store_true',
                        help=f'counts ×{QUICK_SCALE}, {QUICK_DURATION:g} s loads, {QUICK_ROUNDS} rounds')
    parser.add_argument('--scale', type=float, help='multiply every count by this')
    parser.add_argument('--duration', type=float, help='seconds of load per server sample (default 3)')
    parser.add_argument('--conns', type=int, default=50, help='connections of the echo and HTTP loads')
    parser.add_argument('--strace', action='store_true',
                        help='also count every syscall of the servers with strace -c -f, in a '
                             'second load per sample (needs strace)')
    parser.add_argument('--json', metavar='FILE', help='write every sample and the summary as JSON')
    parser.add_argument('--plot', metavar='FILE.png', help='draw the medians (needs matplotlib)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar on stderr')
    parser.add_argument('--list', action='store_true', help='list the workloads and loops, then exit')
    args = parser.parse_args(argv)
    for name, value in (('--rounds', args.rounds), ('--scale', args.scale),
                        ('--duration', args.duration), ('--conns', args.conns)):
        if value is not None and value <= 0:
            parser.error(f'{name} must be positive')
    return args


def choose_loops(spec, note):
    """The rows asked for whose loops are installed, in order; a note for each loop that is not.
    A loop named again is a row of its own (see loops.repeat_name)."""
    chosen = []
    runs = {}
    for name in filter(None, (part.strip() for part in spec.split(','))):
        if name not in ALL_LOOPS:
            raise ValueError(f'unknown loop {name!r}: expected some of {", ".join(ALL_LOOPS)}')
        if loops.is_installed(name):
            runs[name] = runs.get(name, 0) + 1
            chosen.append(loops.repeat_name(name, runs[name]))
        else:
            note(f'{name} is not installed: skipped (pip install {loops.LOOPS[name][0]})')
    return chosen


def list_everything():
    lines = ['Workloads (groups: ' + ', '.join(workloads.GROUPS) + '):']
    for w in workloads.WORKLOADS.values():
        size = f'{w.count:,} ' if w.count else ''
        lines.append(f'  {w.name:<16} {w.kind:<10} {size}{w.what}')
    lines.append('Loops:')
    for name in loops.LOOPS:
        state = '' if loops.is_installed(name) else '  (not installed)'
        lines.append(f'  {name:<16} {loops.LOOPS[name][2]}{state}')
    lines.append(f'  {loops.C_REFERENCE:<16} C epoll echo server, reference row of the echo workloads')
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        print(list_everything())
        return 0

    def note(text):
        print(f'eloop bench: {text}', file=sys.stderr)

    try:
        loop_names = choose_loops(args.loops, note)
        names = workloads.select(args.workloads)
    except ValueError as exc:
        note(str(exc))
        return 2
    baseline = loops.BASELINE if loops.BASELINE in loop_names else loop_names[0]
    scale = args.scale or (QUICK_SCALE if args.quick else 1.0)
    rounds = args.rounds or (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    duration = args.duration or (QUICK_DURATION if args.quick else samples.Settings.duration)
    if args.strace and not strace.strace():
        note('--strace: strace is not installed (apt-get install strace)')
        return 2
    settings = samples.Settings.for_this_machine(duration=duration, conns=args.conns,
                                                 strace=args.strace)
    chosen = [workloads.WORKLOADS[name].scaled(scale) for name in names]
    if any(w.kind == 'http' for w in chosen) and not native.wrk():
        note('wrk is not installed (apt-get install wrk): HTTP load by the C client instead')

    plan = runner.schedule(chosen, loop_names, rounds)
    bar = progress.Progress(len(plan), enabled=not args.no_progress)
    records = runner.run(plan, rounds, settings, bar)

    by_name = {w.name: w for w in chosen}
    cells = stats.summarize(records, by_name, baseline)
    labels = report.labels_from(records, loop_names)
    print(report.table(cells, by_name, settings, rounds, baseline, labels))
    if args.json:
        meta = {'machine': report.machine(), 'labels': labels, 'baseline': baseline,
                'rounds': rounds, 'scale': scale, 'settings': vars(settings),
                'http_load': 'wrk' if native.wrk() else 'echo_client --mode http',
                'workloads': {w.name: {'kind': w.kind, 'what': w.what, 'count': w.count,
                                       'size': w.size} for w in chosen}}
        report.write_json(args.json, meta, records, cells)
    if args.plot:
        from . import plot
        try:
            plot.plot(cells, by_name, args.plot)
        except RuntimeError as exc:
            note(str(exc))
            return 1
    return 0 if len(records) == len(plan) else 130  # 130: stopped by Ctrl-C, as a shell says
