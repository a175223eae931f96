"""test_sandbox — the post-processing sandbox (control/hive/cp_sandbox.c) holds, and tools work in it.

Drives the real module through tests/hive/sandbox_driver (one cp_sandbox_run() per call) on
a data directory laid out like tide-control's: a 0700 data dir holding this job's dataset
(the tide_layout.h layout, with a small pcapng), a sibling job with a secret, a fake tide.db, a listening
control socket (path and abstract), and a TCP listener on the host's loopback. Scripts then try
to escape — network, other jobs, the database, the control socket, writing the dataset,
ptrace/mount/unshare and friends — and hit every limit (time, memory, processes, scratch, log);
a normal script runs capinfos/tshark/python3 and its CSV must appear in processed/ on the host.

Needs root, bubblewrap and unprivileged user namespaces: exits 77 (meson: skipped) without
root or bwrap. Every run is bounded by the driver's own limits plus a subprocess timeout; the
whole file takes about 15 s. Everything lives in one temporary directory, removed at exit.
"""

import errno
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import cplib  # noqa: E402

SECRET = "tide-secret-of-job2-7f3a"
DB_MARK = "tide-db-marker-91c2"
DRIVER_TIMEOUT = 60  # seconds, per run: far above any limit used here


def driver_from_argv():
    if "--driver" in sys.argv:
        i = sys.argv.index("--driver")
        path = sys.argv[i + 1]
        del sys.argv[i:i + 2]
        return os.path.abspath(path)
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "..", "..", "build", "tests", "hive", "sandbox_driver")


DRIVER = driver_from_argv()


def ip_checksum(header):
    s = sum(struct.unpack("!10H", header))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(i):
    payload = b"tide-sandbox-%03d" % i
    src, dst = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2 + i % 3])
    udp = struct.pack("!HHHH", 40000 + i, 53, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + udp


def block(btype, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def write_pcapng(path, count):
    """SHB + IDB (Ethernet) + one EPB per UDP packet: what a tide shard starts with."""
    data = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    data += block(1, struct.pack("<HHI", 1, 0, 65535))
    for i in range(count):
        frame = udp_frame(i)
        ts = (1_700_000_000 + i) * 1_000_000
        data += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame),
                                     len(frame)) + frame)
    with open(path, "wb") as f:
        f.write(data)


