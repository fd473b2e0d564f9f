"""L2 (Redis) through the real strata binary: every method through the chain,
the wire format in Redis, read-through with fill, TTL propagation both ways,
l1.max_ttl, write "around", negative caching, [[policy]] tables, ACL
credentials, a Redis that dies and comes back, a Redis that stalls, and
coalescing of concurrent gets.

Each test starts its own redis-server(s) (tests/integration/redis_harness.py)
and its own strata; every wait is bounded."""

import os
import socket
import sys
import time
import unittest

import msgpack

import strata_harness as h
import redis_harness as rh
from strata_harness import TIMEOUT, UNAVAILABLE

PREFIX = b"app:"


K = h.unique_key


def timed(fn, *a, **kw):
    t0 = time.monotonic()
    r = fn(*a, **kw)
    return r, time.monotonic() - t0


@unittest.skipUnless(rh.available(), "redis-server not installed")
class L2TestCase(h.StrataTestCase):
    """No class server: each test starts a redis-server and a strata."""

    class_server = False

    def start_redis(self, **kw):
        return rh.start_for(self, **kw)

    def start_l2_strata(self, redis=None, endpoint=None, args=(), prefix=PREFIX, **kw):
        # These tests pin down the chain's semantics (write-through to Redis,
        # degraded reads, ...), so the journal is off; test_write_behind.py
        # covers the default write-behind path over the same tiers.
        a = ["--l2.mode=standalone", "--wal.enabled=false",
             "--l2.endpoints=%s" % (endpoint or redis.unix_url),
             "--l2.key_prefix=%s" % prefix.decode()]
        return self.start_server(a + list(args), **kw)

    def setup_pair(self, args=(), redis_kw=None):
        """redis + strata + a strata client + a redis client."""
        self.r = self.start_redis(**(redis_kw or {}))
        self.s = self.start_l2_strata(self.r, args=args)
        self.c = self.client(self.s)
        self.rc = self.r.client()
        self.addCleanup(self.rc.close)
        return self.c, self.rc

    def stats(self, c=None):
        return (c or self.c).stats()

    def assertAbout(self, value, expected, below, above=0, msg=None):
        """expected - below <= value <= expected + above."""
        self.assertIsInstance(value, int, msg)
        self.assertTrue(expected - below <= value <= expected + above,
                        "%s: %r not in [%r, %r]" % (msg or "value", value, expected - below,
                                                     expected + above))


