#!/usr/bin/python3
"""Drive the embedding service: N distinct texts cold, then the same N warm.

Prints cold vs warm p50/mean latency and the speed-up. Exits non-zero if any
warm answer differs from its cold answer, if a request fails, or if the warm
p50 is not at least --min-speedup times faster than the cold p50.

    python3 drive.py --port 8080            # a service that is already running
    python3 drive.py --socket ./strata.sock # start service.py itself (needs Strata up)
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))

WORDS = ("cache latency socket tier vector model query token embed shard "
         "memory disk eviction replica request answer python service").split()


def make_texts(n, nonce):
    # A fresh nonce per run keeps the cold pass cold even if Strata (or a
    # long-running service) already holds answers from an earlier run.
    out = []
    for i in range(n):
        words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(6 + i % 5)]
        out.append("run %s doc %d: %s" % (nonce, i, " ".join(words)))
    return out


class Service:
    """One keep-alive HTTP connection to the service, every call bounded."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None

    def _call(self, method, path, body=None):
        for attempt in (1, 2):               # one retry on a dropped keep-alive
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def embed(self, text):
        t0 = time.perf_counter()
        status, data = self._call("POST", "/embed", json.dumps({"text": text}).encode())
        dt = time.perf_counter() - t0
        if status != 200:
            raise RuntimeError("POST /embed -> %d %s" % (status, data[:200]))
        obj = json.loads(data)
        return obj["embedding"], obj.get("cached"), dt

    def healthz(self):
        status, data = self._call("GET", "/healthz")
        return status, json.loads(data) if status == 200 else data

    def close(self):
        if self.conn is not None:
            self.conn.close()


def start_service(socket_path, timeout):
    """Start service.py on a free port; return (Popen, port)."""
    tmpdir = tempfile.mkdtemp(prefix="strata-drive-")
    port_file = os.path.join(tmpdir, "port")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "service.py"),
                             "--socket", socket_path, "--port", "0", "--port-file", port_file])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("service.py exited with %d" % proc.returncode)
        if os.path.exists(port_file):
            with open(port_file) as f:
                port = int(f.read())
            os.unlink(port_file)
            os.rmdir(tmpdir)
            return proc, port
        time.sleep(0.05)
    proc.kill()
    proc.wait(5)
    raise RuntimeError("service.py did not start within %.0fs" % timeout)


def wait_healthy(svc, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            status, body = svc.healthz()
            if status == 200:
                return body
            last = "status %d" % status
        except OSError as e:
            last = e
            svc.close()
            svc.conn = None
        time.sleep(0.1)
    raise RuntimeError("service not healthy after %.0fs: %s" % (timeout, last))


def summarize(name, lat):
    ms = [x * 1e3 for x in lat]
    p50 = statistics.median(ms)
    mean = statistics.fmean(ms)
    p90 = sorted(ms)[max(0, int(round(0.9 * len(ms))) - 1)]
    print("%-5s n=%-4d p50 %8.2f ms   mean %8.2f ms   p90 %8.2f ms   max %8.2f ms"
          % (name, len(ms), p50, mean, p90, max(ms)))
    return p50, mean


def strata_stats(socket_path):
    """l1_hits/l1_misses straight from Strata, if the client is importable."""
    try:
        from strata_client import Client
        c = Client(socket_path, timeout=2.0, pool_size=1)
        try:
            s = c.stats()
        finally:
            close = getattr(c, "close", None)
            if close:
                close()
        return {k: s.get(k) for k in ("l1_hits", "l1_misses", "l1_items")}
    except Exception as e:                   # stats are a nice-to-have here
        return {"error": str(e)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, help="a running service; omit to start service.py")
    ap.add_argument("--socket", default=os.environ.get("STRATA_SOCKET", "./strata.sock"),
                    help="Strata socket (for starting service.py and reading stats)")
    ap.add_argument("-n", "--n", type=int, default=50, help="distinct texts (default 50)")
    ap.add_argument("--timeout", type=float, default=10.0, help="per-request timeout, s")
    ap.add_argument("--deadline", type=float, default=120.0, help="whole run, s")
    ap.add_argument("--min-speedup", type=float, default=5.0,
                    help="fail unless cold p50 / warm p50 >= this (0 = no check; default 5)")
    ap.add_argument("--nonce", help="text prefix (default: random per run)")
    args = ap.parse_args()
    if not 1 <= args.n <= 100000:
        ap.error("--n must be 1..100000")

    t_start = time.monotonic()
    proc = None
    if args.port is None:
        proc, port = start_service(args.socket, 15.0)
    else:
        port = args.port
    svc = Service(args.host, port, args.timeout)
    failures = []
    try:
        health = wait_healthy(svc, 15.0)
        print("service http://%s:%d healthz: %s" % (args.host, port, json.dumps(health)))
        before = strata_stats(args.socket)
        texts = make_texts(args.n, args.nonce or uuid.uuid4().hex[:8])

        def run_pass(name):
            answers, flags, lat = [], [], []
            for t in texts:
                if time.monotonic() - t_start > args.deadline:
                    raise RuntimeError("deadline of %.0fs passed during the %s pass"
                                       % (args.deadline, name))
                vec, was_cached, dt = svc.embed(t)
                answers.append(vec)
                flags.append(was_cached)
                lat.append(dt)
            return answers, flags, lat

        cold, cold_flags, cold_lat = run_pass("cold")
        warm, warm_flags, warm_lat = run_pass("warm")
        after = strata_stats(args.socket)

        print("%d distinct texts, each %d floats" % (args.n, len(cold[0])))
        c50, cmean = summarize("cold", cold_lat)
        w50, wmean = summarize("warm", warm_lat)
        sp50, spmean = c50 / w50, cmean / wmean
        print("speed-up: p50 %.1fx, mean %.1fx (required p50 >= %gx)"
              % (sp50, spmean, args.min_speedup))
        print("served from cache: cold %d/%d, warm %d/%d"
              % (sum(1 for f in cold_flags if f), args.n, sum(1 for f in warm_flags if f), args.n))
        if "error" not in before and "error" not in after:
            print("strata l1: hits +%s, misses +%s, items %s"
                  % (after["l1_hits"] - before["l1_hits"],
                     after["l1_misses"] - before["l1_misses"], after["l1_items"]))
        else:
            print("strata stats unavailable: %s" % (after.get("error") or before.get("error")))

        mismatched = [i for i in range(args.n) if warm[i] != cold[i]]
        if mismatched:
            failures.append("%d warm answers differ from cold (first: text %d)"
                            % (len(mismatched), mismatched[0]))
        if args.min_speedup > 0 and sp50 < args.min_speedup:
            failures.append("warm p50 only %.1fx faster than cold (need %gx)"
                            % (sp50, args.min_speedup))
        if not mismatched:
            print("answers: all %d warm embeddings identical to cold" % args.n)
    except Exception as e:
        failures.append("%s: %s" % (type(e).__name__, e))
    finally:
        svc.close()
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    for f in failures:
        print("FAIL: " + f)
    print("RESULT: " + ("FAIL" if failures else "PASS"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
