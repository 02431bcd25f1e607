"""create_server / create_unix_server and the Server object: listening, accepting, closing."""

import asyncio
import errno
import socket
import sys

import pytest

from asyncio import trsock

from test_streams_tcp import Recorder, Served, has_ipv6_loopback, run


async def connect_and_wait(port, host='127.0.0.1'):
    """A client connection whose server side has run connection_made."""
    reader, writer = await asyncio.open_connection(host, port)
    return reader, writer


def test_server_api(loop):
    async def main():
        server = await loop.create_server(Recorder, '127.0.0.1', 0, start_serving=False)
        assert isinstance(server, asyncio.AbstractServer)
        assert server.get_loop() is loop
        assert not server.is_serving()
        assert len(server.sockets) == 1
        assert isinstance(server.sockets[0], trsock.TransportSocket)
        assert 'sockets=' in repr(server)
        port = server.sockets[0].getsockname()[1]
        await server.start_serving()
        assert server.is_serving()
        await server.start_serving()  # a second start does nothing
        reader, writer = await connect_and_wait(port)
        writer.close()
        server.close()
        assert not server.is_serving()
        assert server.sockets == ()
        await server.wait_closed()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection('127.0.0.1', port)

    run(loop, main())


def test_async_with_closes_the_server(loop):
    async def main():
        async with await loop.create_server(Recorder, '127.0.0.1', 0) as server:
            assert server.is_serving()
            port = server.sockets[0].getsockname()[1]
        assert not server.is_serving()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection('127.0.0.1', port)

    run(loop, main())


def test_serve_forever_cancelled_closes_the_server(loop):
    async def main():
        server = await loop.create_server(Recorder, '127.0.0.1', 0, start_serving=False)
        task = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(0)
        assert server.is_serving()
        with pytest.raises(RuntimeError, match='already being awaited'):
            await server.serve_forever()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not server.is_serving()
        with pytest.raises(RuntimeError, match='is closed'):
            await server.serve_forever()

    run(loop, main())


def test_close_ends_serve_forever(loop):
    async def main():
        server = await loop.create_server(Recorder, '127.0.0.1', 0)
        task = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(0)
        server.close()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(loop, main())


