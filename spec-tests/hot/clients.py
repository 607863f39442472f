#!/usr/bin/env python3
"""Small clients for spec-tests/hot/run (loopback only, every wait bounded).

  clients.py free-port                 print a free TCP port on 127.0.0.1
  clients.py wasm-info FILE            print the module's imports (`import MOD NAME`) and
                                       exports (`export NAME`), one a line
  clients.py keepalive PORT DIR        open one keep-alive HTTP connection, send a request,
                                       touch DIR/ready, wait (<= 60 s) for DIR/go, send a second
                                       request on the same connection; print `status body` of each
"""
import os
import socket
import sys
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def leb(data, pos):
    result = shift = 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, pos


def name(data, pos):
    n, pos = leb(data, pos)
    return data[pos:pos + n].decode("utf-8", "replace"), pos + n


def wasm_info(path):
    data = open(path, "rb").read()
    if data[:4] != b"\0asm":
        sys.exit("not a Wasm module: " + path)
    pos = 8
    while pos < len(data):
        sid = data[pos]
        size, pos = leb(data, pos + 1)
        end = pos + size
        if sid == 2:
            count, p = leb(data, pos)
            for _ in range(count):
                mod, p = name(data, p)
                field, p = name(data, p)
                kind = data[p]
                p += 1
                if kind == 0:
                    _, p = leb(data, p)
                elif kind == 1:
                    p += 1
                    flags, p = leb(data, p)
                    _, p = leb(data, p)
                    if flags & 1:
                        _, p = leb(data, p)
                elif kind == 2:
                    flags, p = leb(data, p)
                    _, p = leb(data, p)
                    if flags & 1:
                        _, p = leb(data, p)
                elif kind == 3:
                    p += 2
                print("import", mod, field)
        elif sid == 7:
            count, p = leb(data, pos)
            for _ in range(count):
                field, p = name(data, p)
                p += 1
                _, p = leb(data, p)
                print("export", field)
        pos = end


def http_request(sock, buf):
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("connection closed before the response head")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = lines[0].split(" ")[1]
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    while len(rest) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("connection closed inside the body")
        rest += chunk
    return status, rest[:length].decode().strip(), rest[length:]


def keepalive(port, directory):
    sock = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    status, body, buf = http_request(sock, b"")
    print(status, body, flush=True)
    open(os.path.join(directory, "ready"), "w").close()
    deadline = time.time() + 60
    while not os.path.exists(os.path.join(directory, "go")):
        if time.time() > deadline:
            sys.exit("keepalive: no go within 60 s")
        time.sleep(0.02)
    status, body, _ = http_request(sock, buf)
    print(status, body, flush=True)
    sock.close()


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    try:
        if cmd == "free-port":
            free_port()
        elif cmd == "wasm-info":
            wasm_info(sys.argv[2])
        elif cmd == "keepalive":
            keepalive(sys.argv[2], sys.argv[3])
        else:
            sys.exit(__doc__)
    except (OSError, EOFError, ValueError, IndexError) as e:
        sys.exit(f"{cmd}: {e}")
