"""Points CPython's test_asyncio at the loop under test without editing CPython's files.

Three levers, used in this order by the driver:
1. The policy (install_policy): asyncio.DefaultEventLoopPolicy (and its private 3.14
   spelling) becomes eloop's policy class configured with the trigger, and an instance
   is installed. Tests that call asyncio.new_event_loop(), asyncio.run(), Runner or
   IsolatedAsyncioTestCase then get eloop; tests whose tearDown calls
   set_event_loop_policy(None) get eloop's policy again on the next lookup, because
   asyncio re-creates the default policy by looking up asyncio.DefaultEventLoopPolicy.
2. Loop-pinned classes (retarget_module): classes such as EPollEventLoopTests pin a stock
   loop in create_event_loop/new_loop/setUp. The eloop run drops them and adds a twin
   that returns an eloop loop from the same hook (see _suite.LoopHook).
3. asyncio.SelectorEventLoop is NOT patched globally: tests subclass it, isinstance-check
   it, and the stock policy's factory is bound to it. It is pointed at eloop only inside
   the setUp of twins built with via="setUp" and no mixin, where the stock setUp calls
   asyncio.SelectorEventLoop() and nothing else runs.
"""

import contextlib
import functools
import importlib
import inspect

from _suite import PACKAGE

TWIN_PREFIX = "Eloop"


# -- the loop under test -------------------------------------------------------------

def resolve(spec):
    """'package.module:attr' -> the object."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise ValueError(f"expected module:callable, got {spec!r}")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def accepted_options(fn, options):
    """The subset of options that fn accepts as keywords (all of them given **kwargs).

    The trigger is also exported as ELOOP_TRIGGER by the parent, so a factory that takes
    no keyword still gets it.
    """
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return dict(options)
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return dict(options)
    names = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in options.items() if k in names}


def make_factory(factory, options, recorder):
    """A zero-argument loop factory that records every loop it hands out."""
    bound = functools.partial(factory, **accepted_options(factory, options))

    def new_loop_under_test(*_ignored_args, **_ignored_kwargs):
        # Extra arguments are dropped on purpose: stock hooks pass a selector.
        loop = bound()
        recorder.note_created(loop)
        return loop

    return new_loop_under_test


def make_policy_class(policy_cls, options, recorder):
    """policy_cls configured with options, usable as asyncio.DefaultEventLoopPolicy()."""
    init_options = accepted_options(policy_cls, options)

    class ConfiguredPolicy(policy_cls):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**init_options, **kwargs})

        def new_event_loop(self):
            loop = super().new_event_loop()
            recorder.note_created(loop)
            return loop

    ConfiguredPolicy.__name__ = ConfiguredPolicy.__qualname__ = policy_cls.__name__
    ConfiguredPolicy.__module__ = policy_cls.__module__
    return ConfiguredPolicy


def policy_from_factory(factory):
    """For a factory module without a policy class: the stock default policy, whose
    loops come from factory (it keeps the stock child-watcher API on 3.10-3.13)."""
    base = _stock_default_policy()

    class FactoryPolicy(base):
        def new_event_loop(self):
            return factory()

    FactoryPolicy.__module__ = getattr(factory, "__module__", FactoryPolicy.__module__)
    return FactoryPolicy


def _stock_default_policy():
    import asyncio
    import asyncio.events
    for module in (asyncio.events, asyncio):
        cls = vars(module).get("_DefaultEventLoopPolicy") or vars(module).get("DefaultEventLoopPolicy")
        if cls is not None:
            return cls
    return asyncio.DefaultEventLoopPolicy


def install_policy(policy_class):
    """Makes policy_class the default policy under every name asyncio looks it up by."""
    import asyncio
    import asyncio.events
    modules = [asyncio, asyncio.events]
    with contextlib.suppress(ImportError):
        modules.append(importlib.import_module("asyncio.unix_events"))
    asyncio.DefaultEventLoopPolicy = policy_class
    for module in modules:
        for name in ("DefaultEventLoopPolicy", "_DefaultEventLoopPolicy"):
            if name in vars(module):
                setattr(module, name, policy_class)
    # 3.14 deprecates the public setter; the private one does the same without a warning.
    setter = getattr(asyncio.events, "_set_event_loop_policy", None) or asyncio.set_event_loop_policy
    setter(policy_class())


# -- the test harness ----------------------------------------------------------------

def shim_close_loop(test_utils):
    """test_utils.TestCase.close_loop reads the private loop._default_executor.

    That is the harness, not a test: for a loop without that attribute, shut the default
    executor down through the public API and hand the stock helper a view of the loop
    that says it has no executor left, so the rest of the helper (close, child-watcher
    threads) runs unchanged. Stock loops take the original path.
    """
    case = getattr(test_utils, "TestCase", None)
    original = getattr(case, "close_loop", None)
    if original is None:
        return

    def close_loop(loop):
        if hasattr(loop, "_default_executor"):
            return original(loop)
        if not loop.is_closed():
            loop.run_until_complete(loop.shutdown_default_executor())
        return original(_WithoutExecutor(loop))

    case.close_loop = staticmethod(close_loop)


class _WithoutExecutor:
    _default_executor = None

    def __init__(self, loop):
        self._loop = loop

    def __getattr__(self, name):
        return getattr(self._loop, name)


# -- loop-pinned classes -------------------------------------------------------------

def retarget_module(module, spec, mode, factory, notes):
    """Rewrites the module's test classes for one run; returns the classes not to run.

    mode "asyncio": keep only the reference class of each hook (the default selector).
    mode "eloop": drop every stock loop-pinned class and add a twin of the reference.
    Dropped classes stay in the module's namespace (test bodies refer to them, e.g.
    isinstance(self, SubprocessFastWatcherTests)); the driver just does not run them.
    notes collects one line per change.
    """
    dropped = _classes_outside(module, spec, notes)
    for hook in spec.hooks:
        present = [getattr(module, n) for n in hook.stock_classes
                   if isinstance(getattr(module, n, None), type)]
        if not present:
            notes.append(f"no class of {', '.join(hook.stock_classes)} in this Python")
            continue
        reference = present[0]
        drop = present if mode == "eloop" else present[1:]
        dropped.update(drop)
        if drop:
            notes.append("dropped stock loop classes " + ", ".join(c.__name__ for c in drop))
        if mode == "eloop":
            twin = _make_twin(module, reference, hook, factory)
            setattr(module, twin.__name__, twin)
            notes.append(f"added {twin.__name__} (keyed as {reference.__name__}, loop via {hook.via})")
    if mode == "eloop":
        for hook in spec.base_hooks:
            _patch_base(module, hook, factory, notes)
    return dropped


def _patch_base(module, hook, factory, notes):
    cls = getattr(module, hook.cls, None)
    if not isinstance(cls, type):
        notes.append(f"no class {hook.cls} in this Python")
        return
    if hook.build == "setUp":
        def setUp(self):
            super(cls, self).setUp()
            self.loop = factory()
            self.set_event_loop(self.loop)
        cls.setUp = setUp
        notes.append(f"{hook.cls}.setUp builds an eloop loop instead of a mocked BaseEventLoop")
    elif hook.build == "runner_new_loop":
        def new_loop(self):
            loop = factory()
            loop.shutdown_ag_run = False  # BaseTest.tearDown asserts asyncio.run set it
            shutdown_asyncgens = loop.shutdown_asyncgens

            async def recording_shutdown_asyncgens():
                loop.shutdown_ag_run = True
                await shutdown_asyncgens()

            loop.shutdown_asyncgens = recording_shutdown_asyncgens
            return loop
        cls.new_loop = new_loop
        notes.append(f"{hook.cls}.new_loop returns an eloop loop instead of a mocked BaseEventLoop")
    else:
        raise ValueError(f"unknown BaseHook build {hook.build!r}")


def _classes_outside(module, spec, notes):
    """The module's TestCase classes not in spec.only_classes (none if that is unset)."""
    if spec.only_classes is None:
        return set()
    import unittest
    outside = {obj for name, obj in vars(module).items()
               if isinstance(obj, type) and issubclass(obj, unittest.TestCase)
               and obj.__module__ == module.__name__ and name not in spec.only_classes}
    if outside:
        names = ", ".join(sorted(c.__name__ for c in outside))
        notes.append(f"dropped {names}: {spec.only_reason}")
    return outside


