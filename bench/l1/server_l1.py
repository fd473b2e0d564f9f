#!/usr/bin/python3
"""Measures L1 through the real `strata` server: memory per entry and mass expiry.

    server_l1.py memory --strata PATH [--keys 1000000]
    server_l1.py expiry --strata PATH [--keys 200000] [--ttl-ms 500] [--permanent 0]
                        [--max-wait 30]

Starts the binary on a Unix socket in a private temp dir with
--server.threads=2 --admin.listen= --l3.enabled=false --l1.max_bytes=1GiB,
loads 16-byte keys with 32-byte values over two connections with pipelined
msgpack-RPC `set` calls (batches of 1000 per connection), and reads VmRSS
from /proc/PID/status and the server's own `stats`. `memory` reports
RSS(full) - RSS(empty) per entry; `expiry` sets keys with ttl_ms and polls
`stats` every 100 ms until l1_items is back to the permanent keys (or
--max-wait seconds). The server is stopped by its PID (SIGTERM, then SIGKILL
after 10 s). Every wait is bounded. Needs python3-msgpack.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import msgpack

BATCH = 1000
IO_TIMEOUT = 30.0


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(IO_TIMEOUT)
        self.sock.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False)
        self.msgid = 0

    def send(self, method, params):
        self.msgid += 1
        return msgpack.packb([0, self.msgid, method, params], use_bin_type=True)

    def read(self, n):
        """Reads n responses; returns them in order."""
        out = []
        while len(out) < n:
            for msg in self.unpacker:
                out.append(msg)
                if len(out) == n:
                    break
            if len(out) == n:
                break
            data = self.sock.recv(1 << 20)
            if not data:
                raise RuntimeError("server closed the connection")
            self.unpacker.feed(data)
        return out

    def call(self, method, *params):
        self.sock.sendall(self.send(method, list(params)))
        (resp,) = self.read(1)
        if resp[2] is not None:
            raise RuntimeError("%s failed: %r" % (method, resp[2]))
        return resp[3]


def key(i):
    return b"key:%012d" % i


VALUE = b"v" * 32


def load(conns, keys, first, opts):
    """Pipelined sets of keys first..first+keys-1, round-robin over conns."""
    t0 = time.monotonic()
    i = first
    end = first + keys
    while i < end:
        sent = []
        for c in conns:
            n = min(BATCH, end - i)
            if n <= 0:
                break
            params = [[key(k), VALUE, opts] if opts else [key(k), VALUE] for k in range(i, i + n)]
            c.sock.sendall(b"".join(c.send("set", p) for p in params))
            sent.append((c, n))
            i += n
        for c, n in sent:
            for r in c.read(n):
                if r[2] is not None or r[3] is not True:
                    raise RuntimeError("set failed: %r" % (r,))
    return time.monotonic() - t0


class Server:
    def __init__(self, strata, extra):
        self.dir = tempfile.mkdtemp(prefix="strata-l1-")
        self.sock = os.path.join(self.dir, "s.sock")
        self.args = [strata, "--server.socket=" + self.sock, "--server.threads=2",
                     "--admin.listen=", "--l3.enabled=false", "--l1.max_bytes=1GiB"] + extra
        self.log = open(os.path.join(self.dir, "strata.log"), "w")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("strata exited with %d" % self.proc.returncode)
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.sock)
                s.close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("strata did not accept within 10 s")
                time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def settle_rss(pid, seconds=1.0):
    time.sleep(seconds)
    return vm_rss_kib(pid)


def cmd_memory(a, srv):
    conns = [Conn(srv.sock), Conn(srv.sock)]
    conns[0].call("ping")
    conns[1].call("ping")
    rss0 = settle_rss(srv.proc.pid)
    st0 = conns[0].call("stats")
    secs = load(conns, a.keys, 0, None)
    rss1 = settle_rss(srv.proc.pid)
    st1 = conns[0].call("stats")
    d = (rss1 - rss0) * 1024
    print("strata %s" % " ".join(srv.args[1:]))
    print("loaded %d keys (16 B key, 32 B value) in %.1f s over 2 connections, pipelined %d"
          % (a.keys, secs, BATCH))
    print("VmRSS empty %.1f MiB, full %.1f MiB; delta %d B = %.1f MB = %.1f B/entry "
          "(%.1f over the 48 payload bytes)"
          % (rss0 / 1024, rss1 / 1024, d, d / 1e6, d / a.keys, d / a.keys - 48))
    ub = st1["l1_bytes"] - st0["l1_bytes"]
    print("stats: l1_items %d, l1_bytes %d (delta %d = %.1f B/entry); RSS delta / l1_bytes "
          "delta = %.3f" % (st1["l1_items"], st1["l1_bytes"], ub, ub / a.keys, d / ub))
    print("target: <= 100 MB for 1M entries (<= 52 B overhead/entry): %s"
          % ("met" if d <= 100e6 * a.keys / 1e6 else "NOT met"))


def cmd_expiry(a, srv):
    conns = [Conn(srv.sock), Conn(srv.sock)]
    rss0 = settle_rss(srv.proc.pid, 0.3)
    if a.permanent:
        load(conns, a.permanent, 10_000_000, None)
    t_load = time.monotonic()
    secs = load(conns, a.keys, 0, {"ttl_ms": a.ttl_ms})
    t_set = time.monotonic()
    st = conns[0].call("stats")
    rss1 = vm_rss_kib(srv.proc.pid)
    print("strata %s" % " ".join(srv.args[1:]))
    print("set %d keys with ttl_ms=%d in %.2f s (+%d permanent keys); right after: l1_items %d, "
          "l1_bytes %d, VmRSS %.1f MiB (empty %.1f)"
          % (a.keys, a.ttl_ms, secs, a.permanent, st["l1_items"], st["l1_bytes"],
             rss1 / 1024, rss0 / 1024))
    # Expiries are relative to each set; the last one lapses ttl_ms after t_set.
    print("  t (s after last set)   l1_items    l1_bytes")
    deadline = t_set + a.max_wait
    last_print = -1.0
    done_at = None
    while time.monotonic() < deadline:
        st = conns[0].call("stats")
        t = time.monotonic() - t_set
        if t - last_print >= 0.5 or st["l1_items"] <= a.permanent:
            print("  %6.2f             %9d  %11d" % (t, st["l1_items"], st["l1_bytes"]))
            last_print = t
        if st["l1_items"] <= a.permanent:
            done_at = t
            break
        time.sleep(0.1)
    rss2 = settle_rss(srv.proc.pid, 0.3)
    if done_at is None:
        print("NOT reclaimed within %.0f s: %d expired entries still indexed"
              % (a.max_wait, st["l1_items"] - a.permanent))
    else:
        print("all expired entries reclaimed %.2f s after the last set (%.2f s after its "
              "expiry; loading took %.2f s)" % (done_at, done_at - a.ttl_ms / 1000,
                                                 t_set - t_load))
    print("after: l1_bytes %d, VmRSS %.1f MiB" % (st["l1_bytes"], rss2 / 1024))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["memory", "expiry"])
    p.add_argument("--strata", required=True)
    p.add_argument("--keys", type=int)
    p.add_argument("--ttl-ms", type=int, default=500)
    p.add_argument("--permanent", type=int, default=0)
    p.add_argument("--max-wait", type=float, default=30.0)
    a = p.parse_args()
    if a.keys is None:
        a.keys = 1_000_000 if a.mode == "memory" else 200_000
    a.max_wait = min(a.max_wait, 120.0)
    srv = Server(os.path.abspath(a.strata), ["--log.level=warn"])
    try:
        (cmd_memory if a.mode == "memory" else cmd_expiry)(a, srv)
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
