"""`python -m eloop bench`: the harness runs, interleaves, summarizes and reports.

Tiny counts and short loads only: this checks the harness, not the figures.
"""

import json

import pytest

from eloop._bench import cli, loops, report, runner, stats, strace, workloads
from eloop._bench import samples as samples_module
from eloop._bench.workloads import WORKLOADS


def run_bench(capsys, tmp_path, *args):
    path = tmp_path / 'bench.json'
    code = cli.main([*args, '--rounds', '1', '--no-progress', '--json', str(path)])
    assert code == 0
    return capsys.readouterr().out, json.loads(path.read_text())


def test_internals_on_eloop_and_asyncio_print_a_table_and_write_json(capsys, tmp_path):
    out, result = run_bench(capsys, tmp_path, '--loops', 'eloop,eloop-pure,asyncio',
                            '--workloads', 'call_soon,tasks', '--scale', '0.001')
    assert 'call_soon: 1,000 ×' in out and '×asyncio' in out
    assert [(s['workload'], s['loop']) for s in result['samples']] == [
        ('call_soon', 'eloop'), ('call_soon', 'eloop-pure'), ('call_soon', 'asyncio'),
        ('tasks', 'eloop'), ('tasks', 'eloop-pure'), ('tasks', 'asyncio')]
    for sample in result['samples']:
        assert sample['metrics']['ops_per_s'] > 0, sample
    assert 'plain Python' in result['meta']['labels']['eloop-pure']
    baseline = [c for c in result['summary'] if c['loop'] == 'asyncio']
    assert all(c['ratios']['ops_per_s'] == 1.0 for c in baseline)


def test_tcp_echo_is_measured_on_asyncio_and_reported_per_cell_on_eloop(capsys, tmp_path):
    out, result = run_bench(capsys, tmp_path, '--loops', 'eloop,asyncio,c-epoll',
                            '--workloads', 'tcp-echo-1k', '--duration', '0.3', '--conns', '4')
    by_loop = {s['loop']: s for s in result['samples']}
    for name in ('asyncio', 'c-epoll'):
        assert by_loop[name]['metrics']['rps'] > 0, by_loop[name]
        assert by_loop[name]['metrics']['cpu_us_per_req'] > 0, by_loop[name]
    # Until eloop's transports serve, its cell is an error in the table, not a crash of the run.
    eloop_sample = by_loop['eloop']
    assert 'metrics' in eloop_sample or eloop_sample['error']
    assert 'server CPU/req' in out


def test_echo_on_eloop_reports_the_syscalls_its_loop_counted_per_request(capsys, tmp_path):
    out, result = run_bench(capsys, tmp_path, '--loops', 'eloop,eloop-edge,asyncio',
                            '--workloads', 'tcp-echo-1k', '--duration', '0.3', '--conns', '4')
    by_loop = {s['loop']: s for s in result['samples']}
    for name in ('eloop', 'eloop-edge'):
        counted = by_loop[name]['loop_syscalls_per_req']
        # Every request takes at least one recv and one send of the server.
        assert counted['recv_calls'] >= 1 and counted['send_calls'] >= 1, counted
        assert by_loop[name]['metrics']['syscalls_per_req'] == pytest.approx(
            sum(counted[key] for key in ('epoll_wait', 'epoll_ctl', 'recv_calls', 'send_calls')))
    assert 'syscalls_per_req' not in by_loop['asyncio']['metrics']
    assert 'syscalls/req' in out and 'strace sys/req' not in out


@pytest.mark.skipif(not strace.strace(), reason='strace is not installed')
def test_strace_counts_every_syscall_per_request_on_any_loop(capsys, tmp_path):
    out, result = run_bench(capsys, tmp_path, '--loops', 'eloop,c-epoll', '--strace',
                            '--workloads', 'tcp-echo-1k', '--duration', '0.3', '--conns', '4')
    for sample in result['samples']:
        assert sample['metrics']['strace_syscalls_per_req'] >= 2, sample
        assert sample['strace_syscalls_per_req']['epoll_wait'] > 0, sample
    assert 'strace sys/req' in out


def test_strace_summary_is_parsed_with_or_without_errors():
    text = """% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 60.00    0.006000           2      3000           sendto
 40.00    0.004000           1      3001        12 recvfrom
------ ----------- ----------- --------- --------- ----------------
100.00    0.010000           1      6001        12 total
"""
    assert strace.parse_summary(text) == {'sendto': 3000, 'recvfrom': 3001, 'total': 6001}


def test_unknown_loop_or_workload_is_refused(capsys):
    assert cli.main(['--loops', 'nosuchloop']) == 2
    assert cli.main(['--workloads', 'nosuchworkload']) == 2
    assert 'nosuchworkload' in capsys.readouterr().err