def test_wait_closed_and_open_connections(loop):
    async def main():
        served = Served()
        server = await loop.create_server(served, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await connect_and_wait(port)
        while not served:
            await asyncio.sleep(0)
        await served[0].made
        server.close()
        waiting = asyncio.ensure_future(server.wait_closed())
        await asyncio.sleep(0.01)
        if sys.version_info >= (3, 12):
            # From 3.12 wait_closed() also waits for the server's connections to end.
            assert not waiting.done()
            served[0].transport.close()
            await asyncio.wait_for(waiting, 5)
        else:
            assert waiting.done()
            served[0].transport.close()
        writer.close()

    run(loop, main())


def test_wait_closed_before_close(loop):
    async def main():
        server = await loop.create_server(Recorder, '127.0.0.1', 0)
        waiting = asyncio.ensure_future(server.wait_closed())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        server.close()
        await asyncio.wait_for(waiting, 5)

    run(loop, main())


@pytest.mark.parametrize('how', ['close_clients', 'abort_clients'])
def test_close_and_abort_clients(loop, how):
    async def main():
        served = Served()
        server = await loop.create_server(served, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        clients = [await connect_and_wait(port) for _ in range(3)]
        while len(served) < 3:
            await asyncio.sleep(0)
        await asyncio.gather(*(p.made for p in served))
        server.close()
        getattr(server, how)()
        for protocol in served:
            assert await protocol.lost is None
        await asyncio.wait_for(server.wait_closed(), 5)
        for reader, writer in clients:
            assert await reader.read() == b''
            writer.close()

    run(loop, main())


@pytest.mark.skipif(not has_ipv6_loopback(), reason='this machine has no IPv6 loopback (::1)')
def test_several_hosts_one_port_each_family(loop):
    async def main():
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            port = probe.getsockname()[1]
        server = await loop.create_server(Recorder, ['127.0.0.1', '::1', '127.0.0.1'], port)
        names = sorted(sock.getsockname()[0] for sock in server.sockets)
        assert names == ['127.0.0.1', '::1']  # a host given twice is bound once
        for host in ('127.0.0.1', '::1'):
            reader, writer = await asyncio.open_connection(host, port)
            writer.close()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_wildcard_host_binds_every_family(loop):
    async def main():
        server = await loop.create_server(Recorder, None, 0)
        families = {sock.family for sock in server.sockets}
        assert socket.AF_INET in families
        # Port 0 gives each family's socket a port of its own.
        port = [s for s in server.sockets if s.family == socket.AF_INET][0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        writer.close()
        server.close()

    run(loop, main())


def test_reuse_port_lets_two_servers_share_a_port(loop):
    async def main():
        first = await loop.create_server(Recorder, '127.0.0.1', 0, reuse_port=True)
        port = first.sockets[0].getsockname()[1]
        second = await loop.create_server(Recorder, '127.0.0.1', port, reuse_port=True)
        assert second.sockets[0].getsockname()[1] == port
        with pytest.raises(OSError) as caught:
            await loop.create_server(Recorder, '127.0.0.1', port)
        assert caught.value.errno == errno.EADDRINUSE
        first.close()
        second.close()

    run(loop, main())


def test_reuse_address_is_on_by_default(loop):
    async def main():
        server = await loop.create_server(Recorder, '127.0.0.1', 0)
        sock = server.sockets[0]
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        server.close()

    run(loop, main())


@pytest.mark.skipif(sys.version_info < (3, 13), reason='keep_alive is new in Python 3.13')
def test_keep_alive(loop):
    async def main():
        server = await loop.create_server(Recorder, '127.0.0.1', 0, keep_alive=True)
        assert server.sockets[0].getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        server.close()

    run(loop, main())


def test_server_on_a_given_socket(loop):
    async def main():
        sock = socket.socket()
        sock.bind(('127.0.0.1', 0))
        server = await loop.create_server(Recorder, sock=sock, backlog=5)
        port = sock.getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        writer.close()
        server.close()
        assert sock.fileno() == -1

    run(loop, main())


def test_argument_errors(loop):
    async def main():
        with pytest.raises(TypeError, match='ssl argument must be an SSLContext'):
            await loop.create_server(Recorder, '127.0.0.1', 0, ssl=True)
        with pytest.raises(ValueError, match='Neither host/port nor sock'):
            await loop.create_server(Recorder)
        with socket.socket(type=socket.SOCK_DGRAM) as sock:
            with pytest.raises(ValueError, match='A Stream Socket was expected'):
                await loop.create_server(Recorder, sock=sock)
        with pytest.raises(ValueError, match='ssl_handshake_timeout is only meaningful'):
            await loop.create_server(Recorder, '127.0.0.1', 0, ssl_handshake_timeout=1)

    run(loop, main())


def test_address_in_use_names_the_address(loop):
    async def main():
        first = await loop.create_server(Recorder, '127.0.0.1', 0, reuse_address=False)
        port = first.sockets[0].getsockname()[1]
        with pytest.raises(OSError, match='error while attempting to bind on address'):
            await loop.create_server(Recorder, '127.0.0.1', port, reuse_address=False)
        first.close()

    run(loop, main())


def test_queued_connections_beyond_the_budget_of_one_event_are_all_accepted(loop):
    async def main():
        # The budget of one readiness event is `backlog` accepts; the kernel's queue is made
        # longer than that, so that the acceptor must come back for the rest (in ET mode on its
        # own, as no new edge announces connections already queued).
        server = await loop.create_server(Recorder, '127.0.0.1', 0, backlog=2)
        listener = server._sockets[0]
        listener.listen(64)
        port = listener.getsockname()[1]
        clients = [socket.create_connection(('127.0.0.1', port)) for _ in range(40)]
        started = loop.time()
        while len(server._clients) < 40 and loop.time() - started < 5:
            await asyncio.sleep(0.001)
        assert len(server._clients) == 40
        for client in clients:
            client.close()
        server.close()
        await asyncio.wait_for(server.wait_closed(), 5)

    run(loop, main())


class FlakyListener(socket.socket):
    """A listening socket whose accept() fails a given number of times first."""

    failures = []

    def accept(self):
        if self.failures:
            raise self.failures.pop(0)
        return super().accept()


def test_accept_out_of_resources_pauses_and_recovers(loop, monkeypatch):
    from asyncio import constants
    monkeypatch.setattr(constants, 'ACCEPT_RETRY_DELAY', 0.05)

    async def main():
        contexts = []
        loop.set_exception_handler(lambda loop, context: contexts.append(context))
        sock = FlakyListener()
        sock.failures = [OSError(errno.EMFILE, 'Too many open files')]
        sock.bind(('127.0.0.1', 0))
        accepted = loop.create_future()

        def factory():
            accepted.set_result(loop.time())
            return Recorder()

        server = await loop.create_server(factory, sock=sock)
        port = sock.getsockname()[1]
        started = loop.time()
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        # The connection waits in the kernel's queue until the pause is over, then is served.
        assert await asyncio.wait_for(accepted, 5) - started >= 0.04
        writer.close()
        assert contexts[0]['message'] == 'socket.accept() out of system resource'
        assert contexts[0]['exception'].errno == errno.EMFILE
        assert isinstance(contexts[0]['socket'], trsock.TransportSocket)
        server.close()

    run(loop, main())


def test_accept_errors_of_one_connection_are_skipped(loop):
    async def main():
        contexts = []
        loop.set_exception_handler(lambda loop, context: contexts.append(context))
        sock = FlakyListener()
        sock.failures = [ConnectionAbortedError(errno.ECONNABORTED, 'aborted')]
        sock.bind(('127.0.0.1', 0))
        server = await loop.create_server(Recorder, sock=sock)
        port = sock.getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        while not server._clients:
            await asyncio.sleep(0.001)
        assert contexts == []
        writer.close()
        server.close()

    run(loop, main())


def test_protocol_factory_error_keeps_serving(loop):
    async def main():
        calls = []

        def factory():
            calls.append(1)
            if len(calls) == 1:
                raise ZeroDivisionError('factory bug')
            return Recorder()

        server = await loop.create_server(factory, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        assert await reader.read() == b''  # the first connection is closed
        writer.close()
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        while len(server._clients) < 1:
            await asyncio.sleep(0.001)
        writer.close()
        server.close()

    run(loop, main())


def test_unix_server_on_a_given_socket_and_errors(loop, tmp_path):
    async def main():
        path = str(tmp_path / 's')
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path)
        server = await loop.create_unix_server(Recorder, sock=sock)
        reader, writer = await asyncio.open_unix_connection(path)
        writer.close()
        server.close()
        with pytest.raises(ValueError, match='path was not specified'):
            await loop.create_unix_server(Recorder)
        with socket.socket() as tcp:
            with pytest.raises(ValueError, match='UNIX Domain Stream Socket was expected'):
                await loop.create_unix_server(Recorder, sock=tcp)
        other = await loop.create_unix_server(Recorder, path)
        # A live server's socket is not stale: binding there again is refused... unless it is
        # removed as stale first, which asyncio does for any socket file. Check the message.
        occupied = tmp_path / 'file'
        occupied.write_text('not a socket')
        with pytest.raises(OSError, match='already in use'):
            await loop.create_unix_server(Recorder, str(occupied))
        other.close()

    run(loop, main())


@pytest.mark.skipif(sys.version_info < (3, 13), reason='cleanup_socket is new in Python 3.13')
def test_unix_server_cleanup_socket_false_keeps_the_file(loop, tmp_path):
    async def main():
        path = tmp_path / 's'
        server = await loop.create_unix_server(Recorder, str(path), cleanup_socket=False)
        server.close()
        await server.wait_closed()
        assert path.exists()

    run(loop, main())
