"""loop.create_datagram_endpoint: UDP over IPv4/IPv6, Unix datagram sockets, and the transport."""

import asyncio
import hashlib
import os
import socket
import sys

import pytest


class Recorder(asyncio.DatagramProtocol):
    """Keeps every event of the protocol, in order; `received` wakes up waiting tests."""

    def __init__(self, echo=False):
        self.echo = echo
        self.transport = None
        self.events = []
        self.datagrams = []
        self.errors = []
        self.received = asyncio.Event()
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.events.append('made')

    def datagram_received(self, data, addr):
        self.datagrams.append((data, addr))
        if self.echo:
            self.transport.sendto(data, addr)
        self.received.set()

    def error_received(self, exc):
        self.errors.append(exc)
        self.received.set()

    def pause_writing(self):
        self.events.append('pause_writing')

    def resume_writing(self):
        self.events.append('resume_writing')

    def connection_lost(self, exc):
        self.events.append(('lost', exc))
        self.lost.set_result(exc)

    async def next_datagram(self):
        while not self.datagrams:
            self.received.clear()
            await self.received.wait()
        return self.datagrams.pop(0)


async def echo_round_trip(local_addr, family=0):
    loop = asyncio.get_running_loop()
    server_transport, server = await loop.create_datagram_endpoint(
        lambda: Recorder(echo=True), local_addr=local_addr, family=family)
    server_addr = server_transport.get_extra_info('sockname')
    client_transport, client = await loop.create_datagram_endpoint(
        Recorder, remote_addr=server_addr[:2], family=family)
    client_transport.sendto(b'ping')
    data, addr = await client.next_datagram()
    assert data == b'ping'
    assert addr[:2] == server_addr[:2]
    assert client_transport.get_extra_info('peername')[:2] == server_addr[:2]
    client_transport.close()
    server_transport.close()
    assert await client.lost is None
    assert await server.lost is None
    return client.events


def test_udp_echo_ipv4(run):
    events = run(echo_round_trip(('127.0.0.1', 0)))
    assert events == ['made', ('lost', None)]


def test_udp_echo_ipv6(run):
    if not socket.has_ipv6:
        pytest.skip('no IPv6 in this Python build')
    run(echo_round_trip(('::1', 0)))


def test_unconnected_endpoint_sends_to_any_address(run):
    async def main():
        loop = asyncio.get_running_loop()
        server_transport, server = await loop.create_datagram_endpoint(
            lambda: Recorder(echo=True), local_addr=('127.0.0.1', 0))
        transport, client = await loop.create_datagram_endpoint(
            Recorder, local_addr=('127.0.0.1', 0))
        assert transport.get_extra_info('peername') is None
        transport.sendto(b'abc', server_transport.get_extra_info('sockname'))
        assert (await client.next_datagram())[0] == b'abc'
        with pytest.raises(TypeError):
            transport.sendto('text', server_transport.get_extra_info('sockname'))
        transport.close()
        server_transport.close()
        await client.lost
    run(main())


def test_unix_datagram_echo(run, tmp_path):
    async def main():
        loop = asyncio.get_running_loop()
        server_path = str(tmp_path / 'server.sock')
        client_path = str(tmp_path / 'client.sock')
        server_transport, server = await loop.create_datagram_endpoint(
            lambda: Recorder(echo=True), local_addr=server_path, family=socket.AF_UNIX)
        client_transport, client = await loop.create_datagram_endpoint(
            Recorder, local_addr=client_path, remote_addr=server_path, family=socket.AF_UNIX)
        client_transport.sendto(b'over unix')
        assert await client.next_datagram() == (b'over unix', server_path)
        assert server.datagrams == [(b'over unix', client_path)]
        client_transport.close()
        server_transport.close()
        await server.lost
        await client.lost
        # A stale socket file left behind is replaced when the path is bound again.
        assert os.path.exists(server_path)
        transport, _ = await loop.create_datagram_endpoint(
            Recorder, local_addr=server_path, family=socket.AF_UNIX)
        transport.close()
    run(main())


