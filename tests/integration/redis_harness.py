"""A redis-server for Strata's integration tests, and a tiny RESP client.

RedisServer starts `redis-server` (from $PATH, or $REDIS_SERVER) in a private
temp directory, listening on a Unix socket there and/or on a free loopback
TCP port, with persistence off. It is stopped by PID (SIGTERM, then SIGKILL
if it lingers), can be killed with SIGKILL mid-test (`kill9()`) and started
again on the same socket and port (`restart()`). Every wait is bounded; this
module never signals a process it did not start.

RespClient speaks RESP2 over a Unix or TCP socket (binary-safe bulk strings;
errors come back as RespError objects, not exceptions, so tests can assert
on them).

    import redis_harness as rh
    r = rh.RedisServer(unix=True).start()
    c = r.client()
    c.call("SET", b"k", b"v", "PX", 1000)   # -> "OK"
    r.stop(); r.cleanup()
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

READY_TIMEOUT = 10.0
IO_TIMEOUT = 5.0


def redis_server_path():
    p = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
    return p


def available():
    return redis_server_path() is not None


def free_port():
    """A loopback TCP port that was free a moment ago (the kernel's pick)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class RespError:
    """A Redis error reply (-ERR ...)."""

    def __init__(self, message):
        self.message = message

    def __repr__(self):
        return "RespError(%r)" % self.message

    def __eq__(self, other):
        return isinstance(other, RespError) and other.message == self.message


def _b(x):
    if isinstance(x, bytes):
        return x
    if isinstance(x, str):
        return x.encode()
    return str(x).encode()


def encode_command(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = _b(a)
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)


class RespClient:
    """Blocking RESP2 client. call() sends one command and returns its reply:
    bytes (bulk), str (status), int, None (nil), list, or RespError."""

    def __init__(self, unix_path=None, host="127.0.0.1", port=None, timeout=IO_TIMEOUT,
                 user=None, password=None):
        if unix_path is not None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            addr = unix_path
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            addr = (host, port)
        self.timeout = timeout
        self.buf = b""
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(addr)
            if password is not None:
                args = ["AUTH"] + ([user] if user else []) + [password]
                r = self.call(*args)
                if r != "OK":
                    raise AssertionError("AUTH failed: %r" % (r,))
        except BaseException:
            self.sock.close()
            raise

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # -- io ------------------------------------------------------------------
    def send(self, *args):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(encode_command(args))

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("redis reply not complete within %.1fs" % self.timeout)
        self.sock.settimeout(remaining)
        data = self.sock.recv(1 << 16)
        if not data:
            raise ConnectionError("redis closed the connection")
        self.buf += data

    def _line(self, deadline):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill(deadline)

    def _exact(self, n, deadline):
        while len(self.buf) < n + 2:
            self._fill(deadline)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read_reply(self, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        return self._read(deadline)

    def _read(self, deadline):
        line = self._line(deadline)
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode(errors="replace")
        if t == b"-":
            return RespError(rest.decode(errors="replace"))
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n, deadline)
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read(deadline) for _ in range(n)]
        raise AssertionError("unexpected RESP line %r" % (line,))

    def call(self, *args, timeout=None):
        self.send(*args)
        return self.read_reply(timeout)

    def check(self, *args):
        """call() that raises on an error reply."""
        r = self.call(*args)
        if isinstance(r, RespError):
            raise AssertionError("redis %r -> %s" % (args, r.message))
        return r

    # -- helpers -------------------------------------------------------------
    def info(self, section=None):
        raw = self.check("INFO", *([section] if section else []))
        out = {}
        for line in raw.decode(errors="replace").splitlines():
            if not line or line.startswith("#") or ":" not in line:
                continue
            k, _, v = line.partition(":")
            out[k] = v
        return out

    def command_calls(self, name):
        """`calls` of INFO commandstats for one command (0 if never called)."""
        v = self.info("commandstats").get("cmdstat_" + name.lower())
        if not v:
            return 0
        for part in v.split(","):
            k, _, n = part.partition("=")
            if k == "calls":
                return int(n)
        return 0


