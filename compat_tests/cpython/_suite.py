"""Which CPython test_asyncio modules the runner uses, and how each is aimed at a loop.

Pure data: imported by the parent (run.py) and by the child (_driver.py). Every name in
here is looked up with getattr in the child, so a name missing from some CPython version
(3.10 has no test_timeouts, 3.14 renamed the child-watcher classes, ...) is skipped, not
an error.
"""

import fnmatch
from dataclasses import dataclass, field

PACKAGE = "test.test_asyncio"

# Modules in the order they are reported. "core" needs no transport; "transports" opens
# sockets, pipes, subprocesses or TLS. test_protocols/test_transports only test the
# abstract base classes, so they belong to core.
CORE = (
    "test_tasks",
    "test_futures",
    "test_futures2",
    "test_timeouts",
    "test_taskgroups",
    "test_runners",
    "test_locks",
    "test_queues",
    "test_waitfor",
    "test_context",
    "test_threads",
    "test_pep492",
    "test_protocols",
    "test_transports",
    "test_eager_task_factory",  # 3.12+
    "test_staggered",           # 3.13+
)
TRANSPORTS = (
    "test_events",
    "test_sock_lowlevel",
    "test_streams",
    "test_server",
    "test_sendfile",
    "test_ssl",
    "test_sslproto",
    "test_subprocess",
    "test_buffered_proto",
    "test_unix_events",
)
GROUPS = {"core": CORE, "transports": TRANSPORTS, "all": CORE + TRANSPORTS}

# Modules that test stock asyncio's own machinery (mocking its private methods or its
# selector), or that are for another platform. Running them on another loop proves nothing.
EXCLUDED = {
    "test_base_events": "tests BaseEventLoop internals with mocked selectors and sockets",
    "test_selector_events": "tests asyncio.selector_events internals (mocked selector, private transports)",
    "test_proactor_events": "tests the Windows proactor's internals with mocks",
    "test_windows_events": "Windows only",
    "test_windows_utils": "Windows only",
}

# Modules that cannot run a test on eloop: they are run and reported (asyncio's own
# classes, which eloop reuses, must still pass under eloop's policy), but unlike every
# other module they are not required to run at least one test on eloop.
NOT_ON_ELOOP = {
    "test_protocols": "tests the abstract Protocol classes; no loop runs",
    "test_transports": "tests the abstract Transport classes; no loop runs",
    "test_futures": "tests asyncio.Future (eloop uses it as is) on CPython's fake TestLoop",
}


@dataclass(frozen=True)
class LoopHook:
    """How a module builds its loop-specific test classes, and how to build one for eloop.

    stock_classes: the module's classes that each pin one stock loop (one per selector).
        The first one present is the reference: the asyncio run keeps only it, the eloop
        run drops them all and adds a twin keyed by the reference's name, so that test
        ids can be compared across runs.
    via: where the twin gets the loop under test. A method name ("create_event_loop",
        "new_loop") is overridden to return an eloop loop. "setUp" means the stock setUp
        builds the loop itself; see mixin.
    mixin: with via="setUp": build the twin from this mixin plus test_utils.TestCase and
        a setUp that creates the loop (the way CPython's SubprocessProactorTests is
        built). Without a mixin the twin subclasses the reference and runs its setUp
        with asyncio.SelectorEventLoop pointed at eloop for the duration of setUp only.
    skip_setup_of: a mixin in the reference's MRO whose setUp/tearDown wire stock-only
        plumbing (a SafeChildWatcher set on the policy); the twin skips just that layer.
    """

    stock_classes: tuple
    via: str
    mixin: str = None
    skip_setup_of: str = None


_SELECTOR_CLASSES = (
    "EPollEventLoopTests",  # the default selector on Linux: the reference
    "PollEventLoopTests",
    "SelectEventLoopTests",
    "KqueueEventLoopTests",
)


@dataclass(frozen=True)
class BaseHook:
    """A base class whose loop-building method every test class of the module inherits,
    patched in place in the eloop run (test ids do not change).

    build: "setUp" -- cls.setUp becomes: the next setUp in the MRO, then
        self.loop = <eloop loop> and self.set_event_loop(self.loop) (test_utils.TestCase);
        "runner_new_loop" -- test_runners' BaseTest.new_loop: an eloop loop that records
        in loop.shutdown_ag_run that asyncio.run() shut its async generators down.
    Stock asyncio keeps the original: a bare BaseEventLoop with mocked internals.
    """

    cls: str
    build: str