def test_unix_datagram_requires_string_paths(run):
    async def main():
        loop = asyncio.get_running_loop()
        with pytest.raises(TypeError):
            await loop.create_datagram_endpoint(Recorder, local_addr=('127.0.0.1', 0),
                                                family=socket.AF_UNIX)
    run(main())


def test_port_unreachable_goes_to_error_received(run):
    async def main():
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(('127.0.0.1', 0))
            closed_addr = probe.getsockname()
        transport, client = await loop.create_datagram_endpoint(
            Recorder, remote_addr=closed_addr)
        # Linux reports the ICMP error on the connected socket's next send or receive.
        for _ in range(50):
            transport.sendto(b'anyone?')
            await asyncio.sleep(0.01)
            if client.errors:
                break
        assert isinstance(client.errors[0], ConnectionRefusedError)
        assert not transport.is_closing()
        transport.close()
        assert await client.lost is None
    run(main())


def test_allow_broadcast_sets_the_option_and_leaves_the_socket_unconnected(run):
    async def main():
        loop = asyncio.get_running_loop()
        server_transport, server = await loop.create_datagram_endpoint(
            Recorder, local_addr=('127.0.0.1', 0))
        server_addr = server_transport.get_extra_info('sockname')
        transport, _ = await loop.create_datagram_endpoint(
            Recorder, remote_addr=server_addr, allow_broadcast=True)
        sock = transport.get_extra_info('socket')
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST) == 1
        assert transport.get_extra_info('peername') is None
        transport.sendto(b'to the remote_addr')
        assert (await server.next_datagram())[0] == b'to the remote_addr'
        with pytest.raises(ValueError):
            transport.sendto(b'x', ('127.0.0.1', 9))
        transport.close()
        server_transport.close()
    run(main())


def test_connected_endpoint_refuses_another_address(run):
    async def main():
        loop = asyncio.get_running_loop()
        server_transport, _ = await loop.create_datagram_endpoint(
            Recorder, local_addr=('127.0.0.1', 0))
        server_addr = server_transport.get_extra_info('sockname')
        transport, _ = await loop.create_datagram_endpoint(Recorder, remote_addr=server_addr)
        with pytest.raises(ValueError, match='Invalid address'):
            transport.sendto(b'x', ('127.0.0.1', server_addr[1] + 1))
        transport.sendto(b'x', server_addr)  # the connected address itself is fine
        transport.close()
        server_transport.close()
    run(main())


def test_many_datagrams_arrive_without_loss(run):
    """20,000 datagrams in rounds that fit the socket buffer: every one arrives, in order."""
    async def main():
        loop = asyncio.get_running_loop()
        server_transport, server = await loop.create_datagram_endpoint(
            Recorder, local_addr=('127.0.0.1', 0))
        server_addr = server_transport.get_extra_info('sockname')
        client_transport, _ = await loop.create_datagram_endpoint(
            Recorder, remote_addr=server_addr)
        sent = hashlib.sha256()
        per_round, rounds = 100, 200
        for r in range(rounds):
            for i in range(per_round):
                payload = f'{r}:{i}:'.encode() + bytes(400)
                sent.update(payload)
                client_transport.sendto(payload)
            while len(server.datagrams) < (r + 1) * per_round:
                server.received.clear()
                await server.received.wait()
        received = hashlib.sha256()
        for data, _ in server.datagrams:
            received.update(data)
        assert len(server.datagrams) == per_round * rounds
        assert received.hexdigest() == sent.hexdigest()
        client_transport.close()
        server_transport.close()
    run(main(), timeout=30)


def unix_dgram_pair_with_small_buffers():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def test_sends_are_buffered_until_the_socket_has_room(run):
    async def main():
        loop = asyncio.get_running_loop()
        a, b = unix_dgram_pair_with_small_buffers()
        transport, proto = await loop.create_datagram_endpoint(Recorder, sock=a)
        transport.set_write_buffer_limits(high=2000)
        payloads = [bytes([i]) * 500 for i in range(200)]
        for payload in payloads:
            transport.sendto(payload)
        assert transport.get_write_buffer_size() > 0
        assert proto.events == ['made', 'pause_writing']
        received = []
        while len(received) < len(payloads):
            try:
                received.append(b.recv(1000))
            except BlockingIOError:
                await asyncio.sleep(0.001)
        assert received == payloads
        assert transport.get_write_buffer_size() == 0
        assert proto.events == ['made', 'pause_writing', 'resume_writing']
        transport.close()
        await proto.lost
        b.close()
    run(main())


