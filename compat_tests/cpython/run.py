#!/usr/bin/env python3
"""Runs the loop-generic modules of the installed CPython's test_asyncio on eloop and on
stock asyncio, and prints them side by side.

    python compat_tests/cpython/run.py                       # all modules, asyncio + eloop LT + ET
    python compat_tests/cpython/run.py --group core --trigger edge
    python compat_tests/cpython/run.py --loop asyncio --modules test_locks,test_queues -v
    python compat_tests/cpython/run.py --json out.json
    python compat_tests/cpython/run.py --loop eloop --baseline out.json   # reuse a stock run

Each (module, loop, trigger) runs in its own process (_driver.py); a test that hangs is
killed after --test-timeout and the module resumes after it; a module is cut off after
--timeout. Exit status: 0 when every test that passes on stock asyncio also passes on
eloop and the proof holds (eloop really ran, no stock loop ran in the eloop runs);
1 otherwise; 2 for a usage error.
"""

import argparse
import concurrent.futures
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import _suite  # noqa: E402

DRIVER = HERE / "_driver.py"
PASSING = ("pass", "xfail")
BROKEN = ("fail", "error", "xpass")
# Modules started first, so that the workers finish close together: the slowest on stock
# asyncio, and the ones most likely to hang on a loop under development.
SLOW_FIRST = ("test_tasks", "test_events", "test_ssl", "test_taskgroups", "test_subprocess",
              "test_sslproto", "test_sendfile", "test_streams")


# -- command line --------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loop", choices=("eloop", "asyncio", "both"), default="both")
    p.add_argument("--trigger", choices=("level", "edge", "both"), default="both")
    p.add_argument("--group", choices=tuple(_suite.GROUPS), default="all")
    p.add_argument("--modules", help="comma-separated module names (overrides --group)")
    p.add_argument("--json", metavar="PATH", help="write every per-test result here")
    p.add_argument("--baseline", metavar="PATH",
                   help="take the stock asyncio results from an earlier --json instead of running them")
    p.add_argument("--loop-factory", default="eloop:new_event_loop",
                   help="module:callable making the loop under test (default eloop:new_event_loop)")
    p.add_argument("--policy", help="module:Class of its policy (default: EventLoopPolicy beside the factory)")
    p.add_argument("--pure", action="store_true", help="set ELOOP_PURE=1 (plain-Python eloop)")
    p.add_argument("--jobs", type=int, default=2, help="parallel worker processes (default 2)")
    p.add_argument("--timeout", type=float, default=600, help="seconds per module and loop (default 600)")
    # Stock asyncio's slowest test takes ~2.5 s; CPython's tests wait at most
    # support.SHORT_TIMEOUT (30 s) for an event before failing by themselves.
    p.add_argument("--test-timeout", type=float, default=60, help="seconds per test (default 60)")
    p.add_argument("--retries", type=int, default=1,
                   help="re-run failing eloop tests alone this many times; one that then passes is "
                        "reported as flaky/order-dependent, not as a regression (hangs are not retried)")
    p.add_argument("--logs", metavar="DIR", help="keep per-job logs and results here (default: a temp dir)")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.baseline and args.loop == "both":
        args.loop = "eloop"
    return args


def usage_error(message):
    print(f"run.py: {message}", file=sys.stderr)
    sys.exit(2)


def test_package_dir():
    """The installed test.test_asyncio directory, found without importing it."""
    spec = importlib.util.find_spec("test")
    for location in spec.submodule_search_locations or ():
        candidate = Path(location) / "test_asyncio"
        if candidate.is_dir():
            return candidate
    usage_error("this Python has no test.test_asyncio package (install its test suite)")


def choose_modules(args, out):
    """The modules to run; notes on excluded and absent ones go to out."""
    available = {p.stem for p in test_package_dir().glob("test_*.py")}
    if args.modules:
        wanted = [m.strip() for m in args.modules.split(",") if m.strip()]
        unknown = [m for m in wanted if m not in available]
        if unknown:
            usage_error(f"no such module in this Python's test_asyncio: {', '.join(unknown)}")
    else:
        wanted = list(_suite.default_modules(args.group))
    for module, reason in _suite.EXCLUDED.items():
        if module in available:
            out(f"excluded {module}: {reason}")
    absent = [m for m in wanted if m not in available]
    if absent:
        out(f"absent in Python {sys.version.split()[0]}: {', '.join(absent)}")
    others = sorted(available - set(_suite.GROUPS["all"]) - set(_suite.EXCLUDED))
    if others and not args.modules:
        out(f"not in any group (not run): {', '.join(others)}")
    return [m for m in wanted if m in available]


