"""tideclient — a small Python client of tide-control (the Hive), standard library only.

The seed's PyTCI role: a network administrator's script signs in with an application token,
lists links, starts a capture job with a filter and limits, stops it, waits for it and downloads
a verified dataset. No third-party packages: copy this one file next to your script, or put
scripts/ on PYTHONPATH. docs/CLI.md describes it; scripts/examples/anomaly_capture.py uses it.

    from tideclient import Client
    tide = Client("http://127.0.0.1:8080", token="tide_...")   # or TIDE_SERVER / TIDE_TOKEN
    job = tide.create_job("anomaly", links=["local/demo"], filter="udp port 53",
                          max_size="1G", max_duration="10m")
    ...
    tide.stop(job["id"])
    job = tide.wait(job["id"])
    path = tide.download(job["id"], "/data/anomalies")      # extracted and verified

Every request has a timeout, every wait a deadline. Errors raise TideError with the HTTP status
and the server's stable error code (see docs/API.md).
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import ssl
import tarfile
import time
import urllib.parse

__all__ = ["Client", "TideError", "parse_size", "parse_duration"]

TERMINAL = ("done", "partial", "failed", "cancelled")
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class TideError(Exception):
    """An error answer (status, code, message) or a local failure (status 0)."""

    def __init__(self, status, code, message):
        super().__init__("%s (HTTP %s %s)" % (message, status, code) if status else message)
        self.status = status
        self.code = code
        self.message = message


def parse_size(value):
    """10G, 512M, 1.5GiB or an int -> bytes. A mirror of tide's one grammar
    (dataplane/util/tide_units.h, held to tests/data/units.tsv) for early errors; job
    parameters are sent as given and the Hive decides with the C code."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(?:([kmgtKMGT])[iI]?)?[bB]?", str(value))
    if not m:
        raise ValueError("not a size: %r" % (value,))
    v = int(round(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()]))
    if v >= 1 << 64:
        raise ValueError("too large a size: %r" % (value,))
    return v


def parse_duration(value):
    """90, "90s", "15m", "1h30m", "1d" -> seconds (the same grammar, at most 10^9 s)."""
    if isinstance(value, int):
        return value
    parts = re.findall(r"(\d+)([smhdw]?)", str(value))
    if not parts or "".join(a + b for a, b in parts) != str(value):
        raise ValueError("not a duration: %r" % (value,))
    mul = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    v = sum(int(n) * mul[u] for n, u in parts)
    if v > 1000000000:
        raise ValueError("too long a duration: %r" % (value,))
    return v


def _as_sent(value, check):
    """A size or duration for a job body: checked here for an early error, sent as the user
    wrote it so that the Hive's parser (the one every program uses) has the last word."""
    check(value)
    return value


def _app_names(apps):
    """apps as the list a job's body holds: a list as given, or "QUIC, YouTube" split at its
    commas with the blanks around names dropped; the Hive checks the names (the one grammar
    of dataplane/contract/tide_job.h, then the drone's classifier tables)."""
    if isinstance(apps, str):
        return [a.strip() for a in apps.split(",")]
    return list(apps)


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def _safe_relpath(path):
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise TideError(0, "unsafe_path", "the server listed an unsafe path %r" % path)
    return os.path.join(*parts)


