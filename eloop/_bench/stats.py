"""From samples to figures: the median of each metric per workload and loop, its spread, and
how many times better than the baseline loop it is."""

import statistics


def spread(values):
    """(max - min) / median: how far apart the rounds were, as a fraction."""
    middle = statistics.median(values)
    return (max(values) - min(values)) / middle if middle else 0.0


def ratio(value, baseline, higher_is_better):
    """How many times better `value` is than `baseline` (> 1 is better), or None."""
    if value is None or not baseline or not value:
        return None
    return value / baseline if higher_is_better else baseline / value


def summarize_cell(samples, workload):
    """Medians of one (workload, loop) cell from its samples, and the errors of the failed ones."""
    good = [s for s in samples if 'metrics' in s]
    cell = {'workload': workload.name, 'loop': samples[0]['loop'], 'rounds': len(samples),
            'errors': [s['error'] for s in samples if 'error' in s], 'metrics': {}}
    for metric in workload.metrics:
        # (A metric some loops do not measure, such as the syscalls their loop counts, is absent.)
        values = [s['metrics'][metric.key] for s in good if metric.key in s['metrics']]
        if values:
            cell['metrics'][metric.key] = {
                'median': statistics.median(values), 'min': min(values), 'max': max(values),
                'spread': spread(values), 'n': len(values)}
    return cell


def summarize(samples, workloads, baseline):
    """One cell per (workload, loop) that has samples, in the order the samples were taken,
    each with 'ratios' against the `baseline` loop's medians of the same workload."""
    groups = {}
    for sample in samples:
        groups.setdefault((sample['workload'], sample['loop']), []).append(sample)
    cells = [summarize_cell(group, workloads[name]) for (name, _), group in groups.items()]
    medians = {(c['workload'], c['loop'], key): figures['median']
               for c in cells for key, figures in c['metrics'].items()}
    for cell in cells:
        cell['ratios'] = {
            metric.key: ratio(medians.get((cell['workload'], cell['loop'], metric.key)),
                              medians.get((cell['workload'], baseline, metric.key)),
                              metric.higher_is_better)
            for metric in workloads[cell['workload']].metrics}
    return cells
