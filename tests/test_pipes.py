"""loop.connect_read_pipe / connect_write_pipe: pipes, FIFOs, sockets and a pty."""

import asyncio
import hashlib
import os
import pty
import socket
import threading

import pytest


class Reader(asyncio.Protocol):
    """Keeps what a read pipe delivers, and the order of its events."""

    def __init__(self):
        self.transport = None
        self.chunks = []
        self.nbytes = 0
        self.digest = hashlib.sha256()
        self.events = []
        self.data_came = asyncio.Event()
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.events.append('made')

    def data_received(self, data):
        self.chunks.append(data)
        self.nbytes += len(data)
        self.digest.update(data)
        self.data_came.set()

    def eof_received(self):
        self.events.append('eof')

    def connection_lost(self, exc):
        self.events.append(('lost', exc))
        self.lost.set_result(exc)

    async def wait_for_bytes(self, n):
        while self.nbytes < n and not self.lost.done():
            self.data_came.clear()
            await self.data_came.wait()


class Writer(asyncio.BaseProtocol):
    """Records flow control and the end of a write pipe."""

    def __init__(self):
        self.transport = None
        self.events = []
        self.can_write = asyncio.Event()
        self.can_write.set()
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport

    def pause_writing(self):
        self.events.append('pause')
        self.can_write.clear()

    def resume_writing(self):
        self.events.append('resume')
        self.can_write.set()

    def connection_lost(self, exc):
        self.events.append(('lost', exc))
        self.can_write.set()
        self.lost.set_result(exc)


def open_pipe():
    r, w = os.pipe()
    return open(r, 'rb', buffering=0), open(w, 'wb', buffering=0)


async def pump(transport, protocol, data, chunk_size):
    """Write `data` in chunks, respecting the protocol's pause/resume."""
    view = memoryview(data)
    for start in range(0, len(view), chunk_size):
        await protocol.can_write.wait()
        transport.write(view[start:start + chunk_size])


def test_large_transfer_both_ways_keeps_every_byte(run):
    """8 MiB out through one pipe and echoed back through another, checksummed at each end."""
    async def main():
        loop = asyncio.get_running_loop()
        data = os.urandom(1 << 20) * 8
        out_r, out_w = open_pipe()
        back_r, back_w = open_pipe()
        out_transport, out_proto = await loop.connect_write_pipe(Writer, out_w)
        back_transport, back_proto = await loop.connect_write_pipe(Writer, back_w)

        class Echo(Reader):
            def data_received(self, chunk):
                super().data_received(chunk)
                back_transport.write(chunk)

        _, echo = await loop.connect_read_pipe(Echo, out_r)
        _, final = await loop.connect_read_pipe(Reader, back_r)
        await pump(out_transport, out_proto, data, 100_000)
        out_transport.close()
        await echo.lost
        back_transport.close()
        await final.lost
        expected = hashlib.sha256(data).hexdigest()
        assert echo.digest.hexdigest() == expected
        assert final.digest.hexdigest() == expected
        assert final.events == ['made', 'eof', ('lost', None)]
        assert await out_proto.lost is None
        assert await back_proto.lost is None
    run(main(), timeout=60)


def test_a_write_larger_than_the_pipe_is_buffered_and_flushed(run):
    async def main():
        loop = asyncio.get_running_loop()
        data = os.urandom(3 << 20)
        r, w = open_pipe()
        transport, proto = await loop.connect_write_pipe(Writer, w)
        transport.write(data)  # one call, far more than the 64 KiB a pipe holds
        assert transport.get_write_buffer_size() > 0
        assert proto.events == ['pause']
        transport.close()  # the buffer is written before the pipe is closed
        received = await loop.run_in_executor(None, r.readall)
        assert received == data
        assert await proto.lost is None
        assert proto.events == ['pause', 'resume', ('lost', None)]
        r.close()
    run(main())


def test_pause_and_resume_reading(run):
    async def main():
        loop = asyncio.get_running_loop()
        r, w = open_pipe()
        transport, proto = await loop.connect_read_pipe(Reader, r)
        assert transport.is_reading()
        transport.pause_reading()
        assert not transport.is_reading()
        w.write(b'while paused')
        await asyncio.sleep(0.05)
        assert proto.chunks == []
        transport.resume_reading()
        await proto.wait_for_bytes(12)
        assert b''.join(proto.chunks) == b'while paused'
        # Pausing twice or resuming twice is harmless.
        transport.pause_reading()
        transport.pause_reading()
        transport.resume_reading()
        transport.resume_reading()
        w.close()
        assert await proto.lost is None
        assert not transport.is_reading()
    run(main())


