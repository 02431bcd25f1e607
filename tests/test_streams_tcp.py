"""TCP and Unix stream connections: the transport's contract with protocols and asyncio streams."""

import asyncio
import hashlib
import logging
import os
import random
import socket
import sys
import tempfile

import pytest

from asyncio import trsock

MiB = 1024 * 1024


def run(loop, coro, timeout=30):
    """Run coro on loop, failing the test rather than hanging it if it takes too long."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(('::1', 0))
        return True
    except OSError:
        return False


def refused_port():
    """A local TCP port with nobody listening on it."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Recorder(asyncio.Protocol):
    """Keeps what a connection received and the events it saw, in order."""

    def __init__(self, keep_open_on_eof=False):
        loop = asyncio.get_running_loop()
        self.keep_open_on_eof = keep_open_on_eof
        self.transport = None
        self.data = bytearray()
        self.events = []
        self.made = loop.create_future()
        self.eof = loop.create_future()
        self.lost = loop.create_future()
        self.resumed = None

    def connection_made(self, transport):
        self.transport = transport
        self.events.append('made')
        self.made.set_result(transport)

    def data_received(self, data):
        assert type(data) is bytes
        self.data += data

    def eof_received(self):
        self.events.append('eof')
        self.eof.set_result(None)
        return self.keep_open_on_eof

    def pause_writing(self):
        self.events.append('pause_writing')
        self.resumed = asyncio.get_running_loop().create_future()

    def resume_writing(self):
        self.events.append('resume_writing')
        self.resumed.set_result(None)

    def connection_lost(self, exc):
        self.events.append('lost')
        self.lost.set_result(exc)


class Served(list):
    """A protocol factory that keeps every protocol it made, in order."""

    def __init__(self, make_protocol=Recorder):
        super().__init__()
        self.make_protocol = make_protocol

    def __call__(self):
        self.append(self.make_protocol())
        return self[-1]


async def tcp_pair(make_server_protocol=Recorder, make_client_protocol=Recorder, **server_kw):
    """A connected client (transport, protocol) and the server's protocol."""
    loop = asyncio.get_running_loop()
    accepted = loop.create_future()

    def factory():
        protocol = make_server_protocol()
        accepted.set_result(protocol)
        return protocol

    server = await loop.create_server(factory, '127.0.0.1', 0, **server_kw)
    port = server.sockets[0].getsockname()[1]
    transport, client = await loop.create_connection(make_client_protocol, '127.0.0.1', port)
    served = await accepted
    await served.made
    server.close()
    return transport, client, served


# SO_LINGER on with a timeout of 0: close() resets the connection.
RESET_ON_CLOSE = b'\x01\x00\x00\x00\x00\x00\x00\x00'