@dataclass(frozen=True)
class Label:
    name: str       # "asyncio", "eloop-LT", "eloop-ET"
    loop: str       # "asyncio" | "eloop"
    trigger: str    # "level" | "edge"


def labels_for(args):
    labels = []
    if args.loop in ("asyncio", "both"):
        labels.append(Label("asyncio", "asyncio", "level"))
    if args.loop in ("eloop", "both"):
        triggers = ("level", "edge") if args.trigger == "both" else (args.trigger,)
        labels += [Label("eloop-" + ("LT" if t == "level" else "ET"), "eloop", t) for t in triggers]
    return labels


# -- one job: a module on one loop, in as many processes as its hangs need -----------

@dataclass
class JobResult:
    module: str
    label: str
    status: str = "ok"          # ok | timeout | crashed | fatal
    tests: dict = field(default_factory=dict)     # key -> record (tests and fixtures)
    planned: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # hangs, crashes, fatal errors
    outside_ran: dict = field(default_factory=dict)
    loop_source: str = None
    loop_info: object = None
    launches: int = 0
    seconds: float = 0.0
    log: str = ""


class Job:
    """Runs _driver.py for one (module, label) until every planned test has a result."""

    MAX_LAUNCHES = 30

    def __init__(self, module, label, args, workdir, env, only=None):
        self.module, self.label, self.args = module, label, args
        self.dir = workdir / f"{module}.{label.name}" if only is None else workdir / f"{module}.{label.name}.retry"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.env, self.only = env, only
        self.out = self.dir / "results.jsonl"
        self.log = self.dir / "output.log"

    def run(self):
        result = JobResult(self.module, self.label.name, log=str(self.log))
        started = time.monotonic()
        deadline = started + self.args.timeout
        offset = 0
        while True:
            result.launches += 1
            returncode, killed = self._launch(result.tests, deadline)
            records, offset = read_records(self.out, offset)
            inflight, finished, fatal = self._absorb(records, result)
            if finished:
                break
            if fatal:
                result.status = "fatal"
                result.problems.append(f"driver error:\n{fatal}")
                break
            if inflight is None:
                result.status = "timeout" if killed else "crashed"
                result.problems.append(f"process ended between tests (exit {returncode}); see {self.log}")
                break
            self._record_lost(inflight, result, returncode, killed)
            if killed:
                result.status = "timeout"
                break
            if result.launches >= self.MAX_LAUNCHES:
                result.status = "crashed"
                result.problems.append("gave up after too many crashes/hangs")
                break
        self._account_unrun(result)
        result.seconds = round(time.monotonic() - started, 1)
        return result

    def _command(self, done):
        cmd = [sys.executable, str(DRIVER), "--module", self.module, "--loop", self.label.loop,
               "--trigger", self.label.trigger, "--loop-factory", self.args.loop_factory,
               "--out", str(self.out), "--test-timeout", str(self.args.test_timeout)]
        if self.args.policy:
            cmd += ["--policy", self.args.policy]
        if done:
            cmd += ["--skip", str(write_keys(self.dir / "skip.txt", done))]
        if self.only is not None:
            cmd += ["--only", str(write_keys(self.dir / "only.txt", self.only))]
        return cmd

    def _launch(self, done, deadline):
        """Runs the driver once; returns (exit code, killed at the module deadline)."""
        with open(self.log, "a", encoding="utf-8") as log:
            log.write(f"\n=== launch: {' '.join(self._command(done))}\n")
            log.flush()
            # A session of its own, so the whole process group (subprocesses the tests
            # started included) can be killed at the deadline.
            proc = subprocess.Popen(self._command(done), stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=self.dir, env=self.env,
                                    start_new_session=True)
            try:
                return proc.wait(timeout=max(1.0, deadline - time.monotonic())), False
            except subprocess.TimeoutExpired:
                kill_group(proc)
                return proc.wait(), True

    def _absorb(self, records, result):
        """Folds a launch's records into result; returns (test in flight, finished, fatal)."""
        inflight, finished, fatal = None, False, None
        for rec in records:
            kind = rec["type"]
            if kind == "meta":
                if not result.planned:  # the first launch plans the whole module
                    result.planned = rec["planned"]
                    result.notes = rec["notes"]
                    result.loop_source = rec.get("loop_source")
                    result.loop_info = rec.get("loop_info")
            elif kind == "start":
                inflight = rec
            elif kind in ("test", "fixture"):
                result.tests[rec["key"]] = rec
                if inflight is not None and inflight["key"] == rec["key"]:
                    inflight = None
            elif kind == "end":
                finished = True
                merge_kinds(result.outside_ran, rec["outside_ran"])
            elif kind == "fatal":
                fatal = rec["detail"]
        return inflight, finished, fatal

    def _record_lost(self, inflight, result, returncode, killed):
        elapsed = time.time() - inflight.get("time", time.time())
        if killed:
            why = f"killed: the module ran past --timeout {self.args.timeout:.0f}s"
        elif elapsed >= self.args.test_timeout * 0.9:
            why = f"hung: no result after {elapsed:.0f}s (--test-timeout); stacks in {self.log}"
        else:
            why = f"crashed the process (exit {returncode}); see {self.log}"
        result.problems.append(f"{inflight['key']}: {why}")
        result.tests[inflight["key"]] = dict(inflight, type="test", outcome="error", detail=why,
                                             ran={}, created={}, lost=True)

    def _account_unrun(self, result):
        """Planned tests with no result after a timeout/crash count as errors."""
        if result.status == "ok":
            return
        for key in result.planned:
            if key not in result.tests:
                result.tests[key] = {"type": "test", "key": key, "outcome": "error", "ran": {},
                                     "created": {}, "detail": f"not run: module {result.status}"}


