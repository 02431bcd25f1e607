"""`python -m eloop bench`: eloop beside asyncio, uvloop and rloop, interleaved over rounds.

One module per concern: cli (options), loops (how each loop is made in a child process),
workloads (what is measured and how big), inproc (loop-internals workloads, run in a child),
servers (the Python servers under load, run in a child), native (the C load generator and the
C reference server), procs (child processes and what /proc says about them), samples (taking
one measurement), runner (interleaving rounds), stats (medians and ratios), progress (the
progress bar), report (table and JSON) and plot (matplotlib, optional).
"""
