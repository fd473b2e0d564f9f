"""Crash safety of write-behind through the real strata binary.

- SIGKILL at a random moment while a client writes with wal.sync=always:
  every acknowledged write is readable after the restart (replayed into L1 or
  from L3/L2) and, once the backlog drained, in Redis with the right value.
  Also with Redis stopped during the writes and started after the restart.
- L3 on a full tmpfs: writes go on (journal + pending map), reads work, the
  failed ingests are counted and logged, and the retry fills L3 once space
  returns.
- A full disk under the WAL (a small tmpfs if mount is permitted, else
  RLIMIT_FSIZE): writes fail with a clear error, reads keep working, nothing
  acknowledged is lost, and service resumes when space returns.

Every wait is bounded; only processes started here are signalled, and only
what is mounted here is unmounted."""

import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import strata_harness as h
import redis_harness as rh
from strata_harness import UNAVAILABLE

PREFIX = b"crash:"


class Writer(threading.Thread):
    """Writes unique keys with random values of lo..hi bytes over one
    connection, `window` requests in flight, and
    records every acknowledged (key, value) and every error answer. Ends when
    told to or when the connection breaks (the server was killed): then
    `exc` says how."""

    def __init__(self, path, tag, window=8, lo=8, hi=200):
        super().__init__(daemon=True)
        self.path = path
        self.tag = tag
        self.window = window
        self.lo, self.hi = lo, hi
        self.acked = {}
        self.errors = []  # error responses (code, message)
        self.stop_evt = threading.Event()
        self.n = 0
        self.exc = None

    def run(self):
        try:
            c = h.Client(self.path, timeout=5.0)
        except OSError as e:
            self.exc = e
            return
        try:
            while not self.stop_evt.is_set():
                sent = {}
                for _ in range(self.window):
                    self.n += 1
                    k = b"%s-%d" % (self.tag, self.n)
                    v = os.urandom(random.randint(self.lo, self.hi))
                    sent[c.send("set", k, v)] = (k, v)
                for _ in range(len(sent)):
                    r = c.read_any(timeout=5.0)
                    k, v = sent.pop(r[1])
                    if r[2] is None and r[3] is True:
                        self.acked[k] = v
                    else:
                        self.errors.append(r[2])
        except (h.Closed, AssertionError, OSError) as e:
            self.exc = e
        finally:
            c.close()


@unittest.skipUnless(rh.available(), "redis-server not installed")
class CrashTestCase(h.StrataTestCase):
    class_server = False

    def setUp(self):
        super().setUp()
        self.data = tempfile.mkdtemp(prefix="strata-crash-")
        self.addCleanup(shutil.rmtree, self.data, True)
        self.l3_path = os.path.join(self.data, "l3")
        self.wal_path = os.path.join(self.data, "wal")

    def start_redis(self, **kw):
        return rh.start_for(self, **kw)

    def args(self, redis=None, l3=True, extra=(), sync="always"):
        a = ["--wal.sync=%s" % sync,
             "--l3.enabled=%s" % ("true" if l3 else "false"),
             "--l3.path=%s" % self.l3_path, "--wal.path=%s" % self.wal_path]
        if redis is not None:
            a += ["--l2.mode=standalone", "--l2.endpoints=%s" % redis.unix_url,
                  "--l2.key_prefix=%s" % PREFIX.decode(),
                  "--l2.reconnect_base=20ms", "--l2.reconnect_max=200ms",
                  "--l2.breaker_open=100ms", "--l2.breaker_max_open=300ms"]
        else:
            a.append("--l2.mode=off")
        return a + list(extra)

    def kill9(self, srv):
        srv.signal(signal.SIGKILL)
        self.assertIsNotNone(srv.wait_exit(10), "strata did not die on SIGKILL")
        srv.stop()

    def check_readable(self, c, acked, what):
        keys = list(acked)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            got = c.call("mget", chunk)
            for k, g in zip(chunk, got):
                if g != acked[k]:
                    self.fail("%s: acknowledged %r=%r reads back %r (of %d acked)"
                              % (what, k, acked[k][:16], g if g is None else g[:16], len(acked)))

    def check_redis(self, rc, acked, what):
        keys = list(acked)
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            got = rc.call("MGET", *[PREFIX + k for k in chunk])
            for k, g in zip(chunk, got):
                if g != acked[k]:
                    self.fail("%s: acknowledged %r missing or wrong in Redis: %r (of %d acked)"
                              % (what, k, g if g is None else g[:16], len(acked)))

    def wait_drained(self, c, timeout=20.0):
        def drained():
            st = c.stats()
            return st if st["wb_backlog_records"] == 0 and st["pending_writes"] == 0 else None
        return h.poll_until(drained, timeout, interval=0.02, desc="backlog drained")


