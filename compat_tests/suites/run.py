#!/usr/bin/env python3
"""Runs aiohttp's, anyio's and pytest-asyncio's own test suites (pinned sdists from PyPI) on
stock asyncio and on eloop, and prints them side by side.

    python compat_tests/suites/run.py                             # all suites: asyncio, eloop LT, eloop ET
    python compat_tests/suites/run.py --suite anyio --loop eloop --trigger level
    python compat_tests/suites/run.py --suite aiohttp -n 2 -- -k test_client_functional
    python compat_tests/suites/run.py --loop asyncio --json stock.json
    python compat_tests/suites/run.py --loop eloop --baseline stock.json

For each suite: the sdist is downloaded once into compat_tests/.cache/suites/ and unpacked,
a virtualenv gets the suite's pinned test dependencies (requirements/SUITE.txt) and eloop
(a wheel built from the working tree, compiled where Cython can; --eloop-from tree uses
the checkout on PYTHONPATH instead), then the suite's pytest runs from the sdist with:
  * eloop's own pytest plugin activated by ELOOP_PYTEST=1 (eloop runs only), ELOOP_TRIGGER;
  * pytest_plugins/eloop_compat_loopcheck.py: every test's outcome, the loops it really
    ran on, and the deselect list deselect/SUITE.txt (the same for every loop).

Exit status 0 only if every run finished, no test failed or errored on any loop, every
test that passes on stock asyncio passes on eloop, and the proof holds: in an eloop run no
test ran a stock loop and some ran eloop in the trigger mode asked for; in the stock run no
test ran eloop. 1 otherwise, 2 for a usage or setup error.
"""

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _env  # noqa: E402
from _suite import SUITES  # noqa: E402

BROKEN = ("failed", "error", "xpassed")
PASSING = ("passed", "xfailed")
# Where stock asyncio's own loop classes live.
STOCK_MODULES = ("asyncio.",)
# Environment variables of the caller that would change what a run tests.
SCRUBBED_ENV = ("ELOOP_PYTEST", "ELOOP_TRIGGER", "ELOOP_PURE", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")


@dataclass(frozen=True)
class Label:
    name: str               # asyncio, eloop-LT, eloop-ET
    trigger: str = None     # None for stock asyncio

    @property
    def is_eloop(self):
        return self.trigger is not None

    @property
    def expected_kind(self):
        return "eloop" if self.is_eloop else "stock"


ASYNCIO = Label("asyncio")
ELOOP_LT = Label("eloop-LT", "level")
ELOOP_ET = Label("eloop-ET", "edge")


@dataclass
class Result:
    suite: str
    label: str
    counts: dict = field(default_factory=dict)
    seconds: float = 0.0
    exit_code: int = None
    tests: dict = field(default_factory=dict)     # id -> {"status", "outcomes", "message", "ran"}
    proof_errors: list = field(default_factory=list)
    on_loop: int = 0                              # tests that ran the loop asked for
    own_loops: dict = field(default_factory=dict)  # id -> loop classes the test chose itself
    session_policies: set = field(default_factory=set)  # policy classes in force at session start
    deselect_unused: list = field(default_factory=list)
    log: str = ""
    problem: str = ""                             # the run did not finish normally

    def summary(self):
        c = self.counts
        return (f"{c.get('passed', 0)} passed, {c.get('failed', 0)} failed, {c.get('skipped', 0)} skipped, "
                f"{c.get('errors', 0)} errors ({self.seconds:.0f} s)")


# -- command line --------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", default=",".join(SUITES),
                   help=f"comma-separated suites (default: all of {', '.join(SUITES)})")
    p.add_argument("--loop", choices=("eloop", "asyncio", "both"), default="both")
    p.add_argument("--trigger", choices=("level", "edge", "both"), default="both")
    p.add_argument("-n", "--workers", type=int, default=2, help="pytest-xdist workers (0: none; default 2)")
    p.add_argument("--eloop-from", choices=("install", "tree"), default="install",
                   help="install: a wheel built from the working tree (compiled if it can be); "
                        "tree: the checkout on PYTHONPATH, plain Python unless built in place")
    p.add_argument("--pure", action="store_true", help="ELOOP_PURE=1: the plain-Python modules of eloop")
    p.add_argument("--python", default=sys.executable, help="interpreter of the test virtualenvs")
    p.add_argument("--json", metavar="PATH", help="write every test's outcome per suite and loop here")
    p.add_argument("--baseline", metavar="PATH", help="stock asyncio results of an earlier --json run")
    p.add_argument("--timeout-factor", type=float, default=1.0,
                   help="multiply each suite's whole-run timeout (slow or busy machine)")
    p.add_argument("pytest_args", nargs="*", help="after --: passed to every pytest run")
    args = p.parse_args(argv)
    args.suites = [name.strip() for name in args.suite.split(",") if name.strip()]
    unknown = [name for name in args.suites if name not in SUITES]
    if unknown:
        p.error(f"unknown suite(s) {', '.join(unknown)}: choose from {', '.join(SUITES)}")
    labels = []
    if args.loop in ("asyncio", "both") and not args.baseline:
        labels.append(ASYNCIO)
    if args.loop in ("eloop", "both"):
        labels += [label for label in (ELOOP_LT, ELOOP_ET)
                   if args.trigger in ("both", label.trigger)]
    args.labels = labels
    return args


