"""What a third-party suite is: its pinned sdist and how pytest runs it on a chosen loop.

The loop is chosen by the environment, never by editing the suite's files: ELOOP_PYTEST=1
activates eloop's own pytest plugin (eloop/pytest_plugin.py, the piece users run their tests
with), which installs eloop's policy and gives anyio's asyncio backend eloop's loop factory.
"""

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Suite:
    name: str                 # as on the command line, and the names of its files here
    dist: str                 # its PyPI name
    version: str              # the pinned version: raising it is a deliberate change
    pytest_args: tuple = ()   # beyond what run.py adds (loop proof, deselect list, -n)
    timeout: float = 1800.0   # seconds for one whole run before it is killed
    use_xdist: bool = True    # run on -n workers

    @property
    def deselect_file(self):
        return HERE / "deselect" / f"{self.name}.txt"

    @property
    def requirements_file(self):
        return HERE / "requirements" / f"{self.name}.txt"


AIOHTTP = Suite(
    name="aiohttp",
    dist="aiohttp",
    version="3.14.5",
    # aiohttp's pytest plugin builds its `loop` fixture with asyncio.new_event_loop (the
    # "pyloop" factory), which asks the policy: eloop's, when the plugin is active.
    # pytest.ini adds coverage (--cov) and -n auto; --no-cov and run.py's -n undo them.
    pytest_args=("--aiohttp-loop=pyloop", "--no-cov"),
    timeout=2400.0,
)

ANYIO = Suite(
    name="anyio",
    dist="anyio",
    version="4.16.0",
    # The asyncio backend only: the loopcheck plugin keeps the tests whose anyio_backend
    # is plain ("asyncio", {...}) without a loop_factory of its own (not +uvloop, +eager,
    # nor trio). anyio marks its TCP listener and UDP tests `network` too: they run (on
    # 127.0.0.1/::1), and the two that need the Internet are in the deselect list.
    pytest_args=("--loopcheck-anyio-backend=asyncio",),
    timeout=1200.0,
    # As anyio's own CI runs it: under xdist, `__main__` is execnet's and test_to_process's
    # tests of the worker's main module fail on stock asyncio too.
    use_xdist=False,
)

PYTEST_ASYNCIO = Suite(
    name="pytest-asyncio",
    dist="pytest-asyncio",
    version="1.5.0",
    # Its tests run pytest inside pytest (pytester, in process and in subprocesses);
    # ELOOP_PYTEST=1 reaches both, and eloop's policy is process-wide.
    pytest_args=("--timeout=120",),
    timeout=900.0,
)

SUITES = {suite.name: suite for suite in (AIOHTTP, ANYIO, PYTEST_ASYNCIO)}
