"""Connection handling: many concurrent clients, max_connections, clients that
vanish mid-pipeline, clients that never read, idle timeout, isolation."""

import os
import sys
import threading
import time
import unittest

import strata_harness as h
from strata_harness import OVERLOADED, check_error

MIB = 1 << 20

# 500 clients + the server's own descriptors, in this process and in the
# server (which inherits the limit).
NOFILE = h.raise_nofile(4096)


def req(msgid, method, *params):
    return h.request_bytes(msgid, method, list(params))


def wait_connections(client, n, timeout=5.0):
    last = []

    def check():
        last.append(client.stats()["connections"])
        return last[-1] == n
    try:
        h.poll_until(check, timeout, desc="stats.connections == %d" % n)
    except AssertionError:
        raise AssertionError("stats.connections did not reach %d within %.1fs (last %r)"
                             % (n, timeout, last[-1] if last else None)) from None


def settled_base(ctl, others=0):
    """Waits until `ctl` (+ `others` open clients) are the only connections
    (the harness's start-up probe may still be closing); returns the count."""
    wait_connections(ctl, 1 + others)
    return 1 + others


class ManyConnectionsTest(h.StrataTestCase):
    server_args = []

    def test_500_concurrent_connections(self):
        self.assertGreaterEqual(NOFILE, 600, "RLIMIT_NOFILE too low for this test")
        ctl = self.client()
        base = settled_base(ctl)
        n = 500
        clients = []
        for i in range(n):
            clients.append(self.track(h.Client(self.server.socket_path, timeout=20)))
        for i, c in enumerate(clients):
            c.send_raw(req(1, "set", b"conn-%d" % i, b"value-%d" % i) + req(2, "get", b"conn-%d" % i)
                       + req(3, "ping"))
        for i, c in enumerate(clients):
            got = c.read_responses([1, 2, 3], timeout=20)
            self.assertIs(got[1][3], True, "client %d: %r" % (i, got[1]))
            self.assertEqual(got[2][3], b"value-%d" % i, "client %d" % i)
            self.assertEqual(got[3][3], "pong")
        wait_connections(ctl, base + n)
        # each client reads another client's key: all share one L1
        for i, c in enumerate(clients):
            j = (i * 7 + 3) % n
            self.assertEqual(c.call("get", b"conn-%d" % j), b"value-%d" % j)
        for c in clients:
            c.close()
        wait_connections(ctl, base)

    def test_concurrent_clients_in_threads(self):
        threads, errors = [], []
        per_thread, conns_per_thread, rounds = 25, 4, 25
        deadline = time.monotonic() + 40

        def work(t):
            try:
                cs = [h.Client(self.server.socket_path, timeout=20)
                      for _ in range(conns_per_thread)]
                try:
                    for r in range(rounds):
                        for j, c in enumerate(cs):
                            k = b"thr-%d-%d" % (t, j)
                            v = b"%d-%d-%d" % (t, j, r)
                            if c.call("set", k, v) is not True:
                                errors.append("set %r" % k)
                            got = c.call("get", k)
                            if got != v:
                                errors.append("get %r: %r != %r" % (k, got, v))
                        if time.monotonic() > deadline:
                            errors.append("thread %d out of time" % t)
                            return
                finally:
                    for c in cs:
                        c.close()
            except Exception as e:  # noqa: BLE001
                errors.append("thread %d: %r" % (t, e))

        for t in range(per_thread):
            th = threading.Thread(target=work, args=(t,), daemon=True)
            th.start()
            threads.append(th)
        for th in threads:
            th.join(max(0.1, deadline + 5 - time.monotonic()))
        self.assertFalse(any(th.is_alive() for th in threads), "client threads hung")
        self.assertEqual(errors, [])


