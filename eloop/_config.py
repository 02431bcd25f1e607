"""The loop's options: from keyword arguments, else from the environment, else the defaults."""

import os

TRIGGERS = ('level', 'edge')
BACKENDS = ('epoll',)

_TRIGGER_ALIASES = {'lt': 'level', 'et': 'edge'}


class Config:
    """The validated options of one loop."""

    __slots__ = ('trigger', 'backend')

    def __init__(self, trigger, backend):
        self.trigger = trigger
        self.backend = backend

    @property
    def edge_triggered(self):
        return self.trigger == 'edge'

    @classmethod
    def from_options(cls, trigger=None, backend=None):
        """Options given as arguments win over ELOOP_TRIGGER / ELOOP_BACKEND."""
        if trigger is None:
            trigger = os.environ.get('ELOOP_TRIGGER') or 'level'
        if backend is None:
            backend = os.environ.get('ELOOP_BACKEND') or 'epoll'
        return cls(_validate_trigger(trigger), _validate_backend(backend))

    def __repr__(self):
        return f'Config(trigger={self.trigger!r}, backend={self.backend!r})'


def _validate_trigger(trigger):
    if not isinstance(trigger, str):
        raise TypeError(f'trigger must be a str, not {type(trigger).__name__}')
    name = _TRIGGER_ALIASES.get(trigger.lower(), trigger.lower())
    if name not in TRIGGERS:
        raise ValueError(f'unknown trigger mode {trigger!r}: expected one of {", ".join(TRIGGERS)}')
    return name


def _validate_backend(backend):
    if not isinstance(backend, str):
        raise TypeError(f'backend must be a str, not {type(backend).__name__}')
    name = backend.lower()
    if name not in BACKENDS:
        raise ValueError(f'unknown backend {backend!r}: expected one of {", ".join(BACKENDS)}')
    return name
