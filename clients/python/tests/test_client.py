"""Client against the real strata binary."""

import datetime
import os
import threading
import time
import unittest

from .support import StrataServer
import strata_client as sc


class ClientTestBase(unittest.TestCase):
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = StrataServer(*cls.server_args).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.c = sc.Client(self.server.socket, timeout=5.0)
        self.addCleanup(self.c.close)
        self.k = self.id().rsplit(".", 1)[-1] + ":"


class MethodTests(ClientTestBase):
    def test_ping(self):
        self.assertEqual(self.c.ping(), "pong")

    def test_set_get_miss(self):
        self.assertIsNone(self.c.get(self.k + "missing"))
        self.assertIs(self.c.set(self.k + "a", b"hello"), True)
        self.assertEqual(self.c.get(self.k + "a"), b"hello")

    def test_str_and_bytes_keys_are_the_same(self):
        key = self.k + "clé"
        self.c.set(key, b"1")
        self.assertEqual(self.c.get(key.encode("utf-8")), b"1")
        self.c.set(b"\xff\xfe" + self.k.encode(), b"raw")
        self.assertEqual(self.c.get(b"\xff\xfe" + self.k.encode()), b"raw")

    def test_value_types(self):
        self.c.set(self.k + "ba", bytearray(b"xy"))
        self.c.set(self.k + "mv", memoryview(b"abcdef")[1:3])
        self.assertEqual(self.c.get(self.k + "ba"), b"xy")
        self.assertEqual(self.c.get(self.k + "mv"), b"bc")
        self.c.set(self.k + "empty", b"")
        self.assertEqual(self.c.get(self.k + "empty"), b"")
        big = os.urandom(1 << 20)
        self.c.set(self.k + "big", big)
        self.assertEqual(self.c.get(self.k + "big"), big)

    def test_empty_key(self):
        self.c.set("", b"empty-key")
        self.assertEqual(self.c.get(b""), b"empty-key")
        self.c.delete("")

    def test_nx_xx(self):
        k = self.k + "x"
        self.assertFalse(self.c.set(k, b"1", xx=True))
        self.assertIsNone(self.c.get(k))
        self.assertTrue(self.c.set(k, b"1", nx=True))
        self.assertFalse(self.c.set(k, b"2", nx=True))
        self.assertEqual(self.c.get(k), b"1")
        self.assertTrue(self.c.set(k, b"3", xx=True))
        self.assertEqual(self.c.get(k), b"3")
        with self.assertRaises(sc.BadArgs):
            self.c.set(k, b"4", nx=True, xx=True)

    def test_ttl_forms(self):
        k = self.k
        self.c.set(k + "s", b"v", ttl=10)
        self.c.set(k + "f", b"v", ttl=2.5)
        self.c.set(k + "td", b"v", ttl=datetime.timedelta(minutes=1))
        self.c.set(k + "none", b"v")
        self.assertTrue(9000 < self.c.ttl(k + "s") <= 10000)
        self.assertTrue(2000 < self.c.ttl(k + "f") <= 2500)
        self.assertTrue(59000 < self.c.ttl(k + "td") <= 60000)
        self.assertEqual(self.c.ttl(k + "none"), -1)
        self.assertEqual(self.c.ttl(k + "absent"), -2)
        with self.assertRaises(sc.BadArgs):
            self.c.set(k + "zero", b"v", ttl=0)

    def test_ttl_expires(self):
        k = self.k + "short"
        self.c.set(k, b"v", ttl=0.15)
        self.assertEqual(self.c.get(k), b"v")
        time.sleep(0.3)
        self.assertIsNone(self.c.get(k))
        self.assertEqual(self.c.ttl(k), -2)

    def test_expire(self):
        k = self.k + "e"
        self.assertFalse(self.c.expire(k, 10))
        self.c.set(k, b"v")
        self.assertTrue(self.c.expire(k, datetime.timedelta(seconds=30)))
        self.assertTrue(29000 < self.c.ttl(k) <= 30000)
        self.assertTrue(self.c.expire(k, 0))  # <= 0 deletes
        self.assertIsNone(self.c.get(k))
        self.c.set(k, b"v")
        self.c.expire(k, -5)
        self.assertEqual(self.c.exists(k), 0)

    def test_delete_exists(self):
        k = self.k
        self.c.mset({k + "1": b"a", k + "2": b"b"})
        self.assertEqual(self.c.exists(k + "1", k + "2", k + "3"), 2)
        self.assertEqual(self.c.exists(k + "1", k + "1"), 2)
        self.assertIs(self.c.delete(k + "1", k + "2", k + "3"), True)
        self.assertIs(self.c.delete(k + "1"), True)
        self.assertEqual(self.c.exists(k + "1", k + "2"), 0)
        with self.assertRaises(sc.BadArgs):
            self.c.delete()
        with self.assertRaises(sc.BadArgs):
            self.c.exists()

    def test_mget_mset(self):
        k = self.k
        self.assertIs(self.c.mset([(k + "a", b"1"), (k + "b", bytearray(b"2"))]), True)
        self.assertEqual(self.c.mget([k + "a", k + "missing", k + "b"]),
                         [b"1", None, b"2"])
        self.assertTrue(self.c.mset({k + "t": b"3"}, ttl=5, write="through"))
        self.assertTrue(4000 < self.c.ttl(k + "t") <= 5000)
        self.assertEqual(self.c.mget((x for x in [k + "t"])), [b"3"])
        with self.assertRaises(sc.BadArgs):
            self.c.mget([])
        with self.assertRaises(sc.BadArgs):
            self.c.mset({})

    def test_write_modes(self):
        k = self.k
        self.assertTrue(self.c.set(k + "b", b"1", write="behind"))
        self.assertTrue(self.c.set(k + "t", b"2", write="through"))
        self.assertEqual(self.c.mget([k + "b", k + "t"]), [b"1", b"2"])
        # With only L1 configured, "around" has no tier to write (README).
        with self.assertRaises(sc.Unavailable) as cm:
            self.c.set(k + "a", b"3", write="around")
        self.assertEqual(cm.exception.code, 5)

    def test_stats(self):
        st = self.c.stats()
        self.assertIsInstance(st, dict)
        for name in ("uptime_s", "connections", "requests_total", "errors_total",
                     "l1_items", "l1_bytes", "l1_hits", "l1_misses",
                     "l1_evictions", "l1_expired"):
            self.assertIn(name, st)
            self.assertIsInstance(st[name], (int, float))

    def test_protocol_errors(self):
        with self.assertRaises(sc.UnknownMethod):
            self.c.call("no_such_method")
        with self.assertRaises(sc.BadArgs):
            self.c.call("get", b"a", b"b")  # arity
        with self.assertRaises(sc.BadArgs):
            self.c.call("set", b"k", b"v", {"ttl": 5})  # unknown option
        with self.assertRaises(sc.BadRequest):
            self.c._execute(("get", "params-not-an-array", lambda r: r))
        # the connection stays usable after every one of them
        self.assertEqual(self.c.ping(), "pong")

    def test_no_timeout(self):
        c = sc.Client(self.server.socket, timeout=None, pool_size=1)
        self.addCleanup(c.close)
        self.assertEqual(c.ping(), "pong")
        with c.pipeline() as p:
            p.ping()
        self.assertEqual(p.results, ["pong"])

    def test_context_manager_and_close(self):
        with sc.Client(self.server.socket) as c:
            self.assertEqual(c.ping(), "pong")
        with self.assertRaises(sc.StrataConnectionError):
            c.ping()


