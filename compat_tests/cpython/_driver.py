"""Runs one CPython test_asyncio module on one loop and streams per-test results as JSON lines.

Started by run.py, one process per (module, loop, trigger), so that a crash or a hang
takes down only that process. Usage (normally only run.py calls it):

    python _driver.py --module test_locks --loop eloop --trigger edge \
        --loop-factory eloop:new_event_loop --out results.jsonl [--skip keys.txt] [--only keys.txt]

Each line of --out is one JSON object: {"type": "meta"|"start"|"test"|"fixture"|"end"|"fatal"}.
The file is flushed after every line: when the process dies, run.py knows which test was
running (the last "start" without its "test") and starts the module again past it.
"""

import argparse
import faulthandler
import importlib
import json
import os
import sys
import time
import traceback
import unittest

import _proof
import _retarget
import _suite

# Outcome ranks: a test whose subtests both passed and failed ends as its worst outcome.
_RANK = {"skip": 1, "pass": 2, "xfail": 2, "fail": 3, "xpass": 3, "error": 4}


class Sink:
    """Appends JSON lines to the results file, flushing each so a crash loses nothing."""

    def __init__(self, path):
        self._file = open(path, "a", encoding="utf-8")

    def write(self, **record):
        self._file.write(json.dumps(record, sort_keys=True) + "\n")
        self._file.flush()


