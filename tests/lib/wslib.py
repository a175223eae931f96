"""wslib — a raw WebSocket client for attacking and imitating drones in tests (stdlib only).

Unlike a library client it can send what a hostile peer sends: frames with an announced length
it never delivers, endless pings, binary frames, non-final fragments, nothing at all.

  WS.open(port, path)        upgrade; .status is the HTTP status of the answer (101 = open)
  ws.send(payload, opcode=1, fin=True, announce=None)   one masked frame (announce: the length
                             the header claims, to lie about it)
  ws.recv(timeout)           (opcode, payload) of the next frame, or None when closed/timeout
  ws.closed_within(seconds)  True once the server has closed the TCP connection
  WS.tls_ca = CERT           from then on every WS.open (and connect()) speaks TLS, verifying
                             the server against CERT (for the Hive's wss:// and https://)
"""

import base64
import os
import select
import socket
import ssl
import struct
import time

TEXT, BINARY, CLOSE, PING, CONT = 1, 2, 8, 9, 0


def connect(port, timeout=30):
    """A TCP connection to 127.0.0.1:port, wrapped in verified TLS when WS.tls_ca is set."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if WS.tls_ca:
        ctx = ssl.create_default_context(cafile=WS.tls_ca)
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    return s


class WS:
    tls_ca = None

    def __init__(self, sock, status, rest):
        self.sock = sock
        self.status = status
        self.buf = rest

    @classmethod
    def open(cls, port, path="/api/v1/drones/connect", timeout=30):
        s = connect(port, timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13"
                   "\r\n\r\n" % (path, port, key)).encode())
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except (ConnectionError, socket.timeout):
                chunk = b""
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        try:
            status = int(head.split(b" ", 2)[1])
        except (IndexError, ValueError):
            status = 0                  # closed without an HTTP answer
        return cls(s, status, rest)

    def send(self, payload, opcode=TEXT, fin=True, announce=None):
        if isinstance(payload, str):
            payload = payload.encode()
        n = len(payload) if announce is None else announce
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        try:
            self.sock.sendall(head + mask + body)
            return True
        except OSError:
            return False

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if not self._pending():
                r, _, _ = select.select([self.sock], [], [], left)
                if not r:
                    return False
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return False
            if not chunk:
                return False
            self.buf += chunk
        return True

    def recv(self, timeout=30):
        deadline = time.monotonic() + timeout
        if not self._fill(2, deadline):
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n, off = b1 & 0x7f, 2
        if n == 126:
            if not self._fill(4, deadline):
                return None
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            if not self._fill(10, deadline):
                return None
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        if not self._fill(off + n, deadline):
            return None
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return b0 & 0x0f, payload

    def closed_within(self, seconds):
        """Reads (and discards) until the server closes the TCP connection, or seconds pass."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self._pending():
                r, _, _ = select.select([self.sock], [], [],
                                        max(0.0, deadline - time.monotonic()))
                if not r:
                    continue
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return True
            if not chunk:
                return True
        return False

    def _pending(self):
        return isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