# ---------------------------------------------------------------------------
class MethodsThroughL2Test(L2TestCase):
    def test_every_method(self):
        c, rc = self.setup_pair()
        self.assertEqual(c.call("ping"), "pong")
        k = K()
        v = bytes(range(256)) * 3
        # set: raw bytes in Redis under the prefix, no expiry
        self.assertIs(c.call("set", k, v), True)
        self.assertEqual(rc.call("GET", PREFIX + k), v)
        self.assertEqual(rc.call("PTTL", PREFIX + k), -1)
        self.assertIsNone(rc.call("GET", k), "nothing stored without the prefix")
        self.assertEqual(c.call("get", k), v)
        # mset / mget / exists
        k1, k2, missing = K(), K(), K("missing")
        self.assertIs(c.call("mset", [k1, b"one", k2, b""]), True)
        self.assertEqual(rc.call("GET", PREFIX + k1), b"one")
        self.assertEqual(rc.call("GET", PREFIX + k2), b"")
        self.assertEqual(c.call("mget", [k1, k2, missing, k]), [b"one", b"", None, v])
        self.assertEqual(c.call("exists", k1, k2, missing, k1), 3)
        # mset with ttl reaches Redis as PX
        k3 = K()
        c.call("mset", [k3, b"three"], {"ttl_ms": 7000})
        self.assertAbout(rc.call("PTTL", PREFIX + k3), 7000, 600, msg="mset ttl in redis")
        # ttl / expire
        self.assertEqual(c.call("ttl", k), -1)
        self.assertEqual(c.call("ttl", missing), -2)
        self.assertIs(c.call("expire", k, 5000), True)
        self.assertAbout(rc.call("PTTL", PREFIX + k), 5000, 600, msg="expire -> PEXPIRE")
        self.assertAbout(c.call("ttl", k), 5000, 600, msg="ttl after expire")
        self.assertIs(c.call("expire", missing, 5000), False)
        self.assertEqual(rc.call("EXISTS", PREFIX + missing), 0)
        # expire <= 0 deletes from both tiers
        self.assertIs(c.call("expire", k1, 0), True)
        self.assertEqual(rc.call("EXISTS", PREFIX + k1), 0)
        self.assertIsNone(c.call("get", k1))
        # del
        self.assertIs(c.call("del", k, k2), True)
        self.assertEqual(rc.call("EXISTS", PREFIX + k, PREFIX + k2), 0)
        self.assertIsNone(c.call("get", k))
        self.assertEqual(c.call("exists", k, k2), 0)
        # nx / xx are decided by Redis
        k4 = K()
        rc.check("SET", PREFIX + k4, b"in-redis")
        self.assertIs(c.call("set", k4, b"nx", {"nx": True}), False, "nx: Redis has the key")
        self.assertEqual(rc.call("GET", PREFIX + k4), b"in-redis")
        self.assertIs(c.call("set", K(), b"xx", {"xx": True}), False, "xx: nowhere")
        self.assertIs(c.call("set", k4, b"xx", {"xx": True}), True)
        self.assertEqual(rc.call("GET", PREFIX + k4), b"xx")
        self.assertEqual(c.call("get", k4), b"xx")
        # stats carries the l2 counters
        st = c.stats()
        for name in ["l2_hits", "l2_misses", "l2_errors", "l2_timeouts", "l2_coalesced",
                     "l2_breaker_rejected", "l2_connections", "l2_connections_up",
                     "l1_negative_hits"]:
            self.assertIn(name, st)
        self.assertEqual(st["l2_errors"], 0)
        self.assertEqual(st["l2_connections"], 2, "one connection per worker loop (2 threads)")

    def test_large_value(self):
        c, rc = self.setup_pair()
        v = bytes((i * 7919) & 0xFF for i in range(1 << 20))
        self.assertIs(c.call("set", b"big", v), True)
        self.assertEqual(rc.call("STRLEN", PREFIX + b"big"), len(v))
        rc.check("SET", PREFIX + b"big2", v[::-1])
        self.assertEqual(c.call("get", b"big2"), v[::-1])

    def test_read_through_then_served_from_l1(self):
        c, rc = self.setup_pair()
        k = K()
        rc.check("SET", PREFIX + k, b"\x00from-redis\xff")
        a = c.stats()
        self.assertEqual(c.call("get", k), b"\x00from-redis\xff")
        b = c.stats()
        self.assertEqual(b["l2_hits"] - a["l2_hits"], 1)
        self.assertEqual(b["l1_misses"] - a["l1_misses"], 1)
        self.assertEqual(b["l1_items"] - a["l1_items"], 1, "the hit filled L1")
        for _ in range(3):
            self.assertEqual(c.call("get", k), b"\x00from-redis\xff")
        d = c.stats()
        self.assertEqual(d["l1_hits"] - b["l1_hits"], 3)
        self.assertEqual(d["l2_hits"], b["l2_hits"], "L1 serves the filled key")
        # a get of a key nowhere is a miss in both
        self.assertIsNone(c.call("get", K("nowhere")))
        e = c.stats()
        self.assertEqual(e["l2_misses"] - d["l2_misses"], 1)

    def test_ttl_propagates_both_ways(self):
        c, rc = self.setup_pair()
        # Strata -> Redis
        k = K()
        c.call("set", k, b"v", {"ttl_ms": 5000})
        self.assertAbout(rc.call("PTTL", PREFIX + k), 5000, 500, msg="redis PTTL of a set")
        # Redis -> Strata: ttl asks Redis when L1 does not have the key
        k2 = K()
        rc.check("SET", PREFIX + k2, b"w", "PX", 8000)
        self.assertAbout(c.call("ttl", k2), 8000, 500, msg="strata ttl of a redis key")
        self.assertEqual(c.call("exists", k2), 1)
        # the fill carries the remaining TTL into L1
        self.assertEqual(c.call("get", k2), b"w")
        rc.check("PERSIST", PREFIX + k2)  # from now on only L1's copy has ~8 s
        self.assertAbout(c.call("ttl", k2), 8000, 700, msg="L1 ttl after the fill")
        # and a key without expiry in Redis fills L1 without expiry
        k3 = K()
        rc.check("SET", PREFIX + k3, b"x")
        self.assertEqual(c.call("get", k3), b"x")
        rc.check("PEXPIRE", PREFIX + k3, 100000)
        self.assertEqual(c.call("ttl", k3), -1, "L1 copy of a persistent key")

    def test_l1_max_ttl_bounds_staleness(self):
        c, rc = self.setup_pair(args=["--l1.max_ttl=300ms"])
        k = K()
        rc.check("SET", PREFIX + k, b"v1", "PX", 60000)
        self.assertEqual(c.call("get", k), b"v1")
        t_fill = time.monotonic()
        self.assertAbout(c.call("ttl", k), 300, 150, msg="L1 copy capped by l1.max_ttl")
        rc.check("SET", PREFIX + k, b"v2", "PX", 60000)
        self.assertEqual(c.call("get", k), b"v1", "L1 serves its copy until it expires")
        h.poll_until(lambda: c.call("get", k) == b"v2", 2.0, interval=0.01,
                     desc="new Redis value visible")
        elapsed = time.monotonic() - t_fill
        self.assertLess(elapsed, 0.3 + 0.25, "stale for %.3fs, l1.max_ttl is 300ms" % elapsed)
        # the refill is capped again
        self.assertAbout(c.call("ttl", k), 300, 150, msg="refill capped")


