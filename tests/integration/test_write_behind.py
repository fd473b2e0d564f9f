"""Write-behind (the default write path) through the real strata binary, with a
real redis-server as L2 and RocksDB as L3: acknowledgement and
read-your-writes, the drain to Redis (bytes, prefix, TTL), warm restarts
served from L3, a Redis that is down (backlog, retries, pending map, deletes
that hide Redis's old value), write "through" (waits for every tier, or code
6 after wal.through_timeout), coalescing, and the wal.max_bytes bound (code 7).

Each test starts its own redis-server and strata with --l3.path and
--wal.path inside the test's own temp dir; every wait is bounded."""

import os
import shutil
import sys
import tempfile
import time
import unittest

import strata_harness as h
import redis_harness as rh
from strata_harness import OVERLOADED, TIMEOUT

PREFIX = b"wb:"


K = h.unique_key


@unittest.skipUnless(rh.available(), "redis-server not installed")
class WriteBehindTestCase(h.StrataTestCase):
    """No class server: each test starts a redis-server and a strata whose
    L3 and WAL live in the test's temp dir (kept across strata restarts)."""

    class_server = False

    def setUp(self):
        super().setUp()
        self.data = tempfile.mkdtemp(prefix="strata-wb-")
        self.addCleanup(shutil.rmtree, self.data, True)
        self.l3_path = os.path.join(self.data, "l3")
        self.wal_path = os.path.join(self.data, "wal")

    def start_redis(self, **kw):
        return rh.start_for(self, **kw)

    def wb_args(self, redis=None, l3=True, args=()):
        a = ["--l3.enabled=%s" % ("true" if l3 else "false"),
             "--l3.path=%s" % self.l3_path,
             "--wal.path=%s" % self.wal_path]
        if redis is not None:
            a += ["--l2.mode=standalone", "--l2.endpoints=%s" % redis.unix_url,
                  "--l2.key_prefix=%s" % PREFIX.decode(),
                  # a dead Redis is noticed fast and retried often
                  "--l2.reconnect_base=20ms", "--l2.reconnect_max=200ms",
                  "--l2.breaker_open=100ms", "--l2.breaker_max_open=300ms"]
        else:
            a += ["--l2.mode=off"]
        return a + list(args)

    def start_wb(self, redis=None, l3=True, args=(), **kw):
        return self.start_server(self.wb_args(redis, l3, args), **kw)

    def stop_checked(self, srv):
        rc, killed = srv.stop()
        self.assertEqual((rc, killed), (0, False),
                         "strata did not exit 0 on SIGTERM\n" + srv.stderr_text())

    def redis_client(self, r):
        rc = r.client()
        self.addCleanup(rc.close)
        return rc

    def wait_drained(self, c, timeout=15.0):
        def drained():
            st = c.stats()
            return st if st["wb_backlog_records"] == 0 and st["pending_writes"] == 0 else None
        return h.poll_until(drained, timeout, interval=0.02, desc="backlog drained")

    def assertAbout(self, value, expected, below, above=0, msg=None):
        self.assertIsInstance(value, int, msg)
        self.assertTrue(expected - below <= value <= expected + above,
                        "%s: %r not in [%r, %r]" % (msg or "value", value, expected - below,
                                                     expected + above))