class RecordingResult(unittest.TestResult):
    """A TestResult that writes one record per test: outcome, detail, loops seen."""

    def __init__(self, sink, recorder, test_timeout):
        super().__init__()
        self.sink = sink
        self.recorder = recorder
        self.test_timeout = test_timeout
        self._test_id = None  # the test being recorded
        self._outcome = None
        self._detail = ""
        self._started = None
        self.started_ids = set()
        self.fixtures = []  # (outcome, holder description) of class/module fixtures

    def startTest(self, test):
        super().startTest(test)
        self._begin(test)

    def _begin(self, test):
        self._test_id = test.id()
        self._outcome, self._detail = None, ""
        self._started = time.monotonic()
        self.started_ids.add(test.id())
        self.recorder.begin(test.id())
        self.sink.write(type="start", id=test.id(), key=_retarget.key_of(test), time=time.time())
        if self.test_timeout:
            # A hung test: dump every thread's stack to stderr (the job's log) and exit;
            # run.py records the test as hung and resumes the module after it.
            faulthandler.dump_traceback_later(self.test_timeout, exit=True)

    def _ensure_begun(self, test):
        """Some unittest versions (3.12.1) report a skipped test without startTest."""
        test = getattr(test, "test_case", test)  # a subTest reports under its test
        if test.id() != self._test_id:
            self._begin(test)

    def stopTest(self, test):
        self._ensure_begun(test)
        if self.test_timeout:
            faulthandler.cancel_dump_traceback_later()
        ran, created = self.recorder.end(test.id())
        self.sink.write(type="test", id=test.id(), key=_retarget.key_of(test),
                        outcome=self._outcome or "error",
                        detail=self._detail if self._outcome else "no outcome reported",
                        ran=ran, created=created,
                        seconds=round(time.monotonic() - self._started, 3))
        self._test_id = None
        super().stopTest(test)

    def _set(self, test, outcome, detail=""):
        self._ensure_begun(test)
        if self._outcome is None or _RANK[outcome] > _RANK[self._outcome]:
            self._outcome, self._detail = outcome, detail

    def _fixture(self, holder, outcome, detail):
        # setUpClass/setUpModule/tearDown*Module errors and skips come without startTest;
        # they get their own record. The tests they kept from running are reported by
        # report_unstarted.
        self.fixtures.append((outcome, holder.id()))
        self.sink.write(type="fixture", id=holder.id(), key=_retarget.short_id(holder.id()),
                        outcome=outcome, detail=detail)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._set(test, "pass")

    def addError(self, test, err):
        super().addError(test, err)
        if not isinstance(test, unittest.TestCase):
            self._fixture(test, "error", self._exc_info_to_string(err, test))
        else:
            self._set(test, "error", self._exc_info_to_string(err, test))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set(test, "fail", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if not isinstance(test, unittest.TestCase):
            self._fixture(test, "skip", reason)
        else:
            self._set(test, "skip", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._set(test, "xfail")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set(test, "xpass", "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            outcome = "fail" if issubclass(err[0], test.failureException) else "error"
            self._set(test, outcome, f"{subtest.id()}\n" + self._exc_info_to_string(err, test))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--module", required=True)
    p.add_argument("--loop", choices=("asyncio", "eloop"), required=True)
    p.add_argument("--trigger", default="level")
    p.add_argument("--loop-factory", default="eloop:new_event_loop")
    p.add_argument("--policy", default=None,
                   help="module:Class of the policy (default: EventLoopPolicy beside the factory)")
    p.add_argument("--out", required=True)
    p.add_argument("--skip", help="file of test keys not to run (already done)")
    p.add_argument("--only", help="file of test keys to run, nothing else")
    p.add_argument("--test-timeout", type=float, default=0)
    return p.parse_args(argv)


def read_keys(path):
    if not path:
        return None
    with open(path, encoding="utf-8") as f:
        return {line.strip() for line in f if line.strip()}


def setup_loop_under_test(args, recorder):
    """Eloop run: installs eloop's policy; returns the recorded loop factory and its types."""
    options = {"trigger": args.trigger}
    factory = _retarget.make_factory(_retarget.resolve(args.loop_factory), options, recorder)
    policy_cls = _find_policy(args, factory)
    _retarget.install_policy(_retarget.make_policy_class(policy_cls, options, recorder))
    # Learn the types the loop under test comes in, so the proof can recognise them.
    import asyncio
    probes = [factory(), asyncio.new_event_loop()]
    types = {type(loop) for loop in probes}
    for loop in probes:
        loop.close()
    return factory, types


def loop_info(module):
    """What the loop's package says about itself (eloop.info(): compiled or pure, ...)."""
    info = getattr(module, "info", None)
    if not callable(info):
        return None
    try:
        return json.loads(json.dumps(info(), default=repr))
    except Exception as exc:  # informative only; never fails the run
        return f"info() failed: {exc!r}"


def _find_policy(args, factory):
    if args.policy:
        return _retarget.resolve(args.policy)
    module_name = args.loop_factory.partition(":")[0]
    policy = getattr(importlib.import_module(module_name), "EventLoopPolicy", None)
    if policy is None:
        return _retarget.policy_from_factory(factory)
    return policy


def collect(suite):
    """Flattens a suite into its TestCase instances (unittest fixtures still run)."""
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from collect(item)
        else:
            yield item


def select(tests, dropped, skip, only):
    def wanted(test):
        key = _retarget.key_of(test)
        return (type(test) not in dropped and (skip is None or key not in skip)
                and (only is None or key in only))
    return [t for t in tests if wanted(t)]


def drop_stock_only(tests, spec, notes):
    kept = []
    for test in tests:
        reason = spec.stock_only_reason(_retarget.key_of(test))
        if reason:
            notes.append(f"not run on eloop: {_retarget.key_of(test)}: {reason}")
        else:
            kept.append(test)
    return kept


def report_unstarted(tests, result, sink):
    """Tests that never started (a class or module fixture failed or skipped) get a
    record too, with that fixture's outcome, so no planned test goes unaccounted for."""
    for test in tests:
        if test.id() in result.started_ids:
            continue
        cls = type(test)
        scopes = (f"({cls.__module__}.{cls.__qualname__})", f"({cls.__module__})")
        causes = [(o, d) for o, d in result.fixtures if d.endswith(scopes)]
        outcome, detail = causes[0] if causes else ("error", "never started")
        sink.write(type="test", id=test.id(), key=_retarget.key_of(test), outcome=outcome,
                   detail=f"not run: {detail}", ran={}, created={}, seconds=0)


def run_module(args, sink):
    classifier = _proof.Classifier()
    recorder = _proof.LoopRecorder(classifier)
    # Before anything imports eloop or the tests: wrap _set_running_loop everywhere.
    recorder.install()

    factory = None
    meta = dict(module=args.module, loop=args.loop, trigger=args.trigger,
                python=sys.version.split()[0], pid=os.getpid(), eloop_types=[], loop_source=None)
    if args.loop == "eloop":
        factory_module = args.loop_factory.partition(":")[0]
        classifier.set_eloop((), factory_module.split(".")[0])  # already, for the probes
        factory, eloop_types = setup_loop_under_test(args, recorder)
        classifier.set_eloop(eloop_types, factory_module.split(".")[0])
        meta["eloop_types"] = sorted(f"{t.__module__}.{t.__qualname__}" for t in eloop_types)
        meta["loop_source"] = getattr(sys.modules[factory_module], "__file__", None)
        meta["loop_info"] = loop_info(sys.modules[factory_module])

    test_utils = importlib.import_module(_suite.PACKAGE + ".utils")
    classifier.set_test_loop_class(getattr(test_utils, "TestLoop", None))
    if args.loop == "eloop":
        _retarget.shim_close_loop(test_utils)

    try:
        module = importlib.import_module(f"{_suite.PACKAGE}.{args.module}")
    except unittest.SkipTest as exc:  # e.g. test_ssl without the ssl module
        sink.write(type="meta", notes=[f"module skipped: {exc}"], planned=[], **meta)
        sink.write(type="end", outside_ran={}, outside_created={}, tests_run=0)
        return
    notes = []
    dropped = _retarget.retarget_module(module, _suite.spec_for(args.module), args.loop,
                                        factory, notes)

    loader = unittest.TestLoader()
    tests = select(collect(loader.loadTestsFromModule(module)), dropped,
                   read_keys(args.skip), read_keys(args.only))
    if args.loop == "eloop":
        tests = drop_stock_only(tests, _suite.spec_for(args.module), notes)
    sink.write(type="meta", notes=notes, planned=[_retarget.key_of(t) for t in tests], **meta)

    result = RecordingResult(sink, recorder, args.test_timeout)
    unittest.TestSuite(tests).run(result)
    report_unstarted(tests, result, sink)

    outside_ran, outside_created = recorder.outside_tests()
    sink.write(type="end", outside_ran=outside_ran, outside_created=outside_created,
               tests_run=result.testsRun)


def main(argv=None):
    args = parse_args(argv)
    faulthandler.enable()  # a segfault in a C extension leaves a traceback in the log
    sink = Sink(args.out)
    try:
        run_module(args, sink)
    except BaseException:
        sink.write(type="fatal", detail=traceback.format_exc())
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
