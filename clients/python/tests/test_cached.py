"""The cached() decorator: read-through, single-flight, ttl, failures."""

import asyncio
import threading
import time
import unittest

from .support import StrataServer
import strata_client as sc
from strata_client import cached


class CachedTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = StrataServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def setUp(self):
        self.c = sc.Client(self.server.socket, pool_size=8)
        self.addCleanup(self.c.close)
        self.ns = self.id().rsplit(".", 1)[-1]

    def test_read_through_bytes(self):
        calls = []

        @cached(self.c, namespace=self.ns)
        def square(x):
            calls.append(x)
            return str(x * x).encode()

        self.assertEqual(square(4), b"16")
        self.assertEqual(square(4), b"16")
        self.assertEqual(square(5), b"25")
        self.assertEqual(calls, [4, 5])
        key = square.cache_key(4)
        self.assertTrue(key.startswith(self.ns + ":"))
        self.assertIn("square", key)
        self.assertEqual(self.c.get(key), b"16")  # bytes stored verbatim
        self.assertEqual(square.cache_info(), {"hits": 1, "misses": 2, "errors": 0})
        square.invalidate(4)
        self.assertEqual(square(4), b"16")
        self.assertEqual(calls, [4, 5, 4])

    def test_objects_msgpack_and_custom_key(self):
        calls = []

        @cached(self.c, key=lambda uid, **kw: "user:%s:%s" % (uid, kw.get("lang")),
                namespace=self.ns)
        def profile(uid, lang="en"):
            calls.append(uid)
            return {"id": uid, "tags": ["a", "b"], "raw": b"\xc1\x00", "n": None}

        first = profile(7, lang="fr")
        self.assertEqual(profile(7, lang="fr"), first)
        self.assertEqual(calls, [7])
        self.assertEqual(profile.cache_key(7, lang="fr"), self.ns + ":user:7:fr")
        self.assertTrue(self.c.get(self.ns + ":user:7:fr").startswith(b"\xc1"))

        @cached(self.c, namespace=self.ns)
        def tricky():
            return b"\xc1 starts with the tag byte"
        self.assertEqual(tricky(), b"\xc1 starts with the tag byte")
        self.assertEqual(tricky(), b"\xc1 starts with the tag byte")
        self.assertEqual(tricky.cache_info()["hits"], 1)

    def test_custom_serializer(self):
        @cached(self.c, namespace=self.ns, serializer=lambda s: s.encode(),
                deserializer=lambda b: b.decode())
        def greet(name):
            return "hello " + name
        self.assertEqual(greet("bob"), "hello bob")
        self.assertEqual(greet("bob"), "hello bob")
        self.assertEqual(self.c.get(greet.cache_key("bob")), b"hello bob")

    def test_ttl_honoured(self):
        calls = []

        @cached(self.c, ttl=0.3, namespace=self.ns)
        def now():
            calls.append(1)
            return str(len(calls)).encode()

        self.assertEqual(now(), b"1")
        self.assertEqual(now(), b"1")
        self.assertTrue(0 < self.c.ttl(now.cache_key()) <= 300)
        time.sleep(0.45)
        self.assertEqual(now(), b"2")
        self.assertEqual(len(calls), 2)

    def test_single_flight_threads(self):
        calls = []
        lock = threading.Lock()
        gate = threading.Event()

        @cached(self.c, namespace=self.ns)
        def slow(x):
            with lock:
                calls.append(x)
            gate.wait(5)
            return b"result-%d" % x

        results = []

        def call():
            results.append(slow(1))

        threads = [threading.Thread(target=call) for _ in range(16)]
        for t in threads:
            t.start()
        time.sleep(0.2)  # let every thread reach the flight
        gate.set()
        for t in threads:
            t.join(10)
            self.assertFalse(t.is_alive())
        self.assertEqual(calls, [1])
        self.assertEqual(results, [b"result-1"] * 16)
        self.assertEqual(slow(1), b"result-1")
        self.assertEqual(calls, [1])

    def test_single_flight_propagates_exception(self):
        calls = []

        @cached(self.c, namespace=self.ns)
        def bad():
            calls.append(1)
            time.sleep(0.2)
            raise ValueError("no")

        errors = []

        def call():
            try:
                bad()
            except ValueError as e:
                errors.append(e)

        threads = [threading.Thread(target=call) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        self.assertEqual(len(errors), 4)
        self.assertEqual(len(calls), 1)
        self.assertIsNone(self.c.get(bad.cache_key()))

    def test_single_flight_async(self):
        calls = []

        async def main():
            async with sc.AsyncClient(self.server.socket) as ac:
                @cached(ac, namespace=self.ns, ttl=30)
                async def fetch(x):
                    calls.append(x)
                    await asyncio.sleep(0.2)
                    return {"x": x}

                got = await asyncio.gather(*[fetch(3) for _ in range(50)])
                self.assertEqual(got, [{"x": 3}] * 50)
                self.assertEqual(calls, [3])
                self.assertEqual(await fetch(3), {"x": 3})
                self.assertEqual(calls, [3])
                self.assertEqual(fetch.cache_info(), {"hits": 1, "misses": 1, "errors": 0})
                self.assertTrue(await ac.ttl(fetch.cache_key(3)) > 29000)
                await fetch.invalidate(3)
                await fetch(3)
                self.assertEqual(calls, [3, 3])

        asyncio.run(asyncio.wait_for(main(), 20))

    def test_unavailable_still_computes(self):
        dead = sc.Client("/tmp/strata-py-does-not-exist.sock", timeout=0.5)
        calls = []

        @cached(dead)
        def f(x):
            calls.append(x)
            return b"ok"

        self.assertEqual(f(1), b"ok")
        self.assertEqual(f(1), b"ok")
        self.assertEqual(calls, [1, 1])
        self.assertEqual(f.cache_info(), {"hits": 0, "misses": 0, "errors": 4})

        async def main():
            adead = sc.AsyncClient("/tmp/strata-py-does-not-exist.sock", timeout=0.5)

            @cached(adead)
            async def g():
                return [1, 2]
            self.assertEqual(await g(), [1, 2])
            self.assertEqual(g.cache_info()["errors"], 2)
            await adead.close()
        asyncio.run(asyncio.wait_for(main(), 10))

    def test_too_large_value_is_not_fatal(self):
        with StrataServer("--server.max_value_bytes=1KiB") as srv:
            c = sc.Client(srv.socket)
            self.addCleanup(c.close)

            @cached(c)
            def big():
                return b"x" * 4096
            self.assertEqual(big(), b"x" * 4096)
            self.assertEqual(big.cache_info(), {"hits": 0, "misses": 1, "errors": 1})


class CachedMisuseTests(unittest.TestCase):
    def test_client_kind_must_match_function_kind(self):
        with self.assertRaises(TypeError):
            cached(sc.AsyncClient("/tmp/x.sock"))(lambda: b"")

        async def coro():
            return b""
        with self.assertRaises(TypeError):
            cached(sc.Client("/tmp/x.sock"))(coro)
