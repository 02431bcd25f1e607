"""Proof of which event loop really ran each test.

A loop that runs announces itself through asyncio's `_set_running_loop(loop)`: stock
loops call `events._set_running_loop` from run_forever, and any loop that wants
`asyncio.get_running_loop()` and asyncio's C Task/Future to work must call it (or the C
`_asyncio._set_running_loop`) too. Every spelling of that function is wrapped *before*
the loop under test and the test modules are imported, so even a module that bound the
function at import time calls the wrapper. Each call with a loop records type(loop)
against the test that is running at that moment.

Loops handed out by the loop factory and the policy are also recorded as "created";
that only serves to tell "an eloop loop was created but never ran" apart from "no loop".
"""

import threading

# Kinds of loop, as reported.
ELOOP = "eloop"   # the loop under test
STOCK = "stock"   # a real stock asyncio loop (SelectorEventLoop & co): it does real I/O
FAKE = "fake"     # CPython's test_utils.TestLoop or a bare BaseEventLoop with mocked internals
OTHER = "other"   # anything else that is not a BaseEventLoop

_SETTERS = (
    ("asyncio.events", "_set_running_loop"),
    ("asyncio", "_set_running_loop"),
    ("asyncio.events", "_py__set_running_loop"),  # test_events' TestPyGetEventLoop uses these
    ("asyncio.events", "_c__set_running_loop"),
    ("_asyncio", "_set_running_loop"),
)


class Classifier:
    """Sorts loop types into the kinds above."""

    def __init__(self):
        import asyncio.base_events
        self._base = asyncio.base_events.BaseEventLoop
        self._eloop_types = ()
        self._eloop_package = None
        self._test_loop = None  # test_utils.TestLoop, imported lazily with the tests

    def set_eloop(self, types, package):
        """The loop under test: these types, and anything defined in this package."""
        self._eloop_types = tuple(types)
        self._eloop_package = package

    def set_test_loop_class(self, cls):
        self._test_loop = cls

    def kind(self, loop_type):
        # Fakes first: a factory that wraps stock asyncio (used to test this runner)
        # must still not make TestLoop count as the loop under test.
        if self._test_loop is not None and issubclass(loop_type, self._test_loop):
            return FAKE
        if loop_type is self._base:
            return FAKE
        if self._is_eloop(loop_type):
            return ELOOP
        if issubclass(loop_type, self._base):
            return STOCK
        return OTHER

    def _is_eloop(self, loop_type):
        if self._eloop_types and issubclass(loop_type, self._eloop_types):
            return True
        module = getattr(loop_type, "__module__", "") or ""
        pkg = self._eloop_package
        return bool(pkg) and (module == pkg or module.startswith(pkg + "."))


class LoopRecorder:
    """Collects, per test, the kinds and type names of loops that ran or were created."""

    def __init__(self, classifier):
        self.classifier = classifier
        self._lock = threading.Lock()
        self._current = None
        self._ran = {}
        self._created = {}
        self._wrappers = {}

    # -- bookkeeping -------------------------------------------------------------------

    def begin(self, test_id):
        with self._lock:
            self._current = test_id
            self._ran[test_id] = set()
            self._created[test_id] = set()

    def end(self, test_id):
        """Returns ({kind: [type names]} ran, {kind: [type names]} created) for test_id."""
        with self._lock:
            if self._current == test_id:
                self._current = None
            ran = self._ran.pop(test_id, set())
            created = self._created.pop(test_id, set())
        return _by_kind(ran), _by_kind(created)

    def outside_tests(self):
        """Loops seen while no test was running (module/class fixtures, stray threads)."""
        with self._lock:
            return _by_kind(self._ran.get(None, set())), _by_kind(self._created.get(None, set()))

    def note_ran(self, loop):
        self._note(self._ran, loop)

    def note_created(self, loop):
        self._note(self._created, loop)

    def _note(self, table, loop):
        loop_type = type(loop)
        kind = self.classifier.kind(loop_type)
        name = f"{loop_type.__module__}.{loop_type.__qualname__}"
        if kind == ELOOP:
            # A loop under test that tells its trigger mode gets it recorded, so that
            # run.py can check an ET run really ran edge-triggered loops.
            trigger = getattr(loop, "trigger", None)
            if isinstance(trigger, str):
                name += f"[trigger={trigger}]"
        entry = (kind, name)
        with self._lock:
            table.setdefault(self._current, set()).add(entry)

    # -- patching ----------------------------------------------------------------------

    def install(self):
        """Wraps every spelling of _set_running_loop. Call before importing eloop/tests."""
        import importlib
        for module_name, attr in _SETTERS:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            original = getattr(module, attr, None)
            if original is None:
                continue
            setattr(module, attr, self._wrapper_for(original))

    def _wrapper_for(self, original):
        # One wrapper per original function, so that names which were the same object
        # (asyncio._set_running_loop is asyncio.events._set_running_loop) stay the same.
        key = id(original)
        if key not in self._wrappers:
            recorder = self

            def _set_running_loop(loop):
                if loop is not None:
                    recorder.note_ran(loop)
                return original(loop)

            _set_running_loop.__wrapped__ = original
            self._wrappers[key] = _set_running_loop
        return self._wrappers[key]


def _by_kind(entries):
    out = {}
    for kind, name in sorted(entries):
        out.setdefault(kind, []).append(name)
    return out