async def connection_to_a_raw_socket(loop):
    """A client (transport, protocol) connected to a plain socket: (transport, protocol, peer)."""
    with socket.socket() as listener:
        listener.bind(('127.0.0.1', 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        connecting = asyncio.ensure_future(loop.create_connection(Recorder, '127.0.0.1', port))
        peer, _ = await loop.sock_accept(listener)
    transport, client = await connecting
    await client.made
    return transport, client, peer


# -- basics -------------------------------------------------------------------------------------


def test_streams_echo(loop):
    async def main():
        async def echo(reader, writer):
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)
        writer.write(b'hello eloop\n')
        assert await reader.read() == b'hello eloop\n'
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_transport_is_an_asyncio_transport_with_extra_info(loop):
    async def main():
        transport, client, served = await tcp_pair()
        assert isinstance(transport, asyncio.Transport)
        sock = transport.get_extra_info('socket')
        assert isinstance(sock, trsock.TransportSocket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert transport.get_extra_info('sockname') == sock.getsockname()
        assert transport.get_extra_info('peername') == served.transport.get_extra_info('sockname')
        assert served.transport.get_extra_info('peername') == sock.getsockname()
        assert transport.get_extra_info('sslcontext') is None
        assert transport.get_extra_info('nothing', 'default') == 'default'
        assert transport.get_protocol() is client
        assert transport.is_reading() and not transport.is_closing()
        assert transport.can_write_eof()
        assert 'fd=' in repr(transport)
        transport.close()
        assert transport.is_closing()
        assert await client.lost is None
        assert await served.lost is None
        assert 'closed' in repr(transport)

    run(loop, main())


def test_add_reader_on_a_transport_fd_is_refused(loop):
    async def main():
        transport, client, served = await tcp_pair()
        fd = transport.get_extra_info('socket').fileno()
        with pytest.raises(RuntimeError, match='is used by transport'):
            loop.add_reader(fd, lambda: None)
        with pytest.raises(RuntimeError, match='is used by transport'):
            loop.add_writer(fd, lambda: None)
        transport.close()
        await client.lost
        await served.lost

    run(loop, main())


def test_write_type_and_state_errors(loop):
    async def main():
        transport, client, served = await tcp_pair()
        with pytest.raises(TypeError, match='bytes-like object'):
            transport.write('text')
        with pytest.raises(TypeError, match='bytes-like object'):
            transport.writelines(['text'])
        transport.write(b'')  # nothing to send, no error
        transport.write_eof()
        with pytest.raises(RuntimeError, match='after write_eof'):
            transport.write(b'x')
        with pytest.raises(RuntimeError, match='after write_eof'):
            transport.writelines([b'x'])
        transport.close()
        await client.lost

    run(loop, main())


def test_protocol_callbacks_run_in_order(loop):
    async def main():
        transport, client, served = await tcp_pair()
        transport.write(b'ping')
        transport.close()
        await served.lost
        assert bytes(served.data) == b'ping'
        assert served.events == ['made', 'eof', 'lost']
        assert client.events == ['made', 'lost']

    run(loop, main())


# -- integrity of large transfers ---------------------------------------------------------------


def test_large_transfer_both_ways_through_streams(loop):
    size = 32 * MiB
    rng = random.Random(1)
    payload = rng.randbytes(size)

    async def main():
        async def echo(reader, writer):
            while chunk := await reader.read(1 << 16):
                writer.write(chunk)
                await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection('127.0.0.1', port)

        async def send():
            view = memoryview(payload)
            offset = 0
            while offset < size:
                step = rng.randrange(1, 1 << 18)
                writer.write(view[offset:offset + step])
                offset += step
                await writer.drain()
            writer.write_eof()

        async def receive():
            digest = hashlib.sha256()
            received = 0
            while chunk := await reader.read(1 << 18):
                digest.update(chunk)
                received += len(chunk)
            return received, digest.hexdigest()

        _, (received, digest) = await asyncio.gather(send(), receive())
        assert received == size
        assert digest == hashlib.sha256(payload).hexdigest()
        writer.close()
        server.close()
        await server.wait_closed()

    run(loop, main(), timeout=120)


class BufferedSink(asyncio.BufferedProtocol):
    """Receives into its own small buffer and hashes what arrives."""

    def __init__(self, buffer_size):
        self.buffer = bytearray(buffer_size)
        self.digest = hashlib.sha256()
        self.received = 0
        self.sizes_asked = set()
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport

    def get_buffer(self, sizehint):
        self.sizes_asked.add(sizehint)
        return self.buffer

    def buffer_updated(self, nbytes):
        self.digest.update(self.buffer[:nbytes])
        self.received += nbytes

    def eof_received(self):
        self.done.set_result(None)

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_exception(exc or ConnectionError('lost before EOF'))


@pytest.mark.parametrize('buffer_size', [1, 4096, 1 << 20])
def test_buffered_protocol_receives_into_its_own_buffer(loop, buffer_size):
    size = (64 * 1024) if buffer_size == 1 else 8 * MiB
    payload = os.urandom(size)

    async def main():
        sink = None

        def factory():
            nonlocal sink
            sink = BufferedSink(buffer_size)
            return sink

        server = await loop.create_server(factory, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        transport, _ = await loop.create_connection(asyncio.Protocol, '127.0.0.1', port)
        transport.write(payload)
        transport.write_eof()
        while sink is None:
            await asyncio.sleep(0)
        await sink.done
        assert sink.received == size
        assert sink.digest.digest() == hashlib.sha256(payload).digest()
        assert sink.sizes_asked == {-1}
        transport.close()
        sink.transport.close()
        server.close()

    run(loop, main(), timeout=60)


def test_writelines_keeps_order_and_copies_mutable_buffers(loop):
    async def main():
        transport, client, served = await tcp_pair()
        reused = bytearray(b'a' * 100_000)
        pieces = [b'first-', memoryview(b'second-'), reused, b'-last']
        expected = b''.join(bytes(p) for p in pieces)
        transport.set_write_buffer_limits(high=0)
        served.transport.pause_reading()  # let the kernel buffers fill, then the transport's
        for _ in range(20):
            transport.writelines(pieces)
        reused[:] = b'z' * len(reused)  # must not change what was already written
        served.transport.resume_reading()
        transport.close()
        await served.lost
        assert bytes(served.data) == expected * 20

    run(loop, main())


def test_write_of_a_reused_bytearray_is_copied_when_buffered(loop):
    async def main():
        transport, client, served = await tcp_pair()
        served.transport.pause_reading()
        block = bytearray(1 << 16)
        expected = bytearray()
        for i in range(64):
            block[:] = bytes([i]) * len(block)
            transport.write(block)
            expected += block
        assert transport.get_write_buffer_size() > 0
        served.transport.resume_reading()
        transport.close()
        await served.lost
        assert served.data == expected

    run(loop, main())


def test_data_a_protocol_keeps_is_never_changed_by_later_reads(loop):
    """Received bytes are the protocol's: those it keeps (the object, or a memoryview of it)
    stay as they came, even when later reads are of the same size, and every chunk's hash is
    the hash of its own content."""
    size, count = 2000, 90

    class Keeper(asyncio.Protocol):
        def __init__(self):
            self.kept, self.views, self.hashes_wrong = [], [], 0

        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            copy = bytearray(data)  # (bytes(data) would be data itself)
            if hash(data) != hash(bytes(copy)):
                self.hashes_wrong += 1
            turn = data[0] % 3
            if turn == 0:
                self.kept.append((data, copy))
            elif turn == 1:
                self.views.append((memoryview(data), copy))
            self.transport.write(b'k')

    async def main():
        keeper = Keeper()
        server = await loop.create_server(lambda: keeper, '127.0.0.1', 0)
        reader, writer = await asyncio.open_connection(
            '127.0.0.1', server.sockets[0].getsockname()[1])
        for i in range(count):
            writer.write(bytes([i % 256]) * size)
            await reader.readexactly(1)  # one message per read on the other side
        writer.close()
        server.close()
        assert len(keeper.kept) == len(keeper.views) == count // 3
        assert all(data == copy for data, copy in keeper.kept)
        assert all(view == copy for view, copy in keeper.views)
        assert keeper.hashes_wrong == 0

    run(loop, main())


def test_messages_a_little_larger_than_a_large_read_come_whole_once_their_size_is_seen(loop):
    """A stream of 100 KiB messages (more than one large read of 96 KiB) gets each message in
    one data_received once the transport has seen their size; a larger burst still comes in
    pieces of at most 124 KiB, and every byte arrives in order."""
    size = 100 * 1024

    class Collector(asyncio.Protocol):
        def __init__(self):
            self.chunks, self.received, self.message_done = [], bytearray(), None

        def connection_made(self, transport):
            self.transport = transport

        def data_received(self, data):
            self.chunks.append(len(data))
            self.received += data
            if self.message_done and len(self.received) >= self.expected:
                self.message_done.set_result(None)

    async def send(client, collector, message):
        collector.chunks.clear()
        collector.expected = len(collector.received) + len(message)
        collector.message_done = loop.create_future()
        # Sent whole before the server's transport reads (one thread): it finds it all queued.
        await loop.sock_sendall(client, message)
        await collector.message_done
        return list(collector.chunks)

    async def main():
        collector = Collector()
        # Socket buffers that hold a whole burst: each send() queues all of its message.
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024 * 1024)
        listener.bind(('127.0.0.1', 0))
        server = await loop.create_server(lambda: collector, sock=listener)
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1024 * 1024)
        client.setblocking(False)
        await loop.sock_connect(client, listener.getsockname())
        messages = [os.urandom(size) for _ in range(6)] + [os.urandom(300 * 1024)] + [
            os.urandom(size) for _ in range(3)]
        chunks = [await send(client, collector, message) for message in messages]
        client.close()
        server.close()
        assert bytes(collector.received) == b''.join(messages)
        assert chunks[2:6] == [[size]] * 4, chunks  # the first two show the size
        assert max(chunks[6]) <= 124 * 1024 and sum(chunks[6]) == 300 * 1024, chunks
        assert chunks[-1] == [size], chunks

    run(loop, main())


# -- half-close and EOF -------------------------------------------------------------------------


def test_half_close_keeps_the_transport_open_when_eof_received_says_so(loop):
    async def main():
        transport, client, served = await tcp_pair(
            make_server_protocol=lambda: Recorder(keep_open_on_eof=True))
        transport.write(b'question')
        transport.write_eof()
        await served.eof
        assert bytes(served.data) == b'question'
        assert not served.transport.is_closing()
        served.transport.write(b'answer')
        served.transport.close()
        await client.eof
        assert bytes(client.data) == b'answer'
        assert await client.lost is None
        assert await served.lost is None

    run(loop, main())


def test_eof_closes_the_transport_by_default(loop):
    async def main():
        transport, client, served = await tcp_pair()
        transport.write_eof()
        await served.eof
        assert await served.lost is None
        assert served.transport.is_closing()
        assert await client.lost is None  # the server's close reached the client as EOF
        assert client.events == ['made', 'eof', 'lost']

    run(loop, main())


def test_write_eof_waits_for_the_buffer(loop):
    async def main():
        transport, client, served = await tcp_pair()
        served.transport.pause_reading()
        payload = os.urandom(4 * MiB)
        transport.write(payload)
        assert transport.get_write_buffer_size() > 0
        transport.write_eof()
        served.transport.resume_reading()
        await served.eof
        assert bytes(served.data) == payload
        transport.close()

    run(loop, main())


# -- flow control -------------------------------------------------------------------------------


def test_pause_and_resume_writing_at_the_water_marks(loop):
    async def main():
        transport, client, served = await tcp_pair()
        assert transport.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
        with pytest.raises(ValueError):
            transport.set_write_buffer_limits(high=1, low=2)
        transport.set_write_buffer_limits(high=128 * 1024, low=32 * 1024)
        assert transport.get_write_buffer_limits() == (32 * 1024, 128 * 1024)
        served.transport.pause_reading()
        chunk = b'x' * 16384
        sent = 0
        while 'pause_writing' not in client.events:
            transport.write(chunk)
            sent += len(chunk)
            assert sent < 256 * MiB, 'pause_writing never came'
        assert transport.get_write_buffer_size() > 128 * 1024
        served.transport.resume_reading()
        await client.resumed
        assert transport.get_write_buffer_size() <= 32 * 1024
        assert client.events.count('pause_writing') == 1
        transport.close()
        await served.lost
        assert len(served.data) == sent

    run(loop, main())


def test_set_write_buffer_limits_pauses_at_once_when_already_above(loop):
    async def main():
        transport, client, served = await tcp_pair()
        served.transport.pause_reading()
        while transport.get_write_buffer_size() == 0:
            transport.write(b'y' * 65536)
        transport.set_write_buffer_limits(high=0)
        assert client.events[-1] == 'pause_writing'
        served.transport.resume_reading()
        await client.resumed
        assert transport.get_write_buffer_size() == 0
        transport.abort()
        await served.lost

    run(loop, main())


def test_slow_reader_pause_and_resume_reading(loop):
    async def main():
        transport, client, served = await tcp_pair()
        served.transport.pause_reading()
        assert not served.transport.is_reading()
        served.transport.pause_reading()  # a second pause does nothing
        transport.write(b'held back')
        await asyncio.sleep(0.05)
        assert served.data == b''
        served.transport.resume_reading()
        assert served.transport.is_reading()
        while served.data != b'held back':
            await asyncio.sleep(0.001)
        transport.close()
        await served.lost

    run(loop, main())


def test_pause_reading_from_data_received_stops_delivery(loop):
    class PausingReader(Recorder):
        def data_received(self, data):
            super().data_received(data)
            self.transport.pause_reading()

    async def main():
        transport, client, served = await tcp_pair(make_server_protocol=PausingReader)
        payload = os.urandom(2 * MiB)
        transport.write(payload)
        transport.write_eof()
        received = 0
        while received < len(payload):
            await asyncio.sleep(0.002)
            assert not served.transport.is_reading()
            assert len(served.data) > received or received == 0
            received = len(served.data)
            served.transport.resume_reading()
        await served.eof
        assert bytes(served.data) == payload
        transport.close()

    run(loop, main())


# -- closing, aborting, errors ------------------------------------------------------------------


def test_close_flushes_the_buffer_first(loop):
    async def main():
        transport, client, served = await tcp_pair()
        served.transport.pause_reading()
        payload = os.urandom(8 * MiB)
        transport.write(payload)
        assert transport.get_write_buffer_size() > 0
        transport.close()
        assert transport.is_closing()
        served.transport.resume_reading()
        assert await client.lost is None
        await served.lost
        assert bytes(served.data) == payload

    run(loop, main())


def test_abort_drops_the_buffer_and_writes_after_it_warn(loop, caplog):
    async def main():
        transport, client, served = await tcp_pair()
        served.transport.pause_reading()
        transport.write(os.urandom(8 * MiB))
        transport.abort()
        assert transport.get_write_buffer_size() == 0
        assert await client.lost is None
        with caplog.at_level(logging.WARNING, logger='asyncio'):
            for _ in range(4):
                transport.write(b'late')
            assert 'socket.send() raised exception.' not in caplog.text
            transport.write(b'late')
            transport.write(b'late')
        assert 'socket.send() raised exception.' in caplog.text
        served.transport.abort()

    run(loop, main())


def test_peer_reset_mid_write_reports_the_error(loop):
    async def main():
        transport, client, peer = await connection_to_a_raw_socket(loop)
        # Let the client's writes pile up, then reset the connection from the peer's side.
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
        for _ in range(64):
            transport.write(b'z' * 65536)
        assert transport.get_write_buffer_size() > 0
        peer.close()
        exc = await client.lost
        assert isinstance(exc, (ConnectionResetError, BrokenPipeError))
        assert transport.is_closing()
        assert transport.get_write_buffer_size() == 0

    run(loop, main())


def test_peer_reset_while_reading_reports_the_error(loop):
    async def main():
        transport, client, peer = await connection_to_a_raw_socket(loop)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
        peer.send(b'unread')  # unread data makes close() send RST rather than FIN
        await asyncio.sleep(0.01)
        peer.close()
        exc = await client.lost
        assert exc is None or isinstance(exc, ConnectionResetError)

    run(loop, main())


def test_protocol_error_is_reported_and_closes_the_connection(loop):
    class Failing(Recorder):
        def data_received(self, data):
            raise ZeroDivisionError('protocol bug')

    async def main():
        contexts = []
        loop.set_exception_handler(lambda loop, context: contexts.append(context))
        transport, client, served = await tcp_pair(make_server_protocol=Failing)
        transport.write(b'boom')
        exc = await served.lost
        assert isinstance(exc, ZeroDivisionError)
        assert contexts[0]['message'] == 'Fatal error: protocol.data_received() call failed.'
        assert contexts[0]['protocol'] is served
        await client.lost

    run(loop, main())


def test_an_error_in_connection_lost_after_a_flush_is_reported_not_raised(loop):
    class FailingOnLost(Recorder):
        def connection_lost(self, exc):
            super().connection_lost(exc)
            raise ZeroDivisionError('connection_lost bug')

    async def main():
        contexts = []
        loop.set_exception_handler(lambda loop, context: contexts.append(context))
        transport, client, served = await tcp_pair(make_client_protocol=FailingOnLost)
        served.transport.pause_reading()
        transport.write(os.urandom(4 * MiB))
        transport.close()  # connection_lost runs when the write waiter has flushed the buffer
        served.transport.resume_reading()
        await client.lost
        await served.lost
        assert isinstance(contexts[0]['exception'], ZeroDivisionError)

    run(loop, main())


def test_connection_lost_is_called_once_after_close_then_abort(loop):
    async def main():
        transport, client, served = await tcp_pair()
        served.transport.pause_reading()
        transport.write(os.urandom(4 * MiB))
        transport.close()
        transport.abort()
        transport.close()
        await client.lost
        await asyncio.sleep(0.01)
        assert client.events.count('lost') == 1
        served.transport.abort()

    run(loop, main())


def test_connection_refused(loop):
    async def main():
        with pytest.raises(ConnectionRefusedError):
            await loop.create_connection(asyncio.Protocol, '127.0.0.1', refused_port())

    run(loop, main())


# -- happy eyeballs and address lists -----------------------------------------------------------


def _fake_resolver(loop, infos):
    async def getaddrinfo(host, port, *, family=0, type=0, proto=0, flags=0):
        return infos
    loop.getaddrinfo = getaddrinfo


@pytest.mark.parametrize('happy_eyeballs_delay', [None, 0.05])
def test_first_address_refuses_second_accepts(loop, happy_eyeballs_delay):
    async def main():
        server = await loop.create_server(Recorder, '127.0.0.1', 0)
        good = server.sockets[0].getsockname()
        infos = [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, '',
                  ('127.0.0.1', refused_port())),
                 (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, '', good)]
        _fake_resolver(loop, infos)
        transport, protocol = await loop.create_connection(
            Recorder, 'two-addresses.invalid', 80, happy_eyeballs_delay=happy_eyeballs_delay)
        assert transport.get_extra_info('peername') == good
        transport.close()
        await protocol.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


