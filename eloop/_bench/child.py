"""What every benchmark child process shares: one JSON line to the parent, errors as text."""

import json
import resource
import traceback


def describe_error(exc):
    """'Type: message (in function)', short enough for a table cell and still telling."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f' (in {frames[-1].name})' if frames else ''
    message = str(exc) or 'no message'
    return f'{type(exc).__name__}: {message}{where}'


def report(result):
    """Hand the parent this child's result: one JSON object on one line of stdout."""
    print(json.dumps(result), flush=True)


def raise_open_file_limit():
    """Servers hold many connections: take the hard open-file limit as the soft one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