def tree_digest(root):
    """sha256 of every file plus the list of every path, below root, except processed/."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == "processed" or rel.startswith("processed" + os.sep):
            continue
        out[rel + "/"] = oct(os.stat(dirpath).st_mode)
        for name in filenames:
            p = os.path.join(dirpath, name)
            with open(p, "rb") as f:
                out[os.path.join(rel, name)] = hashlib.sha256(f.read()).hexdigest()
    return out


def nobody_pids():
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/status" % name) as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if line.split()[1] == "65534":
                            pids.append(int(name))
                        break
        except OSError:
            pass
    return pids


class Env:
    """One temporary tree: <root>/data (0700) as tide-control's data directory."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="tide-sandbox-test-")
        self.data = os.path.join(self.root, "data")
        self.job = os.path.join(self.data, "jobs", "job1")
        self.processed = os.path.join(self.job, "processed")
        self.scripts = os.path.join(self.root, "scripts")
        os.makedirs(self.scripts)
        os.makedirs(os.path.join(self.job, "shards", "drone1", "link1"))
        os.makedirs(os.path.join(self.job, "flows"))
        os.makedirs(self.processed)
        self.shard = os.path.join(self.job, "shards", "drone1", "link1", "000001.pcapng")
        write_pcapng(self.shard, 12)
        with open(os.path.join(self.job, "manifest.json"), "w") as f:
            json.dump({"job": "job1", "packets": 12}, f)
        with open(os.path.join(self.job, "flows", "drone1.csv"), "w") as f:
            f.write("id,src,dst\n1,10.0.0.1,10.0.0.2\n")
        # other jobs, the database and the control socket: world-readable on purpose, so only
        # the sandbox's view (not file modes) can be what hides them
        os.makedirs(os.path.join(self.data, "jobs", "job2"))
        with open(os.path.join(self.data, "jobs", "job2", "secret.txt"), "w") as f:
            f.write(SECRET + "\n")
        with open(os.path.join(self.data, "tide.db"), "wb") as f:
            f.write(b"SQLite format 3\0" + DB_MARK.encode() + b"\0" * 64)
        for dirpath, dirnames, filenames in os.walk(self.data):
            os.chmod(dirpath, 0o755)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o644)
        os.chmod(self.data, 0o700)
        self.sock_path = os.path.join(self.data, "control.sock")
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.sock_path)
        os.chmod(self.sock_path, 0o777)
        self.unix.listen(4)
        self.unix.setblocking(False)
        self.abstract_name = "tide-test-control-%d" % os.getpid()
        self.abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.abstract.bind("\0" + self.abstract_name)
        self.abstract.listen(4)
        self.abstract.setblocking(False)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(4)
        self.tcp.setblocking(False)
        self.port = self.tcp.getsockname()[1]
        self.n = 0

    def run(self, script, *args):
        """Runs script (text) with driver options; returns (result dict, log text)."""
        self.n += 1
        if os.path.isdir(self.processed):
            shutil.rmtree(self.processed)
        os.makedirs(self.processed)
        os.chmod(self.processed, 0o755)
        path = os.path.join(self.scripts, "s%02d.sh" % self.n)
        with open(path, "w") as f:
            f.write(script)
        log = os.path.join(self.root, "log%02d.txt" % self.n)
        cmd = [DRIVER, "--script", path, "--dataset", self.job, "--processed", self.processed,
               "--log", log] + [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=DRIVER_TIMEOUT)
        if p.returncode != 0 or not p.stdout.strip():
            raise AssertionError("driver failed (%d): %s %s" % (p.returncode, p.stdout, p.stderr))
        result = json.loads(p.stdout.strip().splitlines()[-1])
        text = ""
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                text = f.read()
        return result, text

    def nothing_accepted(self):
        for s in (self.tcp, self.unix, self.abstract):
            try:
                conn, _ = s.accept()
                conn.close()
                return False
            except BlockingIOError:
                pass
        return True

    def close(self):
        for s in (self.tcp, self.unix, self.abstract):
            s.close()
        shutil.rmtree(self.root, ignore_errors=True)


ENV = None


def lines_with(text, prefix):
    return [line for line in text.splitlines() if line.startswith(prefix)]


def expect(cond, what, result=None, log=None):
    if not cond:
        raise AssertionError("%s\nresult: %s\nlog:\n%s" % (what, result, (log or "")[-3000:]))


# --- a normal script ----------------------------------------------------------------------

def test_tools_write_processed():
    script = r"""
set -e
capinfos shards/drone1/link1/000001.pcapng
tshark -r shards/drone1/link1/000001.pcapng -T fields -E separator=, -E header=y \
    -e frame.number -e ip.src -e ip.dst -e udp.dstport > processed/packets.csv
python3 - <<'EOF'
import csv, json, os
rows = list(csv.DictReader(open("processed/packets.csv")))
os.makedirs("processed/summary", exist_ok=True)
json.dump({"packets": len(rows), "dsts": sorted({r["ip.dst"] for r in rows})},
          open("processed/summary/summary.json", "w"))
print("python3 ok", len(rows))
EOF
tcpdump -nr shards/drone1/link1/000001.pcapng -c 1 2>/dev/null | head -1
ln -s /etc/passwd processed/link-is-not-kept
echo "id: $(id -u):$(id -g) cwd: $(pwd) env: $(env | sort | tr '\n' ' ')"
"""
    r, log = ENV.run(script, "--timeout", 30)
    expect(r["rc"] == 0 and r["exit_status"] == 0, "script did not succeed", r, log)
    expect(not (r["timed_out"] or r["memory_exceeded"] or r["pids_exceeded"] or
                r["scratch_exceeded"]), "a limit flag is set", r, log)
    expect("Number of packets" in log and "python3 ok 12" in log, "tool output missing", r, log)
    expect("id: 65534:65534 cwd: /job" in log, "wrong identity or cwd", r, log)
    env_line = lines_with(log, "id: ")[0]
    names = sorted(w.split("=")[0] for w in env_line.split("env: ")[1].split())
    expect(names == ["HOME", "LANG", "PATH", "PWD", "TIDE_DATASET", "TIDE_PROCESSED", "TMPDIR"],
           "unexpected environment %s" % names, r, log)
    with open(os.path.join(ENV.processed, "packets.csv")) as f:
        rows = f.read().splitlines()
    expect(len(rows) == 13 and rows[1] == "1,10.0.0.1,10.0.0.2,53", "packets.csv %r" % rows[:2])
    with open(os.path.join(ENV.processed, "summary", "summary.json")) as f:
        summary = json.load(f)
    expect(summary == {"packets": 12, "dsts": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]},
           "summary %r" % summary)
    expect(not os.path.lexists(os.path.join(ENV.processed, "link-is-not-kept")),
           "a symlink was copied out")
    expect(r["processed_files"] == 2 and r["processed_skipped"] == 1, "copy-out counts", r)
    st = os.stat(os.path.join(ENV.processed, "packets.csv"))
    expect(st.st_uid == 0 and (st.st_mode & 0o7777) == 0o644, "copied file owner/mode")


