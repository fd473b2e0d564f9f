"""asyncio client: one connection shared by all concurrent calls,
multiplexed by msgid (a reader task resolves one future per msgid)."""

import asyncio

from ._commands import Commands, IDEMPOTENT, new_packer, new_unpacker, next_msgid
from .errors import ClientTimeout, StrataConnectionError, error_from_wire

__all__ = ["AsyncClient"]


class _AsyncConn:
    def __init__(self, reader, writer, path):
        self.reader = reader
        self.writer = writer
        self.path = path
        self.pending = {}
        self.msgid = 0
        self.dead = False
        self.packer = new_packer()
        self.task = None

    def next_msgid(self):
        m = next_msgid(self.msgid)
        while m in self.pending:  # only possible after wrapping with a call stuck
            m = next_msgid(m)
        self.msgid = m
        return m

    def fail_all(self, exc):
        self.dead = True
        pending, self.pending = self.pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(exc)

    def close(self):
        self.dead = True
        try:
            self.writer.close()
        except Exception:  # pragma: no cover - best effort
            pass

    async def read_loop(self):
        unpacker = new_unpacker()
        reason = "connection closed by the server (%s)" % self.path
        try:
            while True:
                data = await self.reader.read(1 << 16)
                if not data:
                    break
                unpacker.feed(data)
                for msg in unpacker:
                    if self._dispatch(msg):
                        return
        except asyncio.CancelledError:
            reason = "client closed"
            raise
        except Exception as e:  # socket error or garbage from the server
            reason = "connection to %s failed: %s" % (self.path, e)
        finally:
            self.fail_all(StrataConnectionError(reason))
            self.close()

    def _dispatch(self, msg):
        if not isinstance(msg, (list, tuple)) or not msg:
            raise ValueError("malformed message from server: %r" % (msg,))
        if msg[0] == 2:
            return False  # notification: ignored
        if msg[0] != 1 or len(msg) != 4:
            raise ValueError("malformed message from server: %r" % (msg,))
        _, msgid, err, result = msg
        if msgid == 0:
            exc = error_from_wire(err) if err is not None else StrataConnectionError(
                "server answered msgid 0 without an error")
            self.fail_all(exc)
            return True
        fut = self.pending.pop(msgid, None)
        if fut is not None and not fut.done():
            if err is not None:
                fut.set_exception(error_from_wire(err))
            else:
                fut.set_result(result)
        return False


class AsyncClient(Commands):
    """asyncio client; every method is a coroutine.

    One Unix connection is opened lazily and shared by all concurrent awaits;
    answers are matched to callers by msgid.  ``timeout`` bounds each call
    (:class:`ClientTimeout`; the connection stays open and a late answer is
    dropped).  When the connection drops, the calls in flight fail with
    :class:`StrataConnectionError` (read-only calls -- ping, get, mget, ttl,
    exists, stats -- are retried once on a new connection) and the next call
    reconnects.  Use ``async with AsyncClient(...) as c:`` or ``await c.close()``.
    """

    def __init__(self, socket_path="./strata.sock", timeout=5.0):
        self.socket_path = socket_path
        self.timeout = timeout
        self._conn = None
        self._lock = None
        self._loop = None
        self._closed = False

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
        return False

    async def close(self):
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.fail_all(StrataConnectionError("client closed"))
            conn.close()
            if conn.task is not None:
                conn.task.cancel()
                try:
                    await asyncio.wait_for(asyncio.shield(conn.task), 1.0)
                except BaseException:
                    pass
            try:
                await asyncio.wait_for(conn.writer.wait_closed(), 1.0)
            except BaseException:
                pass

    async def _connection(self, deadline):
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # first use, or used from a new event loop (e.g. a second
            # asyncio.run): objects of the old loop cannot be reused.
            old, self._conn, self._lock, self._loop = self._conn, None, None, loop
            if old is not None:
                old.dead = True
                try:
                    old.writer.close()
                except Exception:
                    pass
        conn = self._conn
        if conn is not None and not conn.dead and not conn.writer.is_closing():
            return conn
        if self._closed:
            raise StrataConnectionError("client is closed")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            conn = self._conn
            if conn is not None and not conn.dead and not conn.writer.is_closing():
                return conn
            if conn is not None:
                conn.close()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ClientTimeout("timed out before connecting to %s" % self.socket_path)
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_unix_connection(self.socket_path), remaining)
            except asyncio.TimeoutError:
                raise ClientTimeout("timed out connecting to %s" % self.socket_path) from None
            except OSError as e:
                raise StrataConnectionError(
                    "cannot connect to %s: %s" % (self.socket_path, e)) from e
            conn = _AsyncConn(reader, writer, self.socket_path)
            conn.task = loop.create_task(conn.read_loop())
            self._conn = conn
            return conn

    async def _execute(self, cmd):
        method, params, post = cmd
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.timeout if self.timeout is not None else 1e9)
        attempts = 2 if method in IDEMPOTENT else 1
        for attempt in range(attempts):
            try:
                result = await self._once(loop, deadline, method, params)
                break
            except StrataConnectionError:
                if attempt + 1 >= attempts or self._closed:
                    raise
        return post(result)

    async def _once(self, loop, deadline, method, params):
        conn = await self._connection(deadline)
        msgid = conn.next_msgid()
        fut = loop.create_future()
        conn.pending[msgid] = fut
        try:
            try:
                conn.writer.write(conn.packer.pack([0, msgid, method, params]))
                if conn.writer.transport.get_write_buffer_size() > (1 << 20):
                    await asyncio.wait_for(conn.writer.drain(),
                                           max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                raise ClientTimeout("timed out writing to %s" % self.socket_path) from None
            except OSError as e:
                conn.fail_all(StrataConnectionError(
                    "connection to %s failed while sending: %s" % (self.socket_path, e)))
                conn.close()
            remaining = deadline - loop.time()
            if remaining <= 0 and not fut.done():
                raise ClientTimeout("no answer from %s within the timeout" % self.socket_path)
            try:
                return await asyncio.wait_for(fut, remaining)
            except asyncio.TimeoutError:
                if fut.done() and not fut.cancelled():
                    return fut.result()
                raise ClientTimeout("no answer from %s within the timeout"
                                    % self.socket_path) from None
        finally:
            if conn.pending.get(msgid) is fut:
                del conn.pending[msgid]
