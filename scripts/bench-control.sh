#!/usr/bin/env bash
# scripts/bench-control.sh — the control plane benchmark (docs/BENCHMARKS.md). Prints figures;
# never fails on them.
#
# Starts tide-control as shipped (default settings: 128 threads, access log on, WAL with
# synchronous=FULL) on a free loopback port with a fresh data directory, signs in, makes an
# application token and points wrk (64 connections, 2 threads, 10 s, --latency) at an
# authenticated GET with `Authorization: Bearer` — every request resolves the token (SHA-256
# and an indexed SELECT), loads the user's permissions and builds the answer from SQLite.
# RUNS runs; prints requests/s and p99 latency of each and the median.
#
# CAPTURE=1 (issue 4's figure): a capture job runs on the local drone's demo link the whole time
# (filter "icmp": every replayed packet is received and filtered, few are written), wrk hits
# the job list and the job's status, and the job's drop counters are read before and after.
#
# ATTACK=1 (issue 10's figure): the same wrk runs twice, first alone, then while 16 silent
# WebSocket clients hold the drone port (no frames, or only pings) and a slowloris client holds
# 16 API connections (a header line every 2 s); prints both medians and their ratio.
#
# Env: RUNS (default 3), DURATION (default 10s), CONNECTIONS (default 64), CAPTURE (default 0),
#      ATTACK (default 0),
#      ENDPOINT (default /api/v1/auth/me), TIDE_CONTROL (default build/control/hive/tide-control),
#      SETUP=0 to skip scripts/setup.sh. Extra arguments go to tide-control.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
RUNS="${RUNS:-3}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
ENDPOINT="${ENDPOINT:-/api/v1/auth/me}"
BIN="${TIDE_CONTROL:-build/control/hive/tide-control}"

[ "${SETUP:-1}" = 0 ] || bash scripts/setup.sh >/dev/null
if ! command -v wrk >/dev/null; then
	echo "bench-control.sh: wrk is missing (apt-get install wrk)" >&2
	exit 1
fi
[ -x "$BIN" ] || { echo "bench-control.sh: no $BIN (build first)" >&2; exit 1; }

work=$(mktemp -d /tmp/tide-bench-control.XXXXXX)
pid=
cleanup() {
	[ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
	rm -rf "$work"
}
trap cleanup EXIT

password=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
TIDE_ADMIN_PASSWORD="$password" "$BIN" --listen 127.0.0.1:0 --data-dir "$work/data" "$@" \
	> "$work/stdout" 2> "$work/stderr" &
pid=$!
port=
for _ in $(seq 200); do
	port=$(sed -n 's/^tide-control listening on http port \([0-9]*\)$/\1/p' "$work/stdout")
	drone_port=$(sed -n 's/^tide-control drones on wss\{0,1\} port \([0-9]*\)$/\1/p' "$work/stdout")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || { cat "$work/stderr" >&2; exit 1; }
	sleep 0.1
done
[ -n "$port" ] || { echo "bench-control.sh: tide-control did not start" >&2; exit 1; }

token=$(python3 - "$port" "$password" <<'PY'
import http.client, json, sys
port, password = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
c.request("POST", "/api/v1/auth/login", json.dumps({"username": "admin", "password": password}),
          {"Content-Type": "application/json"})
r = c.getresponse()
login = json.load(r)
cookie = r.getheader("Set-Cookie").split(";")[0]
c.request("POST", "/api/v1/tokens", json.dumps({"name": "bench"}),
          {"Content-Type": "application/json", "Cookie": cookie,
           "X-CSRF-Token": login["csrf_token"]})
print(json.load(c.getresponse())["token"])
PY
)

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
# wrk prints latencies as 812.00us / 3.41ms / 1.02s; convert to ms
to_ms() {
	awk '{v = $1
	      if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
	      else if (v ~ /ms$/) { sub(/ms$/, "", v) }
	      else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
	      printf "%.2f\n", v}'
}