def read_records(path, offset):
    if not path.exists():
        return [], offset
    with open(path, encoding="utf-8") as f:
        f.seek(offset)
        data = f.read()
    complete = data[: data.rfind("\n") + 1]  # a line cut by a crash is ignored
    records = [json.loads(line) for line in complete.splitlines() if line.strip()]
    return records, offset + len(complete.encode("utf-8"))


def write_keys(path, keys):
    path.write_text("".join(k + "\n" for k in sorted(keys)), encoding="utf-8")
    return path


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def merge_kinds(into, more):
    for kind, names in more.items():
        into.setdefault(kind, [])
        into[kind] = sorted(set(into[kind]) | set(names))


def child_env(args, label):
    env = dict(os.environ)
    if label.loop == "eloop":
        env["ELOOP_TRIGGER"] = label.trigger
        if args.pure:
            env["ELOOP_PURE"] = "1"
        # The source tree, unless the loop's package is importable already (an installed,
        # possibly compiled, eloop must not be shadowed by the plain-Python checkout).
        package = args.loop_factory.partition(":")[0].split(".")[0]
        if importlib.util.find_spec(package) is None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONFAULTHANDLER", "1")
    return env


def run_jobs(pairs, args, workdir, progress, only=None):
    """Runs (module, label) jobs on --jobs workers; returns {(module, label name): JobResult}."""
    def start_order(pair):
        module = pair[0]
        return SLOW_FIRST.index(module) if module in SLOW_FIRST else len(SLOW_FIRST)

    order = sorted(pairs, key=start_order)  # stable: the rest keep the report's order
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {}
        for module, label in order:
            job = Job(module, label, args, workdir, child_env(args, label),
                      only=None if only is None else only[(module, label.name)])
            futures[pool.submit(job.run)] = (module, label.name)
        for n, future in enumerate(concurrent.futures.as_completed(futures), 1):
            res = future.result()
            results[futures[future]] = res
            progress(f"[{n}/{len(futures)}] {res.module} {res.label}: {count_line(res)} "
                     f"({res.seconds:.0f}s{'' if res.status == 'ok' else ', ' + res.status.upper()})")
    return results


# -- judging -------------------------------------------------------------------------

def counts(res):
    c = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for rec in res.tests.values():
        o = rec["outcome"]
        c["passed" if o in PASSING else "failed" if o in ("fail", "xpass") else
          "errors" if o == "error" else "skipped"] += 1
    return c


def count_line(res):
    c = counts(res)
    return f"{c['passed']} passed, {c['failed']} failed, {c['errors']} errors, {c['skipped']} skipped"


