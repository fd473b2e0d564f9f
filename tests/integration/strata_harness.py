"""Harness for Strata integration tests.

Starts the real `strata` binary on a socket in a private temp directory,
talks raw msgpack-RPC to it, and stops it by PID. Standard library + msgpack
only (Debian's /usr/bin/python3 with python3-msgpack).

Every wait here is bounded in time; nothing kills a process this module did
not start itself.

Usage in a test file:

    import strata_harness as h
    class T(h.StrataTestCase):
        def test_x(self):
            c = self.client()
            self.assertEqual(c.call("ping"), "pong")
    if __name__ == "__main__":
        unittest.main(argv=h.init(sys.argv))
"""

import itertools
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import msgpack

# Error codes (PROTOCOL.md).
BAD_REQUEST = 1
UNKNOWN_METHOD = 2
BAD_ARGS = 3
TOO_LARGE = 4
UNAVAILABLE = 5
TIMEOUT = 6
OVERLOADED = 7
SHUTTING_DOWN = 8
INTERNAL = 9

STRATA = None  # path of the binary, set by init()

READY_TIMEOUT = 10.0  # seconds to wait for the socket to accept
IO_TIMEOUT = 10.0  # default bound for one response


def init(argv):
    """Takes `--strata PATH` (or `--strata=PATH`, or $STRATA_BIN) out of argv
    and returns the rest for unittest.main."""
    global STRATA
    rest = [argv[0]]
    i = 1
    path = os.environ.get("STRATA_BIN")
    while i < len(argv):
        a = argv[i]
        if a == "--strata" and i + 1 < len(argv):
            path = argv[i + 1]
            i += 2
            continue
        if a.startswith("--strata="):
            path = a[len("--strata="):]
            i += 1
            continue
        rest.append(a)
        i += 1
    if not path:
        sys.stderr.write("usage: %s --strata PATH/TO/strata [unittest args]\n" % argv[0])
        sys.exit(2)
    path = os.path.abspath(path)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.stderr.write("strata binary not found or not executable: %s\n" % path)
        sys.exit(2)
    STRATA = path
    return rest