@pytest.mark.skipif(not has_ipv6_loopback(), reason='this machine has no IPv6 loopback (::1)')
def test_happy_eyeballs_interleaves_families(loop):
    async def main():
        server = await loop.create_server(Recorder, '::1', 0)
        good = server.sockets[0].getsockname()
        infos = [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, '',
                  ('127.0.0.1', refused_port())),
                 (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, '',
                  ('127.0.0.1', refused_port())),
                 (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, '', good)]
        _fake_resolver(loop, infos)
        transport, protocol = await loop.create_connection(
            Recorder, 'dual-stack.invalid', 80, happy_eyeballs_delay=0.25)
        # Interleaving tries the IPv6 address second, long before the delay of a third try.
        assert transport.get_extra_info('peername')[:2] == good[:2]
        transport.close()
        await protocol.lost
        server.close()

    run(loop, main())


def test_every_address_refusing_raises_one_error(loop):
    async def main():
        infos = [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, '',
                  ('127.0.0.1', refused_port())) for _ in range(2)]
        _fake_resolver(loop, infos)
        with pytest.raises(OSError) as caught:
            await loop.create_connection(asyncio.Protocol, 'nowhere.invalid', 80)
        assert isinstance(caught.value, OSError)
        assert 'Connect call failed' in str(caught.value)

    run(loop, main())


