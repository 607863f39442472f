#!/usr/bin/env python3
"""Clients that do not complete a TLS handshake, for spec-tests/net-apps/run.

    bad_clients.py PORT scan N           N connects, each closed at once (a port scan)
    bad_clients.py PORT garbage N        N connections that send non-TLS bytes and read the answer
    bad_clients.py PORT silent N SECS    N connections that never send; prints `connected N`, then
                                         waits (at most SECS) until the server closes them

Loopback (127.0.0.1) only; every loop and wait is bounded. Prints one summary line.
"""
import os
import select
import socket
import sys
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.settimeout(5)
    return s


def scan(port, n):
    for _ in range(n):
        connect(port).close()
    print(f"scan: {n} connects closed at once", flush=True)


def garbage(port, n):
    alerts = closed = 0
    for i in range(n):
        s = connect(port)
        junk = b"GET / HTTP/1.0\r\n\r\n" if i % 2 == 0 else os.urandom(300)
        answer = b""
        try:
            s.sendall(junk)
            while True:
                part = s.recv(4096)
                if not part:
                    closed += 1
                    break
                answer += part
        except ConnectionResetError:
            closed += 1
        except socket.timeout:
            pass
        # A TLS alert record: content type 21.
        if answer[:1] == b"\x15":
            alerts += 1
        s.close()
    print(f"garbage: {n} clients, {alerts} answered with a TLS alert, {closed} closed by the server",
          flush=True)


def silent(port, n, secs):
    start = time.monotonic()
    socks = [connect(port) for _ in range(n)]
    for s in socks:
        s.setblocking(False)
    print(f"connected {n}", flush=True)
    open_socks = {s.fileno(): s for s in socks}
    ended = []
    while open_socks and time.monotonic() - start < secs:
        ready, _, _ = select.select(list(open_socks.values()), [], [], 0.2)
        for s in ready:
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            if not data:
                ended.append(time.monotonic() - start)
                del open_socks[s.fileno()]
                s.close()
    first = f"{min(ended):.1f}" if ended else "-"
    last = f"{max(ended):.1f}" if ended else "-"
    print(f"silent: {len(ended)} of {n} closed by the server, first after {first} s, "
          f"last after {last} s", flush=True)


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    n = int(sys.argv[3])
    if mode == "scan":
        scan(port, n)
    elif mode == "garbage":
        garbage(port, n)
    elif mode == "silent":
        silent(port, n, float(sys.argv[4]))
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