# ---------------------------------------------------------------------------
class DeleteAndMGetTest(L2TestCase):
    def test_del_removes_from_both_tiers(self):
        c, rc = self.setup_pair()
        k = K()
        c.call("set", k, b"v")
        a = c.stats()
        self.assertIs(c.call("del", k), True)
        self.assertEqual(rc.call("EXISTS", PREFIX + k), 0)
        b = c.stats()
        self.assertEqual(b["l1_items"] - a["l1_items"], -1, "gone from L1")
        self.assertIsNone(c.call("get", k))
        # a key only in Redis is deleted there too
        k2 = K()
        rc.check("SET", PREFIX + k2, b"r")
        self.assertIs(c.call("del", k2), True)
        self.assertEqual(rc.call("EXISTS", PREFIX + k2), 0)
        self.assertIsNone(c.call("get", k2))

    def test_mget_mixed_tiers_in_order(self):
        c, rc = self.setup_pair()
        in_l1 = [K("l1"), K("l1")]
        in_redis = [K("r"), K("r")]
        nowhere = [K("none"), K("none")]
        for i, k in enumerate(in_l1):
            c.call("set", k, b"l1-%d" % i)
            # Redis's copy changes behind Strata's back: the answer proves
            # the value came from L1.
            rc.check("SET", PREFIX + k, b"stale-in-redis")
        for i, k in enumerate(in_redis):
            rc.check("SET", PREFIX + k, b"r-%d" % i)
        keys = [in_l1[0], in_redis[0], nowhere[0], in_l1[1], nowhere[1], in_redis[1], in_l1[0]]
        a = c.stats()
        got = c.call("mget", keys)
        b = c.stats()
        self.assertEqual(got, [b"l1-0", b"r-0", None, b"l1-1", None, b"r-1", b"l1-0"])
        self.assertEqual(b["l1_hits"] - a["l1_hits"], 3)
        self.assertEqual(b["l2_hits"] - a["l2_hits"], 2)
        self.assertEqual(b["l2_misses"] - a["l2_misses"], 2)
        # the Redis-only keys were filled: now all from L1
        got = c.call("mget", in_redis)
        d = c.stats()
        self.assertEqual(got, [b"r-0", b"r-1"])
        self.assertEqual(d["l2_hits"], b["l2_hits"])
        self.assertEqual(d["l1_hits"] - b["l1_hits"], 2)