def test_shebang_and_tools_hook():
    tools = os.path.join(ENV.root, "tools")
    os.makedirs(os.path.join(tools, "bin"), exist_ok=True)
    tool = os.path.join(tools, "bin", "tide-flowtool")
    with open(tool, "w") as f:
        f.write("#!/bin/sh\necho flowtool ran with \"$@\"\n")
    os.chmod(tool, 0o755)
    script = "#!/usr/bin/python3\nimport subprocess\n" \
             "print(subprocess.run(['tide-flowtool', 'x'], capture_output=True, text=True).stdout)\n"
    r, log = ENV.run(script, "--tools", tools, "--timeout", 10)
    expect(r["rc"] == 0 and r["exit_status"] == 0 and "flowtool ran with x" in log,
           "tools dir not on PATH or shebang ignored", r, log)


# --- escapes ------------------------------------------------------------------------------

def test_no_network():
    script = r"""
python3 - <<'EOF'
import socket
def attempt(name, fn):
    try:
        fn()
        print("OPEN", name)
    except OSError as e:
        print("BLOCKED", name, e.errno)
attempt("tcp-host-loopback", lambda: socket.create_connection(("127.0.0.1", %d), timeout=2))
attempt("tcp-outside", lambda: socket.create_connection(("192.0.2.1", 80), timeout=2))
attempt("udp-outside", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).connect(("192.0.2.1", 53)))
attempt("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0))
attempt("raw-icmp", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
EOF
ip link show 2>&1 | head -2
echo "interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
""" % ENV.port
    r, log = ENV.run(script, "--timeout", 20)
    expect(r["rc"] == 0, "run failed", r, log)
    expect(not lines_with(log, "OPEN"), "a connection or socket succeeded", r, log)
    expect(len(lines_with(log, "BLOCKED")) == 6, "not every attempt ran", r, log)
    for name in ("packet", "raw-icmp", "netlink"):
        expect("BLOCKED %s %d" % (name, errno.EPERM) in log, name + " not EPERM", r, log)
    expect("interfaces: lo \n" in log + "\n", "interfaces other than lo", r, log)
    expect("Operation not permitted" in log, "ip link did not fail", r, log)
    expect(ENV.nothing_accepted(), "the host listener saw a connection")