@pytest.mark.skipif(sys.version_info < (3, 12), reason='all_errors is new in Python 3.12')
def test_all_errors_raises_an_exception_group(loop):
    async def main():
        infos = [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, '',
                  ('127.0.0.1', refused_port())) for _ in range(2)]
        _fake_resolver(loop, infos)
        with pytest.raises(ExceptionGroup) as caught:
            await loop.create_connection(asyncio.Protocol, 'nowhere.invalid', 80,
                                         all_errors=True)
        assert all(isinstance(e, ConnectionRefusedError) for e in caught.value.exceptions)
        assert len(caught.value.exceptions) == 2

    run(loop, main())


@pytest.mark.skipif(sys.version_info >= (3, 12), reason='all_errors exists from Python 3.12')
def test_parameters_asyncio_lacks_are_refused(loop):
    async def main():
        with pytest.raises(TypeError, match='all_errors'):
            await loop.create_connection(asyncio.Protocol, '127.0.0.1', 1, all_errors=True)

    run(loop, main())


def test_signatures_match_asyncio():
    import inspect
    import eloop
    for name in ('create_connection', 'create_server', 'create_unix_connection',
                 'create_unix_server', 'connect_accepted_socket', 'start_tls', 'sendfile'):
        ours = inspect.signature(getattr(eloop.Loop, name))
        theirs = inspect.signature(getattr(asyncio.SelectorEventLoop, name))
        assert str(ours) == str(theirs), name


