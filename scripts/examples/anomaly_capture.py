#!/usr/bin/env python3
"""anomaly_capture.py — the seed's network-administrator scenario, end to end, with tideclient.

An anomaly detector fires; this script starts a capture on the affected link, keeps it running
while the anomaly lasts, stops it when the anomaly ends, waits for the dataset, downloads it,
verifies every file against the listing's sha256 and prints where the dataset is.

The detector is whatever calls this script. It speaks JSON lines on stdin (--events -):

    {"event": "anomaly_start", "link": "local/demo", "filter": "udp port 53", "id": "dns-flood"}
    {"event": "anomaly_end", "id": "dns-flood"}

or, for a demonstration, --simulate SECS plays one anomaly lasting SECS seconds.

    TIDE_SERVER=http://127.0.0.1:8080 TIDE_TOKEN=tide_... \\
        scripts/examples/anomaly_capture.py --simulate 3 --link local/demo --out /tmp/anomalies

The capture carries its own limits (--max-size, --max-duration), so a detector that never says
"ended" cannot fill the disk. Exit status: 0 with the dataset verified, 1 otherwise.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tideclient import Client, TideError  # noqa: E402


def simulated(link, filt, seconds):
    """One anomaly: starts now, ends after seconds."""
    yield {"event": "anomaly_start", "link": link, "filter": filt, "id": "simulated"}
    time.sleep(seconds)
    yield {"event": "anomaly_end", "id": "simulated"}


def from_stream(stream):
    for line in stream:
        line = line.strip()
        if line:
            yield json.loads(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", help="tide-control URL (default: TIDE_SERVER)")
    ap.add_argument("--token", help="application token (default: TIDE_TOKEN)")
    ap.add_argument("--link", default="local/demo", help="link when the event names none")
    ap.add_argument("--filter", default="", help="filter when the event gives none")
    ap.add_argument("--max-size", default="1G")
    ap.add_argument("--max-duration", default="1h")
    ap.add_argument("--out", default="anomalies", help="where datasets go")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--simulate", type=float, metavar="SECS", help="one anomaly of SECS seconds")
    src.add_argument("--events", metavar="FILE", help="JSON lines from the detector (- = stdin)")
    args = ap.parse_args()

    tide = Client(args.server, args.token)
    links = {link["id"] for link in tide.links()}
    if args.simulate is not None:
        events = simulated(args.link, args.filter, args.simulate)
    else:
        events = from_stream(sys.stdin if args.events == "-" else open(args.events))

    running = {}   # anomaly id -> job
    datasets = []
    for ev in events:
        kind, aid = ev.get("event"), ev.get("id", "anomaly")
        if kind == "anomaly_start" and aid not in running:
            link = ev.get("link") or args.link
            if link not in links:
                print("anomaly %s: no link %s (have %s)" % (aid, link, ", ".join(sorted(links))),
                      file=sys.stderr)
                continue
            job = tide.create_job("anomaly %s" % aid, links=[link],
                                  filter=ev.get("filter", args.filter),
                                  max_size=args.max_size, max_duration=args.max_duration,
                                  classify=True, description="started by anomaly_capture.py")
            running[aid] = job
            print("anomaly %s: capturing on %s as job %d" % (aid, link, job["id"]), flush=True)
        elif kind == "anomaly_end" and aid in running:
            job = running.pop(aid)
            try:
                # a capture takes a moment to start (or waits for a busy link): give it 10 s
                tide.wait(job["id"], states=("running", "finishing", "processing", "done",
                                             "failed", "cancelled"), timeout=10, interval=0.2)
            except TimeoutError:
                tide.cancel(job["id"])
                print("anomaly %s: over before job %d could start; cancelled" % (aid, job["id"]),
                      file=sys.stderr)
                continue
            try:
                tide.stop(job["id"])
            except TideError as e:
                if e.code != "invalid_state":   # it may have hit its own limits already
                    raise
            job = tide.wait(job["id"], timeout=600)
            print("anomaly %s: job %d %s (%s)" % (aid, job["id"], job["state"],
                                                  job.get("reason", "")), flush=True)
            if job["state"] != "done":
                continue
            path = tide.download(job["id"], args.out)
            datasets.append(path)
            print("dataset: %s" % path, flush=True)
    for aid, job in running.items():   # the detector went away mid-anomaly
        print("anomaly %s: no end event; job %d keeps its own limits" % (aid, job["id"]),
              file=sys.stderr)
    return 0 if datasets else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except TideError as e:
        print("anomaly_capture: %s" % e, file=sys.stderr)
        sys.exit(1)
