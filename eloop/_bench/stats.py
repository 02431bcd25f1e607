"""From samples to figures: the median of each metric per workload and loop, its spread, and
how many times better than the baseline loop it is: as a ratio of the medians, and round by
round (a loop's sample against the baseline's of the same round, taken minutes apart at most),
whose range says whether a ratio near 1 stands out from the machine's noise."""

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
            cell['metrics'][metric.key] = dict(range_of(values), spread=spread(values))
    return cell


def range_of(values):
    """min, median and max of `values`, None if there are none."""
    if not values:
        return None
    return {'min': min(values), 'median': statistics.median(values), 'max': max(values),
            'n': len(values)}


def summarize(samples, workloads, baseline):
    """One cell per (workload, loop) that has samples, in the order the samples were taken,
    each with 'ratios' against the `baseline` loop's medians of the same workload, and
    'round_ratios': the range of its ratios against the baseline's sample of the same round."""
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
        baseline_rounds = {s['round']: s['metrics']
                           for s in groups.get((cell['workload'], baseline), ()) if 'metrics' in s}
        cell['round_ratios'] = {
            metric.key: _round_ratios(groups[cell['workload'], cell['loop']], baseline_rounds, metric)
            for metric in workloads[cell['workload']].metrics}
    return cells


def _round_ratios(samples, baseline_rounds, metric):
    """The range of the ratios of `samples` (one cell's) against the baseline's metrics of the
    same round (`baseline_rounds`: round -> metrics)."""
    ratios = (ratio(s['metrics'].get(metric.key), baseline_rounds[s['round']].get(metric.key),
                    metric.higher_is_better)
              for s in samples if 'metrics' in s and s['round'] in baseline_rounds)
    return range_of([value for value in ratios if value is not None])