def test_local_addr(loop):
    async def main():
        server = await loop.create_server(Recorder, '127.0.0.1', 0)
        port = server.sockets[0].getsockname()[1]
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            local_port = probe.getsockname()[1]
        transport, protocol = await loop.create_connection(
            Recorder, '127.0.0.1', port, local_addr=('127.0.0.1', local_port))
        assert transport.get_extra_info('sockname') == ('127.0.0.1', local_port)
        transport.close()
        await protocol.lost
        server.close()

    run(loop, main())


def test_argument_errors(loop):
    async def main():
        with pytest.raises(ValueError, match='server_hostname is only meaningful with ssl'):
            await loop.create_connection(asyncio.Protocol, '127.0.0.1', 1, server_hostname='x')
        with pytest.raises(ValueError, match='ssl_handshake_timeout is only meaningful'):
            await loop.create_connection(asyncio.Protocol, '127.0.0.1', 1,
                                         ssl_handshake_timeout=1)
        with pytest.raises(ValueError, match='host and port was not specified'):
            await loop.create_connection(asyncio.Protocol)
        with socket.socket() as sock:
            with pytest.raises(ValueError, match='can not be specified at the same time'):
                await loop.create_connection(asyncio.Protocol, '127.0.0.1', 1, sock=sock)
        with socket.socket(type=socket.SOCK_DGRAM) as sock:
            with pytest.raises(ValueError, match='A Stream Socket was expected'):
                await loop.create_connection(asyncio.Protocol, sock=sock)

    run(loop, main())


