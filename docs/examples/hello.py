"""A plain asyncio program: an echo server on 127.0.0.1 and clients that talk to it at once.

Nothing in it knows about eloop. Run it on stock asyncio, then on eloop:

    python docs/examples/hello.py
    python -m eloop run docs/examples/hello.py --clients 50 --messages 200
"""

import argparse
import asyncio
import time


async def echo(reader, writer):
    """Send every line back until the client closes its side."""
    while line := await reader.readline():
        writer.write(line)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def client(port, number, messages):
    """Send `messages` lines, check each echo; return how many came back right."""
    reader, writer = await asyncio.open_connection('127.0.0.1', port)
    right = 0
    for i in range(messages):
        line = f'hello {number} {i}\n'.encode()
        writer.write(line)
        await writer.drain()
        right += await reader.readline() == line
    writer.close()
    await writer.wait_closed()
    return right


async def main(clients, messages):
    loop = asyncio.get_running_loop()
    print(f'loop: {type(loop).__module__}.{type(loop).__qualname__}')
    server = await asyncio.start_server(echo, '127.0.0.1', 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        started = time.perf_counter()
        results = await asyncio.gather(*(client(port, n, messages) for n in range(clients)))
        elapsed = time.perf_counter() - started
    total = clients * messages
    print(f'{clients} clients echoed {sum(results)}/{total} lines in {elapsed:.3f} s '
          f'({total / elapsed:,.0f} round trips/s)')
    await asyncio.sleep(0.01)  # timers work too
    return sum(results) == total


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--clients', type=int, default=10)
    parser.add_argument('--messages', type=int, default=100)
    options = parser.parse_args()
    raise SystemExit(0 if asyncio.run(main(options.clients, options.messages)) else 1)