# -- one run -------------------------------------------------------------------------------

def child_env(args, label):
    env = {key: value for key, value in os.environ.items() if key not in SCRUBBED_ENV}
    paths = [str(_env.PLUGIN_DIR)]
    if args.eloop_from == "tree":
        paths.append(str(_env.REPO))
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("PYTHONFAULTHANDLER", "1")
    if label.is_eloop:
        env["ELOOP_PYTEST"] = "1"
        env["ELOOP_TRIGGER"] = label.trigger
        if args.pure:
            env["ELOOP_PURE"] = "1"
    return env


def pytest_command(suite, venv, args, records):
    cmd = [str(venv / "bin" / "pytest"), *suite.pytest_args,
           "-p", "no:cacheprovider",
           "-p", "eloop_compat_loopcheck", f"--loopcheck-dir={records}",
           f"--loopcheck-deselect={suite.deselect_file}",
           "-n", str(args.workers if suite.use_xdist else 0)]
    if args.eloop_from == "tree" and not _env.sees_pytest_entry_point(venv, child_env(args, ASYNCIO)):
        cmd += ["-p", "eloop.pytest_plugin"]  # no entry point without an installed eloop
    return cmd + list(args.pytest_args)


def run_once(suite, label, source, venv, args):
    """Runs the suite once on one loop; returns its Result."""
    logs = _env.CACHE / "logs"
    records = logs / f"{suite.name}-{label.name}.records"
    shutil.rmtree(records, ignore_errors=True)
    records.mkdir(parents=True)
    log_path = logs / f"{suite.name}-{label.name}.log"
    result = Result(suite.name, label.name, log=str(log_path))
    cmd = pytest_command(suite, venv, args, records)
    timeout = suite.timeout * args.timeout_factor
    started = time.monotonic()
    with open(log_path, "w") as out:
        out.write("$ " + " ".join(cmd) + "\n\n")
        out.flush()
        # The script, not `python -m pytest`: the suite's own package sources in the sdist
        # must not shadow the installed wheel (aiohttp's C extensions are only in the wheel).
        proc = subprocess.Popen(cmd, cwd=source, env=child_env(args, label), stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            result.exit_code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            result.problem = f"killed after {timeout:.0f} s"
    result.seconds = time.monotonic() - started
    if result.exit_code not in (None, 0, 1):
        result.problem = f"pytest exited {result.exit_code}"
    collect_records(result, records)
    if not result.problem and not any(result.counts.values()):
        result.problem = "pytest ran no test"
    check_proof(result, label)
    return result


def collect_records(result, records):
    tests = collections.defaultdict(lambda: {"outcomes": [], "message": "", "ran": {}})
    outside = {}
    counts = collections.Counter()
    for path in sorted(records.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if "deselect_unused" in record:
                result.deselect_unused = record["deselect_unused"]
                continue
            if "session_policy" in record:
                result.session_policies.add(record["session_policy"])
                continue
            test_id = record["id"]
            if test_id is None:
                _merge_kinds(outside, record["ran"])
                continue
            test = tests[test_id]
            if "outcome" in record:
                test["outcomes"].append(record["outcome"])
                counts[record["outcome"]] += 1
                if record.get("message") and not test["message"]:
                    test["message"] = f"{record['when']}: {record['message']}"
            if "ran" in record:
                _merge_kinds(test["ran"], record["ran"])
                test["policies_of_stock_loops"] = sorted(
                    set(test.get("policies_of_stock_loops", ())) | set(record.get("policies_of_stock_loops", ())))
    for test in tests.values():
        outcomes = test["outcomes"]
        test["status"] = ("broken" if any(o in BROKEN for o in outcomes) else
                          "passed" if any(o in PASSING for o in outcomes) else
                          "skipped" if outcomes else "missing")
    result.tests = dict(tests)
    if outside:
        result.tests["<outside any test>"] = {"status": "none", "outcomes": [], "message": "", "ran": outside}
    result.counts = {
        "passed": counts["passed"] + counts["xfailed"],
        "failed": counts["failed"] + counts["xpassed"],
        "skipped": counts["skipped"],
        "errors": counts["error"],
    }


def _merge_kinds(into, more):
    for kind, names in more.items():
        into[kind] = sorted(set(into.get(kind, ())) | set(names))


def check_proof(result, label):
    """The loop asked for really ran, and no other loop that the runner chooses did.

    The runner chooses the loop of everything that asks asyncio for one; a test may still
    name its own loop class (pytest-asyncio's tests of its loop-factories hook subclass
    asyncio.SelectorEventLoop, anyio's tests of its options run uvloop) or install a policy
    class of its own (pytest-asyncio's event_loop_policy examples). Those are the test's
    explicit choice, which no runner can change: counted apart, not a failure.
    asyncio's own loop classes in an eloop run, or eloop's in a stock run, are."""
    wanted = label.expected_kind
    session_is_eloop = bool(result.session_policies) and all(p.startswith("eloop.") for p in result.session_policies)
    for test_id, test in sorted(result.tests.items()):
        ran = test["ran"]
        if wanted in ran:
            result.on_loop += 1
        # asyncio's loops made by a policy class of the test's own are the test's choice too.
        policies = test.get("policies_of_stock_loops", [])
        # Only where eloop's policy was the session's (checked below) is any other policy in
        # force proof that the test put it there: get_event_loop_policy() never replaces one.
        own_policy = session_is_eloop and bool(policies) and all(p.startswith("test:") for p in policies)
        foreign, chosen = [], []
        for kind, names in ran.items():
            if kind in (wanted, "fake"):
                continue
            for name in names:
                is_runners_choice = kind == "eloop" or (name.startswith(STOCK_MODULES) and not own_policy)
                (foreign if is_runners_choice else chosen).append(
                    name if is_runners_choice or not own_policy else f"{name} (the test's policy)")
        if chosen:
            result.own_loops[test_id] = chosen
        if foreign:
            result.proof_errors.append(f"{test_id} ran {', '.join(foreign)}")
        if label.is_eloop:
            wrong = [name for name in ran.get("eloop", ()) if f"[trigger={label.trigger}]" not in name]
            if wrong:
                result.proof_errors.append(f"{test_id} ran eloop in another trigger mode: {', '.join(wrong)}")
    if result.on_loop == 0:
        result.proof_errors.append(f"no test ran on {label.name}")
    if label.is_eloop and not session_is_eloop:
        result.proof_errors.append(f"the sessions' event loop policy was not eloop's: "
                                   f"{', '.join(sorted(result.session_policies))}")


# -- report --------------------------------------------------------------------------------

def regressions(stock, other):
    """Tests that pass on stock asyncio and do not pass on the other loop: (id, status, why)."""
    found = []
    for test_id, test in sorted(stock.tests.items()):
        if test["status"] != "passed":
            continue
        theirs = other.tests.get(test_id, {"status": "missing", "message": ""})
        if theirs["status"] != "passed":
            found.append((test_id, theirs["status"], theirs["message"]))
    return found


def print_report(args, results, stocks):
    print()
    print("=" * 100)
    names = [label.name for label in args.labels] if not args.baseline else ["asyncio (baseline)"] + \
        [label.name for label in args.labels]
    width = max(len(n) for n in names) + 2
    for suite in args.suites:
        print(f"{suite} {SUITES[suite].version}:")
        rows = []
        if args.baseline and suite in stocks:
            rows.append(("asyncio (baseline)", stocks[suite]))
        rows += [(label.name, results[(suite, label.name)]) for label in args.labels
                 if (suite, label.name) in results]
        for name, result in rows:
            proof = "proof ok" if not result.proof_errors else f"PROOF FAILED ({len(result.proof_errors)})"
            extra = f"  [{result.problem}]" if result.problem else ""
            own = f", {len(result.own_loops)} ran loops of their own choice" if result.own_loops else ""
            print(f"  {name:<{width}} {result.summary()}  {result.on_loop} tests ran on the loop{own}, "
                  f"{proof}{extra}")
    print()
    for (suite, label_name), result in sorted(results.items()):
        if result.own_loops:
            chosen = collections.Counter(name for names in result.own_loops.values() for name in names)
            print(f"{suite}@{label_name}: loops that tests chose themselves (not the runner's to change): "
                  + ", ".join(f"{name} ({count} tests)" for name, count in sorted(chosen.items())))
    failed = False
    for (suite, label_name), result in sorted(results.items()):
        problems = []
        if result.problem:
            problems.append(f"run did not finish: {result.problem}; log {result.log}")
        problems += [f"proof: {line}" for line in result.proof_errors]
        broken = [(tid, t["status"], t["message"]) for tid, t in sorted(result.tests.items())
                  if t["status"] == "broken"]
        problems += [f"{status}: {tid}  -- {message}" for tid, status, message in broken]
        stock = stocks.get(suite)
        if stock is not None and stock is not result:
            problems += [f"passes on asyncio, {status} here: {tid}  -- {message}"
                         for tid, status, message in regressions(stock, result) if status != "broken"]
        if result.deselect_unused:
            print(f"{suite}@{label_name}: deselect patterns that matched nothing: {', '.join(result.deselect_unused)}")
        if problems:
            failed = True
            print(f"{suite}@{label_name}: {len(problems)} problem(s), log {result.log}")
            for line in problems[:200]:
                print(f"  {line}")
            if len(problems) > 200:
                print(f"  ... and {len(problems) - 200} more (see --json)")
    # The closing lines, one per suite and loop, in the format the issue asks for.
    print()
    for (suite, label_name), result in sorted(results.items(), key=lambda kv: (kv[0][0], _label_order(kv[0][1]))):
        print(f"{suite}@{label_name}: {result.summary()}")
    return failed


def _label_order(name):
    return [ASYNCIO.name, ELOOP_LT.name, ELOOP_ET.name].index(name)


def write_json(path, results, infos):
    data = {"eloop": infos, "runs": {}}
    for (suite, label_name), result in results.items():
        data["runs"][f"{suite}@{label_name}"] = {
            "counts": result.counts, "seconds": round(result.seconds, 1), "exit_code": result.exit_code,
            "problem": result.problem, "proof_errors": result.proof_errors, "on_loop": result.on_loop,
            "own_loops": result.own_loops,
            "tests": result.tests,
        }
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True))


