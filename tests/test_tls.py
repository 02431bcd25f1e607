"""TLS over eloop's stream transport (asyncio's SSLProtocol): clients, servers, start_tls."""

import asyncio
import hashlib
import os
import ssl
import sys

import pytest

trustme = pytest.importorskip('trustme', reason='trustme makes the certificates (pip install trustme)')

from test_streams_tcp import MiB, Recorder, Served, run  # noqa: E402


@pytest.fixture(scope='module')
def tls():
    """A CA made for this run, a server context with a certificate for localhost and 127.0.0.1,
    and a client context that trusts the CA."""
    ca = trustme.CA()
    cert = ca.issue_cert('localhost', '127.0.0.1', '::1')
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client


async def echo(reader, writer):
    while chunk := await reader.read(1 << 16):
        writer.write(chunk)
        await writer.drain()
    writer.close()


def test_client_and_server_round_trip_and_extra_info(loop, tls):
    server_ctx, client_ctx = tls

    async def main():
        server = await asyncio.start_server(echo, '127.0.0.1', 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port, ssl=client_ctx,
                                                       server_hostname='localhost')
        writer.write(b'over TLS')
        assert await reader.readexactly(8) == b'over TLS'
        assert writer.get_extra_info('sslcontext') is client_ctx
        ssl_object = writer.get_extra_info('ssl_object')
        assert isinstance(ssl_object, ssl.SSLObject)
        assert ssl_object.version().startswith('TLS')
        assert writer.get_extra_info('peercert')['subjectAltName']
        assert writer.get_extra_info('cipher') is not None
        assert writer.get_extra_info('socket') is not None
        assert writer.get_extra_info('peername')[1] == port
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_large_payload_both_ways(loop, tls):
    server_ctx, client_ctx = tls
    payload = os.urandom(8 * MiB)

    async def main():
        server = await asyncio.start_server(echo, '127.0.0.1', 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port, ssl=client_ctx,
                                                       server_hostname='localhost')

        async def send():
            for offset in range(0, len(payload), 100_000):
                writer.write(payload[offset:offset + 100_000])
                await writer.drain()

        async def receive():
            digest = hashlib.sha256()
            received = 0
            while received < len(payload):
                chunk = await reader.read(1 << 18)
                assert chunk, 'EOF before the whole payload came back'
                digest.update(chunk)
                received += len(chunk)
            return digest.digest()

        _, digest = await asyncio.gather(send(), receive())
        assert digest == hashlib.sha256(payload).digest()
        writer.close()
        await writer.wait_closed()
        server.close()

    run(loop, main(), timeout=120)


