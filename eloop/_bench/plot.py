"""--plot FILE.png: a panel per workload and metric, a bar per loop (median, min-max whiskers).
matplotlib is optional and imported only here."""

from . import report


def plot(cells, workloads, path):
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        raise RuntimeError('--plot needs matplotlib: pip install matplotlib') from None
    panels = [(name, metric) for name in dict.fromkeys(c['workload'] for c in cells)
              for metric in report.measured_metrics(
                  workloads[name], [c for c in cells if c['workload'] == name])]
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3 * rows), squeeze=False)
    for ax, (name, metric) in zip(axes.flat, panels):
        _panel(ax, [c for c in cells if c['workload'] == name], name, metric)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _panel(ax, cells, name, metric):
    # Every loop keeps its place; a loop without a figure (its samples failed, or it does not
    # count that) gets no bar and a note.
    figures = [c['metrics'].get(metric.key) for c in cells]
    medians = [f['median'] if f else 0 for f in figures]
    whiskers = [[f['median'] - f['min'] if f else 0 for f in figures],
                [f['max'] - f['median'] if f else 0 for f in figures]]
    ax.barh([c['loop'] for c in cells], medians, xerr=whiskers, color='tab:blue', alpha=0.8)
    ax.invert_yaxis()
    better = 'higher' if metric.higher_is_better else 'lower'
    ax.set_title(f'{name}: {metric.label} ({better} is better)', fontsize=9)
    ax.set_xlabel('per second' if metric.unit == '/s' else metric.unit, fontsize=8)
    ax.tick_params(labelsize=8)
    failed = [c['loop'] for c, f in zip(cells, figures) if f is None]
    if failed:
        ax.text(0.99, 0.02, 'no figure: ' + ', '.join(failed), transform=ax.transAxes,
                ha='right', va='bottom', fontsize=7, color='tab:red')