class RedisServer:
    """One redis-server in its own temp dir. `unix`: listen on DIR/redis.sock;
    `tcp`: listen on 127.0.0.1:<free port> (else TCP is off). `extra` are more
    command-line arguments (e.g. ["--user", "alice", "on", ">secret", ...]).
    `auth` = (user, password) for the harness's own clients."""

    def __init__(self, unix=True, tcp=False, extra=(), auth=None, enable_debug=False):
        if not available():
            raise RuntimeError("redis-server not found")
        self.dir = tempfile.mkdtemp(prefix="strata-redis-")
        self.socket_path = os.path.join(self.dir, "redis.sock") if unix else None
        self.port = free_port() if tcp else None
        self.extra = list(extra)
        self.auth = auth
        self.enable_debug = enable_debug
        self.proc = None
        self.log_path = os.path.join(self.dir, "redis.log")
        self._log = None

    def args(self):
        a = [redis_server_path(),
             "--port", str(self.port or 0),
             "--bind", "127.0.0.1",
             "--dir", self.dir,
             "--save", "",
             "--appendonly", "no",
             "--daemonize", "no",
             "--loglevel", "warning"]
        if self.socket_path:
            a += ["--unixsocket", self.socket_path, "--unixsocketperm", "700"]
        if self.enable_debug:
            a += ["--enable-debug-command", "yes"]
        return a + self.extra

    @property
    def unix_url(self):
        return "unix://" + self.socket_path

    def tcp_url(self, user=None, password=None):
        cred = ""
        if password is not None:
            cred = "%s:%s@" % (user or "", password)
        return "redis://%s127.0.0.1:%d" % (cred, self.port)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self, tail=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-tail:]
        except OSError:
            return ""

    def start(self, timeout=READY_TIMEOUT):
        if self.alive():
            raise AssertionError("redis-server already running")
        if self._log is None:
            self._log = open(self.log_path, "ab")
        for attempt in range(3):
            self.proc = subprocess.Popen(self.args(), cwd=self.dir, stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=subprocess.STDOUT)
            try:
                self.wait_ready(timeout)
                return self
            except AssertionError:
                if self.proc.poll() is not None and self.port and attempt < 2 and \
                        "Address already in use" in self.log_text():
                    self.port = free_port()  # lost the race for the port
                    continue
                self._kill()
                raise
        return self

    def client(self, timeout=IO_TIMEOUT):
        user, password = self.auth if self.auth else (None, None)
        if self.socket_path:
            return RespClient(unix_path=self.socket_path, timeout=timeout, user=user,
                              password=password)
        return RespClient(port=self.port, timeout=timeout, user=user, password=password)

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("redis-server exited during start-up (rc %r)\n%s"
                                     % (self.proc.returncode, self.log_text()))
            try:
                with self.client(timeout=1.0) as c:
                    r = c.call("PING")
                    if r == "PONG":
                        return
                    last = r
            except (OSError, ConnectionError, AssertionError) as e:
                last = e
            time.sleep(0.02)
        raise AssertionError("redis-server not ready within %.1fs (last %r)\n%s"
                             % (timeout, last, self.log_text()))

    def kill9(self):
        """SIGKILL our redis-server and reap it (bounded)."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self, timeout=READY_TIMEOUT):
        """Starts again on the same socket path and port (after kill9/stop)."""
        if self.alive():
            raise AssertionError("restart() while running")
        if self.socket_path and os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        self.proc = subprocess.Popen(self.args(), cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        self.wait_ready(timeout)
        return self

    def stop(self, timeout=5.0):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        if self._log is not None:
            self._log.close()
            self._log = None

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def start_for(test, **kw):
    """Starts a RedisServer(**kw) that `test` (a unittest.TestCase) stops and
    removes at cleanup."""
    r = RedisServer(**kw)
    test.addCleanup(r.cleanup)
    test.addCleanup(r.stop)
    r.start()
    return r