class PipelineTests(ClientTestBase):
    def test_pipeline_results_in_order(self):
        k = self.k
        with self.c.pipeline() as p:
            p.set(k + "a", b"1").get(k + "a")
            p.get(k + "missing")
            p.set(k + "a", b"2", nx=True, xx=True)   # BadArgs
            p.mset({k + "b": b"2"}).mget([k + "a", k + "b"])
            p.exists(k + "a").ttl(k + "a").expire(k + "a", 100)
            p.delete(k + "b").ping().stats()
            self.assertEqual(len(p), 12)
        r = p.results
        self.assertEqual(r[:3], [True, b"1", None])
        self.assertIsInstance(r[3], sc.BadArgs)
        self.assertEqual(r[4:10], [True, [b"1", b"2"], 1, -1, True, True])
        self.assertEqual(r[10], "pong")
        self.assertIsInstance(r[11], dict)

    def test_execute_explicit_and_raise_on_error(self):
        k = self.k
        p = self.c.pipeline()
        p.set(k + "x", b"1")
        self.assertEqual(p.execute(), [True])
        self.assertEqual(p.execute(), [])
        p.call("nope").get(k + "x")
        with self.assertRaises(sc.UnknownMethod):
            p.execute(raise_on_error=True)
        self.assertEqual(p.results[1], b"1")
        with self.c.pipeline(raise_on_error=True) as p2:
            p2.get(k + "x")
            self.assertEqual(p2.execute(), [b"1"])  # explicit: no second run on exit

    def test_block_raising_discards(self):
        k = self.k
        with self.assertRaises(RuntimeError):
            with self.c.pipeline() as p:
                p.set(k + "never", b"1")
                raise RuntimeError("boom")
        self.assertIsNone(self.c.get(k + "never"))

    def test_large_pipeline_no_deadlock(self):
        # ~6 MiB of requests and ~6 MiB of answers: more than the socket
        # buffers and the server's max_output_bytes (4 MiB).
        k = self.k
        val = b"v" * 1024
        n = 6000
        with self.c.pipeline() as p:
            for i in range(n):
                p.set(k + str(i), val)
        self.assertEqual(p.results, [True] * n)
        with self.c.pipeline() as p:
            for i in range(n):
                p.get(k + str(i))
        self.assertEqual(len(p.results), n)
        self.assertTrue(all(v == val for v in p.results))

    def test_msgid_wraps_skipping_zero(self):
        c = sc.Client(self.server.socket, pool_size=1)
        self.addCleanup(c.close)
        c.ping()
        conn = c._pool.queue[0]
        conn.msgid = 0xFFFFFFFE
        with c.pipeline() as p:
            p.set(self.k, b"w").get(self.k).get(self.k)  # ids FFFFFFFF, 1, 2
        self.assertEqual(p.results, [True, b"w", b"w"])
        self.assertEqual(conn.msgid, 2)
        self.assertEqual(c.get(self.k), b"w")