class Client:
    """One tide-control. Thread-compatible (a connection per request), not shared state."""

    def __init__(self, server=None, token=None, timeout=30.0, cafile=None, insecure=False):
        self.server = (server or os.environ.get("TIDE_SERVER") or "http://127.0.0.1:8080")
        self.token = token or os.environ.get("TIDE_TOKEN")
        if not self.token:
            raise TideError(0, "no_token", "no token: pass token= or set TIDE_TOKEN")
        u = urllib.parse.urlsplit(self.server)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise TideError(0, "bad_url", "bad server URL %r" % self.server)
        self._https = u.scheme == "https"
        self._host = u.hostname
        self._port = u.port or (443 if self._https else 80)
        self._prefix = u.path.rstrip("/")
        self.timeout = timeout
        self._registry = None
        self._ctx = None
        if self._https:
            self._ctx = ssl.create_default_context(cafile=cafile)
            if insecure:
                self._ctx.check_hostname = False
                self._ctx.verify_mode = ssl.CERT_NONE

    # -- transport ---------------------------------------------------------------------------
    def _conn(self):
        if self._https:
            return http.client.HTTPSConnection(self._host, self._port, timeout=self.timeout,
                                               context=self._ctx)
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)

    def _open(self, method, path, body=None, headers=None):
        """(connection, response) with the body unread; the caller closes the connection."""
        h = {"Authorization": "Bearer " + self.token, "User-Agent": "tideclient.py"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        conn = self._conn()
        try:
            conn.request(method, self._prefix + path, body=data, headers=h)
            return conn, conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise TideError(0, "unreachable", "cannot reach %s: %s" % (self.server, e)) from e

    @staticmethod
    def _raise_for(resp, raw):
        try:
            err = json.loads(raw)["error"]
            code, msg = err.get("code"), err.get("message")
        except (ValueError, KeyError, TypeError):
            code, msg = "http_%d" % resp.status, raw[:200].decode(errors="replace")
        raise TideError(resp.status, code, msg)

    def request(self, method, path, body=None):
        """A JSON request; returns the decoded answer (None for 204)."""
        conn, resp = self._open(method, path, body)
        try:
            raw = resp.read()
        finally:
            conn.close()
        if not 200 <= resp.status < 300:
            self._raise_for(resp, raw)
        return json.loads(raw) if raw else None

    # -- links and jobs ---------------------------------------------------------------------
    def links(self):
        """Every link as a dict with "id" = "drone/name" (plus state, busy, counters, ...)."""
        items = self.request("GET", "/api/v1/links")["items"]
        for link in items:
            link["id"] = "%s/%s" % (link.get("drone", "local"), link["name"])
        return items

    def validate_filter(self, expr, apps=None):
        """True, or raises TideError (422 invalid_filter with libpcap's message). apps (a list
        of application or service names, or "QUIC, YouTube") are checked with it against the
        drone's classifier tables (400 invalid_field naming 'apps' for an unknown name)."""
        body = {"filter": expr} if expr or not apps else {}
        if apps:
            body["apps"] = _app_names(apps)
        return self.request("POST", "/api/v1/jobs/validate", body)["valid"]

    def create_job(self, name, links=None, filter="", max_size="1G", max_duration="1h",
                   snaplen=None, anonymise=False, classify=None, session_type=None,
                   group=None, script=None, script_timeout=None, description=None,
                   validate=True, lookback=None, max_packets=None, shard_size=None,
                   shard_time=None, export=None, apps=None, apps_undecided=None,
                   apps_packets=None, apps_wait=None):
        """Starts a capture job (queued until its links have a free job slot); returns the job.

        lookback: start the dataset up to this long before now ("30s", "5m", at most 1h), from
        what the drone's look-back buffer still holds. max_packets: stop after that many
        packets per link. shard_size ("64M") and shard_time ("10m"): when a shard is closed and
        a new one begun (default 256 MiB, no time limit); closed shards reach the Hive while
        the job runs. export (with classify=True): send each flow record as it ends to a
        collector, "ipfix://HOST[:PORT]" (UDP, 4739), "ipfix+tcp://", "json+tcp://" or
        "json+udp://HOST:PORT"; the job's manifest counts what was sent and lost. apps: keep
        only the sessions of these applications or services (["QUIC", "YouTube"] or
        "QUIC, YouTube"; implies classify=True unless classify=False is given, which the server
        refuses); apps_undecided "keep" or "drop" (default) a session still unidentified when
        its wait ends, at apps_packets packets (1-255, default 32) or apps_wait ("5s", at most
        5 min). The server checks every parameter and names the field it refuses."""
        names = _app_names(apps) if apps else None
        if (filter or names) and validate:
            self.validate_filter(filter, names)
        body = {"name": name, "max_size": _as_sent(max_size, parse_size),
                "max_duration": _as_sent(max_duration, parse_duration)}
        if filter:
            body["filter"] = filter
        links = [links] if isinstance(links, str) else list(links or [])
        if len(links) == 1 and (links[0].startswith("local/") or "/" not in links[0]):
            body["link"] = links[0].split("/", 1)[-1]   # accepted by every tide-control
        elif links:
            body["links"] = links
        for key, val in (("snaplen", snaplen), ("session_type", session_type),
                         ("lookback_s", None if lookback is None
                          else _as_sent(lookback, parse_duration)),
                         ("max_packets", max_packets),
                         ("shard_size", None if shard_size is None
                          else _as_sent(shard_size, parse_size)),
                         ("shard_time", None if shard_time is None
                          else _as_sent(shard_time, parse_duration)),
                         ("export", export or None),
                         ("apps", names), ("apps_undecided", apps_undecided),
                         ("apps_packets", apps_packets),
                         ("apps_wait", None if apps_wait is None
                          else _as_sent(apps_wait, parse_duration)),
                         ("group", group), ("description", description),
                         ("script_timeout", None if script_timeout is None
                          else parse_duration(script_timeout))):
            if val is not None:
                body[key] = val
        if anonymise:
            body["anonymise"] = True
        if classify or session_type or (classify is None and names):
            body["classify"] = True
        if script is not None:
            body["script"] = script.decode() if isinstance(script, bytes) else script
        return self.request("POST", "/api/v1/jobs", body)

    def job(self, job_id):
        return self.request("GET", "/api/v1/jobs/%d" % job_id)

    def counter_registry(self):
        """The Hive's registry of counters, drop reasons (with hints), stop reasons and states
        (GET /api/v1/meta/counters), fetched once per client."""
        if self._registry is None:
            self._registry = self.request("GET", "/api/v1/meta/counters")
        return self._registry

    def drops(self, job):
        """A job's non-zero drops as [(reason, packets, hint)], largest first; job is a job dict
        or an id. The hint says what to do about it (from the Hive's registry)."""
        if not isinstance(job, dict):
            job = self.job(job)
        by = (job.get("counters") or {}).get("drops_by_reason") or {}
        hints = {r["name"]: r["hint"] for r in self.counter_registry()["drop_reasons"]}
        return sorted(((reason, n, hints.get(reason, "")) for reason, n in by.items() if n > 0),
                      key=lambda d: -d[1])

    def jobs(self, limit=100, offset=0):
        return self.request("GET", "/api/v1/jobs?limit=%d&offset=%d" % (limit, offset))["items"]

    def stop(self, job_id):
        return self.request("POST", "/api/v1/jobs/%d/stop" % job_id)

    def cancel(self, job_id):
        return self.request("POST", "/api/v1/jobs/%d/cancel" % job_id)

    def delete(self, job_id):
        self.request("DELETE", "/api/v1/jobs/%d" % job_id)

    def wait(self, job_id, states=TERMINAL, timeout=3600.0, interval=1.0):
        """Polls until the job is in one of states; returns it. TimeoutError at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job["state"] in states:
                return job
            if job["state"] in TERMINAL:
                raise TideError(0, "ended", "job %d ended %s (%s), not %s" % (
                    job_id, job["state"], job.get("reason", ""), "/".join(states)))
            if time.monotonic() + interval > deadline:
                raise TimeoutError("job %d still %s after %ss" % (job_id, job["state"], timeout))
            time.sleep(interval)

    # -- datasets ----------------------------------------------------------------------------
    def files(self, job_id):
        """The dataset listing: [{"path", "size", "sha256" (or None)}]."""
        return self.request("GET", "/api/v1/jobs/%d/files" % job_id)["items"]

    def download_file(self, job_id, path, dest, entry=None, retries=3):
        """One dataset file to dest, resumed from dest + ".part" with Range, verified against
        the listing (size, and sha256 when listed). Returns dest."""
        entry = entry or next((f for f in self.files(job_id) if f["path"] == path), None)
        if entry is None:
            raise TideError(404, "not_found", "job %d has no file %r" % (job_id, path))
        part = dest + ".part"
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        url = "/api/v1/jobs/%d/files/%s" % (job_id, urllib.parse.quote(path))
        for attempt in range(retries + 1):
            have = os.path.getsize(part) if os.path.exists(part) else 0
            if have > entry["size"]:
                have = 0
                open(part, "wb").close()
            if have == entry["size"]:
                break
            headers = {"Range": "bytes=%d-" % have} if have else {}
            conn, resp = self._open("GET", url, headers=headers)
            try:
                if resp.status not in (200, 206):
                    self._raise_for(resp, resp.read())
                with open(part, "ab" if resp.status == 206 else "wb") as out:
                    while True:
                        block = resp.read(1 << 16)
                        if not block:
                            break
                        out.write(block)
            except (OSError, http.client.HTTPException) as e:
                if attempt == retries:
                    raise TideError(0, "incomplete", "%s: download broke off: %s" % (path, e))
            finally:
                conn.close()
        size = os.path.getsize(part)
        if size != entry["size"]:
            raise TideError(0, "incomplete", "%s: %d bytes, the listing says %d" % (
                path, size, entry["size"]))
        if entry.get("sha256") and _sha256_file(part) != entry["sha256"]:
            os.unlink(part)
            raise TideError(0, "sha256_mismatch", "%s: sha256 does not match the listing" % path)
        os.replace(part, dest)
        return dest

    def download(self, job_id, dest_dir, fmt="tar"):
        """The whole dataset through GET /jobs/{id}/archive, every member checked against the
        listing (size and sha256) before it is extracted to dest_dir/job-ID. Returns that
        directory."""
        listing = {f["path"]: f for f in self.files(job_id)}
        os.makedirs(dest_dir, exist_ok=True)
        arch = os.path.join(dest_dir, "job-%d.%s.part" % (job_id, fmt))
        url = "/api/v1/jobs/%d/archive%s" % (job_id, "?format=tar.gz" if fmt == "tar.gz" else "")
        conn, resp = self._open("GET", url)
        try:
            if resp.status != 200:
                self._raise_for(resp, resp.read())
            with open(arch, "wb") as out:
                # http.client decodes chunked bodies and raises IncompleteRead on a cut stream
                shutil.copyfileobj(resp, out, 1 << 16)
        except http.client.IncompleteRead as e:
            os.unlink(arch)
            raise TideError(0, "incomplete", "the archive stream broke off") from e
        finally:
            conn.close()
        prefix = "job-%d/" % job_id
        seen = {}
        with tarfile.open(arch, "r:*") as tar:
            for m in tar:
                if not m.isfile():
                    continue
                if not m.name.startswith(prefix):
                    raise TideError(0, "bad_archive", "unexpected member %r" % m.name)
                h = hashlib.sha256()
                f = tar.extractfile(m)
                for block in iter(lambda: f.read(1 << 16), b""):
                    h.update(block)
                seen[m.name[len(prefix):]] = (m.size, h.hexdigest())
            if set(seen) != set(listing):
                raise TideError(0, "bad_archive", "archive members %s differ from the listing %s"
                                % (sorted(seen), sorted(listing)))
            for path, (size, digest) in seen.items():
                want = listing[path]
                if size != want["size"] or (want.get("sha256") and digest != want["sha256"]):
                    raise TideError(0, "sha256_mismatch", "%s does not match the listing" % path)
            target = os.path.join(dest_dir, "job-%d" % job_id)
            if os.path.exists(target):
                shutil.rmtree(target)
            for m in tar.getmembers():
                _safe_relpath(m.name)
            if hasattr(tarfile, "data_filter"):   # Python 3.11.4+: no links out, no devices
                tar.extractall(dest_dir, filter="data")
            else:
                tar.extractall(dest_dir)
        os.unlink(arch)
        return target

    def capture(self, name, **job_args):
        """A context manager: the job runs while the with-block does, then is stopped.

            with tide.capture("incident", links=["local/demo"], filter="host 10.0.0.1") as job:
                wait_for_the_anomaly_to_end()
        """
        return _Capture(self, name, job_args)


class _Capture:
    def __init__(self, client, name, job_args):
        self.client, self.name, self.job_args, self.job = client, name, job_args, None

    def __enter__(self):
        self.job = self.client.create_job(self.name, **self.job_args)
        return self.job

    def __exit__(self, *exc):
        try:
            state = self.client.job(self.job["id"])["state"]
            if state == "pending":
                self.client.cancel(self.job["id"])
            elif state == "running":
                self.client.stop(self.job["id"])
        except TideError as e:
            if e.code != "invalid_state":   # it ended on its own meanwhile
                raise
        return False