# -- IPv6, sockets given by the caller, Unix sockets --------------------------------------------


@pytest.mark.skipif(not has_ipv6_loopback(), reason='this machine has no IPv6 loopback (::1)')
def test_ipv6_loopback(loop):
    async def main():
        async def echo(reader, writer):
            writer.write(await reader.read(100))
            writer.close()

        server = await asyncio.start_server(echo, '::1', 0)
        host, port = server.sockets[0].getsockname()[:2]
        assert host == '::1'
        reader, writer = await asyncio.open_connection('::1', port)
        writer.write(b'six')
        assert await reader.read() == b'six'
        assert writer.get_extra_info('peername')[:2] == ('::1', port)
        writer.close()
        server.close()

    run(loop, main())


def test_connect_with_a_given_socket_and_connect_accepted_socket(loop):
    async def main():
        a, b = socket.socketpair()
        transport_a, proto_a = await loop.create_connection(Recorder, sock=a)
        transport_b, proto_b = await loop.connect_accepted_socket(Recorder, b)
        transport_a.write(b'over a socketpair')
        transport_a.write_eof()
        await proto_b.eof
        assert bytes(proto_b.data) == b'over a socketpair'
        assert await proto_b.lost is None
        assert await proto_a.lost is None

    run(loop, main())


def test_unix_socket_path_stale_file_and_cleanup(loop):
    async def main():
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'sock')
            stale = socket.socket(socket.AF_UNIX)
            stale.bind(path)
            stale.close()  # leaves a socket file nobody listens on
            assert os.path.exists(path)

            async def echo(reader, writer):
                writer.write((await reader.read(100)).upper())
                writer.close()

            server = await asyncio.start_unix_server(echo, path)
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(b'unix')
            assert await reader.read() == b'UNIX'
            assert writer.get_extra_info('peername') == path
            writer.close()
            server.close()
            await server.wait_closed()
            # asyncio removes the file on close from 3.13 (cleanup_socket); before, it stays.
            assert os.path.exists(path) == (sys.version_info < (3, 13))

    run(loop, main())