# ---------------------------------------------------------------------------
class DefaultPathTest(WriteBehindTestCase):
    def test_ack_read_your_writes_drain_and_warm_restart(self):
        r = self.start_redis()
        rc = self.redis_client(r)
        s = self.start_wb(r)
        c = self.client(s)
        st = c.stats()
        for name in ["wal_appended_records", "wal_backlog_bytes", "wal_syncs", "wal_checkpoint",
                     "wb_journaled", "wb_backlog_records", "wb_drained_records", "wb_coalesced",
                     "wb_retries", "pending_writes", "l3_disk_bytes"]:
            self.assertIn(name, st)
        k, kt = K(), K("ttl")
        v = bytes(range(256)) * 4
        self.assertIs(c.call("set", k, v), True)
        self.assertEqual(c.call("get", k), v, "read-your-writes right after the ack")
        self.assertIs(c.call("set", kt, b"with-ttl", {"ttl_ms": 60000}), True)
        self.assertEqual(c.call("get", kt), b"with-ttl")
        # the drain reaches Redis: raw bytes under the prefix, PTTL from the ttl
        h.poll_until(lambda: rc.call("GET", PREFIX + k) == v, 5.0, desc="value in redis")
        self.assertEqual(rc.call("PTTL", PREFIX + k), -1)
        self.assertIsNone(rc.call("GET", k), "nothing stored without the prefix")
        h.poll_until(lambda: rc.call("GET", PREFIX + kt) == b"with-ttl", 5.0, desc="ttl key")
        self.assertAbout(rc.call("PTTL", PREFIX + kt), 60000, 3000, msg="PTTL in redis")
        st = self.wait_drained(c)
        self.assertGreaterEqual(st["wb_journaled"], 2)
        self.assertGreaterEqual(st["wb_drained_records"], 2)
        self.assertGreaterEqual(st["wal_appended_records"], 2)
        # warm restart with no L2: served from L3 (L1 starts empty, nothing to replay)
        self.stop_checked(s)
        s2 = self.start_wb(None)
        c2 = self.client(s2)
        self.assertEqual(c2.call("get", k), v, "served from L3 after restart")
        self.assertEqual(c2.call("get", kt), b"with-ttl")
        self.assertAbout(c2.call("ttl", kt), 60000, 5000, msg="ttl kept in L3")
        st2 = c2.stats()
        self.assertEqual(st2["wal_replayed_records"], 0, "SIGTERM drained everything")
        self.stop_checked(s2)
        # and with L2 pointed at a dead endpoint: still served from L3
        dead = os.path.join(self.data, "no-redis.sock")
        s3 = self.start_server(self.wb_args(None, args=[
            "--l2.mode=standalone", "--l2.endpoints=unix://%s" % dead,
            "--l2.key_prefix=%s" % PREFIX.decode(), "--l2.command_timeout=100ms"]))
        c3 = self.client(s3)
        self.assertEqual(c3.call("get", k), v, "served from L3 with L2 dead")

    def test_sigterm_with_backlog_replays_on_start(self):
        # Redis down at shutdown: the backlog stays in the WAL, is replayed at
        # the next start (readable at once) and drains when Redis is back.
        r = self.start_redis()
        rc = self.redis_client(r)
        s = self.start_wb(r, l3=False)
        c = self.client(s)
        r.kill9()
        keys = [K("replay") for _ in range(50)]
        for i, k in enumerate(keys):
            self.assertIs(c.call("set", k, b"v%d" % i), True)
        self.stop_checked(s)
        s2 = self.start_wb(r, l3=False)
        c2 = self.client(s2)
        st = c2.stats()
        self.assertGreaterEqual(st["wal_replayed_records"], 50)
        self.assertEqual(c2.call("mget", keys), [b"v%d" % i for i in range(50)])
        r.restart()
        self.wait_drained(c2)
        rc = self.redis_client(r)
        for i, k in enumerate(keys):
            self.assertEqual(rc.call("GET", PREFIX + k), b"v%d" % i)


