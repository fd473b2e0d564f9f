"""Wire-level behaviour (PROTOCOL.md): pipelining, framing, ordering,
malformed input, shape errors, nesting, limits, half-close."""

import socket
import sys
import time
import unittest

import msgpack

import strata_harness as h
from strata_harness import BAD_ARGS, BAD_REQUEST, TOO_LARGE, check_error, pack

GIB = 1 << 30
MIB = 1 << 20


def req(msgid, method, *params):
    return h.request_bytes(msgid, method, list(params))


def expect_one_error_then_close(tc, c, code, timeout=5.0, contains=None, allow=()):
    """Reads until the server closes; exactly one response must be an error
    with msgid 0 and `code`; any other response must have a msgid in `allow`."""
    rs = c.read_until_closed(timeout)
    errs = [r for r in rs if r[1] == 0]
    others = [r for r in rs if r[1] != 0]
    tc.assertEqual(len(errs), 1, "expected exactly one msgid-0 response before the close, "
                   "got %r" % (rs,))
    got_code, msg = check_error(errs[0], msgid=0)
    tc.assertEqual(got_code, code, "connection-level error: expected code %d, got %d (%r)"
                   % (code, got_code, msg))
    if contains:
        tc.assertIn(contains, msg)
    for r in others:
        tc.assertIn(r[1], allow, "unexpected response %r" % (r,))
    return msg