class KillTest(CrashTestCase):
    CYCLES = 10

    def run_cycles(self, r, rc, sync="always", cycles=CYCLES):
        acked = {}
        replayed_total = 0
        srv = self.start_server(self.args(r, sync=sync), check_exit=False)
        for cycle in range(cycles):
            writers = [Writer(srv.socket_path, b"c%d-w%d" % (cycle, i), window=w)
                       for i, w in enumerate((1, 8, 32))]
            for w in writers:
                w.start()
            when = random.uniform(0.05, 0.4)
            time.sleep(when)
            self.kill9(srv)
            for w in writers:
                w.stop_evt.set()
                w.join(10)
                self.assertFalse(w.is_alive(), "writer thread stuck")
                self.assertEqual(w.errors, [], "write errors before the kill")
                acked.update(w.acked)
            self.assertTrue(sum(len(w.acked) for w in writers) > 0,
                            "cycle %d: nothing acknowledged in %.0f ms\n%s"
                            % (cycle, when * 1000, srv.stderr_text()))
            srv = self.start_server(self.args(r, sync=sync), check_exit=False)
            c = self.client(srv)
            replayed_total += c.stats()["wal_replayed_records"]
            self.check_readable(c, acked, "cycle %d after restart" % cycle)
        c = self.client(srv)
        self.wait_drained(c)
        self.check_redis(rc, acked, "after %d kills" % cycles)
        self.check_readable(c, acked, "at the end")
        rcode, killed = srv.stop()
        self.assertEqual((rcode, killed), (0, False), srv.stderr_text())
        return acked, replayed_total

    def test_sigkill_cycles(self):
        r = self.start_redis()
        rc = r.client()
        self.addCleanup(rc.close)
        t0 = time.monotonic()
        acked, replayed = self.run_cycles(r, rc)
        sys.stderr.write("\n  [sigkill] %d acknowledged writes over %d kills, %d replayed, %.1fs\n"
                         % (len(acked), self.CYCLES, replayed, time.monotonic() - t0))

    def test_sigkill_cycles_interval(self):
        # wal.sync=interval acknowledges once the record is in the journal
        # file (no fsync): a process crash must still lose nothing acked.
        r = self.start_redis()
        rc = r.client()
        self.addCleanup(rc.close)
        acked, replayed = self.run_cycles(r, rc, sync="interval", cycles=5)
        sys.stderr.write("\n  [sigkill interval] %d acknowledged writes over 5 kills, %d replayed\n"
                         % (len(acked), replayed))

    def test_sigkill_with_redis_stopped(self):
        r = self.start_redis(extra=["--appendonly", "yes", "--appendfsync", "always"])
        rc = r.client()
        self.addCleanup(rc.close)
        # Redis stopped (SIGTERM; appendonly keeps what it had) during the
        # writes, strata killed and restarted, then Redis started again: the
        # replayed backlog drains to it.
        srv = self.start_server(self.args(r), check_exit=False)
        writers = [Writer(srv.socket_path, b"rd-w%d" % i, window=w) for i, w in enumerate((1, 16))]
        for w in writers:
            w.start()
        time.sleep(0.15)
        r.kill9()  # appendonly + appendfsync always: Redis keeps what it had
        time.sleep(random.uniform(0.1, 0.3))
        self.kill9(srv)
        acked = {}
        for w in writers:
            w.stop_evt.set()
            w.join(10)
            self.assertEqual(w.errors, [])
            acked.update(w.acked)
        srv = self.start_server(self.args(r), check_exit=False)
        c = self.client(srv)
        st = c.stats()
        self.check_readable(c, acked, "after restart with Redis down")
        self.assertGreater(st["wal_replayed_records"], 0, st)
        h.poll_until(lambda: c.stats()["wb_retries"] > 0, 5.0, desc="drain retries")
        r.restart()
        rc = r.client()
        self.addCleanup(rc.close)
        self.wait_drained(c)
        self.check_redis(rc, acked, "after Redis returned")
        rcode, killed = srv.stop()
        self.assertEqual((rcode, killed), (0, False), srv.stderr_text())


def try_mount_tmpfs(path, size):
    if os.geteuid() != 0:
        return False
    try:
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


