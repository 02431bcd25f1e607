"""pytest plugin of the suite runner: the outcome of each test, the loops each test really
ran on, and the deselect list.

Loaded with `-p eloop_compat_loopcheck --loopcheck-dir DIR`. Every process writes JSON
lines into DIR: the process that runs a test (the only one, or an xdist worker) writes
{"id", "ran"} with the kinds of loops that ran during its setup, call and teardown; the
process that reports (the only one, or xdist's controller, which also sees crashed
workers) writes {"id", "outcomes", "message"}. run.py merges them by test id.

The loops are seen through asyncio's `_set_running_loop`, wrapped here before any test
module or eloop is imported (compat_tests/cpython/_proof.py, shared with the CPython
runner): every loop that runs, stock or eloop, must call it.
"""

import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

_PROOF_PATH = Path(__file__).resolve().parents[2] / "cpython" / "_proof.py"


def _load_proof():
    spec = importlib.util.spec_from_file_location("eloop_compat_proof", _PROOF_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_proof = _load_proof()
_classifier = _proof.Classifier()
_classifier.set_eloop((), "eloop")
_recorder = _proof.LoopRecorder(_classifier)
_recorder.install()


class _PolicyNotes:
    """Which event loop policy was in force whenever one of asyncio's own loop classes
    started running, per test: "session" (the policy in force when the session started:
    eloop's, in an eloop run), "none", or "test:CLASS" for a policy that the test itself
    put in place (pytest-asyncio's `event_loop_policy` fixture examples): then the test
    chose its loops itself."""

    def __init__(self):
        self.current = None
        self.session_policy = None
        self.seen = {}

    def install(self):
        from asyncio import events
        inner = events._set_running_loop
        notes = self

        def _set_running_loop(loop):
            if loop is not None and type(loop).__module__.startswith("asyncio."):
                notes.seen.setdefault(notes.current, set()).add(notes.describe(_policy_in_force()))
            return inner(loop)

        _set_running_loop.__wrapped__ = inner
        events._set_running_loop = _set_running_loop

    def describe(self, policy):
        if policy is None:
            return "none"
        if policy is self.session_policy:
            return "session"
        return "test:" + _class_name(policy)


def _policy_in_force():
    from asyncio import events
    return getattr(events, "_event_loop_policy", None)  # read without making one


def _class_name(obj):
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


_policies = _PolicyNotes()
_policies.install()


def pytest_addoption(parser):
    group = parser.getgroup("eloop_compat_loopcheck")
    group.addoption("--loopcheck-dir", default=None, help="write per-test outcomes and loops here")
    group.addoption("--loopcheck-deselect", default=None,
                    help="file of test id patterns (fnmatch) to deselect, each with '# reason'")
    group.addoption("--loopcheck-anyio-backend", default=None,
                    help="keep only tests whose anyio_backend is this backend with no loop_factory "
                         "of its own (or that have no anyio_backend)")


# -- deselection ------------------------------------------------------------------------

def read_deselect_list(path):
    """[(pattern, reason)]: one test id pattern per line, '# reason' after it."""
    entries = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        pattern, _, reason = line.partition("#")
        if not reason.strip():
            raise pytest.UsageError(f"{path}:{number}: a deselected test needs '# reason'")
        entries.append((pattern.strip(), reason.strip()))
    return entries


def _pattern_regex(pattern):
    # fnmatch without its [seq] classes: test ids are full of brackets.
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in pattern) + r"\Z")


def _is_plain_backend(item, backend_name):
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "anyio_backend" not in params:
        return True
    backend = params["anyio_backend"]
    if isinstance(backend, str):
        return backend == backend_name
    name, options = backend
    return name == backend_name and "loop_factory" not in options and not options.get("use_uvloop")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    deselected = []
    backend_name = config.getoption("loopcheck_anyio_backend")
    if backend_name:
        deselected += [item for item in items if not _is_plain_backend(item, backend_name)]
    path = config.getoption("loopcheck_deselect")
    if path:
        patterns = [(_pattern_regex(p), p) for p, _ in read_deselect_list(path)]
        used = set()
        for item in items:
            for regex, pattern in patterns:
                if regex.match(item.nodeid):
                    deselected.append(item)
                    used.add(pattern)
                    break
        _write(config, {"deselect_unused": [p for _, p in patterns if p not in used]})
    if deselected:
        chosen = set(map(id, deselected))
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if id(item) not in chosen]


# -- loops and outcomes ----------------------------------------------------------------

def _is_xdist_worker(config):
    return hasattr(config, "workerinput")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _recorder.begin(item.nodeid)
    _policies.current = item.nodeid
    try:
        yield
    finally:
        ran, created = _recorder.end(item.nodeid)
        _policies.current = None
        policies = sorted(_policies.seen.pop(item.nodeid, ()))
        _write(item.config, {"id": item.nodeid, "ran": ran, "created": created,
                             "policies_of_stock_loops": policies})


def pytest_runtest_logreport(report):
    config = _CONFIG.get("config")
    if config is None or _is_xdist_worker(config):
        return
    outcome = _outcome_of(config, report)
    if outcome not in COUNTED:
        return
    record = {"id": report.nodeid, "outcome": outcome, "when": report.when}
    if outcome in ("failed", "error", "xpassed"):
        record["message"] = _one_line(report)
    _write(config, record)


def pytest_collectreport(report):
    config = _CONFIG.get("config")
    if config is None or _is_xdist_worker(config) or report.passed:
        return
    outcome = "error" if report.failed else "skipped"
    _write(config, {"id": report.nodeid, "outcome": outcome, "when": "collect",
                    "message": _one_line(report)})


# The categories of pytest's summary line that the runner counts.
COUNTED = ("passed", "failed", "skipped", "error", "xfailed", "xpassed")


def _outcome_of(config, report):
    """The category pytest's summary counts this report under (as its terminal reporter asks:
    a failing setup or teardown is an error, xfail turns a skip into xfailed, passing
    subtests are not tests), or "" when it counts it under none."""
    status = config.hook.pytest_report_teststatus(report=report, config=config)
    return status[0] if status else ""


def _one_line(report):
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr or "")
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""


_CONFIG = {}


def pytest_configure(config):
    _CONFIG["config"] = config
    try:
        import eloop
    except ImportError:  # a stock-only environment: nothing will be classified as eloop
        return
    _classifier.set_eloop((eloop.Loop,), "eloop")


def pytest_sessionstart(session):
    # After every plugin's pytest_configure: eloop's plugin has installed its policy.
    _policies.session_policy = _policy_in_force()
    policy = _policies.session_policy
    _write(session.config, {"session_policy": "none" if policy is None else _class_name(policy)})


def pytest_sessionfinish(session):
    # Loops that ran outside any test (session fixtures torn down last, stray threads).
    ran, created = _recorder.outside_tests()
    if ran or created:
        _write(session.config, {"id": None, "ran": ran, "created": created})


def _write(config, record):
    directory = config.getoption("loopcheck_dir")
    if not directory:
        return
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    with open(os.path.join(directory, f"{worker}-{os.getpid()}.jsonl"), "a") as out:
        out.write(json.dumps(record) + "\n")
