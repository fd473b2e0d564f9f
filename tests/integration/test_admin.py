"""The admin HTTP endpoint of the real strata binary, over real TCP:
/healthz, /readyz (draining after SIGTERM, a required Redis going down and
coming back), /metrics (valid Prometheus text whose counters add up after a
known workload) and /stats (the same names as the msgpack `stats`).

Each server listens on --admin.listen=127.0.0.1:0; the port comes from its
log line. Every wait is bounded."""

import http.client
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import unittest

import prom_text
import redis_harness as rh
import strata_harness as h


def admin_port(srv, timeout=5.0):
    def found():
        m = re.search(r"admin HTTP on \S+ \(port (\d+)\)", srv.stderr_text(tail=100000))
        return int(m.group(1)) if m else None
    return h.poll_until(found, timeout, interval=0.02, desc="admin port in the log")


def get(port, path, method="GET", timeout=5.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def scrape(port):
    status, headers, body = get(port, "/metrics")
    assert status == 200, (status, body[:200])
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    return prom_text.parse_exposition(body.decode())


def series(name, **labels):
    if not labels:
        return name
    return "%s{%s}" % (name, ",".join('%s="%s"' % (k, v) for k, v in sorted(labels.items())))


class AdminTest(h.StrataTestCase):
    class_server = False

    def start(self, *extra, **kw):
        srv = self.start_server(["--admin.listen=127.0.0.1:0"] + list(extra), **kw)
        return srv, admin_port(srv)

    def test_routes(self):
        srv, port = self.start()
        status, headers, body = get(port, "/healthz")
        self.assertEqual((status, body), (200, b"ok\n"))
        status, headers, body = get(port, "/readyz")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"ready": True})
        status, _, body = get(port, "/nope")
        self.assertEqual(status, 404)
        status, headers, _ = get(port, "/metrics", method="POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("Allow"), "GET, HEAD")
        status, headers, body = get(port, "/metrics", method="HEAD")
        self.assertEqual((status, body), (200, b""))
        self.assertGreater(int(headers["Content-Length"]), 1000)

    def test_admin_address_in_use_fails_start_cleanly(self):
        import socket
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        d = tempfile.mkdtemp(prefix="strata-admin-")
        self.addCleanup(shutil.rmtree, d, True)
        sock = os.path.join(d, "s.sock")
        r = h.run_strata(h.BASE_ARGS + ["--server.socket=" + sock,
                                        "--admin.listen=127.0.0.1:%d" % port])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("admin.listen 127.0.0.1:%d: address already in use" % port, r.stderr)
        self.assertFalse(os.path.exists(sock), "a socket file was left behind")

    def test_stats_json_matches_protocol_stats(self):
        srv, port = self.start()
        c = self.client(srv)
        c.call("set", b"a", b"1")
        proto = c.stats()
        status, headers, body = get(port, "/stats")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        http_stats = json.loads(body)
        self.assertEqual(set(http_stats), set(proto),
                         "names only in one: %r" % (set(http_stats) ^ set(proto)))
        for name in ("uptime_s", "connections", "requests_total", "errors_total", "l1_items",
                     "l1_bytes", "l1_hits", "l1_misses", "l1_evictions", "l1_expired"):
            self.assertIn(name, http_stats)
        self.assertEqual(http_stats["l1_items"], 1)
        self.assertEqual(http_stats["requests_set_ok"], 1)

    def test_metrics_add_up_after_a_known_workload(self):
        srv, port = self.start()
        c = self.client(srv)
        for i in range(100):
            self.assertTrue(c.call("set", b"k%d" % i, b"v%d" % i))
        hits = sum(1 for i in range(150) if c.call("get", b"k%d" % i) is not None)
        self.assertEqual(hits, 100)
        self.assertEqual(c.call("mget", [b"k1", b"zz"]), [b"v1", None])
        c.call_error("get")  # BAD_ARGS: no key
        c.call_error("nosuch")
        m = scrape(port)
        self.assertEqual(m[series("strata_requests_total", method="set", result="ok")], 100)
        self.assertEqual(m[series("strata_requests_total", method="get", result="ok")], 150)
        self.assertEqual(m[series("strata_requests_total", method="get", result="error")], 1)
        self.assertEqual(m[series("strata_requests_total", method="mget", result="ok")], 1)
        self.assertEqual(m[series("strata_requests_total", method="other", result="error")], 1)
        self.assertEqual(m[series("strata_errors_total", code="bad_args")], 1)
        self.assertEqual(m[series("strata_errors_total", code="unknown_method")], 1)
        # Every key lookup reached L1 exactly once: 150 gets + 2 mget keys.
        l1_hit = m[series("strata_tier_lookups_total", tier="l1", result="hit")]
        l1_miss = m[series("strata_tier_lookups_total", tier="l1", result="miss")]
        self.assertEqual((l1_hit, l1_miss), (101, 51))
        self.assertEqual(m["strata_l1_hits_total"] + m["strata_l1_misses_total"], 152)
        self.assertEqual(m[series("strata_tier_lookup_duration_seconds_count", tier="l1")], 152)
        self.assertGreater(m[series("strata_tier_lookup_duration_seconds_sum", tier="l1")], 0)
        self.assertEqual(m["strata_l1_items"], 100)
        self.assertEqual(m["strata_connections"], 1)
        self.assertEqual(m[series("strata_build_info", version="0.1.0")], 1)
        self.assertEqual(m["strata_ready"], 1)

    def test_write_behind_metrics(self):
        d = tempfile.mkdtemp(prefix="strata-admin-")
        self.addCleanup(shutil.rmtree, d, True)
        srv, port = self.start("--l3.enabled=true", "--l3.path=" + os.path.join(d, "l3"),
                               "--wal.path=" + os.path.join(d, "wal"), "--wal.sync=always")
        c = self.client(srv)
        for i in range(50):
            c.call("set", b"w%d" % i, b"x" * 100)
        h.poll_until(lambda: c.stats()["wb_backlog_records"] == 0 or None, 10, desc="drained")
        m = scrape(port)
        self.assertEqual(m["strata_wal_appended_records_total"], 50)
        self.assertGreaterEqual(m["strata_wal_fsync_duration_seconds_count"], 1)
        self.assertEqual(m["strata_wal_fsync_duration_seconds_count"], m["strata_wal_syncs_total"])
        self.assertEqual(m["strata_wb_batch_records_sum"], 50)
        self.assertEqual(m["strata_wb_drained_records_total"], 50)
        self.assertIn(series("strata_tier_lookups_total", tier="l3", result="hit"), m)

    def test_readyz_flips_while_draining(self):
        srv, port = self.start("--server.shutdown_timeout=3s")
        c = self.client(srv)
        stop = threading.Event()

        def busy():  # keeps one connection active, so the drain lasts
            while not stop.is_set():
                try:
                    c.call("ping")
                except Exception:
                    return
                time.sleep(0.005)
        t = threading.Thread(target=busy)
        t.start()
        try:
            self.assertEqual(get(port, "/readyz")[0], 200)
            srv.signal(signal.SIGTERM)

            def unready():
                try:
                    status, _, body = get(port, "/readyz", timeout=1)
                except OSError:
                    return None
                return body if status == 503 else None
            body = h.poll_until(unready, 3, interval=0.01, desc="/readyz 503 while draining")
            self.assertIn("draining", json.loads(body)["reason"])
            self.assertEqual(get(port, "/healthz")[0], 200)
        finally:
            stop.set()
            t.join(10)
        self.assertIsNotNone(srv.wait_exit(10))


@unittest.skipUnless(rh.available(), "redis-server not installed")
class AdminRedisTest(h.StrataTestCase):
    class_server = False

    def test_readyz_follows_a_required_redis(self):
        r = rh.RedisServer(tcp=True)
        self.addCleanup(r.cleanup)
        self.addCleanup(r.stop)
        r.start()
        srv = self.start_server(["--admin.listen=127.0.0.1:0", "--l2.mode=standalone",
                                 "--l2.endpoints=" + r.tcp_url(), "--l2.required=true",
                                 "--l2.reconnect_base=20ms", "--l2.reconnect_max=100ms"])
        port = admin_port(srv)

        def ready_is(want):
            def check():
                status, _, body = get(port, "/readyz")
                return body if status == want else None
            return check
        h.poll_until(ready_is(200), 10, interval=0.02, desc="ready with Redis up")
        c = self.client(srv)
        c.call("set", b"x", b"1")
        m = scrape(port)
        up = series("strata_l2_endpoint_connections", endpoint="127.0.0.1:%d" % r.port,
                    state="up")
        self.assertGreaterEqual(m[up], 1)

        r.kill9()
        body = h.poll_until(ready_is(503), 10, interval=0.02, desc="503 with Redis down")
        self.assertIn("l2.required", json.loads(body)["reason"])
        self.assertEqual(get(port, "/healthz")[0], 200)
        m = scrape(port)
        down = series("strata_l2_endpoint_connections", endpoint="127.0.0.1:%d" % r.port,
                      state="down")
        self.assertGreaterEqual(m[down], 1)
        self.assertEqual(m["strata_ready"], 0)

        r.restart()
        h.poll_until(ready_is(200), 10, interval=0.02, desc="ready again after Redis is back")


if __name__ == "__main__":
    unittest.main(argv=h.init(sys.argv))
