"""AsyncClient against the real strata binary."""

import asyncio
import datetime
import unittest

from .support import StrataServer
import strata_client as sc


def run(coro, timeout=20):
    return asyncio.run(asyncio.wait_for(coro, timeout))


class AsyncTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = StrataServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_all_methods(self):
        async def main():
            async with sc.AsyncClient(self.server.socket) as c:
                self.assertEqual(await c.ping(), "pong")
                self.assertIsNone(await c.get("am:missing"))
                self.assertTrue(await c.set("am:a", b"1", ttl=datetime.timedelta(seconds=9)))
                self.assertFalse(await c.set("am:a", b"2", nx=True))
                self.assertTrue(8000 < await c.ttl("am:a") <= 9000)
                self.assertTrue(await c.set("am:a", bytearray(b"3"), xx=True, write="through"))
                self.assertEqual(await c.get(b"am:a"), b"3")
                self.assertEqual(await c.ttl("am:a"), -1)  # a set without ttl clears it
                self.assertTrue(await c.mset({"am:b": b"x", "am:c": b"y"}, ttl=5))
                self.assertEqual(await c.mget(["am:b", "am:zz", "am:c"]), [b"x", None, b"y"])
                self.assertEqual(await c.exists("am:a", "am:b", "am:zz"), 2)
                self.assertTrue(await c.expire("am:b", 0.5))
                self.assertFalse(await c.expire("am:zz", 1))
                self.assertTrue(await c.delete("am:a", "am:b"))
                self.assertEqual(await c.ttl("am:a"), -2)
                self.assertIn("l1_items", await c.stats())
                with self.assertRaises(sc.BadArgs):
                    await c.set("am:a", b"1", nx=True, xx=True)
                with self.assertRaises(sc.UnknownMethod):
                    await c.call("nope")
                with self.assertRaises(sc.Unavailable):
                    await c.set("am:a", b"1", write="around")
                self.assertEqual(await c.ping(), "pong")
        run(main())

    def test_200_concurrent_gets_one_connection(self):
        async def main():
            async with sc.AsyncClient(self.server.socket) as c:
                await asyncio.gather(*[c.set("ac:%d" % i, b"v%d" % i) for i in range(200)])
                before = (await c.stats())["connections_total"]
                conn = c._conn
                got = await asyncio.gather(*[c.get("ac:%d" % i) for i in range(200)])
                self.assertEqual(got, [b"v%d" % i for i in range(200)])
                self.assertIs(c._conn, conn)
                self.assertEqual(conn.pending, {})
                self.assertEqual((await c.stats())["connections_total"], before)
        run(main())

    def test_too_large(self):
        async def main():
            with StrataServer("--server.max_value_bytes=1KiB",
                              "--server.max_message_bytes=64KiB") as srv:
                async with sc.AsyncClient(srv.socket) as c:
                    with self.assertRaises(sc.TooLarge):
                        await c.set("k", b"x" * 2048)
                    self.assertEqual(await c.ping(), "pong")
                    with self.assertRaises(sc.TooLarge):  # msgid 0 + close
                        await c.set("k", b"x" * 100000)
                    self.assertTrue(await c.set("k", b"ok"))  # reconnected
                    self.assertEqual(await c.get("k"), b"ok")
        run(main())

    def test_reconnect_after_restart(self):
        async def main():
            with StrataServer() as srv:
                c = sc.AsyncClient(srv.socket, timeout=3.0)
                try:
                    self.assertTrue(await c.set("r", b"1"))
                    self.assertEqual(srv.stop(), 0)
                    with self.assertRaises(sc.StrataConnectionError):
                        await c.ping()
                    srv.start()
                    self.assertEqual(await c.ping(), "pong")
                    self.assertIsNone(await c.get("r"))
                    srv.stop()
                    srv.start()
                    await asyncio.sleep(0.05)  # let the reader see the EOF
                    self.assertTrue(await c.set("r", b"2"))
                    self.assertEqual(await c.get("r"), b"2")
                finally:
                    await c.close()
                with self.assertRaises(sc.StrataConnectionError):
                    await c.ping()
        run(main())

    def test_msgid_wrap(self):
        async def main():
            async with sc.AsyncClient(self.server.socket) as c:
                await c.ping()
                c._conn.msgid = 0xFFFFFFFD
                got = await asyncio.gather(*[c.ping() for _ in range(4)])
                self.assertEqual(got, ["pong"] * 4)
                self.assertEqual(c._conn.msgid, 2)  # FFFFFFFE, FFFFFFFF, 1, 2
        run(main())

    def test_reuse_across_event_loops(self):
        c = sc.AsyncClient(self.server.socket)
        self.assertEqual(asyncio.run(c.ping()), "pong")
        self.assertEqual(asyncio.run(c.ping()), "pong")  # new loop: reconnects
        asyncio.run(c.close())
