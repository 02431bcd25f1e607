"""What an idle connection keeps must stay small, and what users rely on must hold all the same.

An open stream transport owns its fd in every state: the readiness API (add_reader & co.) refuses
that fd, a server's close_clients()/abort_clients() reach the transport, and a transport its user
dropped without closing it is still collected, with asyncio's ResourceWarning.
"""

import asyncio
import gc
import socket
import warnings

import pytest

from test_streams_tcp import Recorder, Served, run, tcp_pair


def assert_fd_refused(loop, fd):
    for method in (loop.add_reader, loop.add_writer):
        with pytest.raises(RuntimeError, match='is used by transport'):
            method(fd, lambda: None)
    for method in (loop.remove_reader, loop.remove_writer):
        with pytest.raises(RuntimeError, match='is used by transport'):
            method(fd)


def assert_fd_free(loop, fd):
    loop.add_reader(fd, lambda: None)
    assert loop.remove_reader(fd)


class Checking(Recorder):
    """Checks in its callbacks that the readiness API refuses the transport's fd."""

    def __init__(self, keep_open_on_eof=False):
        super().__init__(keep_open_on_eof)
        self.checked = []

    def check(self, when):
        loop = asyncio.get_running_loop()
        assert_fd_refused(loop, self.transport.get_extra_info('socket').fileno())
        self.checked.append(when)

    def connection_made(self, transport):
        super().connection_made(transport)
        self.check('connection_made')

    def data_received(self, data):
        super().data_received(data)
        self.check('data_received')

    def eof_received(self):
        keep_open = super().eof_received()
        self.check('eof_received')
        return keep_open


def test_fd_of_an_open_transport_is_refused_in_every_state(loop):
    async def main():
        client_transport, client, served = await tcp_pair(
            lambda: Checking(keep_open_on_eof=True))
        transport = served.transport
        fd = transport.get_extra_info('socket').fileno()
        assert_fd_refused(loop, fd)  # reading, idle
        client_transport.write(b'x')
        while not served.data:
            await asyncio.sleep(0)
        transport.pause_reading()
        assert_fd_refused(loop, fd)
        client_transport.write(b'y')
        await asyncio.sleep(0.01)
        assert_fd_refused(loop, fd)
        transport.resume_reading()
        assert_fd_refused(loop, fd)
        client_transport.write_eof()
        await served.eof
        assert_fd_refused(loop, fd)  # at EOF, kept open: no longer reading
        assert served.checked == ['connection_made', 'data_received', 'data_received',
                                  'eof_received']
        transport.close()
        await served.lost
        client_transport.close()
        await client.lost

    run(loop, main())


def test_fd_of_a_closed_transport_is_free_again(loop, pair):
    async def main():
        a, b = pair
        transport, protocol = await loop.connect_accepted_socket(Recorder, a)
        await protocol.made
        assert_fd_refused(loop, a.fileno())
        transport.pause_reading()
        transport.close()
        await protocol.lost
        other = socket.socket()
        try:
            # The number may be reused at once: the closed transport no longer owns it.
            assert_fd_free(loop, other.fileno())
        finally:
            other.close()

    run(loop, main())


def test_fd_of_a_transport_before_connection_made_is_refused(loop, pair):
    async def main():
        a, b = pair
        protocol = Recorder()
        transport = loop._make_socket_transport(a, protocol)
        assert_fd_refused(loop, a.fileno())
        await protocol.made
        assert_fd_refused(loop, a.fileno())
        transport.close()
        await protocol.lost

    run(loop, main())


@pytest.mark.parametrize('how', ['close_clients', 'abort_clients'])
def test_close_and_abort_clients_reach_transports_in_every_state(loop, how):
    async def main():
        served = Served(lambda: Recorder(keep_open_on_eof=True))
        server = await loop.create_server(served, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        clients = [await asyncio.open_connection('127.0.0.1', port) for _ in range(3)]
        while len(served) < 3:
            await asyncio.sleep(0)
        await asyncio.gather(*(protocol.made for protocol in served))
        reading, paused, at_eof = served
        paused.transport.pause_reading()
        clients[2][1].write_eof()
        await at_eof.eof
        server.close()
        getattr(server, how)()
        for protocol in served:
            assert await protocol.lost is None
        await asyncio.wait_for(server.wait_closed(), 5)
        for reader, writer in clients:
            assert await reader.read() == b''
            writer.close()

    run(loop, main())


def test_abort_clients_aborts_a_client_still_flushing_after_close(loop):
    async def main():
        served = Served()
        server = await loop.create_server(served, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        client = socket.create_connection(('127.0.0.1', port))
        try:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            while not served:
                await asyncio.sleep(0)
            protocol = served[0]
            await protocol.made
            transport = protocol.transport
            # The client reads nothing: the write stays buffered, and close() waits for it.
            while not transport.get_write_buffer_size():
                transport.write(b'x' * 1024 * 1024)
            transport.close()
            await asyncio.sleep(0.01)
            assert not protocol.lost.done()
            server.close()
            server.abort_clients()
            assert await protocol.lost is None
            assert transport.get_write_buffer_size() == 0
            await asyncio.wait_for(server.wait_closed(), 5)
        finally:
            client.close()

    run(loop, main())


def test_a_dropped_paused_transport_is_collected_with_a_warning(loop):
    async def main():
        transport, client, served = await tcp_pair()
        served.transport.pause_reading()
        # The protocol no longer holds the transport; nothing else does.
        served.transport = None
        served.made = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always', ResourceWarning)
            gc.collect()
        assert any('unclosed transport' in str(w.message) for w in caught)
        # Its socket was closed: the client sees the end of the stream.
        assert await client.eof is None
        transport.close()
        await client.lost

    run(loop, main())
