"""The servers under load, run in a child process on the loop under test.

    python -m eloop._bench.servers --loop NAME --workload NAME [--port 0] [--lifetime SEC]

binds 127.0.0.1, prints {"port": N, "label": ..., "stats": BOOL} (or {"error": ...}) on stdout
and serves until killed, or until --lifetime seconds have passed, so that a server whose parent
died still stops. A loop that counts its work (eloop's loop.stats()) says "stats": true, and
answers each line on stdin with {"stats": {...}} on stdout: the counters as they are then.
"""

import argparse
import asyncio
import os
import sys

from . import child, loops
from .workloads import WORKLOADS

HOST = '127.0.0.1'
BACKLOG = 4096
HELLO = b'Hello, World!'
HTTP_RESPONSE = (b'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s'
                 % (len(HELLO), HELLO))


class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def echo_stream(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


class HttpProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive with the httptools parser: every request gets the same 200."""

    def connection_made(self, transport):
        import httptools
        self.transport = transport
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data):
        import httptools
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_complete(self):
        self.transport.write(HTTP_RESPONSE)
        if not self.parser.should_keep_alive():
            self.transport.close()


def _bound_port(server):
    return server.sockets[0].getsockname()[1]


async def start_echo_protocol(port):
    loop = asyncio.get_running_loop()
    return _bound_port(await loop.create_server(EchoProtocol, HOST, port, backlog=BACKLOG))


async def start_echo_streams(port):
    return _bound_port(await asyncio.start_server(echo_stream, HOST, port, backlog=BACKLOG))


async def start_http_httptools(port):
    import httptools  # noqa: F401  (fail here, at start, when it is missing)
    loop = asyncio.get_running_loop()
    return _bound_port(await loop.create_server(HttpProtocol, HOST, port, backlog=BACKLOG))


async def start_http_aiohttp(port):
    from aiohttp import web

    async def hello(request):
        return web.Response(body=HELLO, content_type='text/plain')

    app = web.Application()
    app.router.add_get('/', hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, HOST, port, backlog=BACKLOG).start()
    return runner.addresses[0][1]


SERVERS = {
    'echo-protocol': start_echo_protocol,
    'echo-streams': start_echo_streams,
    'http-httptools': start_http_httptools,
    'http-aiohttp': start_http_aiohttp,
}


def serve(loop_name, server, port, lifetime):
    """Start `server` on a new loop, announce the port, serve until killed or `lifetime` ends."""
    child.raise_open_file_limit()
    try:
        loop = loops.make_loop(loop_name)
        asyncio.set_event_loop(loop)
        bound = loop.run_until_complete(SERVERS[server](port))
    except Exception as exc:  # reported as this cell's error, not a crash of the whole run
        child.report({'error': child.describe_error(exc)})
        return 1
    counts = hasattr(loop, 'stats')
    if counts:
        _answer_stats_requests(loop)
    child.report({'port': bound, 'label': loops.describe(loop_name, loop), 'stats': counts})
    loop.call_later(lifetime, loop.stop)
    loop.run_forever()
    return 0


def _answer_stats_requests(loop):
    """Each line the parent writes on stdin asks for loop.stats(); at EOF the asking ends."""
    def on_request():
        try:
            lines = os.read(0, 4096)
        except BlockingIOError:
            return
        if not lines:
            loop.remove_reader(0)
        for _ in range(lines.count(b'\n')):
            child.report({'stats': loop.stats()})
    os.set_blocking(0, False)
    loop.add_reader(0, on_request)


def main(argv):
    parser = argparse.ArgumentParser(prog='python -m eloop._bench.servers')
    parser.add_argument('--loop', required=True, choices=list(loops.LOOPS))
    parser.add_argument('--workload', required=True,
                        choices=[name for name, w in WORKLOADS.items() if w.server])
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--lifetime', type=float, default=600.0)
    args = parser.parse_args(argv)
    return serve(args.loop, WORKLOADS[args.workload].server, args.port, args.lifetime)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