class RedisDownTest(WriteBehindTestCase):
    def test_read_your_writes_while_l2_down(self):
        # L3 off, so that only the pending map can answer once L1 evicted.
        r = self.start_redis()
        s = self.start_wb(r, l3=False, args=["--l1.max_bytes=1MiB", "--wal.sync=interval"])
        c = self.client(s)
        self.assertIs(c.call("set", K("warm"), b"x"), True)
        self.wait_drained(c)
        r.kill9()
        n, size = 3000, 1024  # ~3 MiB of values: L1 (1 MiB) must evict
        keys = [K("down") for _ in range(n)]
        vals = {}
        t0 = time.monotonic()
        for rnd in range(2):  # the second round overwrites: the newest must win
            ids = {}
            for i, k in enumerate(keys):
                vals[k] = (b"%d:%d:" % (rnd, i)).ljust(size, b"x")
                ids[c.send("set", k, vals[k])] = k
            for msgid, resp in c.read_responses(list(ids), timeout=20).items():
                self.assertIsNone(resp[2], "set while L2 down: %r" % (resp,))
                self.assertIs(resp[3], True)
        self.assertLess(time.monotonic() - t0, 15, "acks must not wait for Redis")
        st = c.stats()
        self.assertGreater(st["l1_evictions"], 0, "L1 should have evicted: %r" % st)
        self.assertGreaterEqual(st["wb_backlog_records"], n)
        self.assertGreaterEqual(st["pending_writes"], n)
        for i in range(0, n, 500):
            chunk = keys[i:i + 500]
            self.assertEqual(c.call("mget", chunk), [vals[k] for k in chunk],
                             "acknowledged values (pending map) while Redis is down")
        self.assertEqual(c.call("get", keys[0]), vals[keys[0]])
        # backlog keeps growing; the drain keeps retrying
        more = [K("more") for _ in range(20)]
        for k in more:
            vals[k] = b"m-" + k
            self.assertIs(c.call("set", k, vals[k]), True)
        st2 = h.poll_until(lambda: (lambda x: x if x["wb_retries"] > 0 else None)(c.stats()),
                           5.0, desc="wb_retries > 0")
        self.assertGreater(st2["wb_backlog_records"], st["wb_backlog_records"])
        self.assertGreater(st2["wb_l2_failures"], 0)
        # Redis back on the same socket: the backlog drains
        r.restart()
        st3 = self.wait_drained(c, timeout=20)
        self.assertEqual(st3["pending_writes"], 0)
        rc = self.redis_client(r)
        allk = keys + more
        for i in range(0, len(allk), 500):
            chunk = allk[i:i + 500]
            got = rc.call("MGET", *[PREFIX + k for k in chunk])
            self.assertEqual(got, [vals[k] for k in chunk], "redis has the last values")
        # reads still right (from Redis/L1 now)
        self.assertEqual(c.call("get", keys[0]), vals[keys[0]])

    def test_delete_while_l2_down_hides_redis_value(self):
        r = self.start_redis()
        rc = self.redis_client(r)
        s = self.start_wb(r, args=["--l1.max_bytes=1MiB"])
        c = self.client(s)
        k = K("victim")
        rc.check("SET", PREFIX + k, b"old-in-redis")
        self.assertEqual(c.call("get", k), b"old-in-redis", "read-through fill from Redis")
        r.kill9()
        self.assertIs(c.call("del", k), True)
        self.assertIsNone(c.call("get", k))
        # evict L1 (the filled copy and anything else)
        filler = [K("fill") for _ in range(1500)]
        ids = [c.send("set", f, b"f" * 1024) for f in filler]
        for resp in c.read_responses(ids, timeout=20).values():
            self.assertIsNone(resp[2])
        self.assertGreater(c.stats()["l1_evictions"], 0)
        self.assertIsNone(c.call("get", k), "pending delete hides Redis's old value")
        self.assertEqual(c.call("exists", k), 0)
        # Redis (no persistence) restarts empty; the drained DEL is checked
        # against a Redis that keeps its data in the next test.
        r.restart()
        rc = self.redis_client(r)
        self.wait_drained(c, timeout=20)
        self.assertEqual(rc.call("EXISTS", PREFIX + k), 0)
        self.assertIsNone(c.call("get", k))

    def test_delete_drains_to_redis_with_redis_paused(self):
        # The same as above with a Redis that keeps its data: SIGSTOP (our
        # child) makes it unresponsive, SIGCONT brings it back.
        import signal
        r = self.start_redis()
        rc = self.redis_client(r)
        s = self.start_wb(r, args=["--l1.max_bytes=1MiB", "--l2.command_timeout=100ms"])
        c = self.client(s)
        k = K("paused")
        rc.check("SET", PREFIX + k, b"old")
        self.assertEqual(c.call("get", k), b"old")
        os.kill(r.pid, signal.SIGSTOP)
        try:
            self.assertIs(c.call("del", k), True)
            filler = [K("fill") for _ in range(1500)]
            ids = [c.send("set", f, b"f" * 1024) for f in filler]
            for resp in c.read_responses(ids, timeout=20).values():
                self.assertIsNone(resp[2])
            self.assertIsNone(c.call("get", k), "pending delete hides the Redis value")
            h.poll_until(lambda: c.stats()["wb_retries"] > 0, 5.0, desc="retries")
        finally:
            os.kill(r.pid, signal.SIGCONT)
        self.wait_drained(c, timeout=20)
        self.assertEqual(rc.call("EXISTS", PREFIX + k), 0, "drained DEL removed it from Redis")
        self.assertIsNone(c.call("get", k))