def test_eof_calls_eof_received_then_connection_lost(run):
    async def main():
        loop = asyncio.get_running_loop()
        r, w = open_pipe()
        transport, proto = await loop.connect_read_pipe(Reader, r)
        w.write(b'last words')
        w.close()
        assert await proto.lost is None
        assert proto.events == ['made', 'eof', ('lost', None)]
        assert b''.join(proto.chunks) == b'last words'
        assert transport.is_closing()
        assert r.closed
    run(main())


def test_reader_closing_ends_an_idle_writer_without_error(run):
    async def main():
        loop = asyncio.get_running_loop()
        r, w = open_pipe()
        transport, proto = await loop.connect_write_pipe(Writer, w)
        transport.write(b'fits the pipe')
        r.close()
        assert await proto.lost is None
        assert w.closed
    run(main())


def test_reader_closing_with_data_buffered_reports_broken_pipe(run):
    async def main():
        loop = asyncio.get_running_loop()
        r, w = open_pipe()
        transport, proto = await loop.connect_write_pipe(Writer, w)
        transport.write(bytes(1 << 20))
        assert transport.get_write_buffer_size() > 0
        r.close()
        assert isinstance(await proto.lost, BrokenPipeError)
        assert transport.get_write_buffer_size() == 0
    run(main())


def test_writing_after_the_reader_left_reports_broken_pipe(run):
    async def main():
        loop = asyncio.get_running_loop()
        r, w = open_pipe()
        transport, proto = await loop.connect_write_pipe(Writer, w)
        r.close()
        transport.write(b'nobody reads this')  # EPIPE at once, before the hang-up is seen
        assert isinstance(await proto.lost, BrokenPipeError)
        transport.write(b'ignored once the connection is lost')
    run(main())


def test_write_eof_abort_and_can_write_eof(run):
    async def main():
        loop = asyncio.get_running_loop()
        r, w = open_pipe()
        transport, proto = await loop.connect_write_pipe(Writer, w)
        assert transport.can_write_eof()
        transport.write(b'abc')
        transport.writelines([b'de', bytearray(b'f'), memoryview(b'gh')])
        transport.write_eof()
        assert transport.is_closing()
        assert await proto.lost is None
        assert r.read() == b'abcdefgh'
        r.close()

        r, w = open_pipe()
        transport, proto = await loop.connect_write_pipe(Writer, w)
        transport.write(bytes(1 << 20))
        transport.abort()  # drops the buffer: connection_lost(None) as asyncio
        assert await proto.lost is None
        assert len(r.read()) < 1 << 20
        r.close()
        with pytest.raises(TypeError):
            transport.write('text')
    run(main())


def test_write_buffer_limits(run):
    async def main():
        loop = asyncio.get_running_loop()
        r, w = open_pipe()
        transport, proto = await loop.connect_write_pipe(Writer, w)
        transport.set_write_buffer_limits(high=1000, low=100)
        assert transport.get_write_buffer_limits() == (100, 1000)
        with pytest.raises(ValueError):
            transport.set_write_buffer_limits(high=1, low=2)
        transport.write(bytes(70_000))  # a pipe holds 64 KiB
        assert proto.events == ['pause']
        await loop.run_in_executor(None, r.read, 70_000 - 500)
        await asyncio.wait_for(proto.can_write.wait(), 5)
        assert proto.events == ['pause', 'resume']
        transport.close()
        r.close()
    run(main())


def test_regular_files_are_refused(run, tmp_path):
    async def main():
        loop = asyncio.get_running_loop()
        path = tmp_path / 'regular'
        path.write_bytes(b'x')
        with open(path, 'rb') as f:
            with pytest.raises(ValueError):
                await loop.connect_read_pipe(asyncio.Protocol, f)
        with open(path, 'wb') as f:
            with pytest.raises(ValueError):
                await loop.connect_write_pipe(asyncio.BaseProtocol, f)
    run(main())