def proof(res):
    """Per test, which loops really ran: the numbers behind 'this ran on eloop'."""
    p = {"tests": 0, "eloop": 0, "fake": 0, "stock": 0, "other": 0, "created_only": 0, "no_loop": 0}
    stock_ids = []
    for key, rec in res.tests.items():
        if rec["type"] != "test" or rec.get("lost"):
            continue
        p["tests"] += 1
        ran = rec.get("ran", {})
        if "stock" in ran:
            p["stock"] += 1
            stock_ids.append(key)
        if "eloop" in ran:
            p["eloop"] += 1
        elif "fake" in ran:
            p["fake"] += 1
        elif "other" in ran:
            p["other"] += 1
        elif not ran:
            p["created_only" if "eloop" in rec.get("created", {}) else "no_loop"] += 1
    return p, stock_ids


def proof_line(res, loop):
    p, _ = proof(res)
    if loop == "asyncio":
        return f"{p['stock']} on stock, {p['fake']} fake-loop, {p['no_loop']} no-loop"
    extra = f", {p['stock']} STOCK" if p["stock"] else ""
    return (f"{p['eloop']}/{p['tests']} on eloop, {p['fake']} fake-loop, "
            f"{p['created_only']} eloop-created-only, {p['no_loop']} no-loop{extra}")


def wrong_trigger(res, trigger):
    """Keys of tests where a loop under test ran in another trigger mode than asked."""
    tag = f"[trigger={trigger}]"
    return [key for key, rec in res.tests.items()
            if any("[trigger=" in n and not n.endswith(tag) for n in rec.get("ran", {}).get("eloop", ()))]


def runs_a_real_loop(stock_tests):
    """Whether stock asyncio ran any test of the module on a real (non-fake) loop."""
    return any("stock" in rec.get("ran", {}) for rec in stock_tests.values())


def proof_failures(results, labels, baseline):
    """Where the eloop runs do not prove anything about eloop."""
    failures = []
    for (module, name), res in sorted(results.items()):
        label = next(l for l in labels if l.name == name)
        if label.loop != "eloop":
            continue
        p, stock_ids = proof(res)
        for key in stock_ids:
            failures.append(f"{name} {key}: a stock asyncio loop ran ({res.tests[key]['ran']['stock']})")
        for key in wrong_trigger(res, label.trigger):
            failures.append(f"{name} {key}: a loop in another trigger mode ran ({res.tests[key]['ran']['eloop']})")
        if "stock" in res.outside_ran:
            failures.append(f"{name} {module}: a stock asyncio loop ran outside tests ({res.outside_ran['stock']})")
        if res.status == "fatal":
            failures.append(f"{name} {module}: the driver failed before running tests")
        elif p["eloop"] == 0 and res.planned and module not in _suite.NOT_ON_ELOOP:
            # Unless this Python's version of the module runs only fake loops on stock
            # asyncio too (3.10's test_queues uses TestLoop throughout).
            if module not in baseline or runs_a_real_loop(baseline[module]):
                failures.append(f"{name} {module}: no test ran on eloop")
    return failures


@dataclass
class Verdict:
    regressions: list = field(default_factory=list)     # (label, key, outcome, detail)
    stock_internal: list = field(default_factory=list)  # (label, key, outcome, reason)
    flaky: list = field(default_factory=list)           # (label, key)
    skipped_on_eloop: list = field(default_factory=list)
    not_twinned: list = field(default_factory=list)     # stock-only keys


def compare(results, baseline, labels, modules):
    """Tests that pass on stock asyncio and do not on eloop."""
    v = Verdict()
    for label in labels:
        if label.loop != "eloop":
            continue
        for module in modules:
            res = results.get((module, label.name))
            if res is None:
                continue
            # Without stock results (--loop eloop, no --baseline) every failure counts.
            stock = baseline.get(module) or {key: {"outcome": "pass"} for key in res.tests}
            spec = _suite.spec_for(module)
            planned = set(res.planned) | set(res.tests)
            # A driver that died before planning ran nothing: every stock pass is lost.
            lost = {"outcome": "error", "detail": "no result: " + "; ".join(res.problems)}
            for key, rec in sorted(stock.items()):
                if rec["outcome"] not in PASSING:
                    continue
                if key not in planned and res.status != "fatal":
                    v.not_twinned.append((label.name, key))
                    continue
                mine = res.tests.get(key, lost)
                if mine["outcome"] == "skip":
                    v.skipped_on_eloop.append((label.name, key, mine.get("detail", "")))
                elif mine["outcome"] in BROKEN:
                    reason = spec.stock_internal_reason(key)
                    if reason:
                        v.stock_internal.append((label.name, key, mine["outcome"], reason))
                    else:
                        v.regressions.append((label.name, key, mine["outcome"], mine.get("detail", "")))
    return v