def load_baseline(path):
    data = json.loads(Path(path).read_text())
    stocks = {}
    for key, run in data["runs"].items():
        suite, _, label_name = key.partition("@")
        if label_name == ASYNCIO.name:
            result = Result(suite, label_name, counts=run["counts"], seconds=run["seconds"],
                            exit_code=run["exit_code"], tests=run["tests"], on_loop=run["on_loop"])
            stocks[suite] = result
    return stocks


# -- main ----------------------------------------------------------------------------------

def prepare(suite, args, wheels):
    """(unpacked sdist, virtualenv with eloop) for the suite. `wheels` keeps the one eloop
    wheel of this run: every suite tests the same snapshot of the working tree."""
    source = _env.sdist_source(suite.dist, suite.version)
    venv = _env.venv_for(suite.name, args.python)
    if args.eloop_from == "install":
        if not wheels:
            wheels.append(_env.eloop_wheel())
        _env.install_eloop(venv, wheels[0])
    else:
        _env.remove_eloop(venv)
    return source, venv


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored
    # across exec: the suites' tests of Ctrl-C (anyio's test_keyboard_interrupt_*) would then
    # fail on every loop. A Python handler is reset to the default by exec.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    stocks = load_baseline(args.baseline) if args.baseline else {}
    results, infos = {}, {}
    setup_failed = False
    wheels = []
    for name in args.suites:
        suite = SUITES[name]
        try:
            source, venv = prepare(suite, args, wheels)
        except _env.SetupError as exc:
            print(f"{name}: setup failed: {exc}", flush=True)
            setup_failed = True
            continue
        for label in args.labels:
            if label.is_eloop and name not in infos:
                infos[name] = _env.eloop_info(venv, child_env(args, label), source)
                info = infos[name]
                print(f"[{name}] eloop {info['version']} {'compiled' if info['compiled'] else 'pure Python'}"
                      f" from {info['file']}", flush=True)
                if not info["compiled"] and not args.pure:
                    print(f"[{name}] WARNING: eloop is not compiled here (did Cython fail on the "
                          f"working tree?): these are the plain-Python modules' results", flush=True)
            print(f"[{name}] running on {label.name} ...", flush=True)
            result = run_once(suite, label, source, venv, args)
            results[(name, label.name)] = result
            if label is ASYNCIO:
                stocks[name] = result
            print(f"{name}@{label.name}: {result.summary()}"
                  f"{'  [' + result.problem + ']' if result.problem else ''}", flush=True)
    if args.json:
        write_json(args.json, results, infos)
    failed = print_report(args, results, stocks)
    if setup_failed:
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
