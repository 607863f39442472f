#!/usr/bin/env python3
"""A stand-in TCP server for tests that connect to a fixed address.

    listen.py HOST PORT [--seconds N]

Accepts connections on HOST:PORT and holds each one open, reading and
discarding what arrives, until the peer closes it. Prints `listening
HOST:PORT` once bound (exit status 1 and a message if it cannot bind). Ends
after N seconds (default 3600), or as soon as the process that started it is
gone, so that it never outlives the test run that needed it.

Only the Python standard library is used.
"""
import os
import selectors
import socket
import sys
import time


def main():
    args = sys.argv[1:]
    seconds = 3600.0
    if "--seconds" in args:
        i = args.index("--seconds")
        seconds = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    host, port = args[0], int(args[1])
    parent = os.getppid()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind((host, port))
    except OSError as e:
        print(f"listen.py: cannot listen on {host}:{port}: {e}", file=sys.stderr, flush=True)
        return 1
    server.listen(128)
    server.setblocking(False)
    print(f"listening {host}:{port}", flush=True)

    sel = selectors.DefaultSelector()
    sel.register(server, selectors.EVENT_READ)
    end = time.monotonic() + seconds
    while time.monotonic() < end and os.getppid() == parent:
        for key, _ in sel.select(timeout=0.5):
            if key.fileobj is server:
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                sel.register(conn, selectors.EVENT_READ)
            else:
                try:
                    data = key.fileobj.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