# ---------------------------------------------------------------------------
class WriteAroundTest(L2TestCase):
    def test_around_writes_redis_not_l1(self):
        c, rc = self.setup_pair()
        k = K()
        a = c.stats()
        self.assertIs(c.call("set", k, b"around", {"write": "around"}), True)
        self.assertEqual(rc.call("GET", PREFIX + k), b"around")
        b = c.stats()
        self.assertEqual(b["l1_items"], a["l1_items"], "around skips L1")
        self.assertEqual(c.call("get", k), b"around")
        d = c.stats()
        self.assertEqual(d["l1_misses"] - b["l1_misses"], 1)
        self.assertEqual(d["l2_hits"] - b["l2_hits"], 1)
        self.assertEqual(d["l1_items"] - b["l1_items"], 1, "the read filled L1")

    def test_around_invalidates_l1_copy(self):
        c, rc = self.setup_pair()
        k = K()
        c.call("set", k, b"old")
        a = c.stats()
        self.assertIs(c.call("set", k, b"new", {"write": "around"}), True)
        b = c.stats()
        self.assertEqual(b["l1_items"] - a["l1_items"], -1, "L1 copy dropped")
        self.assertEqual(c.call("get", k), b"new")
        self.assertEqual(rc.call("GET", PREFIX + k), b"new")

    def test_mset_around(self):
        c, rc = self.setup_pair()
        k1, k2 = K(), K()
        a = c.stats()
        self.assertIs(c.call("mset", [k1, b"1", k2, b"2"], {"write": "around"}), True)
        self.assertEqual(c.stats()["l1_items"], a["l1_items"])
        self.assertEqual([rc.call("GET", PREFIX + k1), rc.call("GET", PREFIX + k2)],
                         [b"1", b"2"])


# ---------------------------------------------------------------------------
class NegativeCachingTest(L2TestCase):
    def test_negative_entry_hides_then_expires(self):
        c, rc = self.setup_pair(args=["--l1.negative_ttl=500ms"])
        k = K()
        a = c.stats()
        self.assertIsNone(c.call("get", k))
        t_miss = time.monotonic()
        rc.check("SET", PREFIX + k, b"late")
        self.assertIsNone(c.call("get", k), "remembered as absent")
        b = c.stats()
        self.assertEqual(b["l2_misses"] - a["l2_misses"], 1, "second get did not ask Redis")
        self.assertGreaterEqual(b["l1_negative_hits"] - a["l1_negative_hits"], 1)
        self.assertLess(time.monotonic() - t_miss, 0.35, "test too slow to check the window")
        h.poll_until(lambda: c.call("get", k) == b"late", 2.0, interval=0.01,
                     desc="value visible after negative_ttl")
        elapsed = time.monotonic() - t_miss
        self.assertGreaterEqual(elapsed, 0.35, "negative entry expired early")
        self.assertLess(elapsed, 0.5 + 0.25, "negative entry outlived l1.negative_ttl")

    def test_set_through_strata_is_visible_at_once(self):
        c, rc = self.setup_pair(args=["--l1.negative_ttl=5s"])
        k, k2 = K(), K()
        self.assertIsNone(c.call("get", k))
        self.assertIsNone(c.call("get", k2))
        self.assertIs(c.call("set", k, b"now"), True)
        self.assertEqual(c.call("get", k), b"now")
        self.assertIs(c.call("mset", [k2, b"now2"]), True)
        self.assertEqual(c.call("get", k2), b"now2")
        # a negative entry is not an existing key
        k3 = K()
        self.assertIsNone(c.call("get", k3))
        self.assertEqual(c.call("exists", k3), 0)
        self.assertEqual(c.call("ttl", k3), -2)

    def test_no_negative_entry_when_l2_failed(self):
        r = self.start_redis()
        s = self.start_l2_strata(r, args=["--l1.negative_ttl=5s", "--l2.breaker_failures=1000"])
        c = self.client(s)
        rc = r.client()
        self.addCleanup(rc.close)
        self.assertIsNone(c.call("get", K("warm")))
        r.kill9()
        k = K()
        self.assertIsNone(c.call("get", k), "L2 down: a miss")
        r.restart()
        rc = r.client()
        self.addCleanup(rc.close)
        rc.check("SET", PREFIX + k, b"there")
        # not remembered as absent: visible as soon as Strata reconnects
        h.poll_until(lambda: c.call("get", k) == b"there", 5.0, interval=0.05,
                     desc="value visible after reconnect")