def test_other_jobs_database_control_socket_invisible():
    script = r"""
ls -la /job/.. / 2>&1
cat /job/../job2/secret.txt /job/../../tide.db 2>&1
find / -path /proc -prune -o \( -name 'secret.txt' -o -name 'tide.db' -o -name 'control.sock' \
    -o -name 'job2' \) -print 2>/dev/null | sed 's/^/FOUND /'
for p in /proc/1/root /proc/self/root /proc/1/cwd; do ls "$p/.." >/dev/null 2>&1; done
grep -rl "%s" /proc/1/root/job /tmp /etc 2>/dev/null | sed 's/^/LEAK /'
python3 - <<'EOF'
import socket
for name, addr in (("path", "%s"), ("abstract", "\0%s")):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(addr)
        print("OPEN control-socket", name)
    except OSError as e:
        print("BLOCKED control-socket", name, e.errno)
EOF
""" % (SECRET, ENV.sock_path, ENV.abstract_name)
    r, log = ENV.run(script, "--timeout", 30)
    expect(r["rc"] == 0, "run failed", r, log)
    expect(SECRET not in log, "another job's secret leaked", r, log)
    expect(DB_MARK not in log, "the database leaked", r, log)
    expect(not lines_with(log, "FOUND") and not lines_with(log, "LEAK"), "found outside data", r,
           log)
    expect("BLOCKED control-socket path %d" % errno.ENOENT in log, "socket path visible", r, log)
    expect("BLOCKED control-socket abstract %d" % errno.ECONNREFUSED in log,
           "abstract socket reachable", r, log)
    expect(ENV.nothing_accepted(), "the control socket saw a connection")


def test_dataset_read_only():
    before = tree_digest(ENV.job)
    script = r"""
for cmd in "echo x > manifest.json" "echo x >> flows/drone1.csv" "rm -f manifest.json" \
    "mkdir newdir" "touch shards/new" "chmod 777 manifest.json" "mv flows flows2" \
    "ln -s x link" "truncate -s 0 shards/drone1/link1/000001.pcapng" "touch -d 2000-01-01 manifest.json"; do
    if sh -c "$cmd" 2>/dev/null; then echo "WROTE $cmd"; else echo "DENIED $cmd"; fi
done
"""
    r, log = ENV.run(script, "--timeout", 10)
    expect(r["rc"] == 0, "run failed", r, log)
    expect(not lines_with(log, "WROTE") and len(lines_with(log, "DENIED")) == 10,
           "a write to the dataset succeeded", r, log)
    expect(tree_digest(ENV.job) == before, "the dataset changed")


def test_privileged_syscalls_denied():
    script = r"""
grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status
unshare -r true 2>/dev/null && echo "OPEN unshare-tool" || echo "BLOCKED unshare-tool"
mount -t tmpfs none /tmp 2>/dev/null && echo "OPEN mount-tool" || echo "BLOCKED mount-tool"
python3 - <<'EOF'
import ctypes, os, platform
libc = ctypes.CDLL(None, use_errno=True)
nr = {"x86_64": dict(pivot_root=155, keyctl=250, add_key=248, bpf=321, perf_event_open=298,
                     io_uring_setup=425, clone3=435, clone=56, kexec_load=246, init_module=175,
                     userfaultfd=323, ptrace=101),
      "aarch64": dict(pivot_root=41, keyctl=219, add_key=217, bpf=280, perf_event_open=241,
                      io_uring_setup=425, clone3=435, clone=220, kexec_load=104,
                      init_module=105, userfaultfd=282, ptrace=117)}[platform.machine()]
CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, SIGCHLD = 0x20000, 0x10000000, 0x40000000, 17
def sys(name, *args):
    return libc.syscall(nr[name], *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
def attempt(name, fn):
    ctypes.set_errno(0)
    rc = fn()
    if rc == 0 and name.startswith("clone") and os.getpid() != PARENT:
        os._exit(0)
    print("%s %s rc=%d errno=%d" % ("OPEN" if rc >= 0 else "BLOCKED", name, rc, ctypes.get_errno()))
PARENT = os.getpid()
buf = ctypes.create_string_buffer(128)
attempt("ptrace", lambda: sys("ptrace", 0, 0, 0, 0))  # PTRACE_TRACEME
attempt("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
attempt("umount2", lambda: libc.umount2(b"/job", 2))
attempt("pivot_root", lambda: sys("pivot_root", b"/tmp", b"/tmp"))
attempt("unshare-user", lambda: libc.unshare(CLONE_NEWUSER))
attempt("unshare-mount", lambda: libc.unshare(CLONE_NEWNS))
attempt("unshare-net", lambda: libc.unshare(CLONE_NEWNET))
attempt("setns", lambda: libc.setns(os.open("/proc/self/ns/net", os.O_RDONLY), 0))
attempt("clone-newuser", lambda: sys("clone", CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0))
attempt("clone-newnet", lambda: sys("clone", CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0))
attempt("keyctl", lambda: sys("keyctl", 0, -3, 0))  # KEYCTL_GET_KEYRING_ID, session keyring
attempt("add_key", lambda: sys("add_key", b"user", b"tide", b"x", 1, -3))
attempt("bpf", lambda: sys("bpf", 0, buf, 128))
attempt("perf_event_open", lambda: sys("perf_event_open", buf, 0, -1, -1, 0))
attempt("io_uring_setup", lambda: sys("io_uring_setup", 8, buf))
attempt("kexec_load", lambda: sys("kexec_load", 0, 0, 0, 0))
attempt("init_module", lambda: sys("init_module", buf, 16, b""))
attempt("userfaultfd", lambda: sys("userfaultfd", 0))
attempt("clone3", lambda: sys("clone3", buf, 88))
EOF
"""
    r, log = ENV.run(script, "--timeout", 20)
    expect(r["rc"] == 0, "run failed", r, log)
    expect("Seccomp:\t2" in log and "NoNewPrivs:\t1" in log and "CapEff:\t0000000000000000" in log,
           "seccomp, no_new_privs or capabilities not as expected", r, log)
    expect(not lines_with(log, "OPEN"), "an escape primitive worked", r, log)
    blocked = lines_with(log, "BLOCKED")
    expect(len(blocked) == 21, "not every attempt ran (%d)" % len(blocked), r, log)
    for line in blocked:
        name = line.split()[1]
        if name.endswith("-tool"):
            continue
        want = errno.ENOSYS if name == "clone3" else errno.EPERM
        expect(line.endswith("errno=%d" % want), "%s: %s" % (name, line), r, log)


