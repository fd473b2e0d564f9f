"""Blocking, thread-safe client with a small connection pool, and pipelines."""

import queue
import select
import socket
import threading
import time

from ._commands import (Commands, IDEMPOTENT, new_packer, new_unpacker,
                        next_msgid)
from .errors import ClientTimeout, StrataConnectionError, error_from_wire

__all__ = ["Client", "Pipeline"]

_RECV = 1 << 16
_SEND = 1 << 20


class _Connection:
    """One Unix socket; used by one thread at a time (borrowed from the pool)."""

    def __init__(self, path):
        self.path = path
        self.sock = None
        self.unpacker = None
        self.packer = new_packer()
        self.msgid = 0  # last msgid used; the first request uses 1

    def next_msgid(self):
        self.msgid = next_msgid(self.msgid)
        return self.msgid

    def connect(self, deadline):
        self.close()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ClientTimeout("timed out before connecting to %s" % self.path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(remaining)
            s.connect(self.path)
            s.setblocking(False)
        except socket.timeout:
            s.close()
            raise ClientTimeout("timed out connecting to %s" % self.path) from None
        except OSError as e:
            s.close()
            raise StrataConnectionError(
                "cannot connect to %s: %s" % (self.path, e)) from e
        self.sock = s
        self.unpacker = new_unpacker()
        self.msgid = 0

    def is_usable(self):
        """False if never connected or the server closed/reset it while idle."""
        if self.sock is None:
            return False
        try:
            data = self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        return bool(data)  # b"" = EOF; data = stray notification, still fine

    def ensure(self, deadline):
        if not self.is_usable():
            self.connect(deadline)

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.unpacker = None

    def roundtrip(self, payload, msgids, deadline):
        """Write ``payload``, read until every msgid is answered.

        Returns {msgid: (exception_or_None, result)}.  Writing and reading are
        interleaved (poll), so a pipeline larger than the socket buffers cannot
        deadlock.  Any failure closes the connection (its state is unknown)."""
        try:
            return self._roundtrip(payload, msgids, deadline)
        except BaseException:
            self.close()
            raise

    def _roundtrip(self, payload, msgids, deadline):
        sock = self.sock
        view = memoryview(payload)
        total = len(view)
        sent = 0
        pending = set(msgids)
        out = {}
        poller = select.poll()
        fd = sock.fileno()
        while sent < total or pending:
            if sent < total:
                try:
                    sent += sock.send(view[sent:sent + _SEND])
                    continue
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as e:
                    raise StrataConnectionError(
                        "connection to %s failed while sending: %s"
                        % (self.path, e)) from e
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClientTimeout("no answer from %s within the timeout "
                                    "(%d of %d responses missing)"
                                    % (self.path, len(pending), len(msgids)))
            poller.register(fd, select.POLLIN | (select.POLLOUT if sent < total else 0))
            events = poller.poll(min(remaining, 60.0) * 1000.0)
            poller.unregister(fd)
            if not events:
                continue
            ev = events[0][1]
            if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    data = sock.recv(_RECV)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError as e:
                    raise StrataConnectionError(
                        "connection to %s failed while receiving: %s"
                        % (self.path, e)) from e
                if not data:
                    raise StrataConnectionError(
                        "connection closed by the server (%s) with %d "
                        "response(s) missing" % (self.path, len(pending)))
                self.unpacker.feed(data)
                for msg in self.unpacker:
                    if self._dispatch(msg, pending, out):
                        return out
        return out

    def _dispatch(self, msg, pending, out):
        """Record one message; True if the connection is finished (msgid 0)."""
        if not isinstance(msg, (list, tuple)) or not msg:
            raise StrataConnectionError("malformed message from server: %r" % (msg,))
        if msg[0] == 2:
            return False  # notification: ignored by this client
        if msg[0] != 1 or len(msg) != 4:
            raise StrataConnectionError("malformed message from server: %r" % (msg,))
        _, msgid, err, result = msg
        if msgid == 0:
            # Connection-level error: the server closes the connection after it.
            exc = error_from_wire(err) if err is not None else StrataConnectionError(
                "server answered msgid 0 without an error")
            for m in pending:
                out[m] = (exc, None)
            pending.clear()
            self.close()
            return True
        if msgid in pending:
            pending.discard(msgid)
            out[msgid] = (error_from_wire(err) if err is not None else None, result)
        return False  # unknown msgid (late answer): ignored


class Client(Commands):
    """Blocking client.  Thread-safe: each call borrows one connection from a
    pool of ``pool_size`` (connected lazily) and returns it afterwards.

    ``timeout`` (seconds) bounds each call end to end: waiting for a free
    connection, connecting, writing and reading.  On expiry it raises
    :class:`ClientTimeout` and that connection is closed.

    A connection the server closed while idle is noticed before use and
    replaced.  If it breaks while a call is in flight the call raises
    :class:`StrataConnectionError`, except read-only calls (ping, get, mget,
    ttl, exists, stats) which are retried once on a new connection.  Writes
    are never retried."""

    def __init__(self, socket_path="./strata.sock", timeout=5.0, pool_size=4):
        if pool_size < 1:
            raise ValueError("pool_size must be >= 1")
        self.socket_path = socket_path
        self.timeout = timeout
        self.pool_size = pool_size
        self._pool = queue.LifoQueue()
        for _ in range(pool_size):
            self._pool.put(_Connection(socket_path))
        self._closed = False
        self._lock = threading.Lock()

    # -- pool ---------------------------------------------------------------
    def _deadline(self):
        return time.monotonic() + (self.timeout if self.timeout is not None else 1e9)

    def _borrow(self, deadline):
        if self._closed:
            raise StrataConnectionError("client is closed")
        try:
            return self._pool.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise ClientTimeout("no free connection in the pool within the "
                                "timeout") from None

    def _release(self, conn):
        if self._closed:
            conn.close()
        self._pool.put(conn)

    def close(self):
        """Close every idle connection; busy ones close when returned."""
        self._closed = True
        while True:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                break
            conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- calls --------------------------------------------------------------
    def _execute(self, cmd):
        method, params, post = cmd
        deadline = self._deadline()
        attempts = 2 if method in IDEMPOTENT else 1
        conn = self._borrow(deadline)
        try:
            for attempt in range(attempts):
                try:
                    conn.ensure(deadline)
                    msgid = conn.next_msgid()
                    payload = conn.packer.pack([0, msgid, method, params])
                    out = conn.roundtrip(payload, (msgid,), deadline)
                    break
                except StrataConnectionError:
                    if attempt + 1 >= attempts:
                        raise
        finally:
            self._release(conn)
        exc, result = out[msgid]
        if exc is not None:
            raise exc
        return post(result)

    def pipeline(self, raise_on_error=False):
        """A :class:`Pipeline`; use as a context manager."""
        return Pipeline(self, raise_on_error=raise_on_error)


class Pipeline(Commands):
    """Queue calls, send them in one write, match answers by msgid.

    Methods return the pipeline (so calls chain).  :meth:`execute` returns the
    results in call order; a call the server refused appears in the list as
    the exception object (a :class:`StrataError` subclass) unless
    ``raise_on_error=True``, which raises the first one after all answers are
    in.  Used as a context manager it executes on exit if calls are still
    queued (results in ``.results``); if the block raised, the queue is
    discarded instead.  A socket failure or timeout raises and is not retried.
    """

    def __init__(self, client, raise_on_error=False):
        self._client = client
        self._queue = []
        self.raise_on_error = raise_on_error
        self.results = None

    def _execute(self, cmd):
        self._queue.append(cmd)
        return self

    def __len__(self):
        return len(self._queue)

    def reset(self):
        self._queue = []

    def execute(self, raise_on_error=None):
        if raise_on_error is None:
            raise_on_error = self.raise_on_error
        cmds, self._queue = self._queue, []
        if not cmds:
            self.results = []
            return self.results
        client = self._client
        deadline = client._deadline()
        conn = client._borrow(deadline)
        try:
            conn.ensure(deadline)
            ids = []
            buf = bytearray()
            for method, params, _ in cmds:
                msgid = conn.next_msgid()
                ids.append(msgid)
                buf += conn.packer.pack([0, msgid, method, params])
            out = conn.roundtrip(bytes(buf), ids, deadline)
        finally:
            client._release(conn)
        results = []
        first = None
        for msgid, (_, _, post) in zip(ids, cmds):
            exc, result = out[msgid]
            if exc is not None:
                results.append(exc)
                if first is None:
                    first = exc
            else:
                results.append(post(result))
        self.results = results
        if raise_on_error and first is not None:
            raise first
        return results

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            if self._queue:
                self.execute()
        else:
            self._queue = []
        return False
