#!/usr/bin/env python3
"""labelled_traffic.py — the worker behind scripts/make-labelled-traffic.sh (python3 stdlib).

Subcommands:
  run    start real servers in the server namespace and real clients in the client namespace,
         capture the veth with tcpdump, and log one event per client action: when it ran and
         which server endpoints (proto, server address, server port range) carry which
         application. Every server, client and wait is bounded in time.
  truth  read the capture (pcap, Ethernet), rebuild tide's sessions (biflows keyed on the
         5-tuple; ICMP keyed on tide's paired types), and label each session whose server
         endpoint and start time fall in a logged event: the ground truth in tide's format
         (proto,src_ip,src_port,dst_ip,dst_port,app,sub_app,first_ts,last_ts), src = client.
         Sessions that match no event (stray kernel traffic, if any) are left out: unknown.
  inetd  a tiny accept loop for the server namespace that hands each connection to a real
         inetd-style server (telnetd) on fds 0/1/2; bounded in connections and lifetime.

The truth is what this script configured, not what any classifier says: every server port
below serves exactly one application, and a client action knows what it negotiated (the ALPN
it offered to a server that supports it, e.g. TLS/HTTP2).
"""

import argparse
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

# ---------------------------------------------------------------------------------------------
# names per variant: the train and test captures never share a DNS name, SNI, path or body size
NAMES = {
    "train": ["www.alpha.example", "api.bravo.example", "cdn.charlie.example", "mail.delta.example",
              "static.echo.example", "login.kilo.example"],
    "test": ["shop.foxtrot.example", "auth.golf.example", "img.hotel.example", "news.india.example",
             "app.juliet.example", "docs.lima.example"],
}


def names_for(variant):
    if variant in NAMES:
        return NAMES[variant]
    r = random.Random(variant)
    words = ["oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor"]
    return ["%s.%s.example" % (h, r.choice(words)) for h in ("www", "api", "cdn", "img", "app", "m")]


# Standard ports and the non-standard ports the same servers also listen on. Non-standard ones
# are either absent from config/ports.txt (port lookup: unknown) or registered to ANOTHER
# application (port lookup: wrong) — both make port-based classification measurably wrong.
PORTS = {
    "dns": [53, 5300], "http": [80, 8888, 5432], "tls": [443, 9443], "quic": [443, 4433],
    "ssh": [22, 2222, 3389], "smtp": [25, 2626], "ntp": [123, 1123], "ftp": [21, 2121],
    "mqtt": [1883, 11883], "redis": [6379, 7000, 11211], "snmp": [161, 1161], "telnet": [23, 2323],
    "tftp": [69],
}
# Debian's python3 (aiosmtpd is a Debian package), whatever python3 runs this script
SYS_PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
FTP_PASV = {21: (30000, 30019), 2121: (30020, 30039)}
TFTP_DATA = (31000, 31019)


