"""Running the benchmark: which samples, in which order, and collecting them.

For each workload the loops take turns, A B C A B C over the rounds, so that a slow minute of
the machine touches every loop alike rather than one loop's whole series.
"""

from . import loops, samples


def applies(workload, loop):
    """The C reference server only stands in where a plain echo server is what is measured."""
    return loops.base_name(loop) != loops.C_REFERENCE or workload.has_c_reference


def schedule(workloads, loop_names, rounds):
    """(workload, round, loop) in the order they run."""
    return [(workload, round_number, loop)
            for workload in workloads
            for round_number in range(1, rounds + 1)
            for loop in loop_names if applies(workload, loop)]


def run(plan, rounds, settings, progress, take=samples.take):
    """Take every sample of `plan` (from schedule()); a record per sample, errors included."""
    records = []
    try:
        for workload, round_number, loop in plan:
            progress.step(f'{workload.name} round {round_number}/{rounds} {loop}')
            sample = take(workload, loops.base_name(loop), settings)
            records.append({'workload': workload.name, 'loop': loop, 'round': round_number, **sample})
    except KeyboardInterrupt:
        # Children are already stopped (each sample cleans up its own); report what was measured.
        progress.interrupted(len(records))
        return records
    progress.finish()
    return records
