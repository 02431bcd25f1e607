"""eloop's pytest plugin: inactive unless asked; when asked, a project's asyncio tests
(pytest-asyncio, IsolatedAsyncioTestCase, asyncio.run) run on eloop in the trigger mode
asked for, and the session's policy is restored at its end."""

import asyncio
import functools
import importlib.metadata
import os
import textwrap

import pytest

import eloop
from eloop import pytest_plugin

pytest_plugins = ['pytester']

# Installed, eloop's plugin is loaded by its pytest11 entry point (naming it again with -p would
# register it twice); from a checkout that is not installed, it is loaded by its module name.
LOAD_PLUGIN = () if any(entry.name == 'eloop' for entry in
                        importlib.metadata.entry_points(group='pytest11')) \
    else ('-p', 'eloop.pytest_plugin')

QUIET_INI = '[pytest]\nasyncio_default_fixture_loop_scope = function\n'

# Each inner test writes the type and trigger of the loop it ran on into ran.txt.
INNER_TESTS = textwrap.dedent('''
    import asyncio
    import unittest
    import pytest

    def record(where):
        loop = asyncio.get_running_loop()
        with open('ran.txt', 'a') as out:
            out.write(f"{where} {type(loop).__module__} {getattr(loop, 'trigger', '-')}\\n")

    @pytest.mark.asyncio
    async def test_pytest_asyncio():
        record('pytest-asyncio')

    def test_asyncio_run():
        async def main():
            record('asyncio.run')
        asyncio.run(main())

    class TestCase(unittest.IsolatedAsyncioTestCase):
        async def test_unittest(self):
            record('unittest')
''')


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv('ELOOP_PYTEST', raising=False)
    monkeypatch.delenv('ELOOP_TRIGGER', raising=False)
    pytester.makeini(QUIET_INI)
    pytester.makepyfile(test_inner=INNER_TESTS)
    return pytester


def run_inner(pytester, *args):
    # Loaded by name: the checkout's eloop may not be installed with its entry point.
    result = pytester.runpytest_subprocess(*LOAD_PLUGIN, '-p', 'asyncio', *args)
    result.assert_outcomes(passed=3)
    lines = (pytester.path / 'ran.txt').read_text().split('\n')
    return result, {line.split()[0]: tuple(line.split()[1:]) for line in lines if line}


@pytest.fixture(autouse=True)
def checkout_on_path(monkeypatch):
    # Subprocess runs import the same eloop as this one.
    root = os.path.dirname(os.path.dirname(os.path.abspath(eloop.__file__)))
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join(filter(None, [root, os.environ.get('PYTHONPATH')])))


def test_inactive_unless_asked(project):
    result, ran = run_inner(project)
    assert set(ran) == {'pytest-asyncio', 'asyncio.run', 'unittest'}
    assert all(module.startswith('asyncio') for module, _ in ran.values()), ran
    assert 'eloop: active' not in result.stdout.str()


@pytest.mark.parametrize('how', ['option', 'ini', 'env'])
def test_asked_runs_every_kind_of_async_test_on_eloop(project, monkeypatch, how):
    args = []
    if how == 'option':
        args.append('--eloop')
    elif how == 'ini':
        project.makeini(QUIET_INI + 'eloop = true\n')
    else:
        monkeypatch.setenv('ELOOP_PYTEST', '1')
    result, ran = run_inner(project, *args)
    assert ran == {name: ('eloop._loop', 'level') for name in ('pytest-asyncio', 'asyncio.run', 'unittest')}
    result.stdout.fnmatch_lines(['eloop: active, version *, trigger level, *'])


def test_trigger_option_and_environment(project, monkeypatch):
    _, ran = run_inner(project, '--eloop', '--eloop-trigger=edge')
    assert {trigger for _, trigger in ran.values()} == {'edge'}
    (project.path / 'ran.txt').unlink()
    monkeypatch.setenv('ELOOP_PYTEST', '1')
    monkeypatch.setenv('ELOOP_TRIGGER', 'edge')
    _, ran = run_inner(project)
    assert {trigger for _, trigger in ran.values()} == {'edge'}


def test_false_words_leave_it_inactive(project, monkeypatch):
    monkeypatch.setenv('ELOOP_PYTEST', '0')
    _, ran = run_inner(project)
    assert all(module.startswith('asyncio') for module, _ in ran.values()), ran