def log(*a):
    print("[labelled-traffic]", *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
class Lab:
    def __init__(self, a):
        self.a = a
        self.work = a.work
        self.srv_ns, self.cli_ns = a.srv_ns, a.cli_ns
        self.s4, self.c4, self.s6, self.c6 = a.srv4, a.cli4, a.srv6, a.cli6
        self.procs = []
        self.events = []
        self.rng = random.Random(a.seed)
        self.names = names_for(a.variant)
        self.deadline = time.monotonic() + a.budget
        self.failures = []
        os.makedirs(os.path.join(self.work, "logs"), exist_ok=True)

    # -- processes ----------------------------------------------------------------------------
    def ns(self, which):
        return ["ip", "netns", "exec", self.srv_ns if which == "srv" else self.cli_ns]

    def server(self, name, argv, env=None, cwd=None):
        logf = open(os.path.join(self.work, "logs", name + ".log"), "wb")
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.Popen(self.ns("srv") + argv, stdout=logf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=e, cwd=cwd or self.work,
                             start_new_session=True)
        self.procs.append((name, p, logf))
        return p

    def stop_all(self):
        for name, p, logf in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        t_end = time.monotonic() + 5
        for name, p, logf in reversed(self.procs):
            try:
                p.wait(timeout=max(0.1, t_end - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=5)
            logf.close()
        self.procs = []

    def listening(self, proto, port):
        flag = "-Hltn" if proto == "tcp" else "-Hlun"
        out = subprocess.run(self.ns("srv") + ["ss", flag], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=10).stdout.decode()
        return any(l.split()[3].rsplit(":", 1)[-1] == str(port) for l in out.splitlines() if len(l.split()) > 3)

    def wait_ready(self, endpoints, timeout=10.0):
        end = time.monotonic() + timeout
        todo = list(endpoints)
        while todo and time.monotonic() < end:
            todo = [(pr, po) for pr, po in todo if not self.listening(pr, po)]
            if todo:
                time.sleep(0.1)
        for name, p, _ in self.procs:
            if p.poll() is not None:
                log("server %s exited early (rc %s); see %s" % (name, p.returncode,
                    os.path.join(self.work, "logs", name + ".log")))
        if todo:
            log("not listening after %.0f s: %s" % (timeout, todo))
        return todo

    def client(self, argv, timeout=8.0, stdin_data=None, env=None):
        """Run a real client in the client namespace, bounded; returns its exit code."""
        e = dict(os.environ)
        e.update(env or {})
        try:
            p = subprocess.run(self.ns("cli") + argv, input=stdin_data, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout, env=e,
                               stdin=None if stdin_data is not None else subprocess.DEVNULL)
            rc = p.returncode
            if rc != 0:
                self.failures.append("%s -> %d: %s" % (" ".join(argv[:6]), rc, p.stderr.decode("utf-8", "replace")[-200:].strip()))
            return rc
        except subprocess.TimeoutExpired:
            self.failures.append("%s -> timeout %.0fs" % (" ".join(argv[:6]), timeout))
            return None

    # -- events -------------------------------------------------------------------------------
    def event(self, what, rules, fn):
        """rules: [(proto, server_addr or None, port_lo, port_hi, app, sub)]"""
        t0 = time.time()
        fn()
        t1 = time.time()
        self.events.append({"what": what, "t0": t0, "t1": t1,
                            "rules": [list(r) for r in rules]})
        time.sleep(self.rng.uniform(0.01, 0.08))

    # -- set-up -------------------------------------------------------------------------------
    def write(self, rel, text, mode=0o644):
        path = os.path.join(self.work, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def prepare_files(self):
        w = self.work
        os.chmod(w, 0o755)
        r = random.Random(self.a.seed * 7 + 1)
        www = os.path.join(w, "www")
        os.makedirs(www, exist_ok=True)
        for i in range(6):
            size = r.randint(200, 6000)
            body = "".join(r.choice("abcdefghijklmnopqrstuvwxyz \n") for _ in range(size))
            self.write("www/page%d.html" % i, "<html><body><pre>%s</pre></body></html>\n" % body)
        self.write("www/index.html", "<html><body>tide labelled traffic %s</body></html>\n" % self.a.variant)
        for d in ("ftp", "tftp"):
            os.makedirs(os.path.join(w, d), exist_ok=True)
            os.chmod(os.path.join(w, d), 0o755)
            for i in range(3):
                self.write("%s/file%d.txt" % (d, i), "".join(r.choice("0123456789abcdef\n") for _ in range(r.randint(300, 3000))))
        os.makedirs(os.path.join(w, "empty"), exist_ok=True)
        os.chmod(os.path.join(w, "empty"), 0o755)
        # keys: TLS/QUIC server certificate (all SNI names), SSH host and client keys
        sans = ",".join("DNS:" + n for n in self.names)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "7", "-subj", "/CN=" + self.names[0], "-addext",
                        "subjectAltName=" + sans, "-keyout", os.path.join(w, "tls.key"),
                        "-out", os.path.join(w, "tls.crt")], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        for k in ("ssh_host_ed25519_key", "id_client"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tide-" + k, "-f",
                            os.path.join(w, k)], check=True, timeout=30)
        shutil.copy(os.path.join(w, "id_client.pub"), os.path.join(w, "authorized_keys"))
        hosts = "".join("%s %s\n%s %s\n" % (self.s4, n, self.s6, n) for n in self.names)
        self.write("dns.hosts", hosts)
        # the client namespace's /etc/hosts (ip netns exec bind-mounts /etc/netns/NS/hosts):
        # gtlsclient sends the SNI of the host name it is given (its --sni is ignored in 0.12)
        etc = os.path.join("/etc/netns", self.cli_ns)
        os.makedirs(etc, exist_ok=True)
        with open(os.path.join(etc, "hosts"), "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n" + "".join("%s %s\n" % (self.s4, n) for n in self.names))

    def start_servers(self):
        w, s4, s6 = self.work, self.s4, self.s6
        eps = []
        # DNS: dnsmasq (authoritative for our names from a hosts file, TXT records), 53 and 5300
        for port in PORTS["dns"]:
            self.server("dnsmasq-%d" % port, [
                "dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--no-poll",
                "--addn-hosts=" + os.path.join(w, "dns.hosts"), "--listen-address=%s,%s" % (s4, s6),
                "--bind-interfaces", "--port=%d" % port, "--user=root", "--group=root",
                "--pid-file=" + os.path.join(w, "dnsmasq-%d.pid" % port), "--log-facility=-",
                "--local=/example/", "--domain-needed",
                "--txt-record=%s,\"v=spf1 -all\",\"tide labelled %s\"" % (self.names[0], self.a.variant),
                "--txt-record=%s,\"site-verification=%08x\"" % (self.names[1], self.a.seed * 2654435761 % 2**32),
                "--mx-host=%s,%s,10" % (self.names[3].split(".", 1)[1], self.names[3])])
            eps += [("udp", port), ("tcp", port)]
        # HTTP: python3 -m http.server, IPv4 and IPv6, 80 and non-standard ports
        for port in PORTS["http"]:
            for addr in (s4, s6):
                self.server("http-%s-%d" % (addr, port), [SYS_PY, "-m", "http.server", str(port),
                            "--bind", addr, "--directory", os.path.join(w, "www")])
            eps.append(("tcp", port))
        # TLS: nginx on 443 (HTTP/1.1 and h2 via ALPN), openssl s_server on 9443
        nginx_conf = self.write("nginx.conf", """
worker_processes 1;
daemon off;
pid %(w)s/nginx.pid;
error_log %(w)s/logs/nginx-error.log;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path %(w)s/nginx-tmp/body;
  proxy_temp_path %(w)s/nginx-tmp/proxy;
  fastcgi_temp_path %(w)s/nginx-tmp/fastcgi;
  uwsgi_temp_path %(w)s/nginx-tmp/uwsgi;
  scgi_temp_path %(w)s/nginx-tmp/scgi;
  types { text/html html; text/plain txt; }
  server {
    listen %(s4)s:443 ssl http2;
    listen [%(s6)s]:443 ssl http2;
    server_name _;
    ssl_certificate %(w)s/tls.crt;
    ssl_certificate_key %(w)s/tls.key;
    root %(w)s/www;
  }
}
""" % {"w": w, "s4": s4, "s6": s6})
        os.makedirs(os.path.join(w, "nginx-tmp"), exist_ok=True)
        self.server("nginx", ["nginx", "-c", nginx_conf, "-e", os.path.join(w, "logs", "nginx-error.log")])
        eps.append(("tcp", 443))
        self.server("s_server-9443", ["openssl", "s_server", "-accept", "%s:9443" % s4, "-cert",
                    os.path.join(w, "tls.crt"), "-key", os.path.join(w, "tls.key"), "-www",
                    "-alpn", "h2,http/1.1", "-quiet", "-naccept", "500"])
        eps.append(("tcp", 9443))
        # QUIC: ngtcp2's example HTTP/3 server (gnutls), UDP 443 and 4433
        for port in PORTS["quic"]:
            self.server("quic-%d" % port, ["gtlsserver", "-q", "-d", os.path.join(w, "www"),
                        "--timeout=5s", s4, str(port), os.path.join(w, "tls.key"), os.path.join(w, "tls.crt")])
            eps.append(("udp", port))
        # SSH: one sshd on 22, 2222 and 3389, IPv4 and IPv6
        os.makedirs("/run/sshd", exist_ok=True)
        sshd_conf = self.write("sshd_config", "".join("Port %d\n" % p for p in PORTS["ssh"]) + """
ListenAddress %(s4)s
ListenAddress %(s6)s
HostKey %(w)s/ssh_host_ed25519_key
PidFile %(w)s/sshd.pid
AuthorizedKeysFile %(w)s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
""" % {"w": w, "s4": s4, "s6": s6})
        self.server("sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", sshd_conf])
        eps += [("tcp", p) for p in PORTS["ssh"]]
        # SMTP: aiosmtpd (Sink handler), 25 and 2626
        for port in PORTS["smtp"]:
            self.server("smtp-%d" % port, [SYS_PY, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink",
                        "-l", "%s:%d" % (s4, port)])
            eps.append(("tcp", port))
        # NTP: chronyd serving its local clock (never touching it: -x), 123 and 1123
        for port in PORTS["ntp"]:
            conf = self.write("chrony-%d.conf" % port, """
port %d
bindaddress %s
cmdport 0
allow all
local stratum 8
pidfile %s/chronyd-%d.pid
""" % (port, s4, w, port))
            self.server("chronyd-%d" % port, ["chronyd", "-d", "-x", "-u", "root", "-f", conf])
            eps.append(("udp", port))
        # FTP: vsftpd anonymous read-only, passive mode, 21 and 2121
        for port in PORTS["ftp"]:
            lo, hi = FTP_PASV[port]
            conf = self.write("vsftpd-%d.conf" % port, """listen=YES
listen_ipv6=NO
listen_address=%s
listen_port=%d
background=NO
anonymous_enable=YES
local_enable=NO
write_enable=NO
anon_root=%s/ftp
no_anon_password=YES
pasv_enable=YES
pasv_min_port=%d
pasv_max_port=%d
pasv_address=%s
port_enable=NO
secure_chroot_dir=%s/empty
seccomp_sandbox=NO
xferlog_enable=NO
ftpd_banner=tide labelled FTP service ready
""" % (s4, port, w, lo, hi, s4, w))
            self.server("vsftpd-%d" % port, ["vsftpd", conf])
            eps.append(("tcp", port))
        # MQTT: mosquitto, 1883 and 11883
        mconf = self.write("mosquitto.conf", "".join("listener %d %s\n" % (p, s4) for p in PORTS["mqtt"]) +
                           "allow_anonymous true\npersistence false\nuser root\nlog_dest stdout\n")
        self.server("mosquitto", ["mosquitto", "-c", mconf])
        eps += [("tcp", p) for p in PORTS["mqtt"]]
        # Redis: redis-server, 6379, 7000 and 11211
        for port in PORTS["redis"]:
            self.server("redis-%d" % port, ["redis-server", "--bind", s4, "--port", str(port), "--save", "",
                        "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no",
                        "--dir", w, "--logfile", ""])
            eps.append(("tcp", port))
        # SNMP: net-snmp snmpd, 161 and 1161
        sconf = self.write("snmpd.conf", "rocommunity public %s/32\nrocommunity6 public %s/128\nsysLocation tide-lab-%s\nsysContact lab@%s\n" % (
            self.c4, self.c6, self.a.variant, self.names[0]))
        os.makedirs(os.path.join(w, "snmp"), exist_ok=True)
        self.server("snmpd", ["snmpd", "-f", "-Lo", "-C", "-c", sconf, "-p", os.path.join(w, "snmpd.pid")] +
                    ["udp:%s:%d" % (s4, p) for p in PORTS["snmp"]], env={"SNMP_PERSISTENT_DIR": os.path.join(w, "snmp"), "MIBS": ""})
        eps += [("udp", p) for p in PORTS["snmp"]]
        # TFTP: tftpd-hpa in its own listen mode, data from a fixed port range
        self.server("tftpd", ["in.tftpd", "-L", "-a", "%s:69" % s4, "-s", "-u", "root", "-R",
                    "%d:%d" % TFTP_DATA, os.path.join(w, "tftp")])
        eps.append(("udp", 69))
        # Telnet: inetutils telnetd behind a minimal inetd (this script), 23 and 2323
        for port in PORTS["telnet"]:
            self.server("telnetd-%d" % port, ["python3", os.path.abspath(__file__), "inetd", "--bind", s4,
                        "--port", str(port), "--lifetime", str(int(self.a.budget) + 30), "--max-conns", "100", "--",
                        "/usr/sbin/telnetd", "-h", "-E", "/bin/date"])
            eps.append(("tcp", port))
        missing = self.wait_ready(eps, timeout=15)
        if missing:
            self.failures.append("servers not listening: %s" % missing)
        return missing

    # -- client actions -----------------------------------------------------------------------
    def actions(self):
        s4, s6, w, r, names = self.s4, self.s6, self.work, self.rng, self.names
        acts = []

        def add(n, fn):
            for _ in range(max(1, int(round(n * self.a.scale)))):
                acts.append(fn)

        def pick():
            return r.choice(names)

        def page():
            return r.choice(["/", "/index.html"] + ["/page%d.html" % i for i in range(6)] + ["/missing-%d" % r.randint(1, 99)])

        # DNS: dig, A/AAAA/TXT/MX, UDP and TCP, IPv4 and IPv6 transport, standard and 5300
        def dns(port, tcp, six):
            def act():
                name, qt = pick(), r.choice(["A", "A", "AAAA", "TXT", "MX", "ANY"])
                if qt == "MX":
                    name = names[3].split(".", 1)[1]
                server = s6 if six else s4
                argv = ["dig", "+time=2", "+tries=1", "-p", str(port), "@" + server, name, qt]
                if tcp:
                    argv.insert(1, "+tcp")
                self.event("dig %s %s %s port %d%s" % (qt, name, server, port, " tcp" if tcp else ""),
                           # dig retries a truncated UDP answer over TCP
                           [("tcp" if tcp else "udp", server, port, port, "DNS", ""), ("tcp", server, port, port, "DNS", "")],
                           lambda: self.client(argv, timeout=5))
            return act
        for port, n in ((53, 14), (5300, 8)):
            add(n, dns(port, False, False))
            add(max(2, n // 4), dns(port, True, False))
            add(max(2, n // 4), dns(port, False, True))

        # HTTP: curl GET/HEAD/POST against python's http.server
        def http(port, six):
            def act():
                server = s6 if six else s4
                host = "[%s]" % server if six else server
                url = "http://%s:%d%s" % (host, port, page())
                argv = ["curl", "-s", "-o", "/dev/null", "--max-time", "5", "-H", "Host: " + pick()]
                argv += r.choice([[], ["-I"], ["-A", "tide-lab/%s" % self.a.variant], ["--compressed"]])
                self.event("curl %s" % url, [("tcp", server, port, port, "HTTP", "")],
                           lambda: self.client(argv + [url], timeout=6))
            return act
        add(8, http(80, False))
        add(3, http(80, True))
        add(6, http(8888, False))
        add(4, http(5432, False))

        # TLS: nginx 443 with curl --http1.1 / --http2 (real ALPN), openssl s_client with and
        # without ALPN h2, TLS 1.2 and 1.3; openssl s_server on 9443
        def tls_curl(port, alpn, six=False):
            def act():
                name = pick()
                server = s6 if six else s4
                argv = ["curl", "-k", "-s", "-o", "/dev/null", "--max-time", "5",
                        "--http2" if alpn == "h2" else "--http1.1", "--resolve", "%s:%d:%s" % (name, port, server)]
                if r.random() < 0.3:
                    argv += ["--tls-max", "1.2"]
                sub = "HTTP2" if alpn == "h2" else "HTTP1.1"
                url = "https://%s:%d%s" % (name, port, page())
                self.event("curl %s %s" % (alpn, url), [("tcp", server, port, port, "TLS", sub)],
                           lambda: self.client(argv + [url], timeout=6))
            return act

        def tls_sclient(port, alpn):
            def act():
                name = pick()
                argv = ["openssl", "s_client", "-connect", "%s:%d" % (s4, port), "-servername", name, "-quiet",
                        "-no_ign_eof"]
                if alpn:
                    argv += ["-alpn", alpn]
                if r.random() < 0.3:
                    argv.append("-tls1_2")
                sub = {"h2": "HTTP2", "http/1.1": "HTTP1.1", None: ""}[alpn]
                req = b"GET /index.html HTTP/1.0\r\nHost: %s\r\n\r\n" % name.encode() if alpn != "h2" else b""
                self.event("s_client %s:%d sni=%s alpn=%s" % (s4, port, name, alpn),
                           [("tcp", s4, port, port, "TLS", sub)],
                           lambda: self.client(argv, timeout=5, stdin_data=req))
            return act
        add(5, tls_curl(443, "http/1.1"))
        add(5, tls_curl(443, "h2"))
        add(2, tls_curl(443, "h2", six=True))
        add(3, tls_sclient(443, "h2"))
        add(2, tls_sclient(443, None))
        add(4, tls_curl(9443, "http/1.1"))
        add(3, tls_sclient(9443, "h2"))
        add(2, tls_sclient(9443, None))

        # QUIC: ngtcp2's HTTP/3 client (gnutls), SNI from --sni, ALPN h3
        def quic(port):
            def act():
                name = pick()
                argv = ["gtlsclient", "-q", "--exit-on-all-streams-close", "--timeout=3s",
                        name, str(port), "https://%s:%d%s" % (name, port, r.choice(["/index.html", "/page1.html", "/page2.html"]))]
                self.event("gtlsclient %s:%d sni=%s" % (s4, port, name), [("udp", s4, port, port, "QUIC", "HTTP3")],
                           lambda: self.client(argv, timeout=6))
            return act
        add(5, quic(443))
        add(4, quic(4433))

        # SSH: OpenSSH client with a key, running a command
        def ssh(port, six=False):
            def act():
                server = s6 if six else s4
                cmd = r.choice(["uname -sr", "id -u", "echo tide-%s" % self.a.variant, "head -c %d /dev/zero | od | tail -1" % r.randint(100, 5000)])
                argv = ["ssh", "-F", "/dev/null", "-i", os.path.join(w, "id_client"), "-o", "IdentitiesOnly=yes",
                        "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR",
                        "-o", "BatchMode=yes", "-o", "ConnectTimeout=4", "-p", str(port), "root@" + server, cmd]
                self.event("ssh %s:%d %s" % (server, port, cmd), [("tcp", server, port, port, "SSH", "")],
                           lambda: self.client(argv, timeout=8))
            return act
        add(3, ssh(22))
        add(1, ssh(22, six=True))
        add(3, ssh(2222))
        add(2, ssh(3389))

        # SMTP: swaks against aiosmtpd
        def smtp(port):
            def act():
                dom = pick().split(".", 1)[1]
                argv = ["swaks", "--server", s4, "--port", str(port), "--from", "alice@" + dom, "--to",
                        "bob@" + pick().split(".", 1)[1], "--helo", "client." + dom, "--timeout", "4",
                        "--header", "Subject: tide %s %d" % (self.a.variant, r.randint(1, 9999)),
                        "--body", "\n".join("line %d %s" % (i, "x" * r.randint(0, 60)) for i in range(r.randint(1, 25))),
                        "--silent", "1"]
                self.event("swaks %s:%d" % (s4, port), [("tcp", s4, port, port, "SMTP", "")],
                           lambda: self.client(argv, timeout=8))
            return act
        add(4, smtp(25))
        add(3, smtp(2626))

        # NTP: chronyd as a one-shot client (-Q: measure, never set the clock) and ntpsec's ntpdig
        def ntp_chrony(port):
            def act():
                conf = os.path.join(w, "chrony-client-%d.conf" % port)
                with open(conf, "w") as f:
                    f.write("server %s port %d iburst maxsamples 2\ncmdport 0\npidfile %s/chrony-client.pid\n" % (s4, port, w))
                self.event("chronyd -Q %s:%d" % (s4, port), [("udp", s4, port, port, "NTP", "")],
                           lambda: self.client(["chronyd", "-Q", "-t", "4", "-u", "root", "-f", conf], timeout=6))
            return act

        def ntp_ntpdig():
            self.event("ntpdig %s" % s4, [("udp", s4, 123, 123, "NTP", "")],
                       lambda: self.client(["ntpdig", "-t", "2", "-c", "1", s4], timeout=5))
        add(2, ntp_chrony(123))
        add(3, lambda: ntp_ntpdig())
        add(3, ntp_chrony(1123))

        # FTP: curl and lftp against vsftpd (passive data connections are FTP/data)
        def ftp(port, tool):
            def act():
                lo, hi = FTP_PASV[port]
                f = "file%d.txt" % r.randint(0, 2)
                if tool == "curl":
                    argv = ["curl", "-s", "-o", "/dev/null", "--max-time", "5", "ftp://%s:%d/%s" % (s4, port, r.choice([f, ""]))]
                else:
                    argv = ["lftp", "-c", "set net:timeout 4; set net:max-retries 1; set cmd:fail-exit yes; "
                            "open -p %d ftp://%s; ls; cat %s > /dev/null" % (port, s4, f)]
                self.event("%s ftp %s:%d" % (tool, s4, port),
                           [("tcp", s4, port, port, "FTP", ""), ("tcp", s4, lo, hi, "FTP", "data")],
                           lambda: self.client(argv, timeout=8))
            return act
        add(2, ftp(21, "curl"))
        add(2, ftp(21, "lftp"))
        add(2, ftp(2121, "curl"))
        add(1, ftp(2121, "lftp"))

        # MQTT: mosquitto_pub / mosquitto_sub against mosquitto
        def mqtt(port):
            def act():
                topic = "tide/%s/%s/%d" % (self.a.variant, r.choice(["temp", "door", "power"]), r.randint(1, 50))
                if r.random() < 0.7:
                    argv = ["mosquitto_pub", "-h", s4, "-p", str(port), "-t", topic, "-m", "%d" % r.randint(0, 10**r.randint(1, 8)),
                            "-q", str(r.randint(0, 1)), "-i", "tide-%d" % r.randint(1, 9999), "-r"]
                else:  # the retained messages answer at once
                    argv = ["mosquitto_sub", "-h", s4, "-p", str(port), "-t", "tide/%s/#" % self.a.variant, "-W", "2", "-C", "1"]
                self.event("%s %s:%d" % (argv[0], s4, port), [("tcp", s4, port, port, "MQTT", "")],
                           lambda: self.client(argv, timeout=4))
            return act
        add(5, mqtt(1883))
        add(4, mqtt(11883))

        # Redis: redis-cli
        def redis(port):
            def act():
                cmd = r.choice([["PING"], ["SET", "k%d" % r.randint(1, 99), "v" * r.randint(1, 300)],
                                ["GET", "k%d" % r.randint(1, 99)], ["INCR", "counter"], ["DBSIZE"], ["INFO", "server"]])
                argv = ["redis-cli", "-h", s4, "-p", str(port)] + cmd
                self.event("redis-cli %s:%d %s" % (s4, port, cmd[0]), [("tcp", s4, port, port, "Redis", "")],
                           lambda: self.client(argv, timeout=4))
            return act
        add(5, redis(6379))
        add(3, redis(7000))
        add(3, redis(11211))

        # SNMP: snmpget / snmpwalk v2c and v1, numeric OIDs
        def snmp(port):
            def act():
                tgt = "udp:%s:%d" % (s4, port)
                if r.random() < 0.3:
                    argv = ["snmpwalk", "-v2c", "-c", "public", "-t", "2", "-r", "0", "-On", tgt, ".1.3.6.1.2.1.1"]
                else:
                    argv = ["snmpget", r.choice(["-v2c", "-v1"]), "-c", "public", "-t", "2", "-r", "0", "-On", tgt] + \
                        r.sample([".1.3.6.1.2.1.1.1.0", ".1.3.6.1.2.1.1.3.0", ".1.3.6.1.2.1.1.5.0", ".1.3.6.1.2.1.1.6.0"], r.randint(1, 3))
                self.event("%s %s" % (argv[0], tgt), [("udp", s4, port, port, "SNMP", "")],
                           lambda: self.client(argv, timeout=4, env={"MIBS": ""}))
            return act
        add(4, snmp(161))
        add(3, snmp(1161))

        # ICMP / ICMPv6: ping (tide pairs request and reply types: one session per exchange)
        def ping(six):
            def act():
                server = s6 if six else s4
                n = r.randint(1, 3)
                argv = ["ping", "-6" if six else "-4", "-c", str(n), "-i", "0.2", "-W", "1", "-s", str(r.choice([56, 56, 100, 200])), server]
                pr = "icmp6" if six else "icmp"
                self.event("ping %s" % server, [(pr, None, 0, 65535, "ICMP", "ICMPv6" if six else "")],
                           lambda: self.client(argv, timeout=5))
            return act
        add(2, ping(False))
        add(2, ping(True))

        # TFTP: tftp-hpa client (request to 69, data from the server's port range)
        def tftp():
            f = "file%d.txt" % r.randint(0, 2)
            self.event("tftp get %s" % f, [("udp", s4, 69, 69, "TFTP", ""), ("udp", s4, TFTP_DATA[0], TFTP_DATA[1], "TFTP", "")],
                       lambda: self.client(["tftp", "-m", "binary", s4, "69", "-c", "get", f, os.path.join(w, "tftp-got")], timeout=5))
        add(3, lambda: tftp())

        # Telnet: inetutils telnet client against inetutils telnetd
        def telnet(port):
            def act():
                self.event("telnet %s:%d" % (s4, port), [("tcp", s4, port, port, "Telnet", "")],
                           lambda: self.client(["sh", "-c", "sleep 1 | telnet %s %d" % (s4, port)], timeout=4))
            return act
        add(2, telnet(23))
        add(2, telnet(2323))

        r.shuffle(acts)
        return acts

    def run(self):
        self.prepare_files()
        missing = self.start_servers()
        if missing and not self.a.keep_going:
            raise SystemExit("servers not ready: %s" % missing)
        time.sleep(0.3)
        acts = self.actions()
        done = 0
        for act in acts:
            if time.monotonic() > self.deadline:
                log("time budget reached after %d of %d actions" % (done, len(acts)))
                break
            act()
            done += 1
        time.sleep(0.5)  # let the last FINs and replies reach the capture
        log("%d client actions, %d with a non-zero exit or timeout" % (done, len(self.failures)))
        for f in self.failures[:20]:
            log("  " + f)
        with open(self.a.events, "w") as f:
            json.dump({"variant": self.a.variant, "seed": self.a.seed, "client4": self.c4, "client6": self.c6,
                       "server4": self.s4, "server6": self.s6, "events": self.events,
                       "failures": self.failures}, f, indent=1)


def cmd_run(a):
    def stop(signum, frame):
        raise SystemExit("stopped by signal %d" % signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    lab = Lab(a)
    try:
        lab.run()
    finally:
        lab.stop_all()


# ---------------------------------------------------------------------------------------------
# minimal inetd: accept, fork, connection on fds 0/1/2, exec the real server
def cmd_inetd(a):
    fam = socket.AF_INET6 if ":" in a.bind else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    s.listen(16)
    s.settimeout(1.0)
    end = time.monotonic() + a.lifetime
    n = 0
    kids = []
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while time.monotonic() < end and n < a.max_conns:
        try:
            c, _ = s.accept()
        except socket.timeout:
            kids = [k for k in kids if os.waitpid(k, os.WNOHANG) == (0, 0)]
            continue
        n += 1
        pid = os.fork()
        if pid == 0:
            s.close()
            c.setblocking(True)
            for fd in (0, 1, 2):
                os.dup2(c.fileno(), fd)
            os.setsid()
            os.execv(a.argv[0], a.argv)
        c.close()
        kids.append(pid)
    for k in kids:
        try:
            os.kill(k, signal.SIGTERM)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------------------------------------
# truth: sessions from the capture, labelled by the events
def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        en = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        en = ">"
    else:
        raise SystemExit("%s: not a pcap file (tcpdump -w writes pcap)" % path)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(en + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack(en + "IIII", data[off:off + 16])
        off += 16
        yield sec + frac / (1e9 if nano else 1e6), linktype, data[off:off + caplen]
        off += caplen


# ICMP/ICMPv6 request/reply pairs (dp_parse.c's icmp_partner): echo, router solicitation/
# advertisement, timestamp, information, address mask; v6 echo, RS/RA, NS/NA.
_PAIRS = {1: [(8, 0), (10, 9), (13, 14), (15, 16), (17, 18)], 58: [(128, 129), (133, 134), (135, 136)]}
ICMP_PARTNER = {p: dict([(a, b) for a, b in v] + [(b, a) for a, b in v]) for p, v in _PAIRS.items()}


def parse_pkt(linktype, d):
    """(family, proto, src, sport, dst, dport, tcp_flags, payload_len) or None, keyed like tide."""
    if linktype == 1:
        if len(d) < 14:
            return None
        et, off = struct.unpack("!H", d[12:14])[0], 14
        while et in (0x8100, 0x88a8) and len(d) >= off + 4:
            et, off = struct.unpack("!H", d[off + 2:off + 4])[0], off + 4
    elif linktype == 113:  # Linux cooked
        et, off = struct.unpack("!H", d[14:16])[0], 16
    elif linktype in (12, 101, 228, 229) and d:  # raw IP (a tunnel device's capture)
        et, off = {4: 0x0800, 6: 0x86DD}.get(d[0] >> 4, 0), 0
    else:
        return None
    if et == 0x0800 and len(d) >= off + 20:
        ihl = (d[off] & 15) * 4
        proto = d[off + 9]
        src, dst = socket.inet_ntop(socket.AF_INET, d[off + 12:off + 16]), socket.inet_ntop(socket.AF_INET, d[off + 16:off + 20])
        frag = struct.unpack("!H", d[off + 6:off + 8])[0] & 0x1fff
        tot = struct.unpack("!H", d[off + 2:off + 4])[0]
        l4, end, fam = off + ihl, off + tot, 4
        if frag:
            return None
    elif et == 0x86DD and len(d) >= off + 40:
        proto = d[off + 6]
        src, dst = socket.inet_ntop(socket.AF_INET6, d[off + 8:off + 24]), socket.inet_ntop(socket.AF_INET6, d[off + 24:off + 40])
        l4, end, fam = off + 40, off + 40 + struct.unpack("!H", d[off + 4:off + 6])[0], 6
        while proto in (0, 43, 60) and len(d) >= l4 + 8:
            proto, l4 = d[l4], l4 + (d[l4 + 1] + 1) * 8
        if proto == 44:
            return None
    else:
        return None
    sp = dp = 0
    flags = 0
    plen = 0
    if proto == 6 and len(d) >= l4 + 14:
        sp, dp = struct.unpack("!HH", d[l4:l4 + 4])
        flags = d[l4 + 13]
        plen = max(0, end - l4 - (d[l4 + 12] >> 4) * 4)
    elif proto == 17 and len(d) >= l4 + 8:
        sp, dp = struct.unpack("!HH", d[l4:l4 + 4])
        plen = max(0, end - l4 - 8)
    elif proto in (1, 58) and len(d) >= l4 + 2:
        # tide's ICMP ports: sport = type; dport = the partner type of a request/reply pair
        # (one session per exchange), else the code
        sp, dp = d[l4], ICMP_PARTNER[proto].get(d[l4], d[l4 + 1])
    return fam, proto, src, sp, dst, dp, flags, plen


PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmp6"}


def sessions(pcap, timeout=60.0):
    """tide-like biflows: canonical 5-tuple, a new session after `timeout` idle or a SYN on a
    TCP session that has closed (FIN both ways or RST)."""
    cur, out = {}, []
    for ts, lt, d in read_pcap(pcap):
        p = parse_pkt(lt, d)
        if not p:
            continue
        fam, proto, src, sp, dst, dp, flags, plen = p
        a, b = (src, sp), (dst, dp)
        key = (proto,) + (a + b if (socket.inet_pton(socket.AF_INET6 if fam == 6 else socket.AF_INET, src), sp) <=
                          (socket.inet_pton(socket.AF_INET6 if fam == 6 else socket.AF_INET, dst), dp) else b + a)
        s = cur.get(key)
        syn_only = proto == 6 and (flags & 0x12) == 0x02
        if s and (ts - s["last"] > timeout or (syn_only and s["closed"])):
            s = None
        if not s:
            s = {"proto": proto, "src": src, "sport": sp, "dst": dst, "dport": dp, "first": ts, "last": ts,
                 "pkts": 0, "fin": set(), "closed": False}
            cur[key] = s
            out.append(s)
        s["last"] = ts
        s["pkts"] += 1
        if proto == 6:
            if flags & 0x04:
                s["closed"] = True
            if flags & 0x01:
                s["fin"].add(src)
                if len(s["fin"]) == 2:
                    s["closed"] = True
    return out


def cmd_truth(a):
    with open(a.events) as f:
        ev = json.load(f)
    events = ev["events"]
    clients = {ev["client4"], ev["client6"]}
    servers = {ev["server4"], ev["server6"]}
    rows, unlabelled = [], []
    for s in sessions(a.pcap):
        pname = PROTO_NAMES.get(s["proto"], str(s["proto"]))
        if s["proto"] in (1, 58):
            # ICMP: tide's key is (sender, type) -> (receiver, partner type or code); keep the sender as src
            server_ep = None
            cli = (s["src"], s["sport"], s["dst"], s["dport"])
        else:
            if s["src"] in servers and s["dst"] in clients:
                cli = (s["dst"], s["dport"], s["src"], s["sport"])
            else:
                cli = (s["src"], s["sport"], s["dst"], s["dport"])
            server_ep = (cli[2], cli[3])
        # the event whose window holds the session's start wins; else the nearest within slack
        label, best = None, None
        for e in events:
            dist = max(0.0, e["t0"] - s["first"], s["first"] - e["t1"])
            if dist > a.slack or (best is not None and dist >= best):
                continue
            for proto, addr, lo, hi, app, sub in e["rules"]:
                if proto != pname:
                    continue
                if server_ep is None:
                    ok = s["sport"] in (0, 8, 128, 129)  # echo request/reply, not errors
                else:
                    ok = (addr is None or addr == server_ep[0]) and lo <= server_ep[1] <= hi
                if ok:
                    label, best = (app, sub, e["what"]), dist
                    break
        if label is None:
            unlabelled.append(s)
            continue
        rows.append((pname, cli[0], cli[1], cli[2], cli[3], label[0], label[1], s["first"], s["last"], label[2]))
    with open(a.out, "w") as f:
        f.write("proto,src_ip,src_port,dst_ip,dst_port,app,sub_app,first_ts,last_ts\n")
        for r in rows:
            f.write("%s,%s,%d,%s,%d,%s,%s,%.6f,%.6f\n" % r[:9])
    apps = {}
    for r in rows:
        k = r[5] + ("/" + r[6] if r[6] else "")
        apps[k] = apps.get(k, 0) + 1
    log("truth: %d labelled sessions, %d unlabelled; %s" % (len(rows), len(unlabelled),
        ", ".join("%s %d" % kv for kv in sorted(apps.items()))))
    for s in unlabelled[:10]:
        log("  unlabelled: %s %s:%s -> %s:%s at %.3f (%d pkts)" % (PROTO_NAMES.get(s["proto"], s["proto"]), s["src"],
            s["sport"], s["dst"], s["dport"], s["first"], s["pkts"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--work", required=True)
    r.add_argument("--events", required=True)
    r.add_argument("--variant", default="train")
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--budget", type=float, default=100.0, help="seconds for the client actions")
    r.add_argument("--srv-ns", required=True)
    r.add_argument("--cli-ns", required=True)
    r.add_argument("--srv4", required=True)
    r.add_argument("--cli4", required=True)
    r.add_argument("--srv6", required=True)
    r.add_argument("--cli6", required=True)
    r.add_argument("--scale", type=float, default=1.5, help="multiplies the number of client actions")
    r.add_argument("--keep-going", action="store_true")
    t = sub.add_parser("truth")
    t.add_argument("--pcap", required=True)
    t.add_argument("--events", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--slack", type=float, default=0.25)
    i = sub.add_parser("inetd")
    i.add_argument("--bind", required=True)
    i.add_argument("--port", type=int, required=True)
    i.add_argument("--lifetime", type=float, default=200)
    i.add_argument("--max-conns", type=int, default=100)
    i.add_argument("argv", nargs="+")
    a = ap.parse_args()
    {"run": cmd_run, "truth": cmd_truth, "inetd": cmd_inetd}[a.cmd](a)


if __name__ == "__main__":
    main()
