"""The loops under test and how a child process makes each one.

Every sample runs in a fresh child, so a loop's imports (uvloop, rloop, or eloop's plain-Python
modules under ELOOP_PURE=1) never leak into another loop's figures. The parent decides the
child's environment; the child makes the loop and describes what it really got, so that a row
labelled "compiled" is compiled.
"""

import asyncio
import importlib.util

# name -> (module that must be importable, environment for the child, what the row is)
LOOPS = {
    'eloop': ('eloop', {'ELOOP_PURE': '0'}, 'eloop, level-triggered epoll'),
    'eloop-edge': ('eloop', {'ELOOP_PURE': '0'}, 'eloop, edge-triggered epoll'),
    'eloop-pure': ('eloop', {'ELOOP_PURE': '1'}, 'eloop, plain Python (ELOOP_PURE=1), level-triggered'),
    'asyncio': ('asyncio', {}, 'asyncio, stock SelectorEventLoop'),
    'uvloop': ('uvloop', {}, 'uvloop'),
    'rloop': ('rloop', {}, 'rloop'),
}

# Not a Python loop: the C epoll echo server, a reference row for the echo workloads.
C_REFERENCE = 'c-epoll'

DEFAULT_LOOPS = ('eloop', 'eloop-edge', 'eloop-pure', 'asyncio', 'uvloop', 'rloop')
BASELINE = 'asyncio'

# A loop named again in --loops is measured again, as a row of its own: NAME#2, NAME#3... The
# ratio between two rows of one loop is what the machine's noise alone makes of a ratio.
REPEAT_MARK = '#'


def repeat_name(name, number):
    """The row of the `number`th run of loop `name` in one benchmark (the first is `name`)."""
    return name if number == 1 else f'{name}{REPEAT_MARK}{number}'


def base_name(row):
    """The loop that the row `row` (a name from repeat_name) measures."""
    return row.partition(REPEAT_MARK)[0]


def is_installed(name):
    """True if the loop `name` can be made here (its package is importable)."""
    if name == C_REFERENCE:
        return True
    return importlib.util.find_spec(LOOPS[name][0]) is not None


def child_environment(name):
    """The variables a child needs so that `make_loop(name)` gives the intended loop."""
    if name == C_REFERENCE:
        return {}
    env = dict(LOOPS[name][1])
    # The trigger is chosen by argument; a stray ELOOP_TRIGGER must not override the row's name.
    env['ELOOP_TRIGGER'] = ''
    return env


def make_loop(name):
    """A new event loop of kind `name` (in the child)."""
    if name in ('eloop', 'eloop-pure'):
        import eloop
        return eloop.new_event_loop(trigger='level')
    if name == 'eloop-edge':
        import eloop
        return eloop.new_event_loop(trigger='edge')
    if name == 'asyncio':
        return asyncio.SelectorEventLoop()
    if name == 'uvloop':
        import uvloop
        return uvloop.new_event_loop()
    if name == 'rloop':
        import rloop
        return rloop.new_event_loop()
    raise ValueError(f'unknown loop {name!r}: expected one of {", ".join(LOOPS)}')


def describe(name, loop):
    """What the child really runs: the row's label, honest about compiled or plain Python."""
    if name.startswith('eloop'):
        import eloop
        info = eloop.info(loop)
        build = 'compiled' if info['compiled'] else 'plain Python'
        if name != 'eloop-pure' and not info['compiled']:
            build += ' (no compiled build installed)'
        return f"eloop {info['version']} {info['trigger']}-triggered, {build}"
    if name == 'asyncio':
        return f'asyncio {type(loop).__name__}'
    module = importlib.import_module(LOOPS[name][0])
    return f"{name} {getattr(module, '__version__', '')}".strip()
