"""Process lifecycle: SIGTERM drain, socket file handling, start-up errors,
configuration sources, --help and --print-config."""

import os
import signal
import socket
import stat
import sys
import tempfile
import time
import tomllib
import unittest

import strata_harness as h
from strata_harness import SHUTTING_DOWN, check_error


def req(msgid, method, *params):
    return h.request_bytes(msgid, method, list(params))


class LifecycleTest(h.StrataTestCase):
    class_server = False

    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="strata-lc-")
        self.addCleanup(lambda: __import__("shutil").rmtree(d, ignore_errors=True))
        return d

    # -- SIGTERM -------------------------------------------------------------
    def test_sigterm_drains_in_flight_requests(self):
        srv = self.start_server(shutdown_timeout="5s", check_exit=False)
        c = self.track(srv.client(timeout=15))
        n = 2000
        parts, expect = [], {}
        for i in range(n):
            msgid = i + 1
            if i % 2 == 0:
                parts.append(req(msgid, "set", b"drain-%d" % i, b"v%d" % i))
                expect[msgid] = True
            else:
                parts.append(req(msgid, "get", b"drain-%d" % (i - 1)))
                expect[msgid] = b"v%d" % (i - 1)
        data = b"".join(parts)
        self.assertLess(len(data), 64 * 1024)
        c.send_raw(data)
        c.read_any(timeout=10)  # the server has started on the batch
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        c.read_until_closed(10)  # every response, then the server's close
        rc = srv.wait_exit(10)
        took = time.monotonic() - t0
        self.assertIsNotNone(rc, "strata did not exit within 10 s of SIGTERM "
                             "(shutdown_timeout 5s)\n" + srv.stderr_text())
        self.assertEqual(rc, 0, "exit code after SIGTERM\n" + srv.stderr_text())
        self.assertLess(took, 5.0 + 1.0, "exit took %.2f s, shutdown_timeout is 5s" % took)
        # every request gets exactly one response: its result, or SHUTTING_DOWN
        got = {}
        for r in c.log:
            self.assertNotIn(r[1], got, "two responses for msgid %r" % r[1])
            got[r[1]] = r
        missing = sorted(set(expect) - set(got))
        self.assertEqual(missing, [], "%d of %d in-flight requests never answered (e.g. %r)"
                         % (len(missing), n, missing[:5]))
        n_ok = 0
        for msgid, want in expect.items():
            r = got[msgid]
            if r[2] is None:
                self.assertEqual(r[3], want, "msgid %d" % msgid)
                n_ok += 1
            else:
                check_error(r, msgid=msgid, code=SHUTTING_DOWN)
        self.assertGreater(n_ok, 0)
        self.assertFalse(os.path.exists(srv.socket_path),
                         "socket file must be removed on clean exit")

    def test_sigterm_with_idle_clients_exits_promptly(self):
        srv = self.start_server(shutdown_timeout="5s", check_exit=False)
        cs = [self.track(srv.client()) for _ in range(3)]
        for c in cs:
            self.assertEqual(c.call("ping"), "pong")
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        rc = srv.wait_exit(10)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, "exit code after SIGTERM\n" + srv.stderr_text())
        self.assertLess(took, 6.0, "exit took %.2f s (shutdown_timeout 5s)" % took)
        for c in cs:
            self.assertIsNotNone(c.wait_closed(2), "client connection not closed on exit")
        self.assertFalse(os.path.exists(srv.socket_path))

    def test_sigterm_as_soon_as_ready(self):
        # "Ready" = the socket accepts. A supervisor may send SIGTERM at that
        # very moment; the process must then still drain and exit 0 (not die
        # of the default SIGTERM action, leaving a stale socket file).
        bad = []
        for i in range(10):
            srv = h.StrataServer([], shutdown_timeout="3s")
            srv.start(wait=False)
            try:
                deadline = time.monotonic() + 10
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    while True:  # tight probe: no sleep
                        try:
                            s.connect(srv.socket_path)
                            break
                        except OSError:
                            if srv.proc.poll() is not None:
                                raise AssertionError(srv.describe_death())
                            if time.monotonic() > deadline:
                                raise AssertionError("not ready within 10 s\n"
                                                     + srv.stderr_text())
                    srv.signal(signal.SIGTERM)
                    rc = srv.wait_exit(8)
                finally:
                    s.close()
                if rc != 0 or os.path.exists(srv.socket_path):
                    bad.append((i, rc, os.path.exists(srv.socket_path)))
            finally:
                srv.stop()
                srv.cleanup()
        self.assertEqual(bad, [], "SIGTERM right after the socket started accepting: "
                         "(attempt, exit code, socket file left) for the bad exits; -15 means "
                         "killed by SIGTERM before its handler was installed")

    def test_sigterm_stops_accepting(self):
        srv = self.start_server(shutdown_timeout="3s", check_exit=False)
        c = self.track(srv.client())
        self.assertEqual(c.call("ping"), "pong")
        srv.signal(signal.SIGTERM)
        rc = srv.wait_exit(8)
        self.assertIsNotNone(rc, "no exit within 8 s of SIGTERM")
        self.assertEqual(rc, 0, srv.stderr_text())
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self.assertRaises(OSError, msg="connect after exit must fail"):
                s.settimeout(2)
                s.connect(srv.socket_path)
        finally:
            s.close()

    def test_sigterm_with_stuck_client_bounded_by_shutdown_timeout(self):
        srv = self.start_server(["--l1.max_bytes=64MiB"], shutdown_timeout="1s",
                                check_exit=False)
        ctl = self.track(srv.client())
        ctl.call("set", b"stuck", b"s" * 65536)
        bad = self.track(srv.client())
        bad.sock.setblocking(False)
        chunk = b"".join(req(i + 1, "get", b"stuck") for i in range(2000))
        t_end = time.monotonic() + 2.0
        while time.monotonic() < t_end:
            try:
                bad.sock.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                break
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        rc = srv.wait_exit(8)
        took = time.monotonic() - t0
        self.assertIsNotNone(rc, "strata still running 8 s after SIGTERM with "
                             "shutdown_timeout=1s and a client that never reads")
        self.assertGreaterEqual(rc, 0, "killed by signal %d\n%s" % (-rc, srv.stderr_text()))
        self.assertLess(took, 1.0 + 2.0, "exit took %.2f s with shutdown_timeout=1s" % took)

    # -- socket file -------------------------------------------------------
    def test_stale_socket_file_replaced(self):
        d = self.tmpdir()
        path = os.path.join(d, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.close()  # file stays, nobody listens
        self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode))
        srv = self.start_server(socket_path=path)
        c = self.track(srv.client())
        self.assertEqual(c.call("ping"), "pong")

    def test_live_socket_refused(self):
        first = self.start_server()
        c = self.track(first.client())
        c.call("set", b"first", b"alive")
        r = h.run_strata(h.BASE_ARGS + ["--server.socket=%s" % first.socket_path], timeout=15)
        self.assertNotEqual(r.returncode, 0, "a second strata on a live socket must refuse to "
                            "start\nstderr:\n%s" % r.stderr)
        self.assertTrue(first.socket_path in r.stderr or "socket" in r.stderr.lower(),
                        "stderr should say why (socket in use): %r" % r.stderr[-2000:])
        # the first server is untouched: same socket file still answers
        self.assertTrue(os.path.exists(first.socket_path),
                        "the refused instance removed the live server's socket")
        self.assertEqual(c.call("get", b"first"), b"alive")
        fresh = self.track(first.client())
        self.assertEqual(fresh.call("ping"), "pong")

    def long_path(self, length):
        d = self.tmpdir()
        name_len = length - len(d) - 1
        self.assertGreater(name_len, 0)
        p = os.path.join(d, "s" * name_len)
        self.assertEqual(len(p.encode()), length)
        return p

    def test_socket_path_too_long(self):
        p = self.long_path(108)
        r = h.run_strata(h.BASE_ARGS + ["--server.socket=%s" % p], timeout=15)
        self.assertNotEqual(r.returncode, 0, "a 108-byte socket path must be refused")
        err = r.stderr.lower()
        self.assertTrue("server.socket" in err or p.lower() in err,
                        "error should name the setting or the path: %r" % r.stderr[-2000:])
        self.assertTrue("long" in err or "107" in err or "108" in err,
                        "error should say the path is too long: %r" % r.stderr[-2000:])
        self.assertFalse(os.path.exists(p))

    def test_socket_path_107_bytes_ok(self):
        p = self.long_path(107)
        srv = self.start_server(socket_path=p)
        c = self.track(srv.client())
        self.assertEqual(c.call("ping"), "pong")

    def test_socket_mode_default_0660(self):
        # even under a restrictive umask, the mode is what the config says
        srv = self.start_server(preexec_fn=lambda: os.umask(0o077))
        mode = stat.S_IMODE(os.stat(srv.socket_path).st_mode)
        self.assertEqual(mode, 0o660, "socket mode %o" % mode)

    def test_socket_mode_configurable(self):
        srv = self.start_server(["--server.socket_mode=0600"])
        mode = stat.S_IMODE(os.stat(srv.socket_path).st_mode)
        self.assertEqual(mode, 0o600, "socket mode %o" % mode)
        self.assertEqual(self.track(srv.client()).call("ping"), "pong")

    # -- huge pages (server.huge_pages) ------------------------------------
    @staticmethod
    def thp_mode():
        try:
            with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
                line = f.read()
        except OSError:
            return ""
        return line[line.find("[") + 1:line.find("]")] if "[" in line else ""

    @staticmethod
    def tunables_of(pid):
        with open("/proc/%d/environ" % pid, "rb") as f:
            for item in f.read().split(b"\0"):
                if item.startswith(b"GLIBC_TUNABLES="):
                    return item[len(b"GLIBC_TUNABLES="):].decode()
        return None

    def test_huge_pages_on_by_default_same_process(self):
        # The re-execution keeps the PID (the one we started and will stop)
        # and happens once: the server then serves as usual.
        srv = self.start_server()
        c = self.track(srv.client())
        self.assertTrue(c.call("set", b"hp", b"v"))
        self.assertEqual(c.call("get", b"hp"), b"v")
        tunables = self.tunables_of(srv.pid)
        stats = c.stats()
        self.assertGreater(stats["resident_bytes"], 0)
        self.assertIn("huge_pages_bytes", stats)
        log = srv.stderr_text()
        if "a sanitizer's allocator" in log:  # the ASan build: glibc's malloc is not used
            self.assertIn("memory: huge pages off", log)
        elif self.thp_mode() in ("always", "madvise"):
            self.assertIsNotNone(tunables, log)
            self.assertIn("glibc.malloc.hugetlb=1", tunables)
            self.assertIn("memory: huge pages on", log)
        else:
            self.assertIsNone(tunables)
            self.assertIn("transparent huge page mode is", log)
        self.assertEqual(srv.stderr_text().count("memory: huge pages"), 1, srv.stderr_text())

    def test_huge_pages_off(self):
        srv = self.start_server(["--server.huge_pages=false"])
        self.assertEqual(self.track(srv.client()).call("ping"), "pong")
        if "GLIBC_TUNABLES" not in os.environ:  # else it is the runner's, passed on
            self.assertIsNone(self.tunables_of(srv.pid))
        self.assertIn("memory: huge pages off (server.huge_pages is false)", srv.stderr_text())

    def test_huge_pages_operator_tunables_stand(self):
        # An operator who set glibc.malloc.hugetlb keeps it: no re-execution.
        srv = self.start_server(env={"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"})
        self.assertEqual(self.track(srv.client()).call("ping"), "pong")
        self.assertEqual(self.tunables_of(srv.pid), "glibc.malloc.hugetlb=0")
        self.assertIn("memory: huge pages off", srv.stderr_text())

    # -- configuration -----------------------------------------------------
    def assertConfigError(self, args, env=None, names=()):
        r = h.run_strata(h.BASE_ARGS + ["--server.socket=%s" % os.path.join(self.tmpdir(), "x.sock")]
                         + args, env=env, timeout=15)
        self.assertNotEqual(r.returncode, 0, "%r must be rejected\nstderr: %s" % (args, r.stderr))
        for alternatives in names:
            if isinstance(alternatives, str):
                alternatives = (alternatives,)
            self.assertTrue(any(a in r.stderr for a in alternatives),
                            "stderr should contain one of %r:\n%s" % (alternatives, r.stderr[-2000:]))
        return r

    def test_invalid_config_values(self):
        self.assertConfigError(["--server.max_connections=abc"],
                               names=["server.max_connections", "abc"])
        self.assertConfigError(["--server.max_value_bytes=12XB"],
                               names=["server.max_value_bytes", "12XB"])
        self.assertConfigError(["--server.shutdown_timeout=soon"],
                               names=["server.shutdown_timeout", "soon"])
        self.assertConfigError(["--server.socket_mode=999"],
                               names=["server.socket_mode", "999"])
        self.assertConfigError(["--l3.enabled=maybe"], names=["l3.enabled", "maybe"])

    def test_unknown_option_rejected(self):
        self.assertConfigError(["--server.bogus_key=1"], names=["server.bogus_key"])

    def test_invalid_env_value(self):
        self.assertConfigError([], env={"STRATA_SERVER_MAX_CONNECTIONS": "abc"},
                               names=[("STRATA_SERVER_MAX_CONNECTIONS", "server.max_connections"),
                                      "abc"])

    def test_help(self):
        r = h.run_strata(["--help"], timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        for opt in ("server.socket", "server.socket_mode", "server.max_connections",
                    "server.max_value_bytes", "server.shutdown_timeout", "l1.max_bytes",
                    "admin.listen", "STRATA_SERVER_SOCKET"):
            self.assertIn(opt, r.stdout, "--help should list %s" % opt)

    def test_print_config(self):
        d = self.tmpdir()
        sock = os.path.join(d, "pc.sock")
        r = h.run_strata(["--print-config", "--server.socket=%s" % sock,
                          "--server.max_connections=77"], cwd=d, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("[server]", r.stdout)
        cfg = tomllib.loads(r.stdout)  # must be valid TOML
        self.assertEqual(cfg["server"]["socket"], sock)
        self.assertEqual(cfg["server"]["max_connections"], 77)
        for section in ("server", "l1", "l2", "l3", "wal", "admin"):
            self.assertIn(section, cfg, "--print-config lacks [%s]" % section)
        self.assertFalse(os.path.exists(sock), "--print-config must not start a server")

    def test_print_config_roundtrips_as_config_file(self):
        d = self.tmpdir()
        sock = os.path.join(d, "rt.sock")
        r = h.run_strata(["--print-config", "--server.socket=%s" % sock,
                          "--server.max_connections=33", "--admin.listen=",
                          "--l3.enabled=false"], cwd=d, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        path = os.path.join(d, "strata.toml")
        with open(path, "w") as f:
            f.write(r.stdout)
        r2 = h.run_strata(["--print-config", "--config", path], cwd=d, timeout=10)
        self.assertEqual(r2.returncode, 0, r2.stderr)
        self.assertEqual(tomllib.loads(r2.stdout), tomllib.loads(r.stdout))

    def test_env_socket_honored(self):
        d = self.tmpdir()
        path = os.path.join(d, "env.sock")
        srv = self.start_server(pass_socket=False, socket_path=path,
                                env={"STRATA_SERVER_SOCKET": path})
        self.assertTrue(stat.S_ISSOCK(os.stat(path).st_mode))
        self.assertEqual(self.track(srv.client()).call("ping"), "pong")

    def test_flag_overrides_env(self):
        d = self.tmpdir()
        env_path = os.path.join(d, "from-env.sock")
        srv = self.start_server(env={"STRATA_SERVER_SOCKET": env_path})
        self.assertEqual(self.track(srv.client()).call("ping"), "pong")
        self.assertFalse(os.path.exists(env_path), "flag must win over the environment")

    def test_env_overrides_config_file(self):
        d = self.tmpdir()
        file_sock = os.path.join(d, "from-file.sock")
        env_sock = os.path.join(d, "from-env.sock")
        cfg = os.path.join(d, "strata.toml")
        with open(cfg, "w") as f:
            f.write('[server]\nsocket = "%s"\nmax_connections = 3\n' % file_sock)
        r = h.run_strata(["--print-config", "--config", cfg],
                         env={"STRATA_SERVER_SOCKET": env_sock}, cwd=d, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = tomllib.loads(r.stdout)
        self.assertEqual(out["server"]["socket"], env_sock)
        self.assertEqual(out["server"]["max_connections"], 3)

    def test_config_file_socket(self):
        d = self.tmpdir()
        path = os.path.join(d, "file.sock")
        cfg = os.path.join(d, "strata.toml")
        with open(cfg, "w") as f:
            f.write('[server]\nsocket = "%s"\n' % path)
        srv = self.start_server(["--config", cfg], pass_socket=False, socket_path=path)
        self.assertEqual(self.track(srv.client()).call("ping"), "pong")


if __name__ == "__main__":
    unittest.main(argv=h.init(sys.argv))
