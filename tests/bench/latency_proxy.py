"""A latency-injecting TCP proxy: each listen address stands for a cache instance that far away.

    python3 latency_proxy.py LISTEN=RTT_MS=UPSTREAM ...     e.g. 127.0.8.1:27090=250=127.0.1.1:27081

Every byte is delivered half a round trip after it arrived, in each direction, in order; bytes
are scheduled as they arrive, so pipelined requests are not serialised behind each other's
answers. A new connection's first bytes are held one extra round trip, as the TCP handshake
would hold them: a fresh client pays two round trips for its first answer, as on a real network.
Prints "ready" once every address listens.
"""
import asyncio
import sys
import time


class Pipe:
    """One direction of one connection: chunks delivered at (arrival + delay), in order."""

    def __init__(self, writer, delay_s, hold_until=0.0):
        self.writer = writer
        self.delay = delay_s
        self.hold_until = hold_until
        self.queue = asyncio.Queue()
        self.task = asyncio.ensure_future(self.run())

    def put(self, data):
        now = time.monotonic()
        self.queue.put_nowait((max(now, self.hold_until) + self.delay, data))

    def close(self):
        self.queue.put_nowait((time.monotonic() + self.delay, None))

    async def run(self):
        try:
            while True:
                at, data = await self.queue.get()
                wait = at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    self.writer.close()
                    return
                self.writer.write(data)
                await self.writer.drain()
        except (ConnectionError, OSError):
            self.writer.close()


async def pump(reader, pipe):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            pipe.put(data)
    except (ConnectionError, OSError):
        pass
    pipe.close()


# The running connections' tasks, held: asyncio keeps only weak references to them, and under
# thousands of connections at once it collected some while they waited ("Task was destroyed but
# it is pending!").
RUNNING = set()


def handler(rtt_ms, upstream):
    half = rtt_ms / 2000.0
    host, port = upstream.rsplit(":", 1)

    async def handle(client_reader, client_writer):
        task = asyncio.current_task()
        RUNNING.add(task)
        try:
            await proxy(client_reader, client_writer)
        finally:
            RUNNING.discard(task)

    async def proxy(client_reader, client_writer):
        accepted = time.monotonic()
        try:
            up_reader, up_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        # Client to instance: first bytes no sooner than a round trip after the connection
        # opened (the handshake), then half a round trip on the way. Back: half a round trip.
        to_instance = Pipe(up_writer, half, hold_until=accepted + 2 * half)
        to_client = Pipe(client_writer, half)
        RUNNING.update((to_instance.task, to_client.task))
        await asyncio.gather(pump(client_reader, to_instance), pump(up_reader, to_client))
        await asyncio.gather(to_instance.task, to_client.task, return_exceptions=True)
        RUNNING.difference_update((to_instance.task, to_client.task))

    return handle


async def main(specs):
    servers = []
    for spec in specs:
        listen, rtt, upstream = spec.split("=")
        ip, port = listen.rsplit(":", 1)
        servers.append(await asyncio.start_server(handler(float(rtt), upstream), ip, int(port), backlog=1024))
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