job_counters() { # prints "received drops" of job $1
	curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/jobs/$1" |
		python3 -c 'import json,sys; c=json.load(sys.stdin)["counters"]; print(c.get("received",0), c.get("drops",0))'
}
endpoints="$ENDPOINT"
if [ "${CAPTURE:-0}" = 1 ]; then
	for _ in $(seq 100); do # the local drone dials in just after the start
		curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/links" |
			grep -q '"online"' && break
		sleep 0.2
	done
	job=$(curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-d '{"name":"bench","filter":"icmp","max_size":1073741824,"max_duration":3600}' \
		"http://127.0.0.1:$port/api/v1/jobs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	for _ in $(seq 100); do
		curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/jobs/$job" |
			grep -q '"state":"running"' && break
		sleep 0.2
	done
	sleep 3 # counters flowing
	# the same capture without load first: its drops are the baseline
	read -r rxa dropsa <<< "$(job_counters "$job")"
	sleep "${DURATION%s}"
	read -r rx0 drops0 <<< "$(job_counters "$job")"
	echo "capture alone for $DURATION: $((rx0 - rxa)) packets received, $((drops0 - dropsa)) dropped"
	endpoints="/api/v1/jobs /api/v1/jobs/$job"
	echo "== capture job $job running on local/demo (filter icmp) during the runs =="
fi
# ATTACK=1: 16 silent WebSocket clients on the drone port (half only ping) and 16 slowloris
# connections on the API port, reopened when the Hive closes them; stops by itself after
# LIFETIME seconds or when killed.
attack() {
	python3 - "$port" "$drone_port" "$1" <<'PY' &
import base64, os, signal, socket, sys, threading, time
api, drones, lifetime = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
end = time.monotonic() + lifetime
def stop(*_):
    global end
    end = 0
signal.signal(signal.SIGTERM, stop) # finish the loops and report
opened = {"ws": 0, "slow": 0}
def ws_client(ping):
    while time.monotonic() < end:
        try:
            s = socket.create_connection(("127.0.0.1", drones), timeout=5)
            key = base64.b64encode(os.urandom(16)).decode()
            s.sendall(("GET /api/v1/drones/connect HTTP/1.1\r\nHost: x\r\nUpgrade: websocket"
                       "\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
            opened["ws"] += 1
            s.settimeout(1)
            while time.monotonic() < end:
                if ping:
                    s.sendall(b"\x89\x80" + os.urandom(4))
                try:
                    if s.recv(4096) == b"":
                        break
                except socket.timeout:
                    pass
            s.close()
        except OSError:
            pass
        time.sleep(1) # closed or refused: back a second later, like a client that insists
def slowloris():
    while time.monotonic() < end:
        try:
            s = socket.create_connection(("127.0.0.1", api), timeout=5)
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n")
            opened["slow"] += 1
            i = 0
            while time.monotonic() < end:
                time.sleep(2)
                s.sendall(b"X-Slow-%d: y\r\n" % i)
                i += 1
        except OSError:
            pass
threads = [threading.Thread(target=ws_client, args=(i % 2 == 1,), daemon=True)
           for i in range(16)]
threads += [threading.Thread(target=slowloris, daemon=True) for _ in range(16)]
for t in threads:
    t.start()
while time.monotonic() < end:
    time.sleep(1)
cpu = os.times()
print("attackers opened %d WebSockets and %d slowloris connections, using %.1f s of CPU" % (
      opened["ws"], opened["slow"], cpu.user + cpu.system))
PY
	attacker=$!
}

for ENDPOINT in $endpoints; do
for phase in alone attacked; do
[ "$phase" = alone ] || [ "${ATTACK:-0}" = 1 ] || continue
if [ "$phase" = attacked ]; then
	attack $(( (${DURATION%s} + 2) * RUNS + 10 ))
	sleep 3 # every attacker connected
	echo "== under attack: 16 silent WebSockets on the drone port, 16 slowloris connections =="
fi
echo "== tide-control: GET $ENDPOINT, bearer token, $CONNECTIONS connections, $DURATION x $RUNS =="
echo "   ($(nproc) CPUs; wrk and tide-control share them)"
: > "$work/rps"
: > "$work/p99"
for run in $(seq "$RUNS"); do
	wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -H "Authorization: Bearer $token" \
		"http://127.0.0.1:$port$ENDPOINT" > "$work/wrk.$run"
	rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.$run")
	p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.$run" | to_ms)
	errors=$(awk '/Non-2xx|Socket errors/' "$work/wrk.$run" | tr -s ' ' | paste -sd ';' -)
	printf "run %d: %10.0f requests/s   p99 %6.2f ms%s\n" "$run" "$rps" "$p99" \
		"${errors:+   ($errors)}"
	echo "$rps" >> "$work/rps"
	echo "$p99" >> "$work/p99"
done
rps_med=$(median < "$work/rps")
p99_med=$(median < "$work/p99")
printf "median: %8.0f requests/s   p99 %6.2f ms\n" "$rps_med" "$p99_med"
if [ "$phase" = alone ]; then
	rps_alone=$rps_med
	p99_alone=$p99_med
else
	kill "$attacker" 2>/dev/null || true
	wait "$attacker" 2>/dev/null || true
	awk -v a="$rps_alone" -v b="$rps_med" -v pa="$p99_alone" -v pb="$p99_med" 'BEGIN {
		printf "under attack / alone: requests/s %.2fx, p99 %.2fx\n", b / a, pb / pa }'
	grep -c "refused" "$work/data/tide-control.log" |
		sed 's/^/log lines about refused connections: /' || true
fi
done
done
if [ "${CAPTURE:-0}" = 1 ]; then
	read -r rx1 drops1 <<< "$(job_counters "$job")"
	echo "capture during the runs: $((rx1 - rx0)) packets received, $((drops1 - drops0)) dropped"
fi