def retry_regressions(verdict, results, args, labels, workdir, progress):
    """Runs each failing test again, alone in a fresh process; one that passes then is
    flaky or depends on the tests before it. Hangs and crashes are not retried: they
    cost a --test-timeout each and are never benign."""
    for attempt in range(args.retries):
        wanted = {}
        for name, key, _, _ in verdict.regressions:
            module = key.split(".", 1)[0]
            if not results[(module, name)].tests.get(key, {}).get("lost"):
                wanted.setdefault((module, name), set()).add(key)
        if not wanted:
            return
        by_name = {l.name: l for l in labels}
        progress(f"retrying {sum(map(len, wanted.values()))} failing tests (attempt {attempt + 1})")
        rerun = run_jobs([(m, by_name[n]) for m, n in wanted], args, workdir / f"retry{attempt + 1}",
                         progress, only=wanted)
        still = []
        for item in verdict.regressions:
            name, key = item[0], item[1]
            module = key.split(".", 1)[0]
            again = rerun.get((module, name))
            again = again.tests.get(key, {}).get("outcome") if again else None
            if again in PASSING:
                verdict.flaky.append((name, key))
            else:
                still.append(item)
        verdict.regressions = still


# -- output --------------------------------------------------------------------------

def print_table(modules, labels, results, baseline, out, width):
    for module in modules:
        cells, proofs = [], []
        for label in labels:
            res = results.get((module, label.name))
            if res is None:
                continue
            status = "" if res.status == "ok" else f" [{res.status.upper()}]"
            cells.append(f"{label.name}: {count_line(res)}{status}")
            proofs.append(f"{label.name}: {proof_line(res, label.loop)}")
        out(f"{module:<{width}} " + " | ".join(cells))
        out(f"{'':<{width}} ran on: " + " | ".join(proofs))
        if module in _suite.NOT_ON_ELOOP:
            out(f"{'':<{width}} (not required to run on eloop: {_suite.NOT_ON_ELOOP[module]})")
        elif module in baseline and not runs_a_real_loop(baseline[module]):
            out(f"{'':<{width}} (not required to run on eloop: no test of it runs a real loop "
                f"on stock asyncio in this Python)")


def print_totals(modules, labels, results, out):
    for label in labels:
        total = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
        on_loop = 0
        for module in modules:
            res = results.get((module, label.name))
            if res is None:
                continue
            for k, n in counts(res).items():
                total[k] += n
            on_loop += proof(res)[0]["eloop" if label.loop == "eloop" else "stock"]
        where = "on eloop" if label.loop == "eloop" else "on a stock loop"
        out(f"TOTAL {label.name}: {total['passed']} passed, {total['failed']} failed, "
            f"{total['errors']} errors, {total['skipped']} skipped ({on_loop} ran {where})")


def print_verdict(verdict, failures, results, out, verbose, compared):
    def first_line(detail):
        lines = [l for l in (detail or "").strip().splitlines() if l.strip()]
        return lines[-1].strip()[:160] if lines else ""

    problems = [(m, n, p) for (m, n), r in sorted(results.items()) for p in r.problems]
    if problems:
        out(f"\nhangs, crashes and timeouts ({len(problems)}):")
        for module, name, problem in problems:
            out(f"  {name} {module}: {problem.splitlines()[0] if not verbose else problem}")
    if verdict.stock_internal:
        out(f"\nfail on eloop but poke stock asyncio internals, not counted ({len(verdict.stock_internal)}):")
        for name, key, outcome, reason in verdict.stock_internal:
            out(f"  {name} {key}: {outcome} ({reason})")
    if verdict.flaky:
        out(f"\nfailed on eloop, passed when re-run alone: flaky or order-dependent, not counted "
            f"({len(verdict.flaky)}):")
        for name, key in verdict.flaky:
            out(f"  {name} {key}")
    if verdict.skipped_on_eloop:
        out(f"\npass on asyncio, skipped on eloop ({len(verdict.skipped_on_eloop)}):")
        for name, key, reason in verdict.skipped_on_eloop:
            out(f"  {name} {key}: {first_line(reason)}")
    if verdict.not_twinned and verbose:
        out(f"\nstock-only tests with no eloop counterpart ({len(verdict.not_twinned)}):")
        for name, key in verdict.not_twinned:
            out(f"  {name} {key}")
    if failures:
        out(f"\nproof failures ({len(failures)}):")
        for line in failures:
            out(f"  {line}")
    if not compared:
        return
    out(f"\nregressions: pass on asyncio, fail on eloop ({len(verdict.regressions)}):")
    for name, key, outcome, detail in verdict.regressions:
        out(f"  {name} {key}: {outcome}: {first_line(detail)}")


