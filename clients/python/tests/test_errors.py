"""Exception classes and wire-error mapping (no server needed)."""

import unittest

from . import support  # noqa: F401  (puts the package on sys.path)
import strata_client as sc


class ErrorClassTests(unittest.TestCase):
    def test_codes_map_to_subclasses(self):
        expected = {1: sc.BadRequest, 2: sc.UnknownMethod, 3: sc.BadArgs,
                    4: sc.TooLarge, 5: sc.Unavailable, 6: sc.Timeout,
                    7: sc.Overloaded, 8: sc.ShuttingDown, 9: sc.Internal}
        for code, cls in expected.items():
            e = sc.error_from_wire([code, "msg %d" % code])
            self.assertIs(type(e), cls)
            self.assertIsInstance(e, sc.StrataError)
            self.assertEqual(e.code, code)
            self.assertEqual(e.message, "msg %d" % code)
            self.assertEqual(str(e), "[%d] msg %d" % (code, code))

    def test_unknown_code_is_base_class(self):
        e = sc.error_from_wire([42, "future"])
        self.assertIs(type(e), sc.StrataError)
        self.assertEqual(e.code, 42)
        e = sc.error_from_wire("garbage")
        self.assertIs(type(e), sc.StrataError)

    def test_client_side_classes(self):
        t = sc.ClientTimeout("late")
        self.assertIsInstance(t, sc.Timeout)
        self.assertIsInstance(t, sc.StrataError)
        self.assertIsInstance(t, TimeoutError)
        self.assertEqual(t.code, 6)
        self.assertFalse(t.server)
        c = sc.StrataConnectionError("gone")
        self.assertIsInstance(c, ConnectionError)
        self.assertIsInstance(c, sc.StrataError)
        self.assertIsNone(c.code)
        self.assertEqual(str(c), "gone")

    def test_ttl_conversion(self):
        import datetime
        from strata_client._commands import ttl_to_ms, next_msgid
        self.assertEqual(ttl_to_ms(1), 1000)
        self.assertEqual(ttl_to_ms(0.25), 250)
        self.assertEqual(ttl_to_ms(datetime.timedelta(minutes=1)), 60000)
        self.assertEqual(ttl_to_ms(0.0001), 1)
        self.assertEqual(ttl_to_ms(0), 0)
        self.assertEqual(ttl_to_ms(-1), -1000)
        with self.assertRaises(TypeError):
            ttl_to_ms("10")
        with self.assertRaises(TypeError):
            ttl_to_ms(True)
        self.assertEqual(next_msgid(0), 1)
        self.assertEqual(next_msgid(0xFFFFFFFE), 0xFFFFFFFF)
        self.assertEqual(next_msgid(0xFFFFFFFF), 1)

    def test_argument_types(self):
        c = sc.Client("/nonexistent/strata.sock", timeout=0.5)
        with self.assertRaises(TypeError):
            c.set("k", "a str value")
        with self.assertRaises(TypeError):
            c.get(123)
        with self.assertRaises(ValueError):
            c.set("k", b"v", write="sideways")
        with self.assertRaises(TypeError):
            c.mget("abc")

    def test_connect_failure(self):
        c = sc.Client("/nonexistent/strata.sock", timeout=0.5)
        with self.assertRaises(sc.StrataConnectionError):
            c.ping()
        with self.assertRaises(ConnectionError):
            c.set("k", b"v")