class ProtocolTest(h.StrataTestCase):
    server_args = []

    def assertPong(self, c):
        self.assertEqual(c.call("ping"), "pong", "connection must still be usable")

    # -- pipelining ----------------------------------------------------------
    def test_pipeline_10k_in_one_write(self):
        c = self.client(timeout=30)
        n = 10000
        parts = []
        expect = {}
        for i in range(n):
            msgid = i + 1
            key = b"pl10k-%d" % (i // 3)
            if i % 3 == 0:
                parts.append(req(msgid, "set", key, b"val-%d" % i))
                expect[msgid] = True
            elif i % 3 == 1:
                parts.append(req(msgid, "get", key))
                expect[msgid] = b"val-%d" % (i - 1)
            else:
                parts.append(req(msgid, "ping"))
                expect[msgid] = "pong"
        data = b"".join(parts)
        t = c.send_raw_async(data)
        got = c.read_responses(list(expect), timeout=30)
        t.join(10)
        self.assertFalse(t.is_alive(), "sender did not finish")
        self.assertIsNone(t.error)
        for msgid, want in expect.items():
            r = got[msgid]
            self.assertIsNone(r[2], "msgid %d: %r" % (msgid, r))
            self.assertEqual(r[3], want, "msgid %d" % msgid)
        self.assertTrue(c.is_open(0.2))
        self.assertEqual(len(c.log), n, "exactly one response per request")
        self.assertEqual(c.pending, {})

    def test_many_requests_in_one_write(self):
        c = self.client()
        k = b"many-1"
        batch = [
            (req(1, "ping"), None, "pong"),
            (req(2, "set", k, b"v"), None, True),
            (req(3, "get", k), None, b"v"),
            (req(4, "exists", k, k, b"many-missing"), None, 2),
            (req(5, "mget", [k, b"many-missing"]), None, [b"v", None]),
            (req(6, "ttl", k), None, -1),
            (req(7, "nope"), 2, None),
            (req(8, "get"), 3, None),
            (req(9, "expire", k, 100000), None, True),
            (req(10, "set", k, b"w", {"xx": True}), None, True),
            (req(11, "get", k), None, b"w"),
            (req(12, "del", k), None, True),
            (req(13, "get", k), None, None),
            (req(4294967295, "ping"), None, "pong"),
            (req(14, "mset", [b"many-2", b"a", b"many-3", b"b"]), None, True),
            (req(15, "mget", [b"many-3", b"many-2"]), None, [b"b", b"a"]),
        ]
        c.send_raw(b"".join(b for b, _, _ in batch))
        ids = [msgpack.unpackb(b)[1] for b, _, _ in batch]
        got = c.read_responses(ids)
        for (b, code, result), msgid in zip(batch, ids):
            r = got[msgid]
            if code is None:
                self.assertIsNone(r[2], "msgid %d: %r" % (msgid, r))
                self.assertEqual(r[3], result, "msgid %d" % msgid)
            else:
                check_error(r, msgid=msgid, code=code)
        st = c.call("stats")
        self.assertIsInstance(st, dict)

    def test_request_byte_by_byte(self):
        c = self.client()
        data = (req(1, "set", b"bbb-key", b"x" * 40) + req(2, "get", b"bbb-key")
                + req(3, "ping"))
        for i, byte in enumerate(data):
            c.send_raw(bytes([byte]))
            time.sleep(0.002)
            if i == len(req(1, "set", b"bbb-key", b"x" * 40)) - 2:
                # one byte short of the first request: nothing may be answered
                self.assertTrue(c.is_open(0.05))
                self.assertEqual(c.log, [], "answered an incomplete request")
        got = c.read_responses([1, 2, 3])
        self.assertEqual(got[1][3], True)
        self.assertEqual(got[2][3], b"x" * 40)
        self.assertEqual(got[3][3], "pong")

    def test_request_split_at_every_offset(self):
        c = self.client()
        n = len(req(1, "set", b"split-key", b"v000"))
        for cut in range(1, n):
            msgid = cut  # < 128: every request has the same length
            data = req(msgid, "set", b"split-key", b"v%03d" % cut)
            self.assertEqual(len(data), n)
            c.send_raw(data[:cut])
            time.sleep(0.005)
            c.send_raw(data[cut:])
            r = c.read_response(msgid)
            self.assertIsNone(r[2], "split at %d: %r" % (cut, r))
            self.assertIs(r[3], True)
            self.assertEqual(c.call("get", b"split-key"), b"v%03d" % cut)
        self.assertEqual(c.pending, {})

    def test_pipelined_same_key_ordering(self):
        c = self.client()
        parts, expect = [], {}
        msgid = 0

        def add(method, params, want):
            nonlocal msgid
            msgid += 1
            parts.append(h.request_bytes(msgid, method, params))
            expect[msgid] = (method, params, want)

        for i in range(100):
            k = b"ord-%d" % i
            add("set", [k, b"v1"], True)
            add("get", [k], b"v1")
            add("set", [k, b"v2"], True)
            add("get", [k], b"v2")
            add("set", [k, b"nx", {"nx": True}], False)
            add("get", [k], b"v2")
            add("del", [k], True)
            add("get", [k], None)
            add("exists", [k], 0)
            add("set", [k, b"v3", {"xx": True}], False)
            add("set", [k, b"v4", {"nx": True}], True)
            add("mget", [[k, k]], [b"v4", b"v4"])
            add("expire", [k, 0], True)
            add("ttl", [k], -2)
            add("mset", [[k, b"v5"]], True)
            add("get", [k], b"v5")
        c.send_raw(b"".join(parts))
        got = c.read_responses(list(expect), timeout=20)
        for m, (method, params, want) in expect.items():
            r = got[m]
            self.assertIsNone(r[2], "%s %r: %r" % (method, params, r))
            self.assertEqual(r[3], want, "pipelined %s %r (msgid %d) must see earlier writes"
                             % (method, params, m))

    def test_large_pipelined_values(self):
        c = self.client(timeout=30)
        v = bytes(range(256)) * 4096  # 1 MiB
        c.call("set", b"bigpipe", v)
        ids = list(range(1, 33))
        t = c.send_raw_async(b"".join(req(i, "get", b"bigpipe") for i in ids))
        got = c.read_responses(ids, timeout=30)
        t.join(10)
        for i in ids:
            self.assertEqual(got[i][3], v)

    def test_msgid_echoed(self):
        c = self.client()
        for msgid in (1, 127, 128, 255, 256, 65535, 65536, 2**31, 4294967295):
            c.send_raw(req(msgid, "ping"))
            r = c.read_any()
            self.assertEqual(r[1], msgid)
            self.assertEqual(r[3], "pong")

    # -- undecodable bytes -> msgid 0, code 1, close --------------------------
    def test_garbage_byte_c1(self):
        c = self.client()
        c.send_raw(b"\xc1")
        expect_one_error_then_close(self, c, BAD_REQUEST)
        self.assertPong(self.client())

    def test_garbage_inside_a_request(self):
        c = self.client()
        c.send_raw(b"\x94\x00\x05\xc1\x90")
        expect_one_error_then_close(self, c, BAD_REQUEST)

    def test_garbage_after_valid_request(self):
        c = self.client()
        c.send_raw(req(7, "ping") + b"\xc1\xc1\xc1" + req(8, "ping"))
        rs = c.read_until_closed(5)
        errs = [r for r in rs if r[1] == 0]
        self.assertEqual(len(errs), 1, rs)
        check_error(errs[0], msgid=0, code=BAD_REQUEST)
        self.assertNotIn(8, [r[1] for r in rs], "nothing after the garbage may be answered")
        for r in rs:
            if r[1] == 7:
                self.assertEqual(r[3], "pong")

    # -- shape errors -> code 1, connection stays open -----------------------
    def test_shape_errors_keep_connection(self):
        c = self.client()
        cases = [
            (pack([0, 1, "get"]), 1),
            (pack([0, 2, "get", [b"k"], 5]), 2),
            (pack([0, "x", "ping", []]), 0),
            (pack([0, 3, 7, []]), 3),
            (pack([0, 4, "ping", {}]), 4),
            (pack([0, 5, "ping", "x"]), 5),
            (pack([0, 6, "ping", None]), 6),
            (pack([0, 10, b"ping", []]), 10),
            (pack([0, 4294967295, 7, []]), 4294967295),
            (pack([1, 11, None, None]), 11),
            (pack([5, 12, "ping", []]), 12),
            (pack(["0", 13, "ping", []]), 13),
            (pack([2, "ping", []]), 0),
            (pack([0, -1, "ping", []]), 0),
            (pack([0, 2**32, "ping", []]), 0),
            (pack([0, 2**63, "ping", []]), 0),
            (pack([0, 1.5, "ping", []]), 0),
            (pack([0, None, "ping", []]), 0),
            (pack(42), 0),
            (pack(-1), 0),
            (pack("hello"), 0),
            (pack(b"bin"), 0),
            (pack(None), 0),
            (pack(True), 0),
            (pack(1.25), 0),
            (pack({}), 0),
            (pack({"a": 1}), 0),
            (pack([]), 0),
            (pack([0]), 0),
            (pack([0, 14]), 14),
            (msgpack.packb(msgpack.ExtType(1, b"abcd")), 0),
        ]
        ping_id = 1000
        for data, want_msgid in cases:
            with self.subTest(data=data):
                c.send_raw(data)
                r = c.read_any()
                check_error(r, msgid=want_msgid, code=BAD_REQUEST)
                ping_id += 1
                c.send_raw(req(ping_id, "ping"))
                r = c.read_any()
                self.assertEqual(r[1], ping_id, "the connection must stay in sync")
                self.assertEqual(r[3], "pong")
        self.assertTrue(c.is_open(0.2))
        self.assertEqual(c.pending, {}, "one response per bad message")
        self.assertEqual(len(c.log), 2 * len(cases))

    def test_shape_errors_pipelined(self):
        c = self.client()
        data = (pack([0, 1, "get"]) + req(2, "ping") + pack(7) + req(3, "set", b"sh-k", b"v")
                + pack([0, 4, 9, []]) + req(5, "get", b"sh-k"))
        c.send_raw(data)
        got = c.read_responses([0, 1, 2, 3, 4, 5])
        check_error(got[0], msgid=0, code=BAD_REQUEST)
        check_error(got[1], msgid=1, code=BAD_REQUEST)
        check_error(got[4], msgid=4, code=BAD_REQUEST)
        self.assertEqual(got[2][3], "pong")
        self.assertEqual(got[3][3], True)
        self.assertEqual(got[5][3], b"v")

    # -- nesting -------------------------------------------------------------
    def test_nesting_within_limit_is_fine(self):
        c = self.client()
        # request array (level 1) + params (2) + 5 more arrays (3..7) + the
        # str at level 8: within "8 levels" however one counts (containers
        # or items). The shape is fine, the key is not bin/str -> BAD_ARGS
        # with the msgid, and the connection stays open.
        data = b"\x94\x00\x01\xa3get" + b"\x91" * 6 + b"\xa1k"
        c.send_raw(data)
        r = c.read_any()
        check_error(r, msgid=1, code=BAD_ARGS)
        self.assertPong(c)

    def test_nesting_deeper_than_8_closes(self):
        cases = {
            "10 arrays in a request": b"\x94\x00\x01\xa3get" + b"\x91" * 9 + b"\xa1k",
            "10 nested maps": b"\x81\x00" * 10 + b"\xc0",
            "100 arrays": b"\x91" * 100 + b"\xc0",
            "100000 arrays": b"\x91" * 100000 + b"\xc0",
            "100000 maps": b"\x81\xc0" * 100000 + b"\xc0",
        }
        for name, data in cases.items():
            with self.subTest(name):
                c = self.client()
                c.send_raw_async(data)
                expect_one_error_then_close(self, c, BAD_REQUEST)
                self.assertTrue(self.server.alive(), self.server.describe_death())
        self.assertPong(self.client())

    # -- huge declared lengths -------------------------------------------------
    def mem(self):
        st = self.server.proc_status()
        return st["VmPeak"], st["VmHWM"]

    def check_mem(self, peak0, what):
        peak1, hwm1 = self.mem()
        self.assertLess(peak1 - peak0, 2 * GIB // 1024,
                        "%s: VmPeak grew by %d MiB (allocated for the declared length?)"
                        % (what, (peak1 - peak0) // 1024))
        self.assertLess(hwm1, 1 * GIB // 1024, "%s: peak RSS %d MiB" % (what, hwm1 // 1024))

    def test_bin32_claiming_4gib(self):
        peak0, _ = self.mem()
        c = self.client()
        c.send_raw(b"\x94\x00\x01\xa3set\x92\xa1k\xc6\xff\xff\xff\xffabc")
        expect_one_error_then_close(self, c, TOO_LARGE, contains="max_message_bytes")
        self.check_mem(peak0, "bin32 0xffffffff")
        self.assertPong(self.client())

    def test_str32_and_toplevel_bin32_claiming_4gib(self):
        peak0, _ = self.mem()
        for data in (b"\x94\x00\x01\xa3get\x91\xdb\xff\xff\xff\xffabc",
                     b"\xc6\xff\xff\xff\xffxyz",
                     b"\xdb\xff\xff\xff\xf0xyz"):
            with self.subTest(data=data):
                c = self.client()
                c.send_raw(data)
                expect_one_error_then_close(self, c, TOO_LARGE)
        self.check_mem(peak0, "str32/bin32 headers")

    def test_array32_map32_claiming_4g_elements(self):
        # Nothing may be preallocated for a declared count; the server may
        # refuse at the header (code 1 or 4, msgid 0) or wait for more; after
        # a half-close it must close.
        peak0, _ = self.mem()
        for data in (b"\x94\x00\x01\xa3get\xdd\xff\xff\xff\xff" + b"\xc0" * 10,
                     b"\xdd\xff\xff\xff\xff\x01\x02",
                     b"\xdf\xff\xff\xff\xff\x01\x02",
                     b"\x94\x00\x01\xa4mget\x91\xdd\x7f\xff\xff\xff\xa1k"):
            with self.subTest(data=data):
                c = self.client()
                c.send_raw(data)
                c.sock.shutdown(socket.SHUT_WR)
                rs = c.read_until_closed(5)
                self.assertLessEqual(len(rs), 1, rs)
                for r in rs:
                    code, _ = check_error(r, msgid=0)
                    self.assertIn(code, (BAD_REQUEST, TOO_LARGE))
        self.check_mem(peak0, "array32/map32 headers")
        self.assertPong(self.client())

    # -- half-close ------------------------------------------------------------
    def test_half_close_answers_then_closes(self):
        c = self.client()
        ids = list(range(1, 201))
        data = b"".join(req(i, "set", b"hc-%d" % i, b"v%d" % i) if i % 2 else
                        req(i, "get", b"hc-%d" % (i - 1)) for i in ids)
        c.send_raw(data)
        c.sock.shutdown(socket.SHUT_WR)
        rs = c.read_until_closed(10)
        got = {r[1]: r for r in rs}
        self.assertEqual(len(rs), len(ids), "one response per request before the close")
        self.assertEqual(sorted(got), ids)
        for i in ids:
            self.assertIsNone(got[i][2])
            self.assertEqual(got[i][3], True if i % 2 else b"v%d" % (i - 1))

    def test_half_close_with_partial_message(self):
        c = self.client()
        full = b"".join(req(i, "ping") for i in range(1, 51))
        c.send_raw(full + req(51, "set", b"hcp", b"x" * 20)[:7])
        c.sock.shutdown(socket.SHUT_WR)
        rs = c.read_until_closed(10)
        answered = sorted(r[1] for r in rs if r[1] != 0)
        self.assertEqual(answered, list(range(1, 51)),
                         "complete requests answered, the partial one not")
        for r in rs:
            if r[1] == 0:
                check_error(r, msgid=0, code=BAD_REQUEST)
        self.assertIsNone(self.client().call("get", b"hcp"))

    def test_half_close_idle(self):
        c = self.client()
        c.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(c.read_until_closed(5), [])


class LimitsTest(h.StrataTestCase):
    """Small limits so the oversize cases are fast."""
    server_args = ["--server.max_value_bytes=1KiB", "--server.max_message_bytes=64KiB",
                   "--server.max_batch_keys=100"]
    MAX_KEY = 16 * 1024  # default max_key_bytes
    MAX_VALUE = 1024
    MAX_MESSAGE = 64 * 1024
    MAX_BATCH = 100

    def setUp(self):
        super().setUp()
        self.c = self.client()

    def test_key_at_limit_ok(self):
        k = b"K" * self.MAX_KEY
        self.assertIs(self.c.call("set", k, b"v"), True)
        self.assertEqual(self.c.call("get", k), b"v")
        self.assertEqual(self.c.call("exists", k), 1)
        self.c.call("del", k)

    def test_key_over_limit(self):
        k = b"K" * (self.MAX_KEY + 1)
        cases = [("set", k, b"v"), ("get", k), ("del", k), ("exists", k),
                 ("mget", [k]), ("mset", [k, b"v"]), ("ttl", k), ("expire", k, 1000),
                 ("get", k.decode()), ("del", b"a", k), ("exists", b"a", k),
                 ("mget", [b"a", k]), ("mset", [b"a", b"v", k, b"v"])]
        for case in cases:
            with self.subTest(method=case[0]):
                self.assertRpcError(self.c, TOO_LARGE, *case, contains="max_key_bytes")
        self.assertEqual(self.c.call("ping"), "pong")

    def test_value_at_limit_ok(self):
        v = b"V" * self.MAX_VALUE
        self.assertIs(self.c.call("set", b"vlim", v), True)
        self.assertEqual(self.c.call("get", b"vlim"), v)
        self.assertIs(self.c.call("mset", [b"vlim2", v]), True)
        self.assertIs(self.c.call("set", b"vlim3", "s" * self.MAX_VALUE), True)

    def test_value_over_limit(self):
        v = b"V" * (self.MAX_VALUE + 1)
        self.assertRpcError(self.c, TOO_LARGE, "set", b"vover", v, contains="max_value_bytes")
        self.assertRpcError(self.c, TOO_LARGE, "set", b"vover", "s" * (self.MAX_VALUE + 1),
                            contains="max_value_bytes")
        self.assertRpcError(self.c, TOO_LARGE, "set", b"vover", v, {"ttl_ms": 1000},
                            contains="max_value_bytes")
        self.assertIsNone(self.c.call("get", b"vover"))
        self.assertRpcError(self.c, TOO_LARGE, "mset", [b"vover1", b"ok", b"vover2", v],
                            contains="max_value_bytes")
        self.assertEqual(self.c.call("mget", [b"vover1", b"vover2"]), [None, None],
                         "an mset rejected for one value must write nothing")
        self.assertEqual(self.c.call("ping"), "pong")

    def test_oversize_pipelined_keeps_stream(self):
        v = b"V" * (self.MAX_VALUE + 1)
        self.c.send_raw(req(1, "set", b"p1", v) + req(2, "set", b"p2", b"ok")
                        + req(3, "get", b"K" * (self.MAX_KEY + 1)) + req(4, "get", b"p2"))
        got = self.c.read_responses([1, 2, 3, 4])
        check_error(got[1], msgid=1, code=TOO_LARGE)
        check_error(got[3], msgid=3, code=TOO_LARGE)
        self.assertIs(got[2][3], True)
        self.assertEqual(got[4][3], b"ok")

    def test_batch_at_limit_ok(self):
        ks = [b"b-%d" % i for i in range(self.MAX_BATCH)]
        self.assertIs(self.c.call("mset", sum(([k, b"x"] for k in ks), [])), True)
        self.assertEqual(self.c.call("mget", ks), [b"x"] * self.MAX_BATCH)
        self.assertEqual(self.c.call("exists", *ks), self.MAX_BATCH)
        self.assertIs(self.c.call("del", *ks), True)
        self.assertEqual(self.c.call("exists", *ks), 0)

    def test_batch_over_limit(self):
        ks = [b"bo-%d" % i for i in range(self.MAX_BATCH + 1)]
        self.assertRpcError(self.c, TOO_LARGE, "mget", ks, contains="max_batch_keys")
        self.assertRpcError(self.c, TOO_LARGE, "exists", *ks, contains="max_batch_keys")
        self.assertRpcError(self.c, TOO_LARGE, "del", *ks, contains="max_batch_keys")
        self.assertRpcError(self.c, TOO_LARGE, "mset", sum(([k, b"x"] for k in ks), []),
                            contains="max_batch_keys")
        self.assertEqual(self.c.call("exists", ks[0]), 0, "rejected mset must not write")
        self.assertEqual(self.c.call("ping"), "pong")

    def build_mset_of_size(self, msgid, size):
        """An mset request whose whole encoding is exactly `size` bytes, with
        every value <= max_value_bytes and every key <= max_key_bytes."""
        n = size // 1100 + 1
        pad = 1
        for _ in range(50):
            kv = []
            for i in range(n):
                kv += [b"m%d" % i, b"v" * 1000]
            kv[0] = b"m" * pad
            data = h.request_bytes(msgid, "mset", [kv])
            diff = size - len(data)
            if diff == 0:
                return data
            pad = max(1, pad + diff)
        raise AssertionError("could not build a message of %d bytes" % size)

    def test_message_at_limit_ok(self):
        data = self.build_mset_of_size(1, self.MAX_MESSAGE)
        self.assertEqual(len(data), self.MAX_MESSAGE)
        self.c.send_raw(data)
        r = self.c.read_response(1)
        self.assertIsNone(r[2], "a message of exactly max_message_bytes is allowed: %r" % (r,))
        self.assertEqual(self.c.call("ping"), "pong")

    def test_message_over_limit_closes(self):
        data = self.build_mset_of_size(1, self.MAX_MESSAGE + 1)
        self.assertEqual(len(data), self.MAX_MESSAGE + 1)
        self.c.send_raw_async(data)
        expect_one_error_then_close(self, self.c, TOO_LARGE, contains="max_message_bytes")
        self.assertEqual(self.client().call("ping"), "pong")

    def test_big_message_over_limit_closes(self):
        c = self.client()
        c.send_raw_async(req(1, "set", b"big", b"x" * (200 * 1024)))
        expect_one_error_then_close(self, c, TOO_LARGE, contains="max_message_bytes")
        self.assertIsNone(self.client().call("get", b"big"))

    def test_limits_do_not_disturb_other_connections(self):
        other = self.client()
        other.call("set", b"calm", b"ok")
        bad = self.client()
        bad.send_raw_async(req(1, "set", b"big", b"x" * (200 * 1024)))
        expect_one_error_then_close(self, bad, TOO_LARGE)
        self.assertEqual(other.call("get", b"calm"), b"ok")


if __name__ == "__main__":
    unittest.main(argv=h.init(sys.argv))
