#!/usr/bin/env python3
"""Opens N keep-alive HTTP connections to a server on loopback, sends one
request on each and reads its response, then holds them all open.

    benches/hold_connections.py PORT N [--hold SECS] [--batch K]

Prints `opened N` (and `failed F` if some could not be opened or were not
answered) once every connection has had its response, then keeps them open
for SECS seconds (default: until stdin closes or a line is read), then closes
them and prints `closed`. Loopback only, bounded: at most K connections are
being opened at a time (default 200), every step has a timeout, and N is
capped by the file-descriptor limit (raised to the hard limit first).
"""
import argparse, asyncio, resource, sys

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
TIMEOUT = 30


async def open_one(port, sem):
    async with sem:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
        writer.write(REQUEST)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        if not head.startswith(b"HTTP/1.1 200 "):
            raise OSError("not answered with 200")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        await asyncio.wait_for(reader.readexactly(length), TIMEOUT)
        return writer


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--hold", type=float, default=None)
    ap.add_argument("--batch", type=int, default=200)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    n = min(args.n, hard - 64)
    sem = asyncio.Semaphore(max(1, args.batch))
    results = await asyncio.gather(*(open_one(args.port, sem) for _ in range(n)),
                                   return_exceptions=True)
    writers = [w for w in results if isinstance(w, asyncio.StreamWriter)]
    print(f"opened {len(writers)}", flush=True)
    if len(writers) < n:
        print(f"failed {n - len(writers)}", flush=True)
    if args.hold is not None:
        await asyncio.sleep(args.hold)
    else:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for w in writers:
        w.close()
    print("closed", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