def test_fifo(run, tmp_path):
    async def main():
        loop = asyncio.get_running_loop()
        path = tmp_path / 'fifo'
        os.mkfifo(path)
        r = open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), 'rb', buffering=0)
        w = open(path, 'wb', buffering=0)
        _, reader = await loop.connect_read_pipe(Reader, r)
        writer_transport, _ = await loop.connect_write_pipe(Writer, w)
        writer_transport.write(b'through a FIFO')
        writer_transport.close()
        assert await reader.lost is None
        assert b''.join(reader.chunks) == b'through a FIFO'
    run(main())


def test_socket_as_pipe(run):
    async def main():
        loop = asyncio.get_running_loop()
        a, b = socket.socketpair()
        read_transport, reader = await loop.connect_read_pipe(Reader, a)
        write_transport, writer = await loop.connect_write_pipe(Writer, b)
        write_transport.write(b'through a socket')
        await reader.wait_for_bytes(16)
        write_transport.close()
        assert await reader.lost is None
        assert b''.join(reader.chunks) == b'through a socket'
        assert await writer.lost is None
    run(main())


def test_pty_read_and_write(run):
    async def main():
        loop = asyncio.get_running_loop()
        master, slave = pty.openpty()
        # Raw mode: no echo and no line editing between the two sides.
        import tty
        tty.setraw(slave)
        master_in = open(master, 'rb', buffering=0)
        master_out = open(os.dup(master), 'wb', buffering=0)
        read_transport, reader = await loop.connect_read_pipe(Reader, master_in)
        write_transport, writer = await loop.connect_write_pipe(Writer, master_out)
        write_transport.write(b'to the slave')
        got = b''
        while len(got) < 12:
            got += await loop.run_in_executor(None, os.read, slave, 100)
        assert got == b'to the slave'
        os.write(slave, b'from the slave')
        await reader.wait_for_bytes(14)
        assert b''.join(reader.chunks) == b'from the slave'
        os.close(slave)
        # A pty whose other side closed reads EIO: the transport ends with that error.
        exc = await reader.lost
        assert exc is None or (isinstance(exc, OSError) and exc.errno == 5)
        write_transport.close()
        await writer.lost
    run(main())


def test_exception_in_data_received_is_reported_and_reading_goes_on(run, loop):
    errors = []
    loop.set_exception_handler(lambda loop, context: errors.append(context))

    class Failing(Reader):
        def data_received(self, data):
            super().data_received(data)
            if len(self.chunks) == 1:
                raise RuntimeError('boom')

    async def main():
        r, w = open_pipe()
        transport, proto = await loop.connect_read_pipe(Failing, r)
        big = bytes(300_000)  # more than one read: the rest must still come

        def write_all():
            w.write(big)
            w.close()
        thread = threading.Thread(target=write_all)
        thread.start()
        await proto.lost
        thread.join()
        assert proto.nbytes == len(big)
    run(main())
    assert isinstance(errors[0]['exception'], RuntimeError)


def test_the_fd_belongs_to_the_transport(run):
    async def main():
        loop = asyncio.get_running_loop()
        r, w = open_pipe()
        transport, proto = await loop.connect_read_pipe(Reader, r)
        with pytest.raises(RuntimeError):
            loop.add_reader(r.fileno(), lambda: None)
        assert transport.get_extra_info('pipe') is r
        assert 'fd=' in repr(transport)
        transport.close()
        assert await proto.lost is None
        assert r.closed
        w.close()
    run(main())


def test_many_pipes_at_once_lose_nothing(run):
    """20 pipes fed from threads in random-sized bursts: every byte and every EOF arrives."""
    import random

    async def main():
        loop = asyncio.get_running_loop()
        rng = random.Random(7)
        plans, readers, threads = [], [], []
        for _ in range(20):
            r, w = open_pipe()
            chunks = [os.urandom(rng.choice((1, 100, 4096, 65536, 200_000))) for _ in range(12)]
            plans.append(hashlib.sha256(b''.join(chunks)).hexdigest())
            _, reader = await loop.connect_read_pipe(Reader, r)
            readers.append(reader)

            def feed(w=w, chunks=chunks):
                for chunk in chunks:
                    w.write(chunk)
                w.close()
            threads.append(threading.Thread(target=feed))
        for thread in threads:
            thread.start()
        await asyncio.gather(*(reader.lost for reader in readers))
        for thread in threads:
            thread.join()
        assert [reader.digest.hexdigest() for reader in readers] == plans
        assert all(reader.events[-2:] == ['eof', ('lost', None)] for reader in readers)
    run(main(), timeout=60)