def test_close_delivers_the_buffer_first_and_abort_drops_it(run):
    async def main():
        loop = asyncio.get_running_loop()
        for finish in ('close', 'abort'):
            a, b = unix_dgram_pair_with_small_buffers()
            transport, proto = await loop.create_datagram_endpoint(Recorder, sock=a)
            for i in range(50):
                transport.sendto(bytes([i]) * 500)
            assert transport.get_write_buffer_size() > 0
            getattr(transport, finish)()
            assert transport.is_closing()
            # As in asyncio: while close() flushes the queue, a datagram sent is queued too.
            transport.sendto(b'late')
            received = []
            while not proto.lost.done():
                try:
                    received.append(b.recv(1000))
                except BlockingIOError:
                    await asyncio.sleep(0.001)
            await asyncio.sleep(0.01)
            while True:
                try:
                    received.append(b.recv(1000))
                except BlockingIOError:
                    break
            assert await proto.lost is None
            if finish == 'close':
                assert received == [bytes([i]) * 500 for i in range(50)] + [b'late']
            else:
                assert len(received) < 50 and b'late' not in received
            b.close()
    run(main())


def test_sock_argument_and_extra_info(run):
    async def main():
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(('127.0.0.1', 0))
        transport, proto = await loop.create_datagram_endpoint(Recorder, sock=sock)
        assert transport.get_extra_info('sockname') == sock.getsockname()
        assert transport.get_extra_info('socket').fileno() == sock.fileno()
        assert transport.get_extra_info('peername') is None
        assert transport.get_protocol() is proto
        assert sock.gettimeout() == 0
        transport.close()
        await proto.lost
        assert sock.fileno() == -1
    run(main())


def test_argument_errors_are_asyncios(run):
    async def main():
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            with pytest.raises(ValueError, match='socket modifier keyword arguments'):
                await loop.create_datagram_endpoint(Recorder, sock=sock,
                                                    local_addr=('127.0.0.1', 0))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            with pytest.raises(ValueError):
                await loop.create_datagram_endpoint(Recorder, sock=sock)
        with pytest.raises(ValueError, match='unexpected address family'):
            await loop.create_datagram_endpoint(Recorder)
        with pytest.raises(TypeError):
            await loop.create_datagram_endpoint(Recorder, local_addr=('127.0.0.1', 0, 0))
        with pytest.raises(ValueError, match='can not get address information'):
            await loop.create_datagram_endpoint(
                Recorder, local_addr=('127.0.0.1', 0), remote_addr=('::1', 9))
        if sys.version_info >= (3, 11):
            with pytest.raises(TypeError):
                await loop.create_datagram_endpoint(
                    Recorder, local_addr=('127.0.0.1', 0), reuse_address=True)
        else:
            with pytest.raises(ValueError):
                await loop.create_datagram_endpoint(
                    Recorder, local_addr=('127.0.0.1', 0), reuse_address=True)
    run(main())


def test_reuse_port_lets_two_endpoints_share_a_port(run):
    async def main():
        loop = asyncio.get_running_loop()
        first, _ = await loop.create_datagram_endpoint(
            Recorder, local_addr=('127.0.0.1', 0), reuse_port=True)
        port = first.get_extra_info('sockname')[1]
        second, _ = await loop.create_datagram_endpoint(
            Recorder, local_addr=('127.0.0.1', port), reuse_port=True)
        assert second.get_extra_info('sockname')[1] == port
        assert second.get_extra_info('socket').getsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        first.close()
        second.close()
    run(main())