def umount(path):
    subprocess.run(["umount", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=10)


class DiskFullTest(CrashTestCase):
    def small_tmpfs(self, size, why=""):
        """Mounts a tmpfs of `size` at <data>/mnt (unmounted at cleanup) and
        returns its path; skips the test where mounting is not permitted."""
        mnt = os.path.join(self.data, "mnt")
        os.makedirs(mnt)
        if not try_mount_tmpfs(mnt, size):
            self.skipTest("cannot mount a tmpfs here" + why)
        self.addCleanup(umount, mnt)
        return mnt

    def fill_until_error(self, c, tag, max_writes=4000, size=2048):
        """Sets until one fails; returns (acked dict, (code, message))."""
        acked = {}
        for i in range(max_writes):
            k = b"%s-%d" % (tag, i)
            v = os.urandom(size)
            e, res = c.request("set", k, v)
            if e is not None:
                return acked, e
            self.assertIs(res, True)
            acked[k] = v
        return acked, None

    def test_wal_on_full_tmpfs(self):
        mnt = self.small_tmpfs("2m", " (see test_wal_file_size_limit)")
        self.wal_path = os.path.join(mnt, "wal")
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (1536 * 1024))
        r = self.start_redis()
        srv = self.start_server(self.args(r), check_exit=False)
        c = self.client(srv)
        acked, err = self.fill_until_error(c, b"full")
        self.assertIsNotNone(err, "no write failed on a full disk (%d acked)" % len(acked))
        self.assertEqual(err[0], UNAVAILABLE, err)
        self.assertIn("wal", err[1])
        self.assertIn("No space left on device", err[1])
        self.assertGreater(len(acked), 10)
        st = c.stats()
        self.assertGreater(st["wal_write_errors"], 0)
        self.assertGreater(st["wb_wal_failures"], 0)
        # it keeps failing, reads keep working
        e, _ = c.request("set", b"full-again", os.urandom(2048))
        self.assertIsNotNone(e)
        self.assertEqual(e[0], UNAVAILABLE)
        self.assertIsNone(c.call("get", b"full-again"), "a failed write is withdrawn")
        self.check_readable(c, acked, "reads while the disk is full")
        # space returns: writes succeed again
        os.unlink(filler)
        h.poll_until(lambda: c.request("set", b"full-back", b"ok")[0] is None, 10.0,
                     desc="writes succeed after space returned")
        more, err2 = self.fill_until_error(c, b"more", max_writes=100)
        self.assertIsNone(err2)
        acked.update(more)
        acked[b"full-back"] = b"ok"
        # nothing acknowledged is lost, even through a SIGKILL
        self.kill9(srv)
        srv = self.start_server(self.args(r), check_exit=False)
        c = self.client(srv)
        self.check_readable(c, acked, "after restart")
        self.wait_drained(c)
        rc = r.client()
        self.addCleanup(rc.close)
        self.check_redis(rc, acked, "after restart")
        rcode, killed = srv.stop()
        self.assertEqual((rcode, killed), (0, False), srv.stderr_text())

    def test_full_disk_under_concurrent_writers(self):
        # Groups of different sizes race for the last bytes: a big group fails
        # while a later small one fits. Every write acknowledged as ok must
        # survive a SIGKILL (L3 off and Redis down: the WAL is the only copy).
        mnt = self.small_tmpfs("2m")
        self.wal_path = os.path.join(mnt, "wal")
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (1024 * 1024))
        r = self.start_redis()
        srv = self.start_server(self.args(r, l3=False), check_exit=False)
        r.kill9()
        writers = []
        for i, (window, lo, hi) in enumerate([(1, 8, 64), (4, 8, 64), (32, 2000, 9000),
                                              (64, 500, 3000), (2, 8, 32)]):
            w = Writer(srv.socket_path, b"mx%d" % i, window, lo, hi)
            writers.append(w)
            w.start()
        h.poll_until(lambda: sum(len(w.errors) for w in writers) > 50, 15.0,
                     desc="writes failing on the full disk")
        time.sleep(0.5)
        for w in writers:
            w.stop_evt.set()
        for w in writers:
            w.join(10)
            self.assertFalse(w.is_alive())
        acked = {}
        for w in writers:
            acked.update(w.acked)
        codes = {tuple(e)[0] for w in writers for e in w.errors}
        self.assertEqual(codes, {UNAVAILABLE}, [w.errors[:2] for w in writers])
        c = self.client(srv)
        self.check_readable(c, acked, "reads on the full disk")
        self.kill9(srv)
        os.unlink(filler)
        srv = self.start_server(self.args(r, l3=False), check_exit=False)
        c = self.client(srv)
        sys.stderr.write("\n  [mixed] %d acked, %d failed, replayed %d\n"
                         % (len(acked), sum(len(w.errors) for w in writers),
                            c.stats()["wal_replayed_records"]))
        self.check_readable(c, acked, "after SIGKILL and restart")
        rcode, killed = srv.stop(timeout=10)

    def test_l3_on_full_tmpfs(self):
        # L3 (RocksDB) on a small tmpfs, the journal elsewhere, no Redis:
        # staged writes cannot be ingested while the disk is full. Writes are
        # still acknowledged (the journal and the pending map hold them),
        # reads return them, the failures are counted, and once space returns
        # the retried ingest empties the backlog into L3.
        mnt = self.small_tmpfs("24m")
        self.l3_path = os.path.join(mnt, "l3")
        srv = self.start_server(self.args(None, sync="interval",
                                          extra=["--l3.max_bytes=8MiB"]), check_exit=False)
        c = self.client(srv)
        # Leave about 256 KiB free next to what RocksDB has created.
        st = os.statvfs(mnt)
        free = st.f_bavail * st.f_frsize
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * max(0, free - 256 * 1024))
        acked = {}
        for i in range(1500):  # ~1.5 MiB: more than the room left
            k = b"l3full-%d" % i
            v = os.urandom(1024)
            self.assertIs(c.call("set", k, v), True)
            acked[k] = v
        h.poll_until(lambda: c.stats()["wb_l3_failures"] > 0, 15.0,
                     desc="an L3 ingest failing on the full disk")
        st = c.stats()
        h.poll_until(lambda: "L3 ingest failed" in srv.stderr_text(), 5.0,
                     desc="the failed ingest logged")
        self.assertIn("No space left on device", srv.stderr_text())
        self.assertGreater(st["wb_backlog_records"], 0)
        self.check_readable(c, acked, "reads while L3 cannot take writes")
        self.assertIs(c.call("set", b"l3full-during", b"ok"), True)
        acked[b"l3full-during"] = b"ok"
        # Space returns: the drain's retry gets everything into L3.
        os.unlink(filler)
        h.poll_until(lambda: c.stats()["wb_backlog_records"] == 0, 20.0,
                     desc="the backlog drained into L3 after space returned")
        self.assertGreater(c.stats()["l3_ingested_entries"], len(acked) - 1)
        rcode, killed = srv.stop()
        self.assertEqual((rcode, killed), (0, False), srv.stderr_text())
        # Restarted with an empty journal and a cold L1: every value is in L3.
        srv = self.start_server(self.args(None, sync="interval",
                                          extra=["--l3.max_bytes=8MiB"]), check_exit=False)
        c = self.client(srv)
        self.assertEqual(c.stats()["wal_replayed_records"], 0)
        self.check_readable(c, acked, "from L3 after a restart")
        rcode, killed = srv.stop()
        self.assertEqual((rcode, killed), (0, False), srv.stderr_text())

    def test_wal_file_size_limit(self):
        # RLIMIT_FSIZE on strata (it ignores SIGXFSZ: write() gets EFBIG). The
        # limit covers every file strata writes, so L3 is off here and Redis
        # is down: the one WAL segment grows until the limit.
        limit = 256 * 1024

        def lim(n):
            return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))

        r = self.start_redis()
        srv = self.start_server(self.args(r, l3=False), check_exit=False, preexec_fn=lim(limit))
        c = self.client(srv)
        r.kill9()
        acked, err = self.fill_until_error(c, b"fsz")
        self.assertIsNotNone(err, "no write failed past RLIMIT_FSIZE")
        self.assertEqual(err[0], UNAVAILABLE, err)
        self.assertIn("File too large", err[1])
        self.assertGreater(len(acked), 10)
        self.assertLess(len(acked), limit // 2048 + 1)
        self.check_readable(c, acked, "reads while the WAL cannot grow")
        e, _ = c.request("set", b"fsz-again", b"x" * 2048)
        self.assertIsNotNone(e)
        # the limit cannot be raised in-process: restart with more room
        self.kill9(srv)
        srv = self.start_server(self.args(r, l3=False), check_exit=False,
                                preexec_fn=lim(16 << 20))
        c = self.client(srv)
        self.check_readable(c, acked, "after restart with a higher limit")
        self.assertIs(c.call("set", b"fsz-after", b"ok"), True)
        acked[b"fsz-after"] = b"ok"
        r.restart()
        rc = r.client()
        self.addCleanup(rc.close)
        self.wait_drained(c)
        self.check_redis(rc, acked, "drained after the restart")
        rcode, killed = srv.stop()
        self.assertEqual((rcode, killed), (0, False), srv.stderr_text())


if __name__ == "__main__":
    unittest.main(argv=h.init(sys.argv))