# ---------------------------------------------------------------------------
class PolicyTest(L2TestCase):
    def start_with_policies(self):
        self.r = self.start_redis()
        d = self.r.dir
        path = os.path.join(d, "strata.toml")
        with open(path, "w") as f:
            f.write('[l2]\nmode = "standalone"\nendpoints = ["%s"]\nkey_prefix = "app:"\n\n'
                    '[[policy]]\nprefix = "sess:"\ntiers = ["l2"]\n\n'
                    '[[policy]]\nprefix = "emb:"\ntiers = ["l1", "l2"]\n'
                    'default_ttl = "1h"\nmax_ttl = "2h"\n' % self.r.unix_url)
        self.s = self.start_server(["--config=%s" % path, "--wal.enabled=false"])
        self.c = self.client(self.s)
        self.rc = self.r.client()
        self.addCleanup(self.rc.close)
        return self.c, self.rc

    def test_l2_only_policy(self):
        c, rc = self.start_with_policies()
        a = c.stats()
        self.assertIs(c.call("set", b"sess:1", b"s1"), True)
        self.assertEqual(rc.call("GET", b"app:sess:1"), b"s1")
        self.assertEqual(c.call("get", b"sess:1"), b"s1")
        self.assertEqual(c.call("get", b"sess:1"), b"s1")
        b = c.stats()
        self.assertEqual(b["l1_items"], a["l1_items"], "sess: keys never enter L1")
        self.assertEqual(b["l2_hits"] - a["l2_hits"], 2, "every get goes to Redis")
        self.assertEqual(b["l1_hits"] + b["l1_misses"], a["l1_hits"] + a["l1_misses"])
        # Redis changes are visible at once (no L1 copy)
        rc.check("SET", b"app:sess:1", b"s1b")
        self.assertEqual(c.call("get", b"sess:1"), b"s1b")
        self.assertIs(c.call("del", b"sess:1"), True)
        self.assertEqual(rc.call("EXISTS", b"app:sess:1"), 0)
        # other keys still use both tiers
        c.call("set", b"other", b"o")
        self.assertEqual(c.stats()["l1_items"] - b["l1_items"], 1)

    def test_ttl_policy(self):
        c, rc = self.start_with_policies()
        c.call("set", b"emb:1", b"e1")
        self.assertAbout(rc.call("PTTL", b"app:emb:1"), 3600000, 2000, msg="default_ttl")
        self.assertAbout(c.call("ttl", b"emb:1"), 3600000, 2000, msg="L1 default_ttl")
        c.call("set", b"emb:2", b"e2", {"ttl_ms": 10 * 3600000})
        self.assertAbout(rc.call("PTTL", b"app:emb:2"), 7200000, 2000, msg="max_ttl cap")
        self.assertAbout(c.call("ttl", b"emb:2"), 7200000, 2000, msg="L1 max_ttl cap")
        c.call("set", b"emb:3", b"e3", {"ttl_ms": 60000})
        self.assertAbout(rc.call("PTTL", b"app:emb:3"), 60000, 2000, msg="shorter ttl kept")
        self.assertIs(c.call("expire", b"emb:3", 10 * 3600000), True)
        self.assertAbout(rc.call("PTTL", b"app:emb:3"), 7200000, 2000, msg="expire capped")
        # keys outside the policy: no default ttl
        c.call("set", b"plain", b"p")
        self.assertEqual(rc.call("PTTL", b"app:plain"), -1)

    def test_policy_max_ttl_caps_fills(self):
        """README: max_ttl "caps every TTL (set, expire, fills)"."""
        c, rc = self.start_with_policies()
        rc.check("SET", b"app:emb:fill", b"f")  # no expiry in Redis
        self.assertEqual(c.call("get", b"emb:fill"), b"f")
        ttl = c.call("ttl", b"emb:fill")
        self.assertTrue(0 < ttl <= 7200000,
                        "L1 copy filled from Redis has ttl %r; policy max_ttl is 2h" % ttl)


# ---------------------------------------------------------------------------
ACL_ARGS = ["--user", "alice", "on", ">secret", "~*", "+@all", "--user", "default", "off"]