def test_pause_and_resume_reading(run):
    async def main():
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            Recorder, local_addr=('127.0.0.1', 0))
        addr = transport.get_extra_info('sockname')
        transport.pause_reading()
        assert not transport.is_reading()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for i in range(5):
                sender.sendto(b'%d' % i, addr)
            await asyncio.sleep(0.05)
            assert proto.datagrams == []
            transport.resume_reading()
            assert transport.is_reading()
            while len(proto.datagrams) < 5:
                proto.received.clear()
                await proto.received.wait()
        assert [d for d, _ in proto.datagrams] == [b'0', b'1', b'2', b'3', b'4']
        transport.close()
        assert not transport.is_reading()
    run(main())


def test_an_exception_in_datagram_received_is_reported_and_reading_goes_on(run, loop):
    errors = []
    loop.set_exception_handler(lambda loop, context: errors.append(context))

    class Failing(Recorder):
        def datagram_received(self, data, addr):
            super().datagram_received(data, addr)
            if data == b'boom':
                raise RuntimeError('boom')

    async def main():
        transport, proto = await loop.create_datagram_endpoint(
            Failing, local_addr=('127.0.0.1', 0))
        addr = transport.get_extra_info('sockname')
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for data in (b'boom', b'after', b'more'):
                sender.sendto(data, addr)
            while len(proto.datagrams) < 3:
                proto.received.clear()
                await proto.received.wait()
        transport.close()
    run(main())
    assert isinstance(errors[0]['exception'], RuntimeError)


def test_empty_datagrams_follow_the_running_pythons_asyncio(run):
    async def main():
        loop = asyncio.get_running_loop()
        server_transport, server = await loop.create_datagram_endpoint(
            Recorder, local_addr=('127.0.0.1', 0))
        client_transport, _ = await loop.create_datagram_endpoint(
            Recorder, remote_addr=server_transport.get_extra_info('sockname'))
        client_transport.sendto(b'')
        client_transport.sendto(b'end')
        await server.next_datagram()
        client_transport.close()
        server_transport.close()
        return server.datagrams
    remaining = run(main())
    if sys.version_info >= (3, 13):
        assert len(remaining) == 1 and remaining[0][0] == b'end'  # the empty one came first
    else:
        assert remaining == []  # only b'end' arrived; the empty one was dropped


def test_transport_is_an_asyncio_datagram_transport(run):
    async def main():
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            Recorder, local_addr=('127.0.0.1', 0))
        assert isinstance(transport, asyncio.DatagramTransport)
        assert 'read=polling' in repr(transport)
        transport.abort()
        await asyncio.sleep(0)
    run(main())


def test_a_send_error_goes_to_error_received(run):
    async def main():
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            Recorder, local_addr=('127.0.0.1', 0))
        # Larger than any UDP datagram can be: the kernel refuses it with EMSGSIZE.
        transport.sendto(bytes(70_000), transport.get_extra_info('sockname'))
        assert len(proto.errors) == 1 and isinstance(proto.errors[0], OSError)
        assert not transport.is_closing()
        transport.close()
        assert await proto.lost is None
    run(main())


def test_a_stream_of_datagrams_is_read_one_budget_per_pass(run, loop):
    """Datagrams keep coming faster than one pass reads them: each pass of the loop still
    reads at most its budget (32), in both modes, so that other callbacks run in between."""
    from eloop._datagram import RECV_BUDGET
    arriving_per_pass, passes = RECV_BUDGET + RECV_BUDGET // 2, 12
    read_per_pass = []

    async def main():
        transport, server = await loop.create_datagram_endpoint(
            Recorder, local_addr=('127.0.0.1', 0))
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        done = loop.create_future()

        def each_pass(read_before):
            read_per_pass.append(len(server.datagrams) - read_before)
            if len(read_per_pass) == passes:
                done.set_result(None)
                return
            for _ in range(arriving_per_pass):
                sender.sendto(b'x', transport.get_extra_info('sockname'))
            loop.call_soon(each_pass, len(server.datagrams))

        loop.call_soon(each_pass, 0)
        try:
            await asyncio.wait_for(done, 10)
        finally:
            sender.close()
            transport.close()
    run(main(), timeout=20)
    assert max(read_per_pass) <= RECV_BUDGET, read_per_pass
    assert sum(read_per_pass) > 0
