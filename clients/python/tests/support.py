"""Test helpers: start the real strata binary on a temp socket, fake servers."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_ROOT = os.path.dirname(HERE)
if PKG_ROOT not in sys.path:
    sys.path.insert(0, PKG_ROOT)

import msgpack  # noqa: E402


def strata_bin():
    """STRATA_BIN, else ``--strata PATH`` on the command line, else a build dir."""
    path = os.environ.get("STRATA_BIN")
    if not path and "--strata" in sys.argv:
        i = sys.argv.index("--strata")
        if i + 1 < len(sys.argv):
            path = sys.argv[i + 1]
    if not path:
        for cand in ("build-py", "build"):
            p = os.path.join(PKG_ROOT, "..", "..", cand, "proxy", "strata")
            if os.path.exists(p):
                path = os.path.abspath(p)
                break
    if not path or not os.access(path, os.X_OK):
        raise unittest.SkipTest("strata binary not found: set STRATA_BIN or pass --strata PATH")
    return path


class StrataServer:
    """The real server on a socket in a fresh temp dir; stopped by PID."""

    def __init__(self, *extra, socket_path=None):
        self.extra = list(extra)
        self.dir = tempfile.mkdtemp(prefix="strata-py-", dir="/tmp")
        self.socket = socket_path or os.path.join(self.dir, "s.sock")
        self.proc = None
        self.log = os.path.join(self.dir, "strata.log")

    def start(self, timeout=10.0):
        args = [strata_bin(), "--server.socket=" + self.socket, "--admin.listen=",
                "--l3.enabled=false", "--server.threads=2"] + self.extra
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, cwd=self.dir, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("strata exited with %s:\n%s"
                                   % (self.proc.returncode, self.read_log()))
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(self.socket)
                return self
            except OSError:
                time.sleep(0.02)
            finally:
                s.close()
        self.stop()
        raise RuntimeError("strata did not accept on %s within %ss:\n%s"
                           % (self.socket, timeout, self.read_log()))

    def read_log(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def stop(self, timeout=10.0):
        """SIGTERM by PID, bounded wait, SIGKILL as a last resort; -> exit code."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(5)
        return proc.returncode

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False


class FakeServer:
    """A Unix server in a thread. ``handler(conn, unpacker)`` runs per accepted
    connection; the default one reads and never answers."""

    def __init__(self, handler=None):
        self.dir = tempfile.mkdtemp(prefix="strata-fake-", dir="/tmp")
        self.socket = os.path.join(self.dir, "fake.sock")
        self.handler = handler or self._silent
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(self.socket)
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.stopping = threading.Event()
        self.conns = []
        self.received = []  # every request seen, in order
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(0.1)
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.handler(self, conn, msgpack.Unpacker(raw=False))
        except OSError:
            pass

    def recv_requests(self, conn, unpacker, n):
        """Read until n requests arrived (bounded by the stop flag)."""
        got = []
        while len(got) < n and not self.stopping.is_set():
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            if not data:
                break
            unpacker.feed(data)
            for msg in unpacker:
                self.received.append(msg)
                got.append(msg)
        return got

    def _silent(self, server, conn, unpacker):
        while not self.stopping.is_set():
            try:
                data = conn.recv(65536)
            except socket.timeout:
                continue
            if not data:
                return
            unpacker.feed(data)
            self.received.extend(unpacker)

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