class MaxConnectionsTest(h.StrataTestCase):
    server_args = ["--server.max_connections=5"]

    def expect_rejected(self):
        c = self.track(h.Client(self.server.socket_path, timeout=5))
        try:
            c.send_raw(req(1, "ping"))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may have answered and closed already
        rs = c.read_until_closed(5)
        self.assertEqual(len(rs), 1, "the connection over the limit must get exactly one "
                         "response, got %r" % (rs,))
        code, msg = check_error(rs[0])
        self.assertEqual(code, OVERLOADED, "over max_connections: code 7, got %d (%r)"
                         % (code, msg))
        self.assertIn(rs[0][1], (0, 1))
        return msg

    def test_sixth_connection_gets_overloaded(self):
        first = self.client()
        wait_connections(first, 1)  # the start-up probe has been closed
        held = [first]
        for _ in range(4):
            c = self.client()
            self.assertEqual(c.call("ping"), "pong")
            held.append(c)
        wait_connections(first, 5)
        self.expect_rejected()
        self.expect_rejected()
        for c in held:
            self.assertEqual(c.call("ping"), "pong", "accepted connections keep working")
        self.assertEqual(held[1].stats()["connections"], 5,
                         "rejected connections must not be counted")
        # freeing a slot lets a new client in
        first.close()
        wait_connections(held[1], 4)
        c = self.client()
        self.assertEqual(c.call("ping"), "pong")
        wait_connections(held[1], 5)
        self.expect_rejected()


class DisconnectTest(h.StrataTestCase):
    server_args = []

    def test_clients_vanish_with_requests_in_flight(self):
        ctl = self.client()
        ctl.call("set", b"dis-val", b"x" * 4096)
        base = settled_base(ctl)
        fds0 = self.server.fd_count()
        batch = b"".join(req(i + 1, "get", b"dis-val") if i % 2 else
                         req(i + 1, "set", b"dis-%d" % i, b"y" * 512) for i in range(1000))
        t_end = time.monotonic() + 30
        for it in range(50):
            self.assertLess(time.monotonic(), t_end, "loop out of time")
            c = h.Client(self.server.socket_path, timeout=5)
            try:
                c.send_raw(batch)
                if it % 2:
                    # let responses pile up unread in our receive buffer, so
                    # the close resets the server's writes
                    time.sleep(0.01)
            finally:
                c.close()
        self.assertTrue(self.server.alive(), self.server.describe_death())
        self.assertEqual(ctl.call("ping"), "pong")
        self.assertEqual(ctl.call("get", b"dis-val"), b"x" * 4096)
        wait_connections(ctl, base)
        h.poll_until(lambda: self.server.fd_count() <= fds0, 5.0,
                     desc="server fd count back to %d (leaked connections?)" % fds0)
        fresh = self.client()
        self.assertEqual(fresh.call("ping"), "pong")

    def test_clients_vanish_mid_message(self):
        ctl = self.client()
        base = settled_base(ctl)
        data = req(1, "set", b"mid", b"z" * 10000)
        for cut in (1, 2, 5, 20, 5000, len(data) - 1):
            c = h.Client(self.server.socket_path)
            c.send_raw(data[:cut])
            c.close()
        self.assertEqual(ctl.call("ping"), "pong")
        self.assertIsNone(ctl.call("get", b"mid"), "an incomplete request must not execute")
        wait_connections(ctl, base)


