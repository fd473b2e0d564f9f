"""Every method of PROTOCOL.md against a real strata: results, options, TTL
semantics, key/value typing, arity and type errors, stats counters."""

import sys
import time
import unittest

import msgpack

import strata_harness as h
from strata_harness import BAD_ARGS, UNKNOWN_METHOD

TEN_YEARS_MS = 315360000000

STATS_KEYS = ["uptime_s", "connections", "requests_total", "errors_total", "l1_items",
              "l1_bytes", "l1_hits", "l1_misses", "l1_evictions", "l1_expired"]


def added_items(a, b):
    """Items added between two stats snapshots, net of removals by expiry
    and eviction (the sweeper may drop other tests' expired keys meanwhile)."""
    return ((b["l1_items"] - a["l1_items"]) + (b["l1_expired"] - a["l1_expired"])
            + (b["l1_evictions"] - a["l1_evictions"]))


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


K = h.unique_key


class MethodsTest(h.StrataTestCase):
    server_args = []

    def setUp(self):
        super().setUp()
        self.c = self.client()

    # -- ping ----------------------------------------------------------------
    def test_ping(self):
        r = self.c.call("ping")
        self.assertIsInstance(r, str, "ping result must be a msgpack str")
        self.assertEqual(r, "pong")

    def test_ping_with_params_is_bad_args(self):
        self.assertRpcError(self.c, BAD_ARGS, "ping", 1)

    # -- get / set / del -----------------------------------------------------
    def test_get_missing_is_nil(self):
        self.assertIsNone(self.c.call("get", K()))

    def test_set_get_del(self):
        k = K()
        self.assertIs(self.c.call("set", k, b"v1"), True)
        v = self.c.call("get", k)
        self.assertIsInstance(v, bytes, "values must come back as bin")
        self.assertEqual(v, b"v1")
        self.assertIs(self.c.call("set", k, b"v2"), True, "overwrite")
        self.assertEqual(self.c.call("get", k), b"v2")
        self.assertIs(self.c.call("del", k), True)
        self.assertIsNone(self.c.call("get", k))
        self.assertIs(self.c.call("del", k), True, "del is idempotent: true on a missing key")

    def test_del_many(self):
        ks = [K() for _ in range(5)]
        for k in ks:
            self.c.call("set", k, b"x")
        self.assertIs(self.c.call("del", ks[0], ks[1], ks[2], K("missing")), True)
        self.assertEqual(self.c.call("mget", ks), [None, None, None, b"x", b"x"])

    def test_empty_value_is_not_a_miss(self):
        k = K()
        self.assertIs(self.c.call("set", k, b""), True)
        self.assertEqual(self.c.call("get", k), b"")
        self.assertEqual(self.c.call("exists", k), 1)

    def test_binary_value_roundtrip(self):
        k = K()
        v = bytes(range(256)) * 4
        self.c.call("set", k, v)
        self.assertEqual(self.c.call("get", k), v)

    def test_large_value_roundtrip(self):
        k = K()
        v = bytes((i * 7919) & 0xFF for i in range(1 << 20))  # 1 MiB
        self.assertIs(self.c.call("set", k, v), True)
        self.assertEqual(self.c.call("get", k), v)

    def test_str_key_equals_bin_key(self):
        k = K()
        self.c.call("set", k.decode(), b"via-str")
        self.assertEqual(self.c.call("get", k), b"via-str")
        self.c.call("set", k, b"via-bin")
        self.assertEqual(self.c.call("get", k.decode()), b"via-bin")
        self.assertEqual(self.c.call("exists", k, k.decode()), 2)
        self.c.call("del", k.decode())
        self.assertIsNone(self.c.call("get", k))

    def test_str_value_stored_as_bytes_returned_as_bin(self):
        k = K()
        self.assertIs(self.c.call("set", k, "h\u00e9llo"), True)
        v = self.c.call("get", k)
        self.assertIsInstance(v, bytes, "a str value must come back as bin")
        self.assertEqual(v, "h\u00e9llo".encode())

    def test_empty_key_is_valid(self):
        self.assertIs(self.c.call("set", b"", b"empty-key"), True)
        self.assertEqual(self.c.call("get", b""), b"empty-key")
        self.assertEqual(self.c.call("get", ""), b"empty-key", "empty str key == empty bin key")
        self.assertEqual(self.c.call("exists", b""), 1)
        self.assertEqual(self.c.call("ttl", b""), -1)
        self.assertIs(self.c.call("del", b""), True)
        self.assertIsNone(self.c.call("get", b""))

    def test_non_utf8_str_key_and_value_accepted(self):
        # Built by hand: msgpack-python cannot produce a str with invalid UTF-8.
        key = b"\xff\xfe\x80bad-" + K()
        val = b"\xc3\x28\xa0\xa1"
        msgid = self.c.new_id()
        req = (b"\x94\x00" + msgpack.packb(msgid) + h.raw_str(b"set")
               + b"\x92" + h.raw_str(key) + h.raw_str(val))
        self.c.send_raw(req)
        r = self.c.read_response(msgid)
        self.assertIsNone(r[2], "non-UTF-8 str must be accepted: %r" % (r,))
        self.assertIs(r[3], True)
        self.assertEqual(self.c.call("get", key), val, "same bytes as a bin key")
        msgid = self.c.new_id()
        self.c.send_raw(b"\x94\x00" + msgpack.packb(msgid) + h.raw_str(b"get")
                        + b"\x91" + h.raw_str(key))
        r = self.c.read_response(msgid)
        self.assertIsNone(r[2])
        self.assertEqual(r[3], val)

    def test_key_with_nul_bytes(self):
        k1 = b"a\x00b" + K()
        k2 = b"a\x00c" + K()
        self.c.call("set", k1, b"1")
        self.c.call("set", k2, b"2")
        self.assertEqual(self.c.call("mget", [k1, k2]), [b"1", b"2"])

    # -- mget / mset ---------------------------------------------------------
    def test_mget_order_and_misses(self):
        a, b, m = K(), K(), K("miss")
        self.c.call("set", a, b"A")
        self.c.call("set", b, b"B")
        self.assertEqual(self.c.call("mget", [b, m, a, a]), [b"B", None, b"A", b"A"])
        self.assertEqual(self.c.call("mget", [m]), [None])

    def test_mset(self):
        ks = [K() for _ in range(4)]
        self.assertIs(self.c.call("mset", [ks[0], b"0", ks[1], b"1", ks[2], "2"]), True)
        self.assertEqual(self.c.call("mget", ks), [b"0", b"1", b"2", None])
        self.assertEqual(self.c.call("ttl", ks[0]), -1)

    def test_mset_same_key_twice_last_wins(self):
        k = K()
        self.assertIs(self.c.call("mset", [k, b"first", k, b"second"]), True)
        self.assertEqual(self.c.call("get", k), b"second")

    def test_mset_opts(self):
        ks = [K() for _ in range(2)]
        self.assertIs(self.c.call("mset", [ks[0], b"a", ks[1], b"b"], {"ttl_ms": 100000}), True)
        for k in ks:
            t = self.c.call("ttl", k)
            self.assertTrue(90000 < t <= 100000, "ttl after mset ttl_ms=100000: %r" % t)
        self.assertIs(self.c.call("mset", [K(), b"a"], {"write": "behind"}), True)
        self.assertIs(self.c.call("mset", [K(), b"a"], None), True, "nil opts = empty map")
        self.assertIs(self.c.call("mset", [K(), b"a"], {}), True)
        # mset accepts ttl_ms and write only
        for bad in ({"nx": True}, {"xx": True}, {"bogus": 1}, {"ttl_ms": 0},
                    {"ttl_ms": TEN_YEARS_MS + 1}):
            k = K()
            self.assertRpcError(self.c, BAD_ARGS, "mset", [k, b"a"], bad)
            self.assertIsNone(self.c.call("get", k), "a rejected mset must not write (%r)" % bad)

    # -- set options ---------------------------------------------------------
    def test_set_nx(self):
        k = K()
        self.assertIs(self.c.call("set", k, b"first", {"nx": True}), True, "nx on missing")
        self.assertIs(self.c.call("set", k, b"second", {"nx": True}), False, "nx on existing")
        self.assertEqual(self.c.call("get", k), b"first", "nx unmet must not write")
        self.assertIs(self.c.call("set", k, b"third", {"nx": False}), True, "nx false = plain set")
        self.assertEqual(self.c.call("get", k), b"third")

    def test_set_xx(self):
        k = K()
        self.assertIs(self.c.call("set", k, b"v", {"xx": True}), False, "xx on missing")
        self.assertIsNone(self.c.call("get", k), "xx unmet must not write")
        self.assertEqual(self.c.call("exists", k), 0)
        self.c.call("set", k, b"v1")
        self.assertIs(self.c.call("set", k, b"v2", {"xx": True}), True, "xx on existing")
        self.assertEqual(self.c.call("get", k), b"v2")

    def test_set_nx_xx_together_is_bad_args(self):
        k = K()
        self.assertRpcError(self.c, BAD_ARGS, "set", k, b"v", {"nx": True, "xx": True})
        self.assertIsNone(self.c.call("get", k))

    def test_set_nil_opts_is_empty_map(self):
        k = K()
        self.assertIs(self.c.call("set", k, b"v", None), True)
        self.assertEqual(self.c.call("get", k), b"v")
        self.assertEqual(self.c.call("ttl", k), -1)
        self.assertIs(self.c.call("set", k, b"w", {}), True)
        self.assertEqual(self.c.call("get", k), b"w")

    def test_set_bad_options(self):
        cases = [
            {"bogus": True},
            {"ttl": 1000},          # typo of ttl_ms
            {"TTL_MS": 1000},       # names are case-sensitive
            {"ttl_ms": 0},
            {"ttl_ms": -5},
            {"ttl_ms": TEN_YEARS_MS + 1},
            {"ttl_ms": "1000"},
            {"nx": 1},              # bool only
            {"xx": "yes"},
            {"write": "bogus"},
            {"write": 1},
            {b"ttl_ms": 1000},      # option names are str
        ]
        for opts in cases:
            with self.subTest(opts=opts):
                k = K()
                self.assertRpcError(self.c, BAD_ARGS, "set", k, b"v", opts)
                self.assertIsNone(self.c.call("get", k), "a rejected set must not write")
        # opts that is not a map
        self.assertRpcError(self.c, BAD_ARGS, "set", K(), b"v", [1])
        self.assertRpcError(self.c, BAD_ARGS, "set", K(), b"v", "nx")

    def test_set_ttl_bounds(self):
        k = K()
        self.assertIs(self.c.call("set", k, b"v", {"ttl_ms": 1}), True, "ttl_ms 1 is valid")
        k = K()
        self.assertIs(self.c.call("set", k, b"v", {"ttl_ms": TEN_YEARS_MS}), True,
                      "ttl_ms ten years is valid")
        t = self.c.call("ttl", k)
        self.assertTrue(TEN_YEARS_MS - 60000 < t <= TEN_YEARS_MS, "ttl %r" % t)

    def test_set_write_modes(self):
        for mode in ("behind", "through"):
            k = K()
            self.assertIs(self.c.call("set", k, b"v-" + mode.encode(), {"write": mode}), True)
            self.assertEqual(self.c.call("get", k), b"v-" + mode.encode())
        # "around" skips L1; with no tier below it this server has nowhere to
        # write: true or UNAVAILABLE (5) are sensible, never BAD_ARGS.
        err, res = self.c.request("set", K(), b"v", {"write": "around"})
        if err is None:
            self.assertIs(res, True)
        else:
            self.assertEqual(err[0], h.UNAVAILABLE, "write around: %r" % (err,))

    def test_set_with_all_valid_options(self):
        k = K()
        self.assertIs(self.c.call("set", k, b"v", {"ttl_ms": 50000, "nx": True,
                                                   "write": "behind"}), True)
        t = self.c.call("ttl", k)
        self.assertTrue(40000 < t <= 50000, "ttl %r" % t)

    def test_plain_set_clears_ttl(self):
        k = K()
        self.c.call("set", k, b"v", {"ttl_ms": 100000})
        self.assertGreater(self.c.call("ttl", k), 0)
        self.c.call("set", k, b"v2")
        self.assertEqual(self.c.call("ttl", k), -1, "set without ttl_ms = default policy (none)")

    # -- ttl / expire --------------------------------------------------------
    def test_ttl_semantics(self):
        k = K()
        self.assertEqual(self.c.call("ttl", k), -2, "missing key")
        self.c.call("set", k, b"v")
        self.assertEqual(self.c.call("ttl", k), -1, "no expiry")
        self.c.call("set", k, b"v", {"ttl_ms": 60000})
        t = self.c.call("ttl", k)
        self.assertIsInstance(t, int)
        self.assertTrue(50000 < t <= 60000, "remaining ms %r" % t)
        time.sleep(0.3)
        t2 = self.c.call("ttl", k)
        self.assertTrue(t2 <= t - 250, "ttl must count down: %r then %r after 300 ms" % (t, t2))

    def test_expire(self):
        k = K()
        self.assertIs(self.c.call("expire", k, 10000), False, "expire on a missing key")
        self.assertEqual(self.c.call("ttl", k), -2, "expire must not create the key")
        self.c.call("set", k, b"v")
        self.assertIs(self.c.call("expire", k, 30000), True)
        t = self.c.call("ttl", k)
        self.assertTrue(20000 < t <= 30000, "ttl after expire 30000: %r" % t)
        self.assertEqual(self.c.call("get", k), b"v", "expire keeps the value")
        self.assertIs(self.c.call("expire", k, 90000), True, "expire again moves the deadline")
        t = self.c.call("ttl", k)
        self.assertTrue(80000 < t <= 90000, "ttl %r" % t)

    def test_expire_nonpositive_deletes(self):
        for ttl in (0, -1, -100000):
            with self.subTest(ttl_ms=ttl):
                k = K()
                self.c.call("set", k, b"v")
                self.assertIs(self.c.call("expire", k, ttl), True)
                self.assertEqual(self.c.call("exists", k), 0)
                self.assertIsNone(self.c.call("get", k))
                self.assertEqual(self.c.call("ttl", k), -2)
                self.assertIs(self.c.call("expire", k, ttl), False, "now missing")

    def test_expire_bad_args(self):
        k = K()
        self.c.call("set", k, b"v")
        self.assertRpcError(self.c, BAD_ARGS, "expire", k, TEN_YEARS_MS + 1)
        self.assertRpcError(self.c, BAD_ARGS, "expire", k, "1000")
        self.assertRpcError(self.c, BAD_ARGS, "expire", k, None)
        self.assertEqual(self.c.call("ttl", k), -1, "rejected expire must not change the ttl")

    def test_short_ttl_expires(self):
        k = K()
        t0 = time.monotonic()
        self.assertIs(self.c.call("set", k, b"short", {"ttl_ms": 200}), True)
        first = self.c.call("get", k)
        elapsed_first = time.monotonic() - t0
        if elapsed_first < 0.15:
            self.assertEqual(first, b"short", "value must be readable before its ttl")
        before = self.c.stats()["l1_expired"]
        deadline = t0 + 3.0
        gone_at = None
        while time.monotonic() < deadline:
            v = self.c.call("get", k)
            if v is None:
                gone_at = time.monotonic() - t0
                break
            self.assertEqual(v, b"short")
            time.sleep(0.01)
        self.assertIsNotNone(gone_at, "key with ttl_ms=200 still readable after 3 s")
        self.assertGreaterEqual(gone_at, 0.195, "expired too early (%.3f s)" % gone_at)
        self.assertEqual(self.c.call("ttl", k), -2)
        self.assertEqual(self.c.call("exists", k), 0)
        h.poll_until(lambda: self.c.stats()["l1_expired"] > before, 2.0,
                     desc="l1_expired to count the expired key")

    def test_expired_key_found_by_sweep(self):
        # Expire keys nobody reads: they must leave l1_items (sweeper or lazy),
        # counted in l1_expired.
        s0 = self.c.stats()
        ks = [K("sweep") for _ in range(50)]
        self.c.call("mset", sum(([k, b"x" * 100] for k in ks), []), {"ttl_ms": 300})
        s1 = self.c.stats()
        added = added_items(s0, s1)
        self.assertEqual(added, 50, "items added by mset of 50 new keys (net of expiry)")
        h.poll_until(lambda: self.c.stats()["l1_expired"] >= s0["l1_expired"] + 50, 5.0,
                     desc="l1_expired to count 50 unread expired keys")
        self.assertEqual(self.c.call("exists", *ks), 0)

    # -- exists --------------------------------------------------------------
    def test_exists_counts_repeats(self):
        a, b = K(), K()
        self.c.call("set", a, b"1")
        self.c.call("set", b, b"2")
        self.assertEqual(self.c.call("exists", a), 1)
        self.assertEqual(self.c.call("exists", K("miss")), 0)
        self.assertEqual(self.c.call("exists", a, a, a, K("miss")), 3)
        self.assertEqual(self.c.call("exists", a, b, K("miss"), b), 3)

    # -- arity / types / unknown method -------------------------------------
    def test_arity_errors(self):
        k = K()
        cases = [
            ("get",),
            ("get", k, k),
            ("set",),
            ("set", k),
            ("set", k, b"v", {}, 1),
            ("del",),
            ("exists",),
            ("mget",),
            ("mget", []),
            ("mget", [k], [k]),
            ("mset",),
            ("mset", []),
            ("mset", [k]),
            ("mset", [k, b"v", k]),
            ("mset", [k, b"v"], {}, 1),
            ("ttl",),
            ("ttl", k, k),
            ("expire", k),
            ("expire", k, 1000, 1),
            ("stats", 1),
        ]
        for case in cases:
            with self.subTest(call=case):
                self.assertRpcError(self.c, BAD_ARGS, *case)
        self.assertIsNone(self.c.call("get", k), "no failed call may have written")
        self.assertEqual(self.c.call("ping"), "pong", "connection stays usable")

    def test_type_errors(self):
        k = K()
        cases = [
            ("get", 1),
            ("get", None),
            ("get", [k]),
            ("set", 1, b"v"),
            ("set", k, 1),
            ("set", k, None),
            ("set", k, [b"v"]),
            ("del", k, 5),
            ("exists", k, None),
            ("mget", k),
            ("mget", [k, 1]),
            ("mset", k),
            ("mset", [k, 1]),
            ("mset", [1, b"v"]),
            ("ttl", 1),
            ("expire", 1, 1000),
        ]
        for case in cases:
            with self.subTest(call=case):
                self.assertRpcError(self.c, BAD_ARGS, *case)
        self.assertIsNone(self.c.call("get", k))

    def test_unknown_method(self):
        for m in ("nope", "GET", "Ping", "", "get ", "flushall"):
            with self.subTest(method=m):
                self.assertRpcError(self.c, UNKNOWN_METHOD, m, b"k")
        self.assertEqual(self.c.call("ping"), "pong")

    # -- stats ---------------------------------------------------------------
    def test_stats_shape(self):
        s = self.c.stats()
        for key, v in s.items():
            self.assertIsInstance(key, str, "stats keys are str")
            self.assertTrue(is_number(v), "stats[%r] = %r is not a number" % (key, v))
        for key in STATS_KEYS:
            self.assertIn(key, s)
            self.assertGreaterEqual(s[key], 0, key)
        self.assertGreaterEqual(s["connections"], 1)
        self.assertGreaterEqual(s["requests_total"], 1)

    def test_stats_requests_and_errors(self):
        s1 = self.c.stats()
        for _ in range(10):
            self.c.call("ping")
        s2 = self.c.stats()
        d = s2["requests_total"] - s1["requests_total"]
        self.assertTrue(10 <= d <= 12, "requests_total moved by %d for 10 pings + 1 stats" % d)
        s1 = self.c.stats()
        self.c.call_error("nope")
        self.c.call_error("get")
        self.c.call_error("set", K(), b"v", {"bogus": 1})
        self.c.call("set", K(), b"v", {"xx": True})  # false is not an error
        self.c.call("get", K())  # a miss is not an error
        s2 = self.c.stats()
        self.assertEqual(s2["errors_total"] - s1["errors_total"], 3, "3 error responses")

    def test_stats_connections(self):
        # earlier tests' clients (and the start-up probe) may still be closing
        h.poll_until(lambda: self.c.stats()["connections"] == 1, 3.0,
                     desc="only this test's client connected")
        base = 1
        extra = [self.client() for _ in range(3)]
        for e in extra:
            self.assertEqual(e.call("ping"), "pong")
        h.poll_until(lambda: self.c.stats()["connections"] == base + 3, 3.0,
                     desc="connections == %d" % (base + 3))
        for e in extra:
            e.close()
        h.poll_until(lambda: self.c.stats()["connections"] == base, 3.0,
                     desc="connections back to %d" % base)

    def test_stats_uptime(self):
        u1 = self.c.stats()["uptime_s"]
        time.sleep(1.1)
        u2 = self.c.stats()["uptime_s"]
        self.assertGreaterEqual(u2 - u1, 0.9, "uptime_s %r then %r after 1.1 s" % (u1, u2))
        self.assertLess(u2 - u1, 5)

    def test_stats_l1_counters(self):
        ks = [K("st") for _ in range(5)]
        s0 = self.c.stats()
        for k in ks:
            self.c.call("set", k, b"v" * 1000)
        s1 = self.c.stats()
        self.assertEqual(added_items(s0, s1), 5, "l1_items after 5 new keys (net of expiry)")
        self.assertGreaterEqual(s1["l1_bytes"] - s0["l1_bytes"], 5 * 1000,
                                "l1_bytes must account for the values")
        # hits and misses via get
        for _ in range(3):
            self.c.call("get", ks[0])
        for _ in range(4):
            self.c.call("get", K("miss"))
        s2 = self.c.stats()
        self.assertEqual(s2["l1_hits"] - s1["l1_hits"], 3, "l1_hits after 3 hits")
        self.assertEqual(s2["l1_misses"] - s1["l1_misses"], 4, "l1_misses after 4 misses")
        # mget: 2 hits, 1 miss
        self.c.call("mget", [ks[1], K("miss"), ks[2]])
        s3 = self.c.stats()
        self.assertEqual(s3["l1_hits"] - s2["l1_hits"], 2, "mget hits")
        self.assertEqual(s3["l1_misses"] - s2["l1_misses"], 1, "mget misses")
        # overwrite does not add an item
        self.c.call("set", ks[0], b"w")
        s4 = self.c.stats()
        self.assertEqual(added_items(s3, s4), 0, "overwrite must not add an item")
        # memory of replaced/deleted entries may be reclaimed a little later
        h.poll_until(lambda: self.c.stats()["l1_bytes"] < s3["l1_bytes"], 3.0,
                     desc="l1_bytes to shrink after overwriting a 1000-byte value with 1 byte")
        s4 = self.c.stats()
        self.c.call("del", *ks)
        s5 = self.c.stats()
        self.assertEqual(added_items(s4, s5), -5, "l1_items after deleting 5")
        h.poll_until(lambda: self.c.stats()["l1_bytes"] <= s0["l1_bytes"], 3.0,
                     desc="l1_bytes back to at most %d after deleting" % s0["l1_bytes"])
        self.assertEqual(self.c.stats()["l1_evictions"], s0["l1_evictions"], "nothing evicted")


