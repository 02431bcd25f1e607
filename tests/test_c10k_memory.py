"""What an idle connection keeps must stay small, and what users rely on must hold all the same.

An open stream transport owns its fd in every state: the readiness API (add_reader & co.) refuses
that fd, a server's close_clients()/abort_clients() reach the transport, and a transport its user
dropped without closing it is still collected, with asyncio's ResourceWarning.
"""

import asyncio
import gc
import os
import socket
import warnings

import pytest

from test_streams_tcp import Recorder, Served, has_ipv6_loopback, run, tcp_pair


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


class Serving:
    """A server on 127.0.0.1 and the protocols of its connections (`served`), in order."""

    def __init__(self, make_protocol=Recorder):
        self.served = Served(make_protocol)

    async def start(self):
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(self.served, '127.0.0.1', 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def accepted(self, count):
        """The first `count` protocols, once connection_made has run for each."""
        while len(self.served) < count:
            await asyncio.sleep(0)
        await asyncio.gather(*(protocol.made for protocol in self.served[:count]))
        return self.served[:count]

    async def close(self):
        self.server.close()
        await asyncio.wait_for(self.server.wait_closed(), 5)


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
        serving = await Serving(lambda: Recorder(keep_open_on_eof=True)).start()
        clients = [await asyncio.open_connection('127.0.0.1', serving.port) for _ in range(3)]
        reading, paused, at_eof = await serving.accepted(3)
        paused.transport.pause_reading()
        clients[2][1].write_eof()
        await at_eof.eof
        serving.server.close()
        getattr(serving.server, how)()
        for protocol in (reading, paused, at_eof):
            assert await protocol.lost is None
        await serving.close()
        for reader, writer in clients:
            assert await reader.read() == b''
            writer.close()

    run(loop, main())


def test_abort_clients_aborts_a_client_still_flushing_after_close(loop):
    async def main():
        serving = await Serving().start()
        client = socket.create_connection(('127.0.0.1', serving.port))
        try:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            [protocol] = await serving.accepted(1)
            transport = protocol.transport
            # The client reads nothing: the write stays buffered, and close() waits for it.
            while not transport.get_write_buffer_size():
                transport.write(b'x' * 1024 * 1024)
            transport.close()
            await asyncio.sleep(0.01)
            assert not protocol.lost.done()
            serving.server.close()
            serving.server.abort_clients()
            assert await protocol.lost is None
            assert transport.get_write_buffer_size() == 0
            await serving.close()
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


# An accepted connection keeps only its fd (compiled; plain Python keeps the socket object): the
# object is made when something needs it, and the fd is closed exactly once either way.

def fd_is_open(fd):
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@pytest.mark.parametrize('asked_before_close', [False, True])
def test_extra_info_of_an_accepted_connection(loop, asked_before_close):
    async def main():
        client_transport, client, served = await tcp_pair()
        transport = served.transport
        listener_proto = socket.getaddrinfo('127.0.0.1', 0, type=socket.SOCK_STREAM)[0][2]
        if asked_before_close:
            sock = transport.get_extra_info('socket')
            assert transport.get_extra_info('socket') is sock
            assert (sock.family, sock.type, sock.proto) == (
                socket.AF_INET, socket.SOCK_STREAM, listener_proto)
            assert sock.gettimeout() == 0
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert transport.get_extra_info('sockname') == client_transport.get_extra_info('peername')
        assert transport.get_extra_info('peername') == client_transport.get_extra_info('sockname')
        fd = transport.get_extra_info('socket').fileno()
        transport.close()
        await served.lost
        assert not fd_is_open(fd)
        # What the transport said of its socket holds after the close, as in asyncio.
        assert transport.get_extra_info('socket').fileno() == -1
        assert transport.get_extra_info('sockname') == client_transport.get_extra_info('peername')
        assert transport.get_extra_info('peername') == client_transport.get_extra_info('sockname')
        client_transport.close()
        await client.lost

    run(loop, main())


def test_the_fd_of_an_accepted_connection_is_closed_once(loop):
    async def main():
        serving = await Serving().start()
        client = socket.create_connection(('127.0.0.1', serving.port))
        [protocol] = await serving.accepted(1)
        client.close()
        await protocol.lost  # the transport closed its fd: nobody asked for its socket
        # The number is free, and taken by the next file: nothing closes it behind its back.
        with socket.socket() as other:
            gc.collect()
            await asyncio.sleep(0.01)
            assert fd_is_open(other.fileno())
            assert protocol.transport.get_extra_info('socket').fileno() == -1
            assert fd_is_open(other.fileno())
        await serving.close()

    run(loop, main())


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class BufferedEcho(asyncio.BufferedProtocol):
    def __init__(self):
        self.buffer = bytearray(100)

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        return self.buffer

    def buffer_updated(self, nbytes):
        self.transport.write(bytes(self.buffer[:nbytes]))

    def eof_received(self):
        self.transport.write_eof()  # (a shutdown of the socket)
        # Then closed, flushed first: from Python 3.12 the server's wait_closed() waits for it.
        self.transport.close()
        return True


@pytest.mark.parametrize('protocol', [Echo, BufferedEcho])
def test_an_accepted_connection_reads_writes_and_shuts_down(loop, protocol):
    async def main():
        server = await loop.create_server(protocol, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        payload = bytes(range(256)) * 4096  # more than the socket buffers take at once
        writer.write(payload)
        writer.write_eof()
        received = await reader.readexactly(len(payload))
        assert received == payload
        if protocol is BufferedEcho:
            assert await reader.read() == b''
        writer.close()
        server.close()
        await server.wait_closed()

    run(loop, main(), timeout=20)


def test_writelines_on_an_accepted_connection_under_backpressure(loop):
    # Several buffered pieces go out in one sendmsg, made on the socket object.
    async def main():
        serving = await Serving().start()
        reader, writer = await asyncio.open_connection('127.0.0.1', serving.port)
        [protocol] = await serving.accepted(1)
        transport = protocol.transport
        pieces = [bytes([i]) * 300_000 for i in range(8)]
        transport.writelines(pieces)
        transport.write_eof()
        assert await reader.read() == b''.join(pieces)
        writer.close()
        transport.close()
        await serving.close()

    run(loop, main(), timeout=20)


def test_sendfile_on_an_accepted_connection(loop, tmp_path):
    async def main():
        path = tmp_path / 'data'
        path.write_bytes(b'0123456789' * 100_000)
        serving = await Serving().start()
        reader, writer = await asyncio.open_connection('127.0.0.1', serving.port)
        [protocol] = await serving.accepted(1)
        transport = protocol.transport
        with open(path, 'rb') as file:
            assert await loop.sendfile(transport, file) == 1_000_000
        assert_fd_refused(loop, transport.get_extra_info('socket').fileno())
        transport.write_eof()
        assert await reader.read() == path.read_bytes()
        writer.close()
        transport.close()
        await serving.close()

    run(loop, main(), timeout=20)


# The peer address accept() gave: an IPv4 one packed in a C field of the stream, others kept as
# they are. Either is given back as accept() gave it, also after the socket closed.

def peer_families():
    families = [('127.0.0.1', socket.AF_INET)]
    if has_ipv6_loopback():
        families.append(('::1', socket.AF_INET6))
    return families


@pytest.mark.parametrize('host, family', peer_families())
def test_peername_of_an_accepted_connection(loop, host, family):
    async def main():
        served = Served()
        server = await loop.create_server(served, host, 0)
        port = server.sockets[0].getsockname()[1]
        with socket.socket(family) as client:
            client.connect((host, port))
            while not served:
                await asyncio.sleep(0)
            transport = await served[0].made
            assert transport.get_extra_info('peername') == client.getsockname()
            transport.close()
            await served[0].lost
            assert transport.get_extra_info('peername') == client.getsockname()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_peername_of_an_accepted_unix_connection(loop, tmp_path):
    async def main():
        served = Served()
        path = str(tmp_path / 'peer.sock')
        server = await loop.create_unix_server(served, path)
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(path)
            while not served:
                await asyncio.sleep(0)
            transport = await served[0].made
            assert transport.get_extra_info('peername') == ''
            assert transport.get_extra_info('sockname') == path
        transport.close()
        await served[0].lost
        server.close()
        await server.wait_closed()

    run(loop, main())