def raise_nofile(want):
    """Raises the soft RLIMIT_NOFILE to at least `want` (bounded by the hard
    limit). Child processes inherit it. Returns the resulting soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= want:
        return soft
    new = want if hard == resource.RLIM_INFINITY else min(want, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new


def clean_env(extra=None):
    """The environment for a child strata: ours without STRATA_* (so a
    developer's shell does not leak into tests), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
    if extra:
        env.update(extra)
    return env


# Base arguments every test server gets (PROTOCOL/brief): no admin HTTP, no
# RocksDB, 2 worker loops.
BASE_ARGS = [
    "--server.threads=2",
    "--admin.listen=",
    "--l3.enabled=false",
    "--log.level=info",
]


def run_strata(args, env=None, cwd=None, timeout=10.0, preexec_fn=None):
    """Runs strata to completion (for --help, --print-config, start-up
    failures). Returns CompletedProcess with text stdout/stderr. If it does not
    exit within `timeout` it is killed (it is our child) and AssertionError is
    raised."""
    own_dir = None
    if cwd is None:
        own_dir = tempfile.mkdtemp(prefix="strata-run-")
        cwd = own_dir
    try:
        p = subprocess.Popen([STRATA] + list(args), cwd=cwd, env=clean_env(env),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=preexec_fn)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate(timeout=10)
            raise AssertionError(
                "strata %r did not exit within %.1fs\nstdout:\n%s\nstderr:\n%s"
                % (args, timeout, out.decode(errors="replace")[-4000:],
                   err.decode(errors="replace")[-4000:]))
        return subprocess.CompletedProcess(
            p.args, p.returncode, out.decode(errors="replace"),
            err.decode(errors="replace"))
    finally:
        if own_dir:
            shutil.rmtree(own_dir, ignore_errors=True)


class ServerDied(AssertionError):
    pass


class StrataServer:
    """One strata process on a socket in its own temp dir."""

    def __init__(self, args=(), env=None, socket_path=None, pass_socket=True,
                 shutdown_timeout="3s", preexec_fn=None, ready_path=None):
        self.dir = tempfile.mkdtemp(prefix="strata-it-")
        self.socket_path = socket_path or os.path.join(self.dir, "strata.sock")
        self.ready_path = ready_path or self.socket_path
        self.args = list(BASE_ARGS)
        if shutdown_timeout is not None:
            self.args.append("--server.shutdown_timeout=%s" % shutdown_timeout)
        if pass_socket:
            self.args.append("--server.socket=%s" % self.socket_path)
        self.args += list(args)
        self.env = env
        self.preexec_fn = preexec_fn
        self.proc = None
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.returncode = None
        self.stopped_by_us = False
        self._err = self._out = None

    # -- process -----------------------------------------------------------
    def start(self, wait=True):
        self._err = open(self.stderr_path, "wb")
        self._out = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen([STRATA] + self.args, cwd=self.dir,
                                     env=clean_env(self.env),
                                     stdin=subprocess.DEVNULL, stdout=self._out,
                                     stderr=self._err, preexec_fn=self.preexec_fn)
        if wait:
            self.wait_ready()
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr_text(self, tail=6000):
        try:
            with open(self.stderr_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data.decode(errors="replace")[-tail:]

    def describe_death(self):
        rc = self.proc.poll()
        how = ("killed by signal %d" % -rc) if rc is not None and rc < 0 else "exit code %r" % rc
        return "strata (pid %d) died: %s\n--- stderr tail ---\n%s" % (
            self.proc.pid, how, self.stderr_text())

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Ready = the socket accepts and a ping is answered (the answer
        proves the server got past start-up, not just bind+listen)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerDied("strata exited during start-up\n" + self.describe_death())
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.settimeout(max(0.05, min(2.0, deadline - time.monotonic())))
                s.connect(self.ready_path)
                s.sendall(request_bytes(1, "ping", []))
                u = msgpack.Unpacker(raw=False)
                while True:
                    data = s.recv(4096)
                    if not data:
                        raise OSError("closed before answering ping")
                    u.feed(data)
                    for obj in u:
                        if obj == [1, 1, None, "pong"]:
                            return
                        raise AssertionError("start-up ping got %r\n--- stderr tail ---\n%s"
                                             % (obj, self.stderr_text()))
            except OSError as e:  # includes socket.timeout
                last = e
            finally:
                s.close()
            time.sleep(0.02)
        raise AssertionError("strata not accepting on %s within %.1fs (last error %r)\n"
                             "--- stderr tail ---\n%s"
                             % (self.ready_path, timeout, last, self.stderr_text()))

    def signal(self, sig):
        """Sends `sig` to our child (only while it is running)."""
        if self.proc is not None and self.proc.poll() is None:
            self.stopped_by_us = True
            os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout):
        """Waits for our child to exit; returns the return code or None."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=10.0):
        """SIGTERM, wait, SIGKILL fallback. Returns (returncode, was_killed).
        Only ever signals the PID of the process this object started."""
        if self.proc is None:
            return None, False
        killed = False
        if self.proc.poll() is None:
            self.stopped_by_us = True
            os.kill(self.proc.pid, signal.SIGTERM)
            if self.wait_exit(timeout) is None:
                killed = True
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.returncode = self.proc.returncode
        for f in (self._err, self._out):
            if f is not None:
                f.close()
        return self.returncode, killed

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- /proc -------------------------------------------------------------
    def proc_status(self):
        """Fields of /proc/PID/status in kB (VmRSS, VmHWM, VmPeak, ...)."""
        out = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                v = v.strip()
                if v.endswith(" kB"):
                    out[k] = int(v[:-3])
        return out

    def rss_kb(self):
        return self.proc_status()["VmRSS"]

    def fd_count(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    # -- clients -----------------------------------------------------------
    def client(self, timeout=IO_TIMEOUT):
        return Client(self.socket_path, timeout=timeout)


class RpcError(Exception):
    def __init__(self, code, message, msgid=None):
        super().__init__("RPC error %r: %r (msgid %r)" % (code, message, msgid))
        self.code = code
        self.message = message
        self.msgid = msgid


class Closed(Exception):
    """The server closed the connection."""


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def request_bytes(msgid, method, params):
    return pack([0, msgid, method, params])


def raw_str(b):
    """MessagePack str header + the given bytes (which need not be UTF-8)."""
    n = len(b)
    if n < 32:
        return bytes([0xa0 | n]) + b
    if n < 256:
        return b"\xd9" + bytes([n]) + b
    if n < 65536:
        return b"\xda" + n.to_bytes(2, "big") + b
    return b"\xdb" + n.to_bytes(4, "big") + b


def array_header(n):
    if n < 16:
        return bytes([0x90 | n])
    if n < 65536:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


class Client:
    """A raw msgpack-RPC client over a Unix stream socket.

    Responses are matched by msgid. Every response ever received is in `log`
    (arrival order); the ones not yet consumed by read_response/read_any are
    in `pending` (msgid -> list). Notifications go to `notifications`, any
    other object to `other`.
    """

    def __init__(self, path, timeout=IO_TIMEOUT, connect=True):
        self.path = path
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False,
                                         unicode_errors="surrogateescape",
                                         max_buffer_size=1 << 30)
        self.log = []
        self.pending = {}
        self._cursor = 0  # read_any position in log
        self.notifications = []
        self.other = []
        self.closed = False
        self.next_id = 1
        if connect:
            self.sock.settimeout(timeout)
            self.sock.connect(path)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def fileno(self):
        return self.sock.fileno()

    # -- sending -----------------------------------------------------------
    def new_id(self):
        i = self.next_id
        self.next_id += 1
        if self.next_id > 0xFFFFFFFF:
            self.next_id = 1
        return i

    def send_raw(self, data):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def send_raw_async(self, data, timeout=None):
        """sendall in a background thread (for writes bigger than the socket
        buffers while this thread reads). Returns the thread; join it with a
        timeout. An exception lands in thread.error."""
        fd = os.dup(self.sock.fileno())
        t = threading.Thread(target=self._send_bg,
                             args=(fd, data, timeout or self.timeout * 3), daemon=True)
        t.error = None
        t.start()
        return t

    @staticmethod
    def _send_bg(fd, data, timeout):
        me = threading.current_thread()
        try:
            s = socket.socket(fileno=fd)
            try:
                s.settimeout(timeout)
                s.sendall(data)
            finally:
                s.detach()
                os.close(fd)
        except Exception as e:  # noqa: BLE001 - reported to the test
            me.error = e

    def send(self, method, *params, msgid=None):
        """Sends one request; returns its msgid."""
        if msgid is None:
            msgid = self.new_id()
        self.send_raw(request_bytes(msgid, method, list(params)))
        return msgid

    def request_bytes(self, msgid, method, params):
        return request_bytes(msgid, method, params)

    # -- receiving ---------------------------------------------------------
    def _recv_some(self, deadline):
        """Reads once and feeds the unpacker. Raises Closed on EOF/reset and
        socket.timeout when the deadline passes."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            self._drain_unpacker()
            raise Closed()
        self.unpacker.feed(data)
        self._drain_unpacker()

    def _drain_unpacker(self):
        for obj in self.unpacker:
            if isinstance(obj, list) and len(obj) == 4 and obj[0] == 1:
                self.log.append(obj)
                self.pending.setdefault(obj[1], []).append(obj)
            elif isinstance(obj, list) and len(obj) == 3 and obj[0] == 2:
                self.notifications.append(obj)
            else:
                self.other.append(obj)

    def _take(self, msgid):
        lst = self.pending[msgid]
        r = lst.pop(0)
        if not lst:
            del self.pending[msgid]
        return r

    def _check_other(self):
        if self.other:
            raise AssertionError("server sent a message that is neither a response nor a "
                                 "notification: %r" % (self.other[:3],))

    def read_response(self, msgid, timeout=None):
        """Returns the raw response [1, msgid, error, result] for msgid."""
        t = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        while True:
            self._check_other()
            if msgid in self.pending:
                return self._take(msgid)
            try:
                self._recv_some(deadline)
            except socket.timeout:
                raise AssertionError("no response for msgid %r within %.1fs" % (msgid, t))
            except Closed:
                if msgid in self.pending:
                    return self._take(msgid)
                raise AssertionError("connection closed by the server before the response "
                                     "for msgid %r (other responses: %r)"
                                     % (msgid, _short(self.pending)))

    def read_responses(self, msgids, timeout=None):
        """Waits for all msgids; returns {msgid: response}."""
        t = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        want = set(msgids)
        out = {}
        while True:
            self._check_other()
            for m in list(want):
                if m in self.pending:
                    out[m] = self._take(m)
                    want.discard(m)
            if not want:
                return out
            try:
                self._recv_some(deadline)
            except socket.timeout:
                raise AssertionError("%d of %d responses missing after %.1fs (e.g. msgid %r)"
                                     % (len(want), len(msgids), t, sorted(want)[:5]))
            except Closed:
                for m in list(want):
                    if m in self.pending:
                        out[m] = self._take(m)
                        want.discard(m)
                if not want:
                    return out
                raise AssertionError("connection closed with %d of %d responses missing "
                                     "(e.g. msgid %r)"
                                     % (len(want), len(msgids), sorted(want)[:5]))

    def read_any(self, timeout=None):
        """Returns the next response in arrival order (any msgid). Raises
        Closed on EOF and AssertionError on timeout."""
        t = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        while True:
            self._check_other()
            while self._cursor < len(self.log):
                r = self.log[self._cursor]
                self._cursor += 1
                lst = self.pending.get(r[1], [])
                for i, x in enumerate(lst):
                    if x is r:
                        lst.pop(i)
                        if not lst:
                            del self.pending[r[1]]
                        return r
            try:
                self._recv_some(deadline)
            except socket.timeout:
                raise AssertionError("no response within %.1fs" % t)

    def read_until_closed(self, timeout=None):
        """Reads until the server closes. Returns the responses not consumed
        yet, in arrival order. AssertionError if still open at the deadline."""
        t = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + t
        while True:
            try:
                self._recv_some(deadline)
            except Closed:
                break
            except socket.timeout:
                raise AssertionError("server did not close the connection within %.1fs "
                                     "(%d responses received)" % (t, len(self.log)))
        live = {id(r) for lst in self.pending.values() for r in lst}
        out = [r for r in self.log if id(r) in live]
        self.pending = {}
        self._cursor = len(self.log)
        return out

    def is_open(self, wait=0.2):
        """False if EOF arrives within `wait` seconds, else True. Data that
        arrives meanwhile is kept."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self._recv_some(deadline)
            except Closed:
                return False
            except socket.timeout:
                return True

    def wait_closed(self, timeout):
        """Returns the seconds until EOF, or None if still open at timeout."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            try:
                self._recv_some(deadline)
            except Closed:
                return time.monotonic() - t0
            except socket.timeout:
                return None

    # -- RPC ---------------------------------------------------------------
    def request(self, method, *params, timeout=None):
        """Sends and waits; returns (error, result)."""
        msgid = self.send(method, *params)
        r = self.read_response(msgid, timeout)
        return r[2], r[3]

    def call(self, method, *params, timeout=None):
        """Returns the result or raises RpcError."""
        msgid = self.send(method, *params)
        r = self.read_response(msgid, timeout)
        if r[2] is not None:
            err = r[2]
            code = err[0] if isinstance(err, list) and err else err
            msg = err[1] if isinstance(err, list) and len(err) > 1 else None
            raise RpcError(code, msg, msgid)
        return r[3]

    def call_error(self, method, *params, timeout=None):
        """Expects an error; returns (code, message). AssertionError on success."""
        msgid = self.send(method, *params)
        r = self.read_response(msgid, timeout)
        try:
            return check_error(r, msgid=msgid)
        except AssertionError as e:
            raise AssertionError("%s%s: %s" % (method, _short(params), e)) from None

    def stats(self):
        s = self.call("stats")
        if not isinstance(s, dict):
            raise AssertionError("stats returned %r, not a map" % (s,))
        return s


def check_error(resp, msgid=None, code=None):
    """Validates an error response shape; returns (code, message)."""
    if not (isinstance(resp, list) and len(resp) == 4 and resp[0] == 1):
        raise AssertionError("not a response: %r" % (resp,))
    if msgid is not None and resp[1] != msgid:
        raise AssertionError("response msgid %r, expected %r: %r" % (resp[1], msgid, resp))
    err = resp[2]
    if err is None:
        raise AssertionError("expected an error, got success with result %r" % (resp[3],))
    if not (isinstance(err, list) and len(err) == 2 and isinstance(err[0], int)
            and not isinstance(err[0], bool) and isinstance(err[1], str)):
        raise AssertionError("error is not [code:int, message:str]: %r" % (err,))
    if resp[3] is not None:
        raise AssertionError("error response with non-nil result: %r" % (resp,))
    if code is not None and err[0] != code:
        raise AssertionError("expected error code %r, got %r (%r)" % (code, err[0], err[1]))
    return err[0], err[1]


_key_counter = itertools.count(1)


def unique_key(tag="k"):
    """A key no other call in this process returns (tests sharing a server
    never meet)."""
    return ("%s-%d" % (tag, next(_key_counter))).encode()


def poll_until(fn, timeout, interval=0.02, desc="condition"):
    """Calls fn() until it returns a truthy value; returns it. Raises
    AssertionError with the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("%s not reached within %.1fs (last: %r)" % (desc, timeout, last))
        time.sleep(interval)


class StrataTestCase(unittest.TestCase):
    """Base class. By default one server per class (started in setUpClass
    with `server_args`); each test checks the server is still alive before
    and after. Tests can start extra servers with self.start_server(...),
    which are stopped in cleanup."""

    server_args = []
    server_env = None
    class_server = True  # False: no shared server

    @classmethod
    def setUpClass(cls):
        if STRATA is None:
            raise RuntimeError("call strata_harness.init(sys.argv) first")
        cls.server = None
        if cls.class_server:
            cls.server = StrataServer(cls.server_args, env=cls.server_env)
            try:
                cls.server.start()
            except BaseException:
                cls.server.stop()
                cls.server.cleanup()
                raise

    @classmethod
    def tearDownClass(cls):
        srv = getattr(cls, "server", None)
        if srv is not None:
            crashed = not srv.alive()
            rc, killed = srv.stop()
            desc = srv.describe_death()
            srv.cleanup()
            if crashed:
                raise ServerDied("class server was not alive at the end\n" + desc)
            if killed or rc != 0:
                raise AssertionError("class server did not exit 0 on SIGTERM (rc=%r, "
                                     "SIGKILLed=%r)\n%s" % (rc, killed, desc))

    def setUp(self):
        self._clients = []
        if self.server is not None and not self.server.alive():
            self.fail("class server is dead before the test\n" + self.server.describe_death())

    def tearDown(self):
        for c in self._clients:
            c.close()
        if self.server is not None and not self.server.alive():
            self.fail("server died during the test\n" + self.server.describe_death())

    def client(self, server=None, timeout=IO_TIMEOUT):
        c = (server or self.server).client(timeout=timeout)
        self._clients.append(c)
        return c

    def track(self, c):
        self._clients.append(c)
        return c

    def start_server(self, args=(), check_exit=True, **kw):
        """Starts an extra server for this test; stopped at cleanup. With
        check_exit, cleanup fails the test if it had crashed or did not exit 0
        on SIGTERM."""
        srv = StrataServer(args, **kw)
        self.addCleanup(self._stop_server, srv, check_exit)
        srv.start()
        return srv

    def _stop_server(self, srv, check_exit):
        crashed = srv.proc is not None and not srv.stopped_by_us and not srv.alive()
        rc, killed = srv.stop()
        desc = srv.describe_death() if srv.proc is not None else ""
        srv.cleanup()
        if check_exit and srv.proc is not None:
            if crashed:
                self.fail("server died during the test\n" + desc)
            if killed or rc != 0:
                self.fail("server did not exit 0 on SIGTERM (rc=%r, SIGKILLed=%r)\n%s"
                          % (rc, killed, desc))

    # -- helpers -----------------------------------------------------------
    def assertRpcError(self, client, code, method, *params, contains=None):
        c, msg = client.call_error(method, *params)
        self.assertEqual(c, code, "%s%r: expected code %d, got %d (%r)"
                         % (method, _short(params), code, c, msg))
        if contains is not None:
            self.assertIn(contains, msg, "error message should name %r" % contains)
        return msg


def _short(params, limit=200):
    s = repr(params)
    return s if len(s) <= limit else s[:limit] + "..."