def test_unix_abstract_namespace(loop):
    async def main():
        name = f'\0eloop-test-{os.getpid()}-{id(loop)}'
        server = await loop.create_unix_server(Recorder, name)
        assert server.sockets[0].getsockname() == name.encode()
        transport, protocol = await loop.create_unix_connection(Recorder, name)
        transport.write(b'abstract')
        transport.close()
        await protocol.lost
        server.close()
        await server.wait_closed()

    run(loop, main())


def test_unix_large_transfer(loop):
    payload = os.urandom(16 * MiB)

    async def main():
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, 'big')
            received = loop.create_future()

            async def sink(reader, writer):
                received.set_result(hashlib.sha256(await reader.read()).digest())
                writer.close()

            server = await asyncio.start_unix_server(sink, path)
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(payload)
            writer.write_eof()
            await writer.drain()
            assert await received == hashlib.sha256(payload).digest()
            writer.close()
            server.close()

    run(loop, main(), timeout=60)


def test_unix_connection_errors(loop):
    async def main():
        with pytest.raises(FileNotFoundError):
            await loop.create_unix_connection(asyncio.Protocol, '/nonexistent/eloop.sock')
        with pytest.raises(ValueError, match='no path and sock were specified'):
            await loop.create_unix_connection(asyncio.Protocol)
        with pytest.raises(ValueError, match='you have to pass server_hostname'):
            await loop.create_unix_connection(asyncio.Protocol, '/x', ssl=True)

    run(loop, main())


