"""Client behaviour against scripted fake servers: timeouts, out-of-order
answers, notifications, msgid 0 errors, drops mid-call."""

import asyncio
import time
import unittest

import msgpack

from .support import FakeServer
import strata_client as sc


def reverse_order(server, conn, unpacker):
    """Answer each batch of requests in reverse order, echoing params[0]."""
    while not server.stopping.is_set():
        got = server.recv_requests(conn, unpacker, 1)
        if not got:
            return
        # collect whatever else already arrived, briefly
        conn.settimeout(0.05)
        try:
            data = conn.recv(1 << 20)
            if data:
                unpacker.feed(data)
                for m in unpacker:
                    server.received.append(m)
                    got.append(m)
        except OSError:
            pass
        conn.settimeout(0.1)
        out = b""
        for _, msgid, method, params in reversed(got):
            out += msgpack.packb([2, "event", ["ignored"]])
            result = "pong" if method == "ping" else (params[0] if params else None)
            out += msgpack.packb([1, msgid, None, result], use_bin_type=True)
        conn.sendall(out)


class FakeServerTests(unittest.TestCase):
    def test_sync_timeout_on_silent_server(self):
        with FakeServer() as fs:
            c = sc.Client(fs.socket, timeout=0.3)
            self.addCleanup(c.close)
            t0 = time.monotonic()
            with self.assertRaises(sc.ClientTimeout) as cm:
                c.get("k")
            elapsed = time.monotonic() - t0
            self.assertLess(elapsed, 2.0)
            self.assertGreaterEqual(elapsed, 0.25)
            self.assertIsInstance(cm.exception, TimeoutError)
            self.assertIsInstance(cm.exception, sc.Timeout)
            with self.assertRaises(TimeoutError):
                with c.pipeline() as p:
                    p.ping().ping()

    def test_async_timeout_on_silent_server(self):
        async def main():
            with FakeServer() as fs:
                async with sc.AsyncClient(fs.socket, timeout=0.3) as c:
                    t0 = time.monotonic()
                    with self.assertRaises(sc.ClientTimeout):
                        await c.get("k")
                    self.assertLess(time.monotonic() - t0, 2.0)
                    results = await asyncio.gather(*[c.ping() for _ in range(5)],
                                                   return_exceptions=True)
                    self.assertTrue(all(isinstance(r, TimeoutError) for r in results))
        asyncio.run(asyncio.wait_for(main(), 10))

    def test_pool_exhaustion_times_out(self):
        import threading
        with FakeServer() as fs:
            c = sc.Client(fs.socket, timeout=0.5, pool_size=1)
            self.addCleanup(c.close)
            t = threading.Thread(target=lambda: self.assertRaises(sc.ClientTimeout, c.ping))
            t.start()
            time.sleep(0.05)
            t0 = time.monotonic()
            with self.assertRaises(sc.ClientTimeout):
                c.ping()
            self.assertLess(time.monotonic() - t0, 1.5)
            t.join(5)

    def test_out_of_order_pipeline_and_notifications(self):
        with FakeServer(reverse_order) as fs:
            c = sc.Client(fs.socket, timeout=3.0, pool_size=1)
            self.addCleanup(c.close)
            with c.pipeline() as p:
                for i in range(50):
                    p.get("key-%d" % i)
            # fake echoes the key as the value; order restored by msgid
            self.assertEqual(p.results, [("key-%d" % i).encode() for i in range(50)])
            ids = [m[1] for m in fs.received[:50]]
            self.assertEqual(ids, list(range(1, 51)))  # msgids start at 1
            self.assertEqual(c.ping(), "pong")

    def test_async_out_of_order(self):
        async def main():
            with FakeServer(reverse_order) as fs:
                async with sc.AsyncClient(fs.socket, timeout=3.0) as c:
                    keys = ["k%d" % i for i in range(100)]
                    got = await asyncio.gather(*[c.get(k) for k in keys])
                    self.assertEqual(got, [k.encode() for k in keys])
                    self.assertEqual(len(fs.conns), 1)
        asyncio.run(asyncio.wait_for(main(), 10))

    def test_msgid_zero_error_and_drop(self):
        def handler(server, conn, unpacker):
            server.recv_requests(conn, unpacker, 1)
            conn.sendall(msgpack.packb([1, 0, [1, "not msgpack"], None]))
            conn.close()

        with FakeServer(handler) as fs:
            c = sc.Client(fs.socket, timeout=3.0)
            self.addCleanup(c.close)
            with self.assertRaises(sc.BadRequest):
                c.set("k", b"v")

    def test_drop_mid_call_write_not_retried_read_retried(self):
        def handler(server, conn, unpacker):
            got = server.recv_requests(conn, unpacker, 1)
            if got and len(server.received) <= 2:
                conn.close()  # drop the first two calls mid-flight
                return
            while got:
                _, msgid, method, params = got[0]
                conn.sendall(msgpack.packb([1, msgid, None, True if method == "set" else b"v"]))
                got = server.recv_requests(conn, unpacker, 1)

        with FakeServer(handler) as fs:
            c = sc.Client(fs.socket, timeout=3.0, pool_size=1)
            self.addCleanup(c.close)
            with self.assertRaises(sc.StrataConnectionError):
                c.set("k", b"v")           # write: raised, not retried
            self.assertEqual(len(fs.received), 1)
            self.assertEqual(c.get("k"), b"v")  # read: dropped once, retried
            self.assertEqual([m[2] for m in fs.received], ["set", "get", "get"])

    def test_async_drop_mid_call(self):
        def handler(server, conn, unpacker):
            server.recv_requests(conn, unpacker, 1)
            conn.close()

        async def main():
            with FakeServer(handler) as fs:
                async with sc.AsyncClient(fs.socket, timeout=3.0) as c:
                    with self.assertRaises(sc.StrataConnectionError):
                        await c.set("k", b"v")
                    with self.assertRaises(sc.StrataConnectionError):
                        await c.get("k")   # retried once, dropped again
                    self.assertEqual([m[2] for m in fs.received], ["set", "get", "get"])
        asyncio.run(asyncio.wait_for(main(), 10))
