"""tests/integration/kwire.py: requests spoken over a raw socket, for the APIs and versions no
client library sends: flexible ones (KIP-482: compact strings and arrays, tagged fields, a
reader for the answers) and classic ones."""
import socket
import struct


def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def cstr(s):
    b = s.encode()
    return uvarint(len(b) + 1) + b


def carray(items, enc):
    if items is None:
        return b"\x00"
    return uvarint(len(items) + 1) + b"".join(enc(i) for i in items)


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.p)
        self.p += struct.calcsize(fmt)
        return v[0]

    def uvarint(self):
        n, shift = 0, 0
        while True:
            b = self.d[self.p]
            self.p += 1
            n |= (b & 0x7F) << shift
            if b < 0x80:
                return n
            shift += 7

    def cstr(self):
        n = self.uvarint()
        if n == 0:
            return None
        s = self.d[self.p:self.p + n - 1].decode()
        self.p += n - 1
        return s

    def carray(self, dec):
        n = self.uvarint()
        return None if n == 0 else [dec(self) for _ in range(n - 1)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.p += self.uvarint()


def call(broker, api_key, version, body):
    """One flexible request (header v2) and its response body after header v1."""
    hdr = struct.pack(">hhih", api_key, version, 11, 4) + b"test" + b"\x00"
    with socket.create_connection(("127.0.0.1", broker.port), timeout=30) as s:
        s.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)
        size = struct.unpack(">i", recv_exact(s, 4))[0]
        r = Reader(recv_exact(s, size))
    assert r.take(">i") == 11
    r.tags()
    return r


def classic_frame(api_key, version, corr, body):
    """A whole request frame with a non-flexible header (v1), client id "test"."""
    hdr = struct.pack(">hhih", api_key, version, corr, 4) + b"test"
    return struct.pack(">i", len(hdr) + len(body)) + hdr + body


def classic_call(port, api_key, version, body):
    """One request with a non-flexible header (v1) to 127.0.0.1:port; the response body after
    its correlation id (header v0)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(classic_frame(api_key, version, 7, body))
        size = struct.unpack(">i", recv_exact(s, 4))[0]
        buf = recv_exact(s, size)
    assert struct.unpack_from(">i", buf, 0)[0] == 7
    return buf[4:]


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        assert chunk, "connection closed"
        buf += chunk
    return buf