class SlowReaderTest(h.StrataTestCase):
    server_args = ["--l1.max_bytes=64MiB"]

    def test_writer_that_never_reads_is_bounded(self):
        ctl = self.client()
        value = bytes(range(256)) * 256  # 64 KiB
        ctl.call("set", b"slow-val", value)
        for _ in range(5):
            ctl.call("get", b"slow-val")
        rss0 = self.server.rss_kb()
        fail_kb = 512 * 1024  # growth that counts as unbounded
        abort_kb = 1024 * 1024

        chunk = b"".join(req(i + 1, "get", b"slow-val") for i in range(4000))
        total_limit = 20 * MIB
        bad = self.track(h.Client(self.server.socket_path))
        bad.sock.setblocking(False)
        sent, off = 0, 0
        closed_by_server = False
        max_growth = 0
        t_end = time.monotonic() + 6.0
        stalled_since = None
        while sent < total_limit and time.monotonic() < t_end:
            try:
                n = bad.sock.send(chunk[off:])
                sent += n
                off = (off + n) % len(chunk)
                stalled_since = None
            except BlockingIOError:
                if stalled_since is None:
                    stalled_since = time.monotonic()
                elif time.monotonic() - stalled_since > 1.5:
                    break  # the server stopped reading from us: back-pressure
                time.sleep(0.01)
            except (BrokenPipeError, ConnectionResetError):
                closed_by_server = True
                break
            growth = self.server.rss_kb() - rss0
            max_growth = max(max_growth, growth)
            if growth > abort_kb:
                bad.close()
                self.fail("server RSS grew by %d MiB while a client never read (sent %d "
                          "bytes of requests)" % (growth // 1024, sent))
        time.sleep(0.3)
        growth = self.server.rss_kb() - rss0
        max_growth = max(max_growth, growth)
        if os.environ.get("STRATA_IT_DEBUG"):
            print("slow reader: sent %d bytes, max RSS growth %d KiB, closed %r"
                  % (sent, max_growth, closed_by_server), file=sys.stderr)
        self.assertLess(max_growth, fail_kb,
                        "RSS grew by %d MiB for a client that never reads (sent %.1f MiB "
                        "of requests)" % (max_growth // 1024, sent / MIB))
        if not closed_by_server:
            self.assertLess(sent, total_limit,
                            "server kept reading 20 MiB of requests from a client that "
                            "never reads (%d bytes of responses pending)" % (sent // 20 * 65536))
        # other clients are served promptly meanwhile
        for _ in range(20):
            t0 = time.monotonic()
            self.assertEqual(ctl.call("ping", timeout=2), "pong")
            self.assertEqual(ctl.call("get", b"slow-val", timeout=2), value)
            self.assertLess(time.monotonic() - t0, 1.0, "other client slowed down")
        other = self.client()
        self.assertEqual(other.call("ping", timeout=2), "pong")
        base = settled_base(ctl, others=2)  # + bad + other
        bad.close()
        wait_connections(ctl, base - 1)
        self.assertTrue(self.server.alive(), self.server.describe_death())


class IdleTimeoutTest(h.StrataTestCase):
    server_args = ["--server.idle_timeout=300ms"]

    def test_idle_connection_closed(self):
        c = self.client()
        self.assertEqual(c.call("ping"), "pong")
        seen = len(c.log)
        t0 = time.monotonic()
        took = c.wait_closed(5)
        self.assertIsNotNone(took, "idle connection still open after 5 s (idle_timeout 300ms)")
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 0.25, "closed after %.3f s, before idle_timeout" % elapsed)
        self.assertLess(elapsed, 3.0)
        for r in c.log[seen:]:
            self.assertEqual(r[1], 0, "unexpected response on idle close: %r" % (r,))

    def test_silent_connection_closed(self):
        c = self.client()
        took = c.wait_closed(5)
        self.assertIsNotNone(took, "a connection that never sent anything must be closed")

    def test_stalled_partial_message_closed(self):
        c = self.client()
        c.send_raw(req(1, "set", b"stall", b"x" * 100)[:10])
        took = c.wait_closed(5)
        self.assertIsNotNone(took, "a connection stalled mid-message must be closed")
        for r in c.log:
            self.assertEqual(r[1], 0, r)
        self.assertIsNone(self.client().call("get", b"stall"))

    def test_active_connection_kept(self):
        c = self.client()
        t_end = time.monotonic() + 1.5
        n = 0
        while time.monotonic() < t_end:
            self.assertEqual(c.call("ping", timeout=2), "pong")
            n += 1
            time.sleep(0.1)
        self.assertGreaterEqual(n, 10)
        self.assertTrue(c.is_open(0.05), "active connection closed")
        self.assertEqual(c.call("ping"), "pong")

    def test_idle_close_does_not_affect_others(self):
        idle = self.client()
        busy = self.client()
        t_end = time.monotonic() + 1.0
        while time.monotonic() < t_end:
            self.assertEqual(busy.call("ping"), "pong")
            time.sleep(0.05)
        self.assertIsNotNone(idle.wait_closed(3))
        self.assertEqual(busy.call("ping"), "pong")


class IsolationTest(h.StrataTestCase):
    server_args = []

    def test_misbehaving_clients_do_not_disturb_others(self):
        good = self.client()
        good.call("set", b"iso-big", b"B" * 65536)
        stop = threading.Event()
        errors = []
        hard_end = time.monotonic() + 20  # bound for every helper thread

        def slowloris():
            try:
                c = h.Client(self.server.socket_path, timeout=5)
                data = req(1, "set", b"loris", b"L" * 100000)
                i = 0
                while not stop.is_set() and i < len(data) and time.monotonic() < hard_end:
                    c.send_raw(data[i:i + 1])
                    i += 1
                    time.sleep(0.01)
                c.close()
            except OSError as e:
                errors.append("slowloris: %r" % e)

        def garbage():
            n = 0
            while not stop.is_set() and n < 200 and time.monotonic() < hard_end:
                try:
                    c = h.Client(self.server.socket_path, timeout=5)
                    c.send_raw(b"\xc1" if n % 3 == 0 else
                               (b"\x91" * 50 + b"\xc0") if n % 3 == 1 else b"\x94\x00\x01")
                    c.close()
                except OSError:
                    pass
                n += 1
                time.sleep(0.005)

        def non_reader():
            try:
                c = h.Client(self.server.socket_path, timeout=5)
                c.sock.setblocking(False)
                chunk = b"".join(req(i + 1, "get", b"iso-big") for i in range(500))
                sent = 0
                while not stop.is_set() and sent < 8 * MIB and time.monotonic() < hard_end:
                    try:
                        sent += c.sock.send(chunk)
                    except BlockingIOError:
                        time.sleep(0.01)
                c.close()
            except OSError as e:
                errors.append("non_reader: %r" % e)

        threads = [threading.Thread(target=f, daemon=True)
                   for f in (slowloris, garbage, non_reader)]
        for t in threads:
            t.start()
        try:
            worst = 0.0
            t_end = time.monotonic() + 3.0
            i = 0
            while time.monotonic() < t_end:
                i += 1
                t0 = time.monotonic()
                self.assertIs(good.call("set", b"iso-%d" % i, b"v%d" % i, timeout=2), True)
                self.assertEqual(good.call("get", b"iso-%d" % i, timeout=2), b"v%d" % i)
                self.assertEqual(good.call("mget", [b"iso-big"], timeout=2), [b"B" * 65536])
                worst = max(worst, time.monotonic() - t0)
            self.assertGreater(i, 20, "too few round trips completed in 3 s")
            self.assertLess(worst, 1.0, "a round trip took %.3f s under misbehaving peers" % worst)
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        self.assertEqual(errors, [])
        self.assertEqual(good.call("ping"), "pong")
        self.assertIsNone(good.call("get", b"loris"))



class InputMemoryBoundTest(h.StrataTestCase):
    # The bound on bytes held for incomplete messages across all connections
    # (PROTOCOL.md, Fine print): past it the server stops reading from the
    # connections that want more, and resumes them when memory frees.
    server_args = ["--server.max_message_bytes=512KiB", "--server.max_value_bytes=500KiB",
                   "--server.max_input_bytes=512KiB"]

    def test_partial_messages_share_a_bounded_budget(self):
        ctl = self.client()
        value = b"x" * (400 * 1024)
        msgs = [req(1, "set", b"big-%d" % i, value) for i in range(3)]
        clients = [self.client() for _ in msgs]
        # Everything but the last 10 bytes: each message is incomplete.
        for c, m in zip(clients, msgs):
            c.send_raw_async(m[:-10])
        h.poll_until(lambda: ctl.stats()["input_paused"] >= 1, 10,
                     desc="a connection paused by server.max_input_bytes")
        for c, m in zip(clients, msgs):
            c.send_raw_async(m[-10:])
        for i, c in enumerate(clients):
            self.assertIs(c.read_response(1, timeout=20)[3], True, "client %d" % i)
        for i in range(3):
            self.assertEqual(ctl.call("get", b"big-%d" % i), value)


if __name__ == "__main__":
    unittest.main(argv=h.init(sys.argv))