# --- limits -------------------------------------------------------------------------------

def test_wall_clock_sigterm_then_sigkill():
    r, log = ENV.run("while :; do :; done\n", "--timeout", 2, "--grace-ms", 500)
    expect(r["rc"] == 0 and r["timed_out"] and r["exit_status"] == 143 and r["signal"] == 15,
           "SIGTERM at the deadline", r, log)
    expect(2000 <= r["duration_ms"] < 3500, "duration", r, log)
    r, log = ENV.run("trap '' TERM\nwhile :; do :; done\n", "--timeout", 2, "--grace-ms", 500)
    expect(r["rc"] == 0 and r["timed_out"] and r["exit_status"] == -1 and r["signal"] == 9,
           "SIGKILL after the grace period", r, log)
    expect(2500 <= r["duration_ms"] < 4000, "duration", r, log)
    expect("wall-clock limit of 2 s" in log, "log trailer", r, log)


HOG = r"""python3 -c '
l = []
while True:
    l.append(bytearray(16 << 20))
'
echo "hog exit $?"
"""


def test_memory_hog():
    r, log = ENV.run(HOG, "--memory", 128 << 20, "--timeout", 20)
    expect(r["rc"] == 0 and not r["timed_out"], "run failed", r, log)
    if r["limiter"].startswith("cgroup"):
        expect(r["memory_exceeded"] and "hog exit 137" in log, "not OOM-killed", r, log)
    else:
        expect("MemoryError" in log, "the hog got its memory", r, log)
    # the fallback, always: allocations fail, the flag cannot be known
    r, log = ENV.run(HOG, "--memory", 128 << 20, "--timeout", 20, "--rlimit")
    expect(r["rc"] == 0 and r["limiter"] == "rlimit" and not r["timed_out"], "rlimit run", r, log)
    expect("MemoryError" in log and "hog exit 1" in log and not r["memory_exceeded"],
           "RLIMIT_AS did not stop the hog", r, log)