def _make_twin(module, ref_cls, hook, factory):
    if hook.mixin:  # e.g. EloopSubprocessTests: the reference's watcher is not in it
        name = TWIN_PREFIX + hook.mixin.replace("Mixin", "") + "Tests"
    else:
        name = TWIN_PREFIX + ref_cls.__name__
    ns = {"__module__": module.__name__, "__qualname__": name,
          "_compat_reference": ref_cls.__name__}
    if hook.via != "setUp":
        # create_event_loop / new_loop: the stock hook returns a SelectorEventLoop.
        ns[hook.via] = lambda self: factory()
        bases = (ref_cls,)
        if hook.skip_setup_of:
            _skip_layer(ns, getattr(module, hook.skip_setup_of, None), ref_cls)
    elif hook.mixin:
        test_utils = importlib.import_module(PACKAGE + ".utils")
        bases = (getattr(module, hook.mixin), test_utils.TestCase)

        def setUp(self):
            super(twin, self).setUp()
            self.loop = factory()
            self.set_event_loop(self.loop)

        ns["setUp"] = setUp
    else:
        bases = (ref_cls,)

        def setUp(self):
            with _patched_selector_event_loop(factory):
                ref_cls.setUp(self)

        ns["setUp"] = setUp
    twin = type(name, bases, ns)
    return twin


def _skip_layer(ns, mixin, ref_cls):
    """Twin's setUp/tearDown go straight past mixin's, keeping the rest of the MRO."""
    if mixin is None or mixin not in ref_cls.__mro__:
        return
    for method in ("setUp", "tearDown"):
        if method in vars(mixin):
            ns[method] = (lambda m: lambda self: getattr(super(mixin, self), m)())(method)


@contextlib.contextmanager
def _patched_selector_event_loop(factory):
    import asyncio
    saved = asyncio.SelectorEventLoop
    asyncio.SelectorEventLoop = factory
    try:
        yield
    finally:
        asyncio.SelectorEventLoop = saved


# -- test ids ------------------------------------------------------------------------

def key_of(test):
    """The id used to compare runs: the twin's tests are keyed by the reference class."""
    cls = type(test)
    reference = getattr(cls, "_compat_reference", None)
    test_id = test.id()
    if reference and cls.__name__ != reference:
        test_id = test_id.replace(f".{cls.__name__}.", f".{reference}.", 1)
    return short_id(test_id)


def short_id(test_id):
    prefix = PACKAGE + "."
    return test_id[len(prefix):] if test_id.startswith(prefix) else test_id