class ThroughTest(WriteBehindTestCase):
    def test_through_waits_for_every_tier(self):
        r = self.start_redis()
        rc = self.redis_client(r)
        s = self.start_wb(r, args=["--wal.through_timeout=300ms"])
        c = self.client(s)
        for i in range(20):
            k = K("thr")
            v = b"through-%d" % i
            self.assertIs(c.call("set", k, v, {"write": "through"}), True)
            self.assertEqual(rc.call("GET", PREFIX + k), v,
                             "Redis has a through write as soon as it is acknowledged")
        r.kill9()
        k = K("thr-down")
        t0 = time.monotonic()
        code, msg = c.call_error("set", k, b"late", {"write": "through"})
        dt = time.monotonic() - t0
        self.assertEqual(code, TIMEOUT, msg)
        self.assertIn("wal.through_timeout", msg)
        self.assertGreaterEqual(dt, 0.25, "failed before wal.through_timeout")
        self.assertLess(dt, 2.0, "TIMEOUT long after wal.through_timeout")
        self.assertEqual(c.call("get", k), b"late", "the write is journaled and visible")
        r.restart()
        rc = self.redis_client(r)
        h.poll_until(lambda: rc.call("GET", PREFIX + k) == b"late", 10.0,
                     desc="through write applied once Redis returns")
        self.wait_drained(c)