# -- protocol switching and contexts ------------------------------------------------------------


def test_set_protocol_switches_the_receiver(loop):
    async def main():
        transport, client, served = await tcp_pair()
        second = Recorder()
        served.transport.set_protocol(second)
        assert served.transport.get_protocol() is second
        transport.write(b'to the second')
        transport.close()
        assert await second.lost is None
        assert bytes(second.data) == b'to the second'
        assert served.data == b''

    run(loop, main())


def test_data_received_runs_in_the_context_of_the_transport(loop):
    import contextvars
    var = contextvars.ContextVar('var', default='unset')

    class Setter(Recorder):
        def data_received(self, data):
            super().data_received(data)
            self.seen = var.get()
            var.set('set by protocol')

    async def main():
        var.set('creator')
        transport, client, served = await tcp_pair(make_server_protocol=Setter)
        transport.write(b'1')
        while not served.data:
            await asyncio.sleep(0.001)
        assert served.seen == 'creator'
        assert var.get() == 'creator'  # a protocol's set() does not leak out
        transport.write(b'2')
        while len(served.data) < 2:
            await asyncio.sleep(0.001)
        assert served.seen == 'set by protocol'  # but persists for that transport
        transport.close()
        await served.lost

    run(loop, main())


def test_data_received_set_on_the_protocol_object_is_the_one_called(loop):
    # The transport calls the class's data_received without a bound method of its own, but one
    # set on the protocol object itself (a mock, a wrapper) is what obj.data_received finds.
    got = []

    def patched_recorder():
        protocol = Recorder()
        protocol.data_received = got.append
        return protocol

    async def main():
        transport, client, served = await tcp_pair(patched_recorder)
        transport.write(b'to the patched one')
        while not got:
            await asyncio.sleep(0.001)
        assert b''.join(got) == b'to the patched one' and not served.data
        transport.close()

    run(loop, main())


def test_peername_of_an_accepted_connection_survives_a_reset(loop):
    # The address accept() gave is kept (packed for IPv4) and given back as the same tuple
    # after the peer reset the connection, when getpeername() could no longer tell it.
    async def main():
        transport, client, served = await tcp_pair()
        expected = transport.get_extra_info('sockname')
        transport.get_extra_info('socket').setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
        transport.close()
        await served.lost
        assert served.transport.get_extra_info('peername') == expected
        assert type(served.transport.get_extra_info('peername')) is tuple

    run(loop, main())
