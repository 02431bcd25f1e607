"""loop.sendfile over stream transports: zero-copy os.sendfile, its fallback, its errors."""

import asyncio
import hashlib
import io
import os
import socket

import pytest

from test_streams_tcp import (MiB, RESET_ON_CLOSE, Recorder, connection_to_a_raw_socket, run,
                              tcp_pair)


@pytest.fixture
def big_file(tmp_path):
    """A file far larger than the socket buffers, and its content."""
    payload = os.urandom(16 * MiB + 777)
    path = tmp_path / 'big'
    path.write_bytes(payload)
    return path, payload


@pytest.fixture
def sendfile_calls(monkeypatch):
    """Counts the os.sendfile calls made during the test."""
    calls = []
    real = os.sendfile

    def counting(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(os, 'sendfile', counting)
    return calls


async def received_after_close(transport, served):
    transport.close()
    await served.lost
    return bytes(served.data)


def test_zero_copy_of_a_file_larger_than_the_socket_buffers(loop, big_file, sendfile_calls):
    path, payload = big_file

    async def main():
        transport, client, served = await tcp_pair()
        with open(path, 'rb') as file:
            sent = await loop.sendfile(transport, file)
            assert sent == len(payload)
            assert file.tell() == len(payload)
        assert sendfile_calls, 'os.sendfile was not used'
        data = await received_after_close(transport, served)
        assert hashlib.sha256(data).digest() == hashlib.sha256(payload).digest()

    run(loop, main(), timeout=60)


def test_offset_and_count(loop, big_file):
    path, payload = big_file

    async def main():
        transport, client, served = await tcp_pair()
        with open(path, 'rb') as file:
            assert await loop.sendfile(transport, file, offset=1000, count=5 * MiB) == 5 * MiB
            assert file.tell() == 1000 + 5 * MiB
        assert await received_after_close(transport, served) == payload[1000:1000 + 5 * MiB]

    run(loop, main(), timeout=60)


def test_buffered_writes_go_first_and_writes_wait_for_the_end(loop, big_file):
    path, payload = big_file

    async def main():
        transport, client, served = await tcp_pair()
        served.transport.pause_reading()
        header = b'H' * (4 * MiB)
        transport.write(header)
        assert transport.get_write_buffer_size() > 0  # the header waits in the buffer
        with open(path, 'rb') as file:
            sending = asyncio.ensure_future(loop.sendfile(transport, file))
            await asyncio.sleep(0)
            with pytest.raises(RuntimeError, match='sendfile is in progress'):
                transport.write(b'too early')
            with pytest.raises(RuntimeError, match='sendfile is in progress'):
                transport.writelines([b'too early'])
            served.transport.resume_reading()
            assert await sending == len(payload)
        transport.write(b'trailer')
        data = await received_after_close(transport, served)
        assert data == header + payload + b'trailer'

    run(loop, main(), timeout=60)


def test_reading_goes_on_after_sendfile(loop, tmp_path):
    path = tmp_path / 'small'
    path.write_bytes(b'file content')

    async def main():
        transport, client, served = await tcp_pair()
        assert transport.is_reading()
        with open(path, 'rb') as file:
            await loop.sendfile(transport, file)
        assert transport.is_reading()
        served.transport.write(b'reply')
        while bytes(client.data) != b'reply':
            await asyncio.sleep(0.001)
        assert await received_after_close(transport, served) == b'file content'

    run(loop, main())


def test_over_a_unix_socket(loop, big_file, tmp_path):
    path, payload = big_file

    async def main():
        sock_path = str(tmp_path / 'sock')
        received = loop.create_future()

        async def sink(reader, writer):
            received.set_result(await reader.read())
            writer.close()

        server = await asyncio.start_unix_server(sink, sock_path)
        transport, protocol = await loop.create_unix_connection(Recorder, sock_path)
        with open(path, 'rb') as file:
            assert await loop.sendfile(transport, file) == len(payload)
        transport.write_eof()
        assert hashlib.sha256(await received).digest() == hashlib.sha256(payload).digest()
        transport.close()
        server.close()

    run(loop, main(), timeout=60)


def test_a_file_without_fileno_falls_back(loop, sendfile_calls):
    payload = os.urandom(MiB)

    async def main():
        transport, client, served = await tcp_pair()
        with pytest.raises(asyncio.SendfileNotAvailableError):
            await loop.sendfile(transport, io.BytesIO(payload), fallback=False)
        assert transport.is_reading()
        file = io.BytesIO(payload)
        assert await loop.sendfile(transport, file, offset=10) == len(payload) - 10
        assert file.tell() == len(payload)
        assert not sendfile_calls
        assert await received_after_close(transport, served) == payload[10:]

    run(loop, main())


def test_errors(loop, tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b'data')

    async def main():
        transport, client, served = await tcp_pair()
        with open(path, 'rb') as file:
            with pytest.raises(ValueError, match='count must be a positive integer'):
                await loop.sendfile(transport, file, count=0)
            with pytest.raises(ValueError, match='offset must be a non-negative integer'):
                await loop.sendfile(transport, file, offset=-1)
        with open(path, 'r') as text:
            with pytest.raises(ValueError, match='binary mode'):
                await loop.sendfile(transport, text)
        transport.close()
        with open(path, 'rb') as file:
            with pytest.raises(RuntimeError, match='Transport is closing'):
                await loop.sendfile(transport, file)
        await served.lost

    run(loop, main())


def test_unsupported_transport(loop, tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b'data')

    async def main():
        class OpenTransport(asyncio.Transport):
            def is_closing(self):
                return False

        transport = OpenTransport()
        with open(path, 'rb') as file:
            with pytest.raises(RuntimeError, match='sendfile is not supported'):
                await loop.sendfile(transport, file)

    run(loop, main())


def test_peer_gone_mid_sendfile_raises(loop, big_file):
    path, payload = big_file

    async def main():
        transport, client, peer = await connection_to_a_raw_socket(loop)
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
        with open(path, 'rb') as file:
            sending = asyncio.ensure_future(loop.sendfile(transport, file))
            await asyncio.sleep(0.01)
            peer.close()
            with pytest.raises(ConnectionError):
                await sending
            assert 0 < file.tell() < len(payload)
        transport.abort()

    run(loop, main(), timeout=30)