def test_shutdown_sends_close_notify_both_ways(loop, tls):
    server_ctx, client_ctx = tls

    async def main():
        seen = loop.create_future()

        async def reader_until_eof(reader, writer):
            seen.set_result(await reader.read())
            writer.write(b'bye')
            writer.close()

        server = await asyncio.start_server(reader_until_eof, '127.0.0.1', 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        transport, protocol = await loop.create_connection(
            Recorder, '127.0.0.1', port, ssl=client_ctx, server_hostname='localhost')
        transport.write(b'last words')
        transport.close()  # TLS close_notify, then the TCP connection
        assert await seen == b'last words'
        assert await protocol.lost is None
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_server_close_reaches_the_client_as_eof(loop, tls):
    server_ctx, client_ctx = tls

    async def main():
        async def hello(reader, writer):
            writer.write(b'hello and goodbye')
            writer.close()

        server = await asyncio.start_server(hello, '127.0.0.1', 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port, ssl=client_ctx,
                                                       server_hostname='localhost')
        assert await reader.read() == b'hello and goodbye'
        writer.close()
        server.close()

    run(loop, main())


class StartTlsServer(asyncio.Protocol):
    """Speaks plain text until 'STARTTLS', then upgrades and echoes in upper case."""

    def __init__(self, server_ctx):
        self.server_ctx = server_ctx
        self.upgraded = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        if data == b'STARTTLS':
            # No byte of the handshake may reach this protocol as plain text.
            self.transport.pause_reading()
            self.transport.write(b'GO AHEAD')
            asyncio.ensure_future(self.upgrade())
        else:
            self.transport.write(data.upper())

    async def upgrade(self):
        loop = asyncio.get_running_loop()
        self.transport = await loop.start_tls(self.transport, self, self.server_ctx,
                                              server_side=True)
        self.upgraded.set_result(self.transport)


def test_start_tls_upgrades_both_sides(loop, tls):
    server_ctx, client_ctx = tls

    async def main():
        upgrader = None

        def factory():
            nonlocal upgrader
            upgrader = StartTlsServer(server_ctx)
            return upgrader

        server = await loop.create_server(factory, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        transport, client = await loop.create_connection(Recorder, '127.0.0.1', port)
        transport.write(b'STARTTLS')
        while bytes(client.data) != b'GO AHEAD':
            await asyncio.sleep(0.001)
        client.data.clear()
        tls_transport = await loop.start_tls(transport, client, client_ctx,
                                             server_hostname='localhost')
        assert tls_transport.get_extra_info('ssl_object') is not None
        server_tls = await upgrader.upgraded
        assert server_tls.get_extra_info('ssl_object') is not None
        tls_transport.write(b'secret')
        while bytes(client.data) != b'SECRET':
            await asyncio.sleep(0.001)
        tls_transport.close()
        assert await client.lost is None
        server.close()

    run(loop, main())


def test_start_tls_argument_errors(loop, tls):
    server_ctx, client_ctx = tls

    async def main():
        server = await loop.create_server(Recorder, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        transport, client = await loop.create_connection(Recorder, '127.0.0.1', port)
        with pytest.raises(TypeError, match='sslcontext is expected'):
            await loop.start_tls(transport, client, object())
        transport.close()
        server.close()

    run(loop, main())


def test_untrusted_certificate_is_refused(loop, tls):
    server_ctx, _ = tls

    async def main():
        loop.set_exception_handler(lambda loop, context: None)  # the server's side of it
        server = await asyncio.start_server(echo, '127.0.0.1', 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.open_connection('127.0.0.1', port, ssl=ssl.create_default_context(),
                                          server_hostname='localhost')
        server.close()

    run(loop, main())


def test_handshake_timeout(loop, tls):
    _, client_ctx = tls

    async def main():
        silent = Served()
        server = await loop.create_server(silent, '127.0.0.1', 0)  # plain TCP: never answers
        port = server.sockets[0].getsockname()[1]
        started = loop.time()
        with pytest.raises(ConnectionAbortedError, match='SSL handshake is taking longer'):
            await loop.create_connection(Recorder, '127.0.0.1', port, ssl=client_ctx,
                                         server_hostname='localhost', ssl_handshake_timeout=0.2)
        assert loop.time() - started < 5
        server.close()
        for protocol in silent:
            protocol.transport.close()

    run(loop, main())


@pytest.mark.skipif(sys.version_info < (3, 11), reason='ssl_shutdown_timeout is new in 3.11')
def test_shutdown_timeout(loop, tls):
    server_ctx, client_ctx = tls

    async def main():
        served = Served()
        server = await loop.create_server(served, '127.0.0.1', 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        transport, client = await loop.create_connection(
            Recorder, '127.0.0.1', port, ssl=client_ctx, server_hostname='localhost',
            ssl_shutdown_timeout=0.2)
        await served[0].made
        served[0].transport.pause_reading()  # the server never answers the close_notify
        started = loop.time()
        transport.close()
        exc = await asyncio.wait_for(client.lost, 5)
        assert isinstance(exc, (asyncio.TimeoutError, TimeoutError))
        assert loop.time() - started < 3
        served[0].transport.abort()
        server.close()

    run(loop, main())


def test_tls_over_a_unix_socket(loop, tls, tmp_path):
    server_ctx, client_ctx = tls

    async def main():
        path = str(tmp_path / 'tls.sock')
        server = await asyncio.start_unix_server(echo, path, ssl=server_ctx)
        reader, writer = await asyncio.open_unix_connection(path, ssl=client_ctx,
                                                            server_hostname='localhost')
        writer.write(b'unix+tls')
        assert await reader.readexactly(8) == b'unix+tls'
        writer.close()
        await writer.wait_closed()
        server.close()

    run(loop, main())


def test_sendfile_falls_back_to_read_and_write_over_tls(loop, tls, tmp_path):
    server_ctx, client_ctx = tls
    payload = os.urandom(3 * MiB + 1234)
    path = tmp_path / 'payload'
    path.write_bytes(payload)

    async def main():
        received = loop.create_future()

        async def sink(reader, writer):
            received.set_result(await reader.read())
            writer.close()

        server = await asyncio.start_server(sink, '127.0.0.1', 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        transport, protocol = await loop.create_connection(
            Recorder, '127.0.0.1', port, ssl=client_ctx, server_hostname='localhost')
        with open(path, 'rb') as file:
            with pytest.raises(RuntimeError, match='fallback is disabled'):
                await loop.sendfile(transport, file, fallback=False)
            sent = await loop.sendfile(transport, file, offset=10, count=len(payload) - 20)
            assert sent == len(payload) - 20
            assert file.tell() == len(payload) - 10
        transport.close()
        assert await received == payload[10:-10]
        server.close()

    run(loop, main(), timeout=60)
