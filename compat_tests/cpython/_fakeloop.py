"""A stand-in for eloop, to test the runner itself: stock SelectorEventLoop under another name.

    python compat_tests/cpython/run.py --loop-factory _fakeloop:new_event_loop

must print the same counts in every column and RESULT: OK; its "on eloop" counts must
equal the stock run's "on stock" counts, which shows that the patching reaches every
loop the tests run and that the proof tells the loop under test from stock loops.
"""

import asyncio
import os


class Loop(asyncio.SelectorEventLoop):
    def __init__(self, trigger=None):
        super().__init__()
        self.trigger = trigger or os.environ.get("ELOOP_TRIGGER", "level")


def new_event_loop(*, trigger=None):
    return Loop(trigger)


class EventLoopPolicy(asyncio.DefaultEventLoopPolicy):
    def __init__(self, *, trigger=None):
        super().__init__()
        self._trigger = trigger

    def new_event_loop(self):
        return Loop(self._trigger)