class ThreadTests(ClientTestBase):
    def test_eight_threads_share_pool(self):
        c = sc.Client(self.server.socket, pool_size=4)
        self.addCleanup(c.close)
        errors = []
        k = self.k

        def work(t):
            try:
                for i in range(300):
                    key = "%s%d:%d" % (k, t, i)
                    val = ("%d-%d" % (t, i)).encode() * (1 + i % 7)
                    assert c.set(key, val) is True
                    got = c.get(key)
                    assert got == val, (key, got, val)
                    if i % 50 == 0:
                        with c.pipeline() as p:
                            p.get(key).exists(key)
                        assert p.results == [val, 1], p.results
                    assert c.mget([key])[0] == val
            except BaseException as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
            self.assertFalse(t.is_alive())
        self.assertEqual(errors, [])
        # never more than pool_size connections (this class's server has no
        # other client open; stats itself runs on a pooled connection)
        self.assertLessEqual(c.stats()["connections"], 4)
        # + 1: the readiness probe of StrataServer.start()
        self.assertLessEqual(c.stats()["connections_total"], 4 + 1)


class LimitTests(ClientTestBase):
    server_args = ("--server.max_value_bytes=1KiB", "--server.max_message_bytes=64KiB")

    def test_value_too_large_keeps_connection(self):
        c = sc.Client(self.server.socket, pool_size=1)
        self.addCleanup(c.close)
        c.ping()
        sock_before = c._pool.queue[0].sock
        with self.assertRaises(sc.TooLarge) as cm:
            c.set(self.k, b"x" * 2048)
        self.assertEqual(cm.exception.code, 4)
        self.assertIn("max_value_bytes", cm.exception.message)
        self.assertEqual(c.ping(), "pong")
        self.assertIs(c._pool.queue[0].sock, sock_before)  # same connection

    def test_message_too_large_closes_then_reconnects(self):
        c = sc.Client(self.server.socket, pool_size=1)
        self.addCleanup(c.close)
        with self.assertRaises(sc.TooLarge):
            c.set(self.k, b"x" * (100 * 1024))
        self.assertIsNone(c._pool.queue[0].sock)  # msgid 0: connection dropped
        self.assertTrue(c.set(self.k, b"small"))
        self.assertEqual(c.get(self.k), b"small")

    def test_too_large_in_pipeline(self):
        with self.c.pipeline() as p:
            p.set(self.k, b"x" * 2048).set(self.k, b"ok").get(self.k)
        self.assertIsInstance(p.results[0], sc.TooLarge)
        self.assertEqual(p.results[1:], [True, b"ok"])


class ReconnectTests(unittest.TestCase):
    def test_restart(self):
        with StrataServer() as srv:
            c = sc.Client(srv.socket, timeout=3.0, pool_size=2)
            self.addCleanup(c.close)
            self.assertTrue(c.set("r", b"1"))
            self.assertEqual(srv.stop(), 0)  # SIGTERM -> exit 0
            with self.assertRaises(sc.StrataConnectionError):
                c.get("r")
            with self.assertRaises(sc.StrataConnectionError):
                c.set("r", b"2")
            srv.start()
            self.assertEqual(c.ping(), "pong")
            self.assertIsNone(c.get("r"))  # L1 only: data gone with the process
            self.assertTrue(c.set("r", b"3"))
            # idle pooled connection broken by a restart: noticed before use
            srv.stop()
            srv.start()
            self.assertTrue(c.set("r", b"4"))
            self.assertEqual(c.get("r"), b"4")
