#!/usr/bin/env python3
"""scripts/bench-drone.py — the always-on drone's benchmark (docs/BENCHMARKS.md). Prints
figures; never fails on them.

 1. pipeline: `tide-bench pipeline --jobs N` (N = 1, 2, 4, 8 concurrent jobs on one link, each
    with its own JIT filter keeping every packet: refcount sharing and N writer rings), 64 B
    and IMIX; Mpps per worker core, median of RUNS.
 2. idle: CPU used by a drone whose link is quiet (a TAP device nobody sends to) with the
    default back-off, then with busy_poll; and by a drone on the paced demo link with no job.
 3. job start: JOBS jobs one after the other on the demo link through the real Hive: the
    drone's own "start message → filter live" time (its log), POST → the Hive's started_at,
    and POST → the dataset's first packet; median and p99.
 4. writer: `tide-bench writer` (the shard writer alone, its write and SHA-256 helper threads
    beside it): 64-byte packets into tmpfs (Mpps per CPU second of the writer's core, of all
    three threads, and wall clock), then 1500-byte packets to the real disk (MB/s, fsync and
    SHA-256 of each shard included) against `dd oflag=direct` writing as many bytes to the same
    disk in the same run, alternating.

Usage: python3 scripts/bench-drone.py [--build build] [--runs 3] [--jobs 20]
Needs root (TAP device, hugepages for the pipeline part).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))
import cplib  # noqa: E402
import pcapio  # noqa: E402


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))] if xs else float("nan")


def hugepages():
    try:
        with open("/proc/sys/vm/nr_hugepages") as f:
            if int(f.read()) < 512:
                with open("/proc/sys/vm/nr_hugepages", "w") as w:
                    w.write("512")
        os.makedirs("/dev/hugepages", exist_ok=True)
        if subprocess.run(["mountpoint", "-q", "/dev/hugepages"]).returncode != 0:
            subprocess.run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"], check=False)
    except OSError as e:
        print("  (no hugepages: %s)" % e)


def pipeline(build, runs):
    print("== pipeline: concurrent jobs on one link, filter 'ip' (every job keeps every packet),"
          " 1 worker core, median of %d runs of 3 s ==" % runs)
    for size in ("64", "imix"):
        for jobs in (1, 2, 4, 8):
            mpps = []
            for _ in range(runs):
                out = subprocess.run([os.path.join(build, "dataplane", "bench", "tide-bench"), "pipeline", "-l", "0-1",
                                      "--", "--size", size, "--flows", "100000", "--seconds", "3",
                                      "--filter", "ip", "--jobs", str(jobs)],
                                     capture_output=True, text=True).stdout
                m = re.search(r"^RESULT .*mpps=([0-9.]+)", out, re.M)
                if m:
                    mpps.append(float(m.group(1)))
            print("  %-4s jobs=%d  %6.2f Mpps per worker core" % (size, jobs, median(mpps)))


def drone_pid(h):
    out = subprocess.run(["pgrep", "-P", str(h.proc.pid), "-f", "tide-dataplane"], capture_output=True,
                         text=True).stdout.split()
    return int(out[0]) if out else None


def cpu_share(pid, seconds=10.0):
    def ticks():
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    hz = os.sysconf("SC_CLK_TCK")
    t0, c0 = time.monotonic(), ticks()
    time.sleep(seconds)
    return 100.0 * (ticks() - c0) / hz / (time.monotonic() - t0)


def wait(what, fn, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.3)
    raise SystemExit("bench-drone: timed out waiting for " + what)


def online(c):
    items = c.get("/api/v1/drones").json["items"]
    return any(d["name"] == "local" and d["state"] == "online" for d in items)


def idle(build):
    print("== idle: the drone's CPU, % of one core over 10 s ==")
    for label, links, tuning in (
            ("quiet TAP link, back-off (default)", "idle=vdev:net_tap0,iface=tidebench0", None),
            ("quiet TAP link, busy_poll", "idle=vdev:net_tap0,iface=tidebench0",
             {"busy_poll": True}),
            ("paced demo link (200 Mbit/s), no job", "demo=demo", None)):
        with cplib.Hive(os.path.join(build, "control", "hive", "tide-control"),
                        args=["--dataplane-path", os.path.join(build, "dataplane", "tide-dataplane"),
                              "--local-links", links]) as h:
            c = cplib.admin(h)
            wait("the local drone", lambda: online(c))
            if tuning:
                d = [d for d in c.get("/api/v1/drones").json["items"] if d["name"] == "local"][0]
                c.request("PUT", "/api/v1/drones/%d/tuning" % d["id"], tuning)
                wait("the new tuning", lambda: c.get("/api/v1/drones/%d/tuning" % d["id"]).json
                     .get("applied", {}).get("busy_poll") is True and online(c))
            time.sleep(3)
            pid = wait("the drone's pid", lambda: drone_pid(h))
            print("  %-40s %6.1f %%" % (label, cpu_share(pid)))


def job_start(build, n):
    print("== job start on the demo link, %d jobs one after the other ==" % n)
    live_ms, post_started, post_first = [], [], []
    with cplib.Hive(os.path.join(build, "control", "hive", "tide-control"),
                    args=["--dataplane-path", os.path.join(build, "dataplane", "tide-dataplane")]) as h:
        c = cplib.admin(h)
        wait("the local drone", lambda: online(c))
        time.sleep(2)
        for i in range(n):
            t_post = time.time()
            j = c.post("/api/v1/jobs", {"name": "start %d" % i, "max_size": 64 << 20,
                                        "max_duration": 1}).json
            done = wait("job %d" % j["id"], lambda: (lambda x: x if x["state"] in (
                "done", "partial", "failed") else None)(c.get("/api/v1/jobs/%d" % j["id"]).json))
            started = time.mktime(time.strptime(done["started_at"][:19], "%Y-%m-%dT%H:%M:%S")) \
                - time.timezone + float("0." + done["started_at"][20:23])
            post_started.append((started - t_post) * 1e3)
            d = os.path.join(h.data_dir, "jobs", str(j["id"]), "shards", "local", "demo")
            first = min((pcapio.read_records(os.path.join(d, f))[0].ts_ns
                         for f in sorted(os.listdir(d)) if f.endswith(".pcapng")), default=None)
            if first:
                post_first.append((first / 1e9 - t_post) * 1e3)
        with open(os.path.join(h.data_dir, "drone-local.log"), errors="replace") as f:
            live_ms = [float(x) for x in re.findall(r"live ([0-9.]+) ms after the start", f.read())]
    for label, xs in (("drone: start message -> filter live", live_ms),
                      ("Hive: POST -> started_at", post_started),
                      ("POST -> first packet in the dataset", post_first)):
        print("  %-40s median %8.2f ms   p99 %8.2f ms   (n=%d)" % (label, median(xs), p99(xs),
                                                                   len(xs)))


def writer(build, runs, disk_dir):
    import shutil
    import tempfile
    bench = os.path.join(build, "dataplane", "bench", "tide-bench")

    def run(target, size, packets):
        shutil.rmtree(target, ignore_errors=True)
        out = subprocess.run([bench, "writer", target, "--size", str(size), "--packets",
                              str(packets)], capture_output=True, text=True).stdout
        shutil.rmtree(target, ignore_errors=True)
        m = re.search(r"RESULT .*mpps=([0-9.]+) mpps_cpu=([0-9.]+) mpps_proc=([0-9.]+) "
                      r"mbps=([0-9.]+)", out)
        return tuple(float(x) for x in m.groups()) if m else (float("nan"),) * 4
    print("== writer: median of %d runs ==" % runs)
    shm = tempfile.mkdtemp(prefix="tide-writer-", dir="/dev/shm")
    r = [run(os.path.join(shm, "w"), 64, 20000000) for _ in range(runs)]
    os.rmdir(shm)
    print("  tmpfs, 64 B:   %6.2f Mpps per writer-core CPU second (goal 14.88)\n"
          "                 %6.2f Mpps per CPU second of all threads (write + SHA-256 helpers)\n"
          "                 %6.2f Mpps wall clock (%6.1f MB/s)" % (
              median([x[1] for x in r]), median([x[2] for x in r]), median([x[0] for x in r]),
              median([x[3] for x in r])))
    os.makedirs(disk_dir, exist_ok=True)
    packets = 1000000  # 1.5 GB of 1500-byte packets: past the page cache's dirty limit
    tide, dd = [], []
    for _ in range(runs):
        tide.append(run(os.path.join(disk_dir, "w"), 1500, packets)[3])
        f = os.path.join(disk_dir, "dd.bin")
        t0 = time.monotonic()
        subprocess.run(["dd", "if=/dev/zero", "of=" + f, "bs=1M", "count=%d" % (1500 * packets >> 20),
                        "oflag=direct", "conv=fsync"], capture_output=True)
        dd.append((1500 * packets >> 20) * 1048576 / (time.monotonic() - t0) / 1e6)
        os.unlink(f)
    ratios = [t / d for t, d in zip(tide, dd)]
    print("  disk, 1500 B:  tide %7.1f MB/s   dd oflag=direct %7.1f MB/s   ratio of medians %.2f"
          "   median of per-run ratios %.2f (goal 0.9)" % (
              median(tide), median(dd), median(tide) / median(dd), median(ratios)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--only", choices=("pipeline", "idle", "start", "writer"))
    ap.add_argument("--disk-dir", default=os.path.join(ROOT, "build", "bench-disk"),
                    help="a directory on the disk to measure (default: under build/)")
    a = ap.parse_args()
    hugepages()
    if a.only in (None, "pipeline"):
        pipeline(a.build, a.runs)
    if a.only in (None, "idle"):
        idle(a.build)
    if a.only in (None, "start"):
        job_start(a.build, a.jobs)
    if a.only in (None, "writer"):
        writer(a.build, a.runs, a.disk_dir)


if __name__ == "__main__":
    main()