class EvictionTest(h.StrataTestCase):
    """A small L1 budget: evictions are counted and the budget holds."""
    server_args = ["--l1.max_bytes=1MiB"]

    def test_evictions(self):
        c = self.client()
        s0 = c.stats()
        self.assertEqual(s0["l1_evictions"], 0)
        n = 400  # 400 x 10 KiB = 4 MiB into a 1 MiB L1
        for start in range(0, n, 50):
            ids = []
            for i in range(start, start + 50):
                ids.append(c.send("set", b"ev-%d" % i, bytes([i & 0xFF]) * 10240))
            for m, r in c.read_responses(ids).items():
                self.assertIsNone(r[2], r)
                self.assertIs(r[3], True)
        s1 = c.stats()
        self.assertGreater(s1["l1_evictions"], 0, "4 MiB into 1 MiB must evict")
        self.assertLessEqual(s1["l1_bytes"], 1 << 20, "l1_bytes must respect l1.max_bytes")
        self.assertLess(s1["l1_items"], n)
        self.assertGreater(s1["l1_items"], 0)
        self.assertEqual(s1["l1_items"] + s1["l1_evictions"], n,
                         "every key set is either still in L1 or was evicted")
        present = sum(1 for v in c.call("mget", [b"ev-%d" % i for i in range(n)])
                      if v is not None)
        self.assertEqual(present, s1["l1_items"])


if __name__ == "__main__":
    unittest.main(argv=h.init(sys.argv))
