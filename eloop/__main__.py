"""The eloop command: run an unchanged asyncio program on eloop, describe this eloop, benchmark it.

    python -m eloop run [--trigger level|edge] [--debug] script.py [args...]
    python -m eloop run [--trigger level|edge] [--debug] -m package.module [args...]
    python -m eloop info
    python -m eloop bench [options]        (see python -m eloop bench --help)

`run` makes eloop the loop of asyncio.run, asyncio.Runner, asyncio.new_event_loop and
get_event_loop, then runs the program as `python script.py` / `python -m package.module` would:
same sys.argv, same sys.path[0], same `__main__`.
"""

import asyncio
import functools
import importlib
import os
import runpy
import sys

USAGE = __doc__.split('\n\n')[1].rstrip()
RUN_USAGE = """usage: python -m eloop run [--trigger level|edge] [--debug] script.py [args...]
       python -m eloop run [--trigger level|edge] [--debug] -m package.module [args...]

  --trigger MODE   epoll trigger mode of the program's loops: level (default) or edge
                   (the same as the environment variable ELOOP_TRIGGER)
  --debug          asyncio debug mode (the same as PYTHONASYNCIODEBUG=1)
  -m MODULE        run a module as a script, like python -m"""


class UsageError(Exception):
    """A command line eloop cannot run; the message says why."""


# -- run --------------------------------------------------------------------------------------

class RunRequest:
    """What `eloop run` was asked to do: options, then a script or a module and its arguments."""

    __slots__ = ('trigger', 'debug', 'module', 'script', 'args')

    def __init__(self):
        self.trigger = None
        self.debug = False
        self.module = None
        self.script = None
        self.args = []

    @classmethod
    def parse(cls, argv):
        """Options end at the script or module name; everything after it is the program's."""
        request = cls()
        argv = list(argv)
        while argv:
            word = argv.pop(0)
            if word in ('-h', '--help'):
                raise UsageError(None)
            if word == '--debug':
                request.debug = True
            elif word == '--trigger' or word.startswith('--trigger='):
                value = word.partition('=')[2] if '=' in word else _take_value(argv, word)
                request.trigger = _valid_trigger(value)
            elif word == '-m' or (word.startswith('-m') and len(word) > 2):
                request.module = word[2:] or _take_value(argv, word)
                request.args = argv
                return request
            elif word == '--':
                return request._with_script(argv)
            elif word.startswith('-'):
                raise UsageError(f'unknown option {word!r}')
            else:
                return request._with_script([word] + argv)
        raise UsageError('a script or -m module to run is needed')

    def _with_script(self, argv):
        if not argv:
            raise UsageError('a script or -m module to run is needed')
        self.script, self.args = argv[0], argv[1:]
        return self


def _take_value(argv, option):
    if not argv:
        raise UsageError(f'{option} needs a value')
    return argv.pop(0)


def _valid_trigger(value):
    from . import _config
    try:
        return _config.Config.from_options(trigger=value).trigger
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def use_eloop_by_default(**options):
    """Make every way an asyncio program gets its loop give an eloop loop with these options."""
    import eloop
    if sys.version_info < (3, 14):
        # The policy serves asyncio.run and Runner (without loop_factory), new_event_loop and
        # get_event_loop alike.
        eloop.install(**options)
        return
    # From 3.14 on event loop policies are deprecated (to be removed in 3.16): set the policy
    # without the public, warning setter while asyncio still consults one, and make eloop the
    # default loop factory of asyncio.Runner, which asyncio.run uses, for when it no longer does.
    set_policy = getattr(asyncio.events, '_set_event_loop_policy', None)
    if set_policy is not None:
        set_policy(eloop.EventLoopPolicy(**options))
    _make_eloop_the_runner_default(functools.partial(eloop.new_event_loop, **options))


def _make_eloop_the_runner_default(default_factory):
    runner_init = asyncio.Runner.__init__
    if getattr(runner_init, 'eloop_default_factory', None) is not None:
        return  # patched already

    @functools.wraps(runner_init)
    def __init__(self, *, debug=None, loop_factory=None):
        runner_init(self, debug=debug, loop_factory=loop_factory or default_factory)

    __init__.eloop_default_factory = default_factory
    asyncio.Runner.__init__ = __init__


def run(request):
    """Run the requested program on eloop, in this process, as python itself would run it."""
    if request.trigger is not None:
        # Through the environment, so that loops made by eloop.new_event_loop() in the program,
        # and programs it starts, get the same mode.
        os.environ['ELOOP_TRIGGER'] = request.trigger
    if request.debug:
        os.environ['PYTHONASYNCIODEBUG'] = '1'
    use_eloop_by_default()
    if request.module is not None:
        sys.argv = [request.module] + request.args
        # python -m puts the current directory first on sys.path (the eloop console script
        # would have put its own directory there).
        sys.path[0] = os.getcwd()
        runpy.run_module(request.module, run_name='__main__', alter_sys=True)
    else:
        if not os.path.exists(request.script):
            raise UsageError(f"can't open file {request.script!r}: no such file")
        sys.argv = [request.script] + request.args
        # python script.py puts the script's directory first on sys.path.
        sys.path[0] = os.path.dirname(os.path.abspath(request.script))
        runpy.run_path(request.script, run_name='__main__')


# -- info, bench ------------------------------------------------------------------------------

def info():
    import eloop
    details = eloop.info()
    for key, value in details.items():
        print(f'{key}: {value}')
    # Written at install when the C extensions could not be built (see setup.py); a compiled
    # installation ignores a note that an older, failed build left behind.
    note = os.path.join(os.path.dirname(eloop.__file__), 'NOT_COMPILED.txt')
    if not details['compiled'] and os.path.exists(note):
        with open(note) as file:
            print(f'not compiled because {file.read().strip()}')
    return 0


def bench(argv):
    """Hand `bench` to the benchmark suite, where it is installed."""
    try:
        cli = importlib.import_module('eloop._bench.cli')
    except ImportError as exc:
        if exc.name not in ('eloop._bench', 'eloop._bench.cli'):
            raise
        print('eloop: the benchmark suite (eloop._bench) is not available in this installation',
              file=sys.stderr)
        return 2
    return cli.main(argv)


# -- the command ------------------------------------------------------------------------------

def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    command, rest = (argv[0], argv[1:]) if argv else (None, [])
    if command == 'run':
        try:
            request = RunRequest.parse(rest)
            run(request)
        except UsageError as exc:
            if exc.args[0] is None:
                print(RUN_USAGE)
                return 0
            print(f'{RUN_USAGE}\neloop run: error: {exc}', file=sys.stderr)
            return 2
        return 0
    if command == 'info' and not rest:
        return info()
    if command == 'bench':
        return bench(rest)
    if command in ('-h', '--help'):
        print(USAGE)
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
