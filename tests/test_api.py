"""Futures, tasks, the exception handler, debug mode, async generators and eloop's public API."""

import asyncio
import contextvars
import gc
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from unittest import mock

import pytest

import eloop

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, dev_mode=False, **env):
    """Run `code` in a fresh interpreter importing this checkout's eloop; return its stdout."""
    environ = dict(os.environ, PYTHONPATH=REPO, **env)
    for name in ('PYTHONASYNCIODEBUG', 'ELOOP_TRIGGER', 'ELOOP_BACKEND'):
        if name not in env:
            environ.pop(name, None)
    args = [sys.executable] + (['-X', 'dev'] if dev_mode else [])
    result = subprocess.run(args + ['-c', textwrap.dedent(code)], env=environ, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# -- futures and tasks ------------------------------------------------------------------------

def test_create_future_belongs_to_the_loop(loop):
    fut = loop.create_future()
    assert isinstance(fut, asyncio.Future)
    assert fut.get_loop() is loop
    assert not fut.done()
    fut.cancel()


def test_create_task_name_and_result(run, loop):
    async def child():
        await asyncio.sleep(0)
        return asyncio.current_task().get_name()

    async def main():
        task = loop.create_task(child(), name='worker')
        assert isinstance(task, asyncio.Task)
        assert task.get_loop() is loop
        return await task
    assert run(main()) == 'worker'


@pytest.mark.skipif(sys.version_info < (3, 11), reason='Task(context=) is new in Python 3.11')
def test_task_factory(run, loop):
    made = []

    def factory(lp, coro, **kwargs):
        made.append(kwargs.get('context'))
        return asyncio.Task(coro, loop=lp, **kwargs)

    assert loop.get_task_factory() is None
    loop.set_task_factory(factory)
    assert loop.get_task_factory() is factory

    async def child():
        return 7

    ctx = contextvars.copy_context()

    async def main():
        assert await loop.create_task(child(), name='made by factory') == 7
        return await loop.create_task(child(), context=ctx)
    assert run(main()) == 7
    assert made[-1] is ctx  # the factory is given the context
    loop.set_task_factory(None)
    assert loop.get_task_factory() is None
    with pytest.raises(TypeError):
        loop.set_task_factory(42)


def test_task_factory_gets_the_name(run, loop):
    def factory(lp, coro, **kwargs):
        return asyncio.Task(coro, loop=lp, **kwargs)
    loop.set_task_factory(factory)

    async def main():
        task = loop.create_task(asyncio.sleep(0), name='named')
        await task
        return task.get_name()
    assert run(main()) == 'named'


def test_tasks_interleave_at_awaits(run, loop):
    order = []

    async def worker(name):
        for i in range(3):
            order.append((name, i))
            await asyncio.sleep(0)

    async def main():
        await asyncio.gather(worker('a'), worker('b'))
    run(main())
    assert order == [('a', 0), ('b', 0), ('a', 1), ('b', 1), ('a', 2), ('b', 2)]


def test_task_cancellation(run, loop):
    async def sleeper():
        await asyncio.sleep(60)

    async def main():
        task = loop.create_task(sleeper())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()
    assert run(main()) is True


def test_all_tasks_and_current_task(run, loop):
    async def main():
        me = asyncio.current_task()
        other = loop.create_task(asyncio.sleep(0.01))
        assert {me, other} <= asyncio.all_tasks()
        await other
        return me.get_loop()
    assert run(main()) is loop


# -- the exception handler ------------------------------------------------------------------

def test_exception_handler_get_set(loop):
    assert loop.get_exception_handler() is None

    def handler(lp, context):
        pass
    loop.set_exception_handler(handler)
    assert loop.get_exception_handler() is handler
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None
    with pytest.raises(TypeError):
        loop.set_exception_handler('not callable')


def test_failing_callback_context(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, context: contexts.append((lp, context)))
    error = ValueError('boom')

    def fail():
        raise error
    handle = loop.call_soon(fail)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert len(contexts) == 1
    lp, context = contexts[0]
    assert lp is loop
    assert context['exception'] is error
    assert context['handle'] is handle
    assert context['message'].startswith('Exception in callback')
    assert 'fail' in context['message']


def test_unretrieved_future_exception_context(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, context: contexts.append(context))
    fut = loop.create_future()
    fut.set_exception(KeyError('lost'))
    del fut
    gc.collect()
    assert len(contexts) == 1
    assert contexts[0]['message'] == 'Future exception was never retrieved'
    assert isinstance(contexts[0]['exception'], KeyError)
    assert 'future' in contexts[0]


def test_unretrieved_task_exception_context(loop):
    contexts = []
    loop.set_exception_handler(lambda lp, context: contexts.append(context))

    async def fail():
        raise KeyError('lost')
    task = loop.create_task(fail())
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert task.done()
    del task
    gc.collect()
    assert len(contexts) == 1
    assert contexts[0]['message'] == 'Task exception was never retrieved'
    assert isinstance(contexts[0]['exception'], KeyError)
    assert isinstance(contexts[0]['future'], asyncio.Task)


def test_default_exception_handler_logs(loop, caplog):
    with caplog.at_level(logging.ERROR, logger='asyncio'):
        loop.call_exception_handler({'message': 'something went wrong',
                                     'exception': RuntimeError('the cause'),
                                     'extra': 'detail'})
    assert len(caplog.records) == 1
    record = caplog.records[0]
    assert record.name == 'asyncio'
    assert 'something went wrong' in record.getMessage()
    assert "extra: 'detail'" in record.getMessage()
    assert record.exc_info[1].args == ('the cause',)


def test_default_exception_handler_can_be_called_directly(loop, caplog):
    with caplog.at_level(logging.ERROR, logger='asyncio'):
        loop.default_exception_handler({'message': 'direct'})
    assert 'direct' in caplog.text


def test_failing_exception_handler_falls_back_to_the_default(loop, caplog):
    def broken_handler(lp, context):
        raise RuntimeError('handler broke')
    loop.set_exception_handler(broken_handler)
    with caplog.at_level(logging.ERROR, logger='asyncio'):
        loop.call_exception_handler({'message': 'original'})
    assert 'Unhandled error in exception handler' in caplog.text
    assert 'handler broke' in caplog.text


def test_the_loop_goes_on_after_a_failing_callback(loop, caplog):
    ran = []
    for i in range(3):
        loop.call_soon(lambda: 1 / 0)
        loop.call_soon(ran.append, i)
    loop.call_soon(loop.stop)
    with caplog.at_level(logging.ERROR, logger='asyncio'):
        loop.run_forever()
    assert ran == [0, 1, 2]
    assert caplog.text.count('ZeroDivisionError') >= 3


# -- debug mode -----------------------------------------------------------------------------

def test_set_debug(loop):
    assert loop.get_debug() is False
    loop.set_debug(True)
    assert loop.get_debug() is True
    loop.set_debug(False)
    assert loop.get_debug() is False


def test_debug_mode_from_the_environment():
    code = 'import eloop; print(eloop.new_event_loop().get_debug())'
    assert run_python(code) == 'False'
    assert run_python(code, PYTHONASYNCIODEBUG='1') == 'True'
    assert run_python(code, dev_mode=True) == 'True'


def test_slow_callback_is_logged_in_debug_mode(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01

    def slow():
        time.sleep(0.03)
    loop.call_soon(slow)
    loop.call_soon(loop.stop)
    with caplog.at_level(logging.WARNING, logger='asyncio'):
        loop.run_forever()
    messages = [r.getMessage() for r in caplog.records if 'Executing' in r.getMessage()]
    assert len(messages) == 1
    assert 'slow' in messages[0] and 'took' in messages[0]


def test_fast_callbacks_are_not_logged(loop, caplog):
    loop.set_debug(True)
    loop.call_soon(lambda: None)
    loop.call_soon(loop.stop)
    with caplog.at_level(logging.WARNING, logger='asyncio'):
        loop.run_forever()
    assert 'Executing' not in caplog.text


def test_non_threadsafe_call_from_another_thread_in_debug_mode(loop):
    loop.set_debug(True)
    errors = []

    def from_thread():
        for call in (lambda: loop.call_soon(print), lambda: loop.call_later(1, print)):
            try:
                call()
            except RuntimeError as exc:
                errors.append(exc)
        loop.call_soon_threadsafe(loop.stop)

    def start_thread():
        threading.Thread(target=from_thread).start()
    loop.call_soon(start_thread)
    loop.call_later(5, loop.stop)
    loop.run_forever()
    assert len(errors) == 2
    assert all('Non-thread-safe operation' in str(exc) for exc in errors)


def test_coroutine_as_callback_is_refused_in_debug_mode(loop):
    loop.set_debug(True)

    async def coro_function():
        pass
    with pytest.raises(TypeError):
        loop.call_soon(coro_function)
    with pytest.raises(TypeError):
        loop.call_later(1, coro_function)
    with pytest.raises(TypeError):
        loop.call_soon(42)


def test_debug_mode_tracks_coroutine_origins_while_running(loop):
    loop.set_debug(True)

    async def depth():
        return sys.get_coroutine_origin_tracking_depth()
    before = sys.get_coroutine_origin_tracking_depth()
    assert loop.run_until_complete(depth()) > 0
    assert sys.get_coroutine_origin_tracking_depth() == before


# -- asynchronous generators ---------------------------------------------------------------

def test_asyncgen_hooks_are_installed_while_running(loop):
    outside = sys.get_asyncgen_hooks()

    async def hooks():
        return sys.get_asyncgen_hooks()
    inside = loop.run_until_complete(hooks())
    assert inside.firstiter == loop._asyncgen_firstiter_hook
    assert inside.finalizer == loop._asyncgen_finalizer_hook
    assert sys.get_asyncgen_hooks() == outside


def closing_generator(closed):
    """An async generator function whose generators record in `closed` that they were closed."""
    async def agen():
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)
    return agen


def test_shutdown_asyncgens_closes_suspended_generators(run, loop):
    closed = []
    agen = closing_generator(closed)

    gen = agen()

    async def first():
        return await gen.__anext__()
    assert run(first()) == 1
    assert closed == []
    run(loop.shutdown_asyncgens())
    assert closed == [True]


def test_a_dropped_asyncgen_is_finalized_by_the_loop(run, loop):
    closed = []
    agen = closing_generator(closed)

    async def main():
        gen = agen()
        await gen.__anext__()
        del gen
        gc.collect()
        for _ in range(3):
            await asyncio.sleep(0)
    run(main())
    assert closed == [True]


def test_asyncgen_first_iterated_after_shutdown_warns(run, loop):
    run(loop.shutdown_asyncgens())

    async def agen():
        yield 1

    async def main():
        gen = agen()
        with pytest.warns(ResourceWarning):
            await gen.__anext__()
        await gen.aclose()
    run(main())


# -- the public API -------------------------------------------------------------------------

def test_new_event_loop_with_each_trigger(trigger):
    loop = eloop.new_event_loop(trigger=trigger)
    try:
        assert isinstance(loop, eloop.Loop)
        assert isinstance(loop, asyncio.AbstractEventLoop)
        assert loop.trigger == trigger
        assert loop._poller.edge_triggered == (trigger == 'edge')
        assert f'trigger={trigger}' in repr(loop)
    finally:
        loop.close()


@pytest.mark.parametrize('alias, trigger', [('lt', 'level'), ('ET', 'edge'), ('Level', 'level')])
def test_trigger_aliases(alias, trigger):
    loop = eloop.new_event_loop(trigger=alias)
    loop.close()
    assert loop.trigger == trigger


def test_unknown_options_name_the_valid_ones():
    with pytest.raises(ValueError, match='level.*edge'):
        eloop.new_event_loop(trigger='sideways')
    with pytest.raises(ValueError, match='epoll'):
        eloop.new_event_loop(backend='kqueue')
    with pytest.raises(ValueError, match='level.*edge'):
        eloop.EventLoopPolicy(trigger='sideways')
    with pytest.raises(TypeError):
        eloop.new_event_loop(trigger=1)
    with pytest.raises(TypeError):
        eloop.new_event_loop(no_such_option=True)


def test_refused_options_leave_no_error_behind(monkeypatch):
    unraisable = []
    monkeypatch.setattr(sys, 'unraisablehook', unraisable.append)
    with pytest.raises(ValueError):
        eloop.new_event_loop(trigger='sideways')
    gc.collect()
    assert unraisable == []


def test_options_from_the_environment(monkeypatch):
    monkeypatch.setenv('ELOOP_TRIGGER', 'edge')
    loop = eloop.new_event_loop()
    loop.close()
    assert loop.trigger == 'edge'
    loop = eloop.new_event_loop(trigger='level')  # an argument wins over the environment
    loop.close()
    assert loop.trigger == 'level'
    monkeypatch.setenv('ELOOP_BACKEND', 'select')
    with pytest.raises(ValueError, match='epoll'):
        eloop.new_event_loop()
    monkeypatch.setenv('ELOOP_BACKEND', 'epoll')
    monkeypatch.setenv('ELOOP_TRIGGER', 'bogus')
    with pytest.raises(ValueError, match='level.*edge'):
        eloop.new_event_loop()


def test_options_from_the_environment_in_a_new_process():
    code = '''
        import asyncio, eloop
        async def main():
            return asyncio.get_running_loop().trigger
        print(eloop.run(main()))
    '''
    assert run_python(code, ELOOP_TRIGGER='edge') == 'edge'
    assert run_python(code) == 'level'


def test_policy_makes_eloop_loops(trigger):
    policy = eloop.EventLoopPolicy(trigger=trigger)
    loop = policy.new_event_loop()
    try:
        assert isinstance(loop, eloop.Loop)
        assert loop.trigger == trigger
    finally:
        loop.close()
    assert isinstance(policy, asyncio.AbstractEventLoopPolicy)


def test_run(trigger):
    async def main():
        loop = asyncio.get_running_loop()
        return type(loop), loop.trigger, loop.get_debug()
    assert eloop.run(main(), debug=True, trigger=trigger) == (eloop.Loop, trigger, True)
    assert eloop.run(main(), trigger=trigger)[2] is False


def test_a_loop_left_unclosed_at_exit_closes_without_an_error(tmp_path):
    """A script that runs a loop it never closes: the loop is closed at interpreter exit, when
    module globals may already be None, and nothing is printed (as with asyncio's loops)."""
    script = tmp_path / 'script.py'
    script.write_text(textwrap.dedent("""
        import asyncio, eloop
        loop = eloop.new_event_loop()
        asyncio.set_event_loop(loop)
        async def main():
            await asyncio.sleep(0)
        loop.run_until_complete(main())
    """))
    package_dir = os.path.dirname(os.path.dirname(eloop.__file__))  # this eloop, compiled or not
    environ = dict(os.environ, PYTHONPATH=package_dir)
    result = subprocess.run([sys.executable, str(script)], env=environ, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0
    assert result.stderr == ''


def test_run_propagates_the_exception_and_closes_the_loop():
    seen = []

    async def main():
        seen.append(asyncio.get_running_loop())
        raise LookupError('from main')
    with pytest.raises(LookupError):
        eloop.run(main())
    assert seen[0].is_closed()


def test_run_cancels_leftover_tasks():
    cancelled = []

    async def leftover():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def main():
        asyncio.get_running_loop().create_task(leftover())
        await asyncio.sleep(0)
    eloop.run(main())
    assert cancelled == [True]


def test_run_inside_a_running_loop_is_an_error(run):
    async def main():
        coro = asyncio.sleep(0)
        try:
            with pytest.raises(RuntimeError):
                eloop.run(coro)
        finally:
            coro.close()
    run(main())


def test_install_sets_the_policy():
    saved = asyncio.get_event_loop_policy()
    try:
        eloop.install(trigger='edge')
        policy = asyncio.get_event_loop_policy()
        assert isinstance(policy, eloop.EventLoopPolicy)

        async def main():
            return asyncio.get_running_loop()
        loop = asyncio.run(main())
        assert isinstance(loop, eloop.Loop)
        assert loop.trigger == 'edge'
    finally:
        asyncio.set_event_loop_policy(saved)


@pytest.mark.skipif(sys.version_info < (3, 11), reason='asyncio.Runner is new in Python 3.11')
def test_stdlib_runner_with_eloop_loop_factory(trigger):
    async def main():
        return type(asyncio.get_running_loop())

    def factory():
        return eloop.new_event_loop(trigger=trigger)
    if sys.version_info >= (3, 12):
        assert asyncio.run(main(), loop_factory=factory) is eloop.Loop
    with asyncio.Runner(loop_factory=factory) as runner:
        assert runner.run(main()) is eloop.Loop
        assert runner.get_loop().trigger == trigger


def test_info():
    details = eloop.info()
    assert set(details) >= {'version', 'compiled', 'backend', 'trigger', 'python'}
    assert details['version'] == eloop.__version__
    assert details['backend'] == 'epoll'
    assert details['trigger'] in eloop.TRIGGERS
    loop = eloop.new_event_loop(trigger='edge')
    try:
        assert eloop.info(loop)['trigger'] == 'edge'
    finally:
        loop.close()


@pytest.mark.parametrize('compiled', [False, True])
def test_info_command_shows_why_the_build_fell_back_only_when_it_did(
        compiled, tmp_path, monkeypatch, capsys):
    import eloop.__main__ as command_line
    (tmp_path / 'NOT_COMPILED.txt').write_text('the C extensions could not be built (no gcc).')
    monkeypatch.setattr(eloop, '__file__', str(tmp_path / '__init__.py'))
    monkeypatch.setattr(eloop, 'info', lambda: {'compiled': compiled})
    assert command_line.info() == 0
    shown = capsys.readouterr().out
    assert f'compiled: {compiled}' in shown
    assert ('not compiled because the C extensions' in shown) is not compiled


def test_pure_mode_runs_the_source_modules():
    code = 'import eloop; print(eloop.info()["compiled"])'
    assert run_python(code, ELOOP_PURE='1') == 'False'


def test_unclosed_loop_warns():
    loop = eloop.new_event_loop()
    with pytest.warns(ResourceWarning, match='unclosed event loop'):
        del loop
        gc.collect()


def test_a_loop_keeps_attributes_set_on_it_and_methods_patched_on_it(loop):
    """Code (and tests, with mock.patch.object) sets attributes on a loop and replaces its
    methods per instance, as on asyncio's loops. (Compiled, a loop drops its empty instance dict
    when it is made; CPython makes it again when something is set in it.)"""
    loop.owner = 'me'
    assert loop.owner == 'me'
    assert vars(loop)['owner'] == 'me'
    with mock.patch.object(loop, 'time', return_value=-1.0):
        assert loop.time() == -1.0
    assert loop.time() > 0
    assert 'time' not in vars(loop)


def test_a_loop_made_by_a_subclass_keeps_its_attributes():
    class TaggedLoop(eloop.Loop):
        def __init__(self):
            self.tag = 'before'
            super().__init__()
            self.later = 'after'

    loop = TaggedLoop()
    try:
        assert (loop.tag, loop.later) == ('before', 'after')
        assert loop.run_until_complete(asyncio.sleep(0, 'ran')) == 'ran'
    finally:
        loop.close()
