"""collectors — flow collectors on loopback for the tests: they keep what tide sends.

  UdpCollector()   binds 127.0.0.1 on a free UDP port (.port); .datagrams, one bytes per datagram
  TcpCollector()   listens on 127.0.0.1 (.port), accepts one sender at a time; .data, the bytes
Both are threads: start() them, set .stop and join() when done; every wait inside is bounded
(0.2 s socket timeouts). Decode IPFIX with ipfixio, JSON lines with json.
"""

import socket
import threading


class UdpCollector(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.datagrams = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                self.datagrams.append(self.sock.recv(65535))
            except socket.timeout:
                pass
        self.sock.close()


class TcpCollector(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.srv.settimeout(0.2)
        self.port = self.srv.getsockname()[1]
        self.data = b""
        self.stop = threading.Event()

    def run(self):
        conn = None
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn, _ = self.srv.accept()
                    conn.settimeout(0.2)
                    continue
                chunk = conn.recv(65536)
                if not chunk:
                    conn.close()
                    conn = None
                    continue
                self.data += chunk
            except socket.timeout:
                pass
        if conn:
            conn.close()
        self.srv.close()