def test_fork_bomb():
    before = set(nobody_pids())
    r, log = ENV.run("f() { f | f & }\nf\nwhile :; do :; done\n", "--timeout", 3, "--procs", 32,
                     "--grace-ms", 500)
    expect(r["rc"] == 0 and r["timed_out"], "the bomb was not stopped by the deadline", r, log)
    if r["limiter"].startswith("cgroup"):
        expect(r["pids_exceeded"], "pids.max hits not reported", r, log)
    deadline = time.monotonic() + 3
    while set(nobody_pids()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    expect(not set(nobody_pids()) - before, "sandbox processes survived the run")


def test_scratch_cap():
    script = r"""
dd if=/dev/zero of=processed/big bs=1M count=64 2>&1 | tail -1
echo "dd exit $?"
dd if=/dev/zero of=/tmp/big bs=1M count=64 2>&1 | tail -1
for f in /newfile /dev/newfile /usr/newfile /etc/newfile; do
    touch "$f" 2>/dev/null && echo "WROTE $f"
done
echo done
"""
    r, log = ENV.run(script, "--scratch", 4 << 20, "--tmp", 2 << 20, "--timeout", 20)
    expect(r["rc"] == 0 and r["scratch_exceeded"] and not r["timed_out"], "scratch flag", r, log)
    expect(not lines_with(log, "WROTE") and "done" in log, "a read-only place was writable", r,
           log)
    size = os.path.getsize(os.path.join(ENV.processed, "big"))
    expect(0 < size <= 4 << 20 and r["processed_bytes"] == size, "copied %d bytes" % size, r, log)
    # many small files: the inode cap
    r, log = ENV.run("i=0; while [ $i -lt 200 ]; do : > processed/f$i || break; i=$((i+1)); done\n"
                     "echo made $i\n", "--inodes", 50, "--timeout", 20)
    expect(r["rc"] == 0 and r["scratch_exceeded"] and r["processed_files"] < 50, "inode cap", r,
           log)


def test_log_cap():
    r, log = ENV.run("python3 -c 'import sys; sys.stdout.write(\"y\" * (3 << 20))'\n",
                     "--log-max", 65536, "--timeout", 20)
    expect(r["rc"] == 0 and r["exit_status"] == 0 and r["log_truncated"], "truncation flag", r)
    expect(r["bytes_out"] == 3 << 20, "bytes_out %d" % r["bytes_out"], r)
    expect(log.startswith("y" * 65536 + "\n[tide-sandbox] output cut at 65536 bytes"),
           "log not cut with a marker", r, log[65530:65700])
    expect(len(log) < 65536 + 1024, "log too long", r)


def test_refuses_bad_input():
    r, log = ENV.run("true\n", "--bwrap", "/nonexistent/bwrap")
    expect(r["rc"] == -errno.ENOENT, "missing bwrap", r, log)
    with open(os.path.join(ENV.root, "dummy"), "w") as f:
        f.write("x")
    r, _ = ENV.run("true\n")
    expect(r["rc"] == 0, "plain run", r)
    with open(os.path.join(ENV.processed, "left-over"), "w") as f:
        f.write("x")
    path = os.path.join(ENV.scripts, "true.sh")
    with open(path, "w") as f:
        f.write("true\n")
    p = subprocess.run([DRIVER, "--script", path, "--dataset", ENV.job, "--processed",
                        ENV.processed, "--log", os.path.join(ENV.root, "log-bad")],
                       capture_output=True, text=True, timeout=DRIVER_TIMEOUT)
    expect(json.loads(p.stdout)["rc"] == -errno.ENOTEMPTY, "non-empty processed_dir", p.stdout)
    p = subprocess.run([DRIVER, "--script", path, "--dataset", os.path.join(ENV.job, "flows"),
                        "--processed", ENV.processed, "--log", os.path.join(ENV.root, "log-bad")],
                       capture_output=True, text=True, timeout=DRIVER_TIMEOUT)
    expect(json.loads(p.stdout)["rc"] == -errno.ENOENT, "dataset without processed/", p.stdout)


def main():
    global ENV
    if os.geteuid() != 0 or not shutil.which("bwrap"):
        print("skipped: needs root and bubblewrap")
        sys.exit(77)
    ENV = Env()
    try:
        cplib.run_tests(globals())
    finally:
        ENV.close()


if __name__ == "__main__":
    main()