def test_policy_is_restored_at_the_end_of_the_session(pytester, monkeypatch):
    monkeypatch.delenv('ELOOP_PYTEST', raising=False)
    pytester.makeini(QUIET_INI)
    pytester.makepyfile(test_policy='''
        import asyncio, eloop
        def test_policy():
            assert isinstance(asyncio.get_event_loop_policy(), eloop.EventLoopPolicy)
    ''')
    before = asyncio.get_event_loop_policy()
    result = pytester.runpytest_inprocess(*LOAD_PLUGIN, '--eloop')
    result.assert_outcomes(passed=1)
    assert asyncio.get_event_loop_policy() is before


def test_without_policies_pytest_asyncio_gets_eloop_through_its_hook(pytester, monkeypatch):
    # Python 3.16 drops the policies; pytest-asyncio >= 1.3 has a hook for loop factories.
    pytest.importorskip('pytest_asyncio')
    monkeypatch.delenv('ELOOP_PYTEST', raising=False)
    monkeypatch.setattr(pytest_plugin, '_has_policies', lambda: False)
    pytester.makeini(QUIET_INI)
    pytester.makepyfile(test_hook='''
        import asyncio, pytest

        @pytest.mark.asyncio
        async def test_loop():
            loop = asyncio.get_running_loop()
            assert type(loop).__module__ == 'eloop._loop' and loop.trigger == 'edge'
    ''')
    before = asyncio.get_event_loop_policy()
    result = pytester.runpytest_inprocess(*LOAD_PLUGIN, '-p', 'asyncio',
                                          '--eloop', '--eloop-trigger=edge')
    result.assert_outcomes(passed=1)
    assert asyncio.get_event_loop_policy() is before


def test_anyio_backend_gets_eloop_factory_only_where_it_names_no_loop():
    factory = functools.partial(eloop.new_event_loop, trigger='edge')
    assert pytest_plugin.with_eloop_loop_factory('asyncio', factory) == ('asyncio', {'loop_factory': factory})
    assert pytest_plugin.with_eloop_loop_factory(('asyncio', {'debug': True}), factory) == \
        ('asyncio', {'debug': True, 'loop_factory': factory})
    for unchanged in ('trio', ('trio', {}), ('asyncio', {'use_uvloop': True}),
                      ('asyncio', {'loop_factory': asyncio.new_event_loop})):
        assert pytest_plugin.with_eloop_loop_factory(unchanged, factory) is unchanged


def test_blockbuster_allows_in_eloop_only_what_it_allows_in_asyncio(monkeypatch):
    # A stand-in with blockbuster's shape: per function, (file, {function names}) allowed to block.
    import sys
    import types

    class Function:
        def __init__(self, allowed):
            self.can_block_functions = allowed

    class BlockBuster:
        def __init__(self):
            self.functions = {
                'os.sendfile': Function([('asyncio/base_events.py', {'sendfile'})]),
                'os.stat': Function([('_pytest/assertion/rewrite.py', {'_write_pyc'})]),
            }

        def activate(self):
            self.active = True

    package = types.ModuleType('blockbuster')
    package.blockbuster = types.ModuleType('blockbuster.blockbuster')
    package.blockbuster.BlockBuster = BlockBuster
    monkeypatch.setitem(sys.modules, 'blockbuster', package)
    monkeypatch.setitem(sys.modules, 'blockbuster.blockbuster', package.blockbuster)

    original = BlockBuster.activate
    undo = pytest_plugin.allow_in_eloop_what_blockbuster_allows_in_asyncio()
    assert BlockBuster.activate is not original
    bb = BlockBuster()
    bb.activate()
    bb.activate()  # again: nothing is added twice
    assert bb.active
    sendfile = bb.functions['os.sendfile'].can_block_functions
    assert ('eloop/_network.py', {'sendfile'}) in sendfile
    assert len(sendfile) == len(set((f, frozenset(n)) for f, n in sendfile))
    assert all(name == {'sendfile'} for _, name in sendfile)
    assert bb.functions['os.stat'].can_block_functions == [('_pytest/assertion/rewrite.py', {'_write_pyc'})]
    undo()
    assert BlockBuster.activate is original