def test_a_loop_named_twice_is_measured_twice_as_a_row_of_its_own(capsys, tmp_path):
    # How a user sees the machine's noise: the same loop against itself in one run.
    assert cli.choose_loops('eloop,asyncio,eloop,eloop', print) == [
        'eloop', 'asyncio', 'eloop#2', 'eloop#3']
    out, result = run_bench(capsys, tmp_path, '--loops', 'eloop,asyncio,eloop',
                            '--workloads', 'call_soon', '--scale', '0.001')
    assert [s['loop'] for s in result['samples']] == ['eloop', 'asyncio', 'eloop#2']
    repeat = result['samples'][2]
    assert repeat['metrics']['ops_per_s'] > 0, repeat
    assert repeat['label'] == result['samples'][0]['label']  # the same loop, not a fallback
    assert result['meta']['labels']['eloop#2'] == result['meta']['labels']['eloop']
    cells = {c['loop']: c for c in result['summary']}
    assert cells['eloop#2']['ratios']['ops_per_s'] > 0
    assert 'eloop#2' in out
    # The longest row name a repeat makes stays apart from its description in the legend.
    legend = report.table([], {}, None, 1, 'eloop', {'eloop-pure#2': 'eloop, plain Python'})
    assert '  eloop-pure#2 ' in legend


def test_loops_take_turns_within_each_workload():
    chosen = [WORKLOADS['call_soon'], WORKLOADS['tcp-echo-1k']]
    plan = runner.schedule(chosen, ['asyncio', 'eloop', loops.C_REFERENCE], rounds=2)
    order = [(w.name, r, loop) for w, r, loop in plan]
    assert order == [
        ('call_soon', 1, 'asyncio'), ('call_soon', 1, 'eloop'),
        ('call_soon', 2, 'asyncio'), ('call_soon', 2, 'eloop'),
        ('tcp-echo-1k', 1, 'asyncio'), ('tcp-echo-1k', 1, 'eloop'), ('tcp-echo-1k', 1, 'c-epoll'),
        ('tcp-echo-1k', 2, 'asyncio'), ('tcp-echo-1k', 2, 'eloop'), ('tcp-echo-1k', 2, 'c-epoll'),
    ]


def test_workload_groups_expand_in_order_once():
    assert workloads.select('call_soon,internals') == ['call_soon', 'call_later', 'tasks', 'sockpair']
    with pytest.raises(ValueError):
        workloads.select('http,bogus')


def test_summary_takes_medians_and_orients_ratios():
    samples = [{'workload': 'tcp-echo-1k', 'loop': loop, 'round': r,
                'metrics': {'rps': rps, 'cpu_us_per_req': cpu}}
               for loop, r, rps, cpu in [('asyncio', 1, 100, 10), ('asyncio', 2, 300, 10),
                                         ('asyncio', 3, 200, 10), ('eloop', 1, 400, 5)]]
    samples.append({'workload': 'tcp-echo-1k', 'loop': 'eloop', 'round': 2, 'error': 'boom'})
    cells = {c['loop']: c for c in stats.summarize(samples, WORKLOADS, 'asyncio')}
    assert cells['asyncio']['metrics']['rps']['median'] == 200
    assert cells['eloop']['ratios'] == {'rps': 2.0, 'cpu_us_per_req': 2.0,
                                        'syscalls_per_req': None, 'strace_syscalls_per_req': None}
    assert cells['eloop']['errors'] == ['boom']


def test_round_ratios_pair_each_sample_with_the_baselines_of_its_round():
    # Round 2 was slow for both loops: the medians' ratio hides that eloop lost round 3, and
    # the round-by-round range shows it.
    figures = [('asyncio', 1, 10), ('eloop', 1, 5), ('asyncio', 2, 40), ('eloop', 2, 20),
               ('asyncio', 3, 10), ('eloop', 3, 12.5), ('asyncio', 4, 10)]
    samples = [{'workload': 'tcp-echo-1k', 'loop': loop, 'round': r,
                'metrics': {'cpu_us_per_req': cpu}} for loop, r, cpu in figures]
    samples.append({'workload': 'tcp-echo-1k', 'loop': 'eloop', 'round': 4, 'error': 'boom'})
    cells = {c['loop']: c for c in stats.summarize(samples, WORKLOADS, 'asyncio')}
    assert cells['eloop']['round_ratios']['cpu_us_per_req'] == {
        'min': 0.8, 'median': 2.0, 'max': 2.0, 'n': 3}
    assert cells['eloop']['round_ratios']['rps'] is None
    assert cells['asyncio']['round_ratios']['cpu_us_per_req']['min'] == 1.0
    line = next(line for line in report.table(
        list(cells.values()), WORKLOADS, samples_module.Settings(), 4, 'asyncio', {}).splitlines()
        if line.strip().startswith('eloop'))
    assert '0.80-2.00' in line


def test_plot_draws_a_png_or_names_the_missing_extra(tmp_path):
    from eloop._bench import plot
    cells = [{'workload': 'call_soon', 'loop': 'asyncio', 'errors': [], 'rounds': 1,
              'metrics': {'ops_per_s': {'median': 1.0, 'min': 1.0, 'max': 1.0, 'spread': 0, 'n': 1}}},
             {'workload': 'call_soon', 'loop': 'eloop', 'errors': ['boom'], 'rounds': 1,
              'metrics': {}}]
    path = tmp_path / 'bench.png'
    try:
        plot.plot(cells, WORKLOADS, str(path))
    except RuntimeError as exc:
        assert 'matplotlib' in str(exc)
    else:
        assert path.read_bytes().startswith(b'\x89PNG')