@dataclass(frozen=True)
class ModuleSpec:
    hooks: tuple = ()
    base_hooks: tuple = ()
    # If set, only these classes of the module run (in both runs); the rest are dropped
    # with the reason below because they test stock internals.
    only_classes: tuple = None
    only_reason: str = ""
    # Tests ("Class.method" fnmatch patterns on the reference key) that poke stock
    # asyncio's private attributes or mock its modules. They still run on eloop, but a
    # failure there is reported as "stock-internal", not as a regression.
    stock_internal: dict = field(default_factory=dict)
    # Tests that explicitly ask for a stock loop class (and assert they got it): not run
    # in the eloop run, where a stock loop running would fail the proof.
    stock_only: dict = field(default_factory=dict)

    def stock_internal_reason(self, key):
        """Why the test keyed 'module.Class.method' is stock-internal, or None."""
        return _match(self.stock_internal, key)

    def stock_only_reason(self, key):
        return _match(self.stock_only, key)


def _match(patterns, key):
    class_and_method = key.split(".", 1)[-1]
    for pattern, reason in patterns.items():
        if fnmatch.fnmatchcase(class_and_method, pattern):
            return reason
    return None


SPECS = {
    "test_events": ModuleSpec(
        hooks=(LoopHook(_SELECTOR_CLASSES, via="create_event_loop",
                        skip_setup_of="UnixEventLoopTestsMixin"),),
        stock_internal={
            "*.test_create_server_multiple_hosts_ipv4": "mocks asyncio.base_events.socket",
            "*.test_create_server_multiple_hosts_ipv6": "mocks asyncio.base_events.socket",
            "*.test_timeout_rounding": "counts calls of the private loop._run_once",
            "*.test_prompt_cancellation": "calls the private loop._stop_serving",
        },
    ),
    "test_sock_lowlevel": ModuleSpec(
        hooks=(LoopHook(_SELECTOR_CLASSES, via="create_event_loop"),),
    ),
    "test_sendfile": ModuleSpec(
        hooks=(LoopHook(_SELECTOR_CLASSES, via="create_event_loop"),),
        stock_internal={
            "*.test_sendfile_force_fallback": "replaces the private loop._sendfile_native",
            "*.test_sendfile_force_unsupported_native": "replaces the private loop._sendfile_native",
            "*.test_sendfile_fallback_close_peer_in_the_middle_of_receiving":
                "replaces the private loop._sendfile_native",
        },
    ),
    "test_buffered_proto": ModuleSpec(
        hooks=(LoopHook(("BufferedProtocolSelectorTests",), via="new_loop"),),
    ),
    "test_server": ModuleSpec(
        hooks=(LoopHook(("SelectorStartServerTests",), via="new_loop"),),
    ),
    "test_sslproto": ModuleSpec(
        hooks=(LoopHook(("SelectorStartTLSTests",), via="new_loop"),),
    ),
    "test_subprocess": ModuleSpec(
        # One class per stock child watcher; the watchers are stock plumbing that a loop
        # with its own subprocess support does not use, so the twin has none.
        hooks=(LoopHook(
            ("SubprocessThreadedWatcherTests", "SubprocessPidfdWatcherTests",
             "SubprocessSafeWatcherTests", "SubprocessFastWatcherTests",
             "SubprocessMultiLoopWatcherTests"),
            via="setUp", mixin="SubprocessMixin"),),
    ),
    "test_runners": ModuleSpec(
        base_hooks=(BaseHook("BaseTest", build="runner_new_loop"),),
        stock_only={
            "*.test_loop_factory_default_event_loop":
                "runs asyncio.EventLoop and asserts it is a SelectorEventLoop (3.13+)",
        },
    ),
    "test_pep492": ModuleSpec(base_hooks=(BaseHook("BaseTest", build="setUp"),)),
    "test_unix_events": ModuleSpec(
        hooks=(LoopHook(("SelectorEventLoopUnixSocketTests",), via="setUp"),),
        only_classes=("SelectorEventLoopUnixSocketTests", "TestFunctional", "PolicyTests",
                      "TestFork"),
        only_reason="they test stock signal handling, pipe transports and child "
                    "watchers on a fake loop or with mocks",
        stock_internal={
            "*.test_create_unix_server_bind_error": "mocks asyncio.unix_events.socket",
        },
    ),
}


def spec_for(module):
    return SPECS.get(module, ModuleSpec())


def default_modules(group="all"):
    return tuple(m for m in GROUPS[group] if m not in EXCLUDED)
