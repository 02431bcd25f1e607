"""The results for people (a table per workload) and for programs (JSON with every sample)."""

import json
import os
import platform
import sys
import time

from . import loops

# The longest row name, a loop measured again (eloop-pure#2, see loops.repeat_name), and a space.
NAME_WIDTH = 15
VALUE_WIDTH = 16
RATIO_WIDTH = 19  # room for "10.36× 9.77-10.49" and a space before it


def format_value(value, metric):
    if metric.unit == '/s':
        for factor, suffix in ((1e6, 'M'), (1e3, 'k')):
            if value >= factor:
                return f'{value / factor:.3g}{suffix}'
        return f'{value:.3g}'
    # Three significant digits, without an exponent in the thousands (1,050 µs, not 1.05e+03 µs).
    text = f'{value:.3g}' if value < 1000 else f'{value:,.0f}'
    return f'{text} {metric.unit}' if metric.unit else text


def format_figures(figures, metric):
    if figures is None:
        return '-'  # not measured on this loop (syscalls counted by the loop itself)
    text = format_value(figures['median'], metric)
    if figures['n'] > 1:
        text += f" ±{figures['spread'] * 100:.0f}%"
    return text


def format_ratio(value, of_rounds):
    """The ratio of the medians, then the range of the round-by-round ratios when they vary."""
    if value is None:
        return ''
    text = f'{value:.2f}×'
    if of_rounds and of_rounds['n'] > 1 and of_rounds['min'] != of_rounds['max']:
        text += f" {of_rounds['min']:.2f}-{of_rounds['max']:.2f}"
    return text


def measured_metrics(workload, cells):
    """The metrics of `workload` that at least one of its cells has a figure for."""
    return [m for m in workload.metrics if any(m.key in c['metrics'] for c in cells)]


def _header(metrics, baseline):
    columns = ''.join(f'{m.label:>{VALUE_WIDTH}}{"×" + baseline:>{RATIO_WIDTH}}' for m in metrics)
    return f'  {"loop":<{NAME_WIDTH}}{columns}'


def _row(cell, metrics):
    name = f"  {cell['loop']:<{NAME_WIDTH}}"
    if not cell['metrics']:
        return name + f"error: {cell['errors'][0]}"
    columns = ''.join(
        f"{format_figures(cell['metrics'].get(m.key), m):>{VALUE_WIDTH}}"
        f"{format_ratio(cell['ratios'][m.key], cell['round_ratios'][m.key]):>{RATIO_WIDTH}}"
        for m in metrics)
    if cell['errors']:
        columns += f"  ({len(cell['errors'])} of {cell['rounds']} rounds failed: {cell['errors'][0]})"
    return name + columns


def _size(workload, settings):
    if workload.kind == 'internals':
        return f'{workload.count:,} ×'
    if workload.kind == 'c10k':
        return f'{workload.count:,} connections,'
    return f'{settings.conns} connections, {settings.duration:g} s,'


def table(cells, workloads, settings, rounds, baseline, labels):
    """The report: a block per workload, a row per loop, then what each loop name stands for."""
    lines = [f'Medians of {rounds} round(s), loops interleaved. ±: spread (max-min)/median. '
             f'×{baseline}: times better than {baseline} (>1 is better; for CPU, memory and '
             f'time: {baseline}\'s figure / this one), from the medians, then the lowest and '
             f'highest of the same ratio taken within one round.', '']
    for name in dict.fromkeys(c['workload'] for c in cells):
        workload = workloads[name]
        of_workload = [c for c in cells if c['workload'] == name]
        metrics = measured_metrics(workload, of_workload)
        lines.append(f'{name}: {_size(workload, settings)} {workload.what}')
        lines.append(_header(metrics, baseline))
        lines.extend(_row(c, metrics) for c in of_workload)
        lines.append('')
    if any('syscalls_per_req' in c['metrics'] for c in cells):
        lines.append('syscalls/req: epoll_wait, epoll_ctl, recv and send calls per request, as the '
                     "server's loop.stats() counts them (eloop only).")
    if any('strace_syscalls_per_req' in c['metrics'] for c in cells):
        lines.append('strace sys/req: every system call of the server per request, counted by '
                     'strace -c -f in a load of its own.')
    lines.append('Loops:')
    lines.extend(f'  {name:<{NAME_WIDTH}}{label}' for name, label in labels.items())
    return '\n'.join(lines)


def labels_from(records, loop_names):
    """What each loop really was, as its children described it (the first description wins)."""
    labels = {}
    for record in records:
        if record.get('label'):
            labels.setdefault(record['loop'], record['label'])
    return {name: labels.get(name, _unlabelled(name)) for name in loop_names}


def _unlabelled(row):
    name = loops.base_name(row)
    if name == loops.C_REFERENCE:
        return 'C epoll echo server (reference)'
    return loops.LOOPS[name][2] + ' (no sample succeeded)'


def machine():
    """What the figures were measured on."""
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            model = next((line.split(':', 1)[1].strip() for line in f
                          if line.startswith('model name')), '')
    except OSError:
        pass
    return {'python': sys.version.split()[0], 'implementation': platform.python_implementation(),
            'kernel': platform.release(), 'cpu': model, 'cpus': os.cpu_count(),
            'date': time.strftime('%Y-%m-%dT%H:%M:%S%z')}


def write_json(path, meta, records, cells):
    with open(path, 'w') as f:
        json.dump({'meta': meta, 'samples': records, 'summary': cells}, f, indent=1)
        f.write('\n')