def to_json(args, modules, labels, results, baseline, verdict, failures, workdir):
    runs = {}
    for (module, name), res in results.items():
        runs.setdefault(name, {})[module] = {
            "status": res.status, "counts": counts(res), "proof": proof(res)[0],
            "notes": res.notes, "problems": res.problems, "seconds": res.seconds,
            "launches": res.launches, "loop_source": res.loop_source, "loop_info": res.loop_info,
            "log": res.log,
            "outside_ran": res.outside_ran,
            "tests": {k: {f: r.get(f) for f in ("outcome", "id", "detail", "ran", "created", "seconds")}
                      for k, r in sorted(res.tests.items())},
        }
    if "asyncio" not in runs and baseline:
        runs["asyncio"] = {m: {"tests": tests} for m, tests in baseline.items()}
    return {
        "python": sys.version.split()[0], "loop_factory": args.loop_factory,
        "labels": [l.name for l in labels], "modules": modules,
        "excluded": {m: r for m, r in _suite.EXCLUDED.items()},
        "runs": runs, "logs": str(workdir),
        "regressions": [dict(label=n, test=k, outcome=o, detail=d) for n, k, o, d in verdict.regressions],
        "stock_internal": [dict(label=n, test=k, outcome=o, reason=r) for n, k, o, r in verdict.stock_internal],
        "flaky": [dict(label=n, test=k) for n, k in verdict.flaky],
        "proof_failures": failures,
    }


def load_baseline(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return {m: r["tests"] for m, r in data["runs"]["asyncio"].items()}


def main(argv=None):
    args = parse_args(argv)
    out = lambda line="": print(line, flush=True)  # noqa: E731
    progress = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731

    modules = choose_modules(args, out)
    labels = labels_for(args)
    workdir = Path(args.logs) if args.logs else Path(tempfile.mkdtemp(prefix="eloop-cpython-"))
    workdir.mkdir(parents=True, exist_ok=True)
    out(f"Python {sys.version.split()[0]}, loop under test {args.loop_factory}, "
        f"{len(modules)} modules x {', '.join(l.name for l in labels)}, logs in {workdir}")

    results = run_jobs([(m, l) for m in modules for l in labels], args, workdir, progress)
    baseline = load_baseline(args.baseline) if args.baseline else {
        m: results[(m, "asyncio")].tests for m in modules if (m, "asyncio") in results}
    verdict = compare(results, baseline, labels, modules)
    retry_regressions(verdict, results, args, labels, workdir, progress)
    failures = proof_failures(results, labels, baseline)

    out()
    if args.verbose:
        for (module, name), res in sorted(results.items()):
            for note in res.notes:
                out(f"note {module} {name}: {note}")
    sources = {(r.label, r.loop_source, json.dumps(r.loop_info, sort_keys=True))
               for r in results.values() if r.loop_source}
    for label, source, info in sorted(sources):
        out(f"{label} loop from {source}: {info}")
    width = max([len(m) for m in modules] + [20])
    print_table(modules, labels, results, baseline, out, width)
    print_totals(modules, labels, results, out)
    print_verdict(verdict, failures, results, out, args.verbose,
                  compared=any(l.loop == "eloop" for l in labels))

    if args.json:
        Path(args.json).write_text(json.dumps(
            to_json(args, modules, labels, results, baseline, verdict, failures, workdir), indent=1))

    incomplete = [r for r in results.values() if r.status != "ok" and r.label == "asyncio"]
    ok = not verdict.regressions and not failures and not incomplete
    if incomplete:
        out(f"stock asyncio did not finish: {', '.join(r.module for r in incomplete)}")
    if not baseline and any(l.loop == "eloop" for l in labels):
        out("note: no stock asyncio results to compare with (--loop both or --baseline): "
            "every eloop failure counted as a regression")
    out("RESULT: " + ("OK" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