class AclTest(L2TestCase):
    def test_acl_user(self):
        r = self.start_redis(unix=False, tcp=True, extra=ACL_ARGS, auth=("alice", "secret"))
        s = self.start_l2_strata(endpoint=r.tcp_url("alice", "secret"))
        c = self.client(s)
        rc = r.client()
        self.addCleanup(rc.close)
        k = K()
        self.assertIs(c.call("set", k, b"v"), True)
        self.assertEqual(rc.call("GET", PREFIX + k), b"v")
        rc.check("SET", PREFIX + b"r", b"from-redis")
        self.assertEqual(c.call("get", b"r"), b"from-redis")
        st = c.stats()
        self.assertEqual(st["l2_errors"], 0)

    def test_wrong_password(self):
        r = self.start_redis(unix=False, tcp=True, extra=ACL_ARGS, auth=("alice", "secret"))
        s = self.start_l2_strata(endpoint=r.tcp_url("alice", "wrong"))
        c = self.client(s)
        # reads degrade to a miss (L1 answered, L2 failed), quickly
        for _ in range(3):
            v, dt = timed(c.call, "get", K())
            self.assertIsNone(v)
            self.assertLess(dt, 1.5)
        # writes fail: UNAVAILABLE
        code, msg = c.call_error("set", K(), b"v")
        self.assertEqual(code, UNAVAILABLE, msg)
        self.assertIn("WRONGPASS", msg, "the error says why")
        self.assertNotIn("wrong", msg.replace("WRONGPASS", ""), "no password in messages")
        self.assertIsNone(c.call("get", K()))
        self.assertEqual(c.call("ttl", K()), -2)
        self.assertEqual(c.call("mget", [K(), K()]), [None, None])
        st = c.stats()
        self.assertGreater(st["l2_errors"], 0)
        self.assertEqual(st["l2_connections_up"], 0)
        self.assertTrue(s.alive())
        self.assertNotIn(":wrong@", s.stderr_text(), "no password in the log")


# ---------------------------------------------------------------------------
class RedisRestartTest(L2TestCase):
    def test_redis_killed_and_restarted(self):
        c, rc = self.setup_pair(args=["--l2.breaker_open=100ms", "--l2.reconnect_base=20ms",
                                      "--l2.reconnect_max=200ms"])
        cached = [K("cached") for _ in range(3)]
        for k in cached:
            c.call("set", k, b"v-" + k)
        before = c.stats()
        rc.close()
        self.r.kill9()
        # L1 keeps serving what it has
        for k in cached:
            v, dt = timed(c.call, "get", k)
            self.assertEqual(v, b"v-" + k)
        # keys not in L1: a miss, fast, never a hang
        for _ in range(10):
            v, dt = timed(c.call, "get", K("absent"), timeout=2.0)
            self.assertIsNone(v)
            self.assertLess(dt, 0.3)
        # ttl / exists of a key not in L1 degrade the same way
        self.assertEqual(c.call("ttl", K("absent")), -2)
        self.assertEqual(c.call("exists", cached[0], K("absent")), 1)
        # writes fail with UNAVAILABLE, fast
        for _ in range(5):
            t0 = time.monotonic()
            code, msg = c.call_error("set", K("w"), b"x", timeout=2.0)
            self.assertEqual(code, UNAVAILABLE, msg)
            self.assertLess(time.monotonic() - t0, 0.3)
        # del / expire reach L1 first, then fail on L2
        code, msg = c.call_error("del", K("d"), timeout=2.0)
        self.assertEqual(code, UNAVAILABLE, msg)
        code, msg = c.call_error("expire", K("e"), 1000, timeout=2.0)
        self.assertEqual(code, UNAVAILABLE, msg)
        # a failed write invalidates L1's copy (the client was told it failed)
        code, _ = c.call_error("set", cached[2], b"new", timeout=2.0)
        self.assertEqual(code, UNAVAILABLE)
        self.assertIsNone(c.call("get", cached[2]))
        during = c.stats()
        self.assertGreater(during["l2_errors"], before["l2_errors"])
        # Redis comes back on the same socket (empty: no persistence)
        self.r.restart()
        rc = self.r.client()
        self.addCleanup(rc.close)
        k = K("after")
        t0 = time.monotonic()
        h.poll_until(lambda: c.request("set", k, b"back")[0] is None, 5.0, interval=0.05,
                     desc="writes succeed after restart")
        recovered = time.monotonic() - t0
        self.assertEqual(rc.call("GET", PREFIX + k), b"back")
        self.assertEqual(c.call("get", k), b"back")
        rc.check("SET", PREFIX + b"fresh", b"f")
        self.assertEqual(c.call("get", b"fresh"), b"f")
        # L1 still holds the keys cached before the outage
        self.assertEqual(c.call("get", cached[0]), b"v-" + cached[0])
        self.assertLess(recovered, 5.0)


