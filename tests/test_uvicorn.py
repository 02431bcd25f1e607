"""A real ASGI server on eloop: `uvicorn app:app --loop eloop:new_event_loop`, as users run it."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

import eloop

pytest.importorskip('uvicorn', reason='uvicorn is in the test extra; without it this test waits '
                                      'for `pip install .[test]` (issue 2)')

APP = textwrap.dedent('''
    import asyncio

    async def app(scope, receive, send):
        if scope['type'] != 'http':
            return
        loop = asyncio.get_running_loop()
        body = f'{type(loop).__module__}.{type(loop).__name__} {scope["path"]}'.encode()
        await send({'type': 'http.response.start', 'status': 200,
                    'headers': [(b'content-type', b'text/plain'),
                                (b'content-length', str(len(body)).encode())]})
        await send({'type': 'http.response.body', 'body': body})
''')


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _get(port, path, deadline):
    """One HTTP/1.0 GET on a fresh connection; retried until the server listens or time is up."""
    while True:
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=5) as sock:
                sock.sendall(f'GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n'.encode())
                chunks = []
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
                return b''.join(chunks)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize('http', ['h11', 'httptools'])
def test_uvicorn_serves_requests_on_eloop(tmp_path, trigger, http):
    if http == 'httptools':
        pytest.importorskip('httptools', reason='httptools is in the test extra (issue 2)')
    (tmp_path / 'asgi_app.py').write_text(APP)
    port = _free_port()
    # The server must import the same eloop as this test run: the installed one, or the checkout's.
    eloop_home = os.path.dirname(os.path.dirname(eloop.__file__))
    env = dict(os.environ, ELOOP_TRIGGER=trigger,
               PYTHONPATH=os.pathsep.join(filter(None, [eloop_home, os.environ.get('PYTHONPATH')])))
    server = subprocess.Popen(
        [sys.executable, '-m', 'uvicorn', 'asgi_app:app', '--loop', 'eloop:new_event_loop',
         '--http', http, '--port', str(port), '--log-level', 'warning'],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        for i in range(20):
            try:
                response = _get(port, f'/hello/{i}', deadline)
            except ConnectionRefusedError:
                server.kill()
                pytest.fail('uvicorn did not listen: ' + server.communicate()[0].decode())
            head, _, body = response.partition(b'\r\n\r\n')
            assert head.startswith(b'HTTP/1.1 200'), response
            assert body == f'eloop._loop.Loop /hello/{i}'.encode()
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    # A graceful shutdown on SIGTERM, as on stock asyncio: recent uvicorn re-raises the signal
    # once it has shut down, older ones exit 0; nothing is logged at warning level or above.
    assert server.returncode in (0, -signal.SIGTERM), output.decode()
    assert output == b'', output.decode()
    assert b'Traceback' not in output, output.decode()