class CoalesceTest(WriteBehindTestCase):
    def test_burst_of_one_key_coalesces(self):
        r = self.start_redis()
        rc = self.redis_client(r)
        s = self.start_wb(r)
        c = self.client(s)
        k = K("hot")
        sets_before = rc.command_calls("set")
        n = 1000
        ids = [c.send("set", k, b"v%d" % i) for i in range(n)]
        for resp in c.read_responses(ids, timeout=20).values():
            self.assertIsNone(resp[2])
        self.assertEqual(c.call("get", k), b"v%d" % (n - 1))
        st = self.wait_drained(c)
        self.assertEqual(rc.call("GET", PREFIX + k), b"v%d" % (n - 1))
        sent = rc.command_calls("set") - sets_before
        if os.environ.get("WB_DEBUG"):
            sys.stderr.write("\n  [coalesce] %d SETs sent, wb_coalesced %d, batches %d\n"
                             % (sent, st["wb_coalesced"], st["wb_batches"]))
        self.assertGreater(st["wb_coalesced"], 0, st)
        self.assertLess(sent, n // 4, "the drain sent %d SETs for %d writes" % (sent, n))
        self.assertGreaterEqual(st["wb_batch_records_max"], 2)


class BackpressureTest(WriteBehindTestCase):
    def test_wal_max_bytes_overloaded_then_recovers(self):
        r = self.start_redis()
        s = self.start_wb(r, l3=False, args=["--wal.max_bytes=64KiB"])
        c = self.client(s)
        r.kill9()
        v = b"o" * 1000
        ok, err = 0, None
        for i in range(200):  # ~200 KB against a 64 KiB bound
            e, res = c.request("set", b"bp-%d" % i, v)
            if e is not None:
                err = e
                break
            ok += 1
        self.assertIsNotNone(err, "no OVERLOADED after %d writes of 1000 bytes" % ok)
        self.assertEqual(err[0], OVERLOADED, err)
        self.assertIn("wal.max_bytes", err[1])
        self.assertGreater(ok, 30, "the bound allows ~64 KiB of journal")
        self.assertLess(ok, 70)
        # still overloaded, reads still work
        self.assertEqual(c.call_error("set", b"bp-x", v)[0], OVERLOADED)
        self.assertEqual(c.call("get", b"bp-0"), v)
        r.restart()
        self.wait_drained(c, timeout=20)
        st = c.stats()
        self.assertEqual(st["wal_backlog_bytes"], 0)
        # less than the bound (however slow the drain): must all succeed
        for i in range(ok, ok + 30):
            self.assertIs(c.call("set", b"bp-%d" % i, v), True)
        self.wait_drained(c, timeout=20)
        rc = self.redis_client(r)
        self.assertEqual(rc.call("GET", PREFIX + b"bp-%d" % (ok + 29)), v)
        self.assertEqual(rc.call("GET", PREFIX + b"bp-0"), v)



# ---------------------------------------------------------------------------
class L3IngestTest(WriteBehindTestCase):
    def test_staged_writes_reach_l3_as_files_within_the_budget(self):
        # No Redis: L1 + journal + L3. Writes are staged and ingested as SST
        # files (each a small part of l3.max_bytes); the budget holds; the
        # newest writes survive a restart (served from L3).
        s = self.start_wb(None, args=["--l3.max_bytes=4MiB", "--l1.max_bytes=1MiB"])
        c = self.client(s)
        v = os.urandom(4096)  # incompressible: the files really take the space
        n = 3000  # ~12 MiB: three times the budget
        for i in range(n):
            self.assertIs(c.call("set", b"ing-%d" % i, v), True)
        self.assertEqual(c.call("get", b"ing-%d" % (n - 1)), v, "read-your-writes")
        st = self.wait_drained(c, timeout=30)
        self.assertGreater(st["wb_l3_ingests"], 3, "several stages, not one")
        self.assertGreater(st["l3_ingested_files"], 3)
        self.assertGreater(st["l3_ingested_entries"], n // 2)
        self.assertLess(st["l3_disk_bytes"], 6 << 20, "l3.max_bytes (4 MiB) holds, give or take")
        self.assertGreater(st["l3_trimmed_bytes"], 0, "the oldest files were dropped")
        self.stop_checked(s)
        s2 = self.start_wb(None, args=["--l3.max_bytes=4MiB", "--l1.max_bytes=1MiB"])
        c2 = self.client(s2)
        self.assertEqual(c2.call("get", b"ing-%d" % (n - 1)), v, "the newest write is in L3")
        self.assertEqual(c2.stats()["wal_replayed_records"], 0, "SIGTERM ingested the stage")

    def test_ingest_size_and_interval_are_configurable(self):
        # l3.ingest_interval: with an hour, a few writes stay staged past the
        # default second, until SIGTERM ingests them. l3.ingest_bytes=0: no
        # staging at all, every batch goes through the memtable.
        s = self.start_wb(None, args=["--l3.ingest_interval=1h"])
        c = self.client(s)
        for i in range(10):
            self.assertIs(c.call("set", b"ival-%d" % i, b"v"), True)
        time.sleep(1.5)
        st = c.stats()
        self.assertEqual(st["wb_l3_ingests"], 0)
        self.assertEqual(st["pending_writes"], 10, "staged keys are served from the pending map")
        self.stop_checked(s)
        s = self.start_wb(None, args=["--l3.ingest_interval=1h"])
        c = self.client(s)
        self.assertEqual(c.stats()["wal_replayed_records"], 0, "SIGTERM ingested the stage")
        self.assertEqual(c.call("get", b"ival-9"), b"v")
        self.stop_checked(s)
        s = self.start_wb(None, args=["--l3.ingest_bytes=0"])
        c = self.client(s)
        for i in range(10):
            self.assertIs(c.call("set", b"nost-%d" % i, b"v"), True)
        st = self.wait_drained(c)
        self.assertEqual(st["wb_l3_ingests"], 0)
        self.assertEqual(st["l3_ingested_files"], 0)
        self.assertEqual(st["wb_drained_records"], 10)
        self.stop_checked(s)


if __name__ == "__main__":
    unittest.main(argv=h.init(sys.argv))