# ---------------------------------------------------------------------------
class SlowRedisTest(L2TestCase):
    def test_command_timeout(self):
        c, rc = self.setup_pair(args=["--l2.command_timeout=100ms"],
                                redis_kw={"enable_debug": True})
        self.assertIs(c.call("set", K("warm"), b"w"), True)
        before = c.stats()
        sleeper = self.r.client(timeout=5.0)
        self.addCleanup(sleeper.close)
        sleeper.send("DEBUG", "SLEEP", "1")
        time.sleep(0.05)  # let Redis start sleeping
        t_sleep = time.monotonic()
        v, dt_get = timed(c.call, "get", K("absent"), timeout=3.0)
        self.assertIsNone(v, "a timed-out L2 read is a miss")
        self.assertGreaterEqual(dt_get, 0.09, "answered before command_timeout?")
        self.assertLess(dt_get, 0.4)
        t0 = time.monotonic()
        code, msg = c.call_error("set", K("slow"), b"x", timeout=3.0)
        dt_set = time.monotonic() - t0
        self.assertEqual(code, TIMEOUT, msg)
        self.assertLess(dt_set, 0.4)
        self.assertLess(time.monotonic() - t_sleep, 0.9, "both answered while Redis slept")
        st = c.stats()
        self.assertGreaterEqual(st["l2_timeouts"] - before["l2_timeouts"], 2)
        self.assertEqual(sleeper.read_reply(timeout=3.0), "OK")
        # Redis is responsive again: writes succeed
        k = K()
        h.poll_until(lambda: c.request("set", k, b"ok")[0] is None, 3.0, interval=0.05,
                     desc="writes succeed after the stall")
        self.assertEqual(rc.call("GET", PREFIX + k), b"ok")


# ---------------------------------------------------------------------------
class CoalescingTest(L2TestCase):
    def test_concurrent_gets_share_one_redis_get(self):
        self.r = self.start_redis()
        s = self.start_l2_strata(self.r, args=["--server.threads=1"])
        c = self.client(s)
        rc = self.r.client()
        self.addCleanup(rc.close)
        rc.check("SET", PREFIX + b"hot", b"hot-value")
        c.call("set", b"warm", b"w")  # the L2 connection is up
        gets0 = rc.command_calls("get")
        st0 = c.stats()
        ids = list(range(1000, 1050))
        c.send_raw(b"".join(h.request_bytes(i, "get", [b"hot"]) for i in ids))
        got = c.read_responses(ids, timeout=5.0)
        for i in ids:
            self.assertEqual(got[i], [1, i, None, b"hot-value"])
        st1 = c.stats()
        self.assertEqual(rc.command_calls("get") - gets0, 1, "one GET reached Redis")
        self.assertEqual(st1["l2_coalesced"] - st0["l2_coalesced"], 49)
        self.assertEqual(st1["l2_hits"] - st0["l2_hits"], 1)

    def test_get_after_write_does_not_join_older_lookup(self):
        self.r = self.start_redis()
        s = self.start_l2_strata(self.r, args=["--server.threads=1"])
        c = self.client(s)
        rc = self.r.client()
        self.addCleanup(rc.close)
        rc.check("SET", PREFIX + b"hot", b"old")
        c.call("set", b"warm", b"w")
        st0 = c.stats()
        c.send_raw(h.request_bytes(1, "get", [b"hot"]) + h.request_bytes(2, "set", [b"hot", b"new"])
                   + h.request_bytes(3, "get", [b"hot"]))
        got = c.read_responses([1, 2, 3], timeout=5.0)
        self.assertEqual(got[1][2:], [None, b"old"])
        self.assertEqual(got[2][2:], [None, True])
        self.assertEqual(got[3][2:], [None, b"new"], "a get after a set sees the set")
        self.assertEqual(c.stats()["l2_coalesced"], st0["l2_coalesced"])
        # the older lookup did not fill L1 with the old value
        self.assertEqual(c.call("get", b"hot"), b"new")
        self.assertEqual(rc.call("GET", PREFIX + b"hot"), b"new")


if __name__ == "__main__":
    unittest.main(argv=h.init(sys.argv))
