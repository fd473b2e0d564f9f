"""Argument encoding and the method table shared by Client, Pipeline and
AsyncClient.  Each public method builds ``(method, params, post)`` and hands it
to ``self._execute``; ``post`` converts the raw result on success."""

import datetime

import msgpack

MSGID_MAX = 0xFFFFFFFF

# Calls that may be retried once on a fresh connection when the connection
# broke while they were in flight (reads only; writes are never retried).
IDEMPOTENT = frozenset(("ping", "get", "mget", "ttl", "exists", "stats"))

WRITE_MODES = ("behind", "through", "around")


def next_msgid(current):
    """msgid after ``current``: 1, 2, ... 0xFFFFFFFF, 1, ... (0 is reserved)."""
    nxt = current + 1
    if nxt > MSGID_MAX:
        nxt = 1
    return nxt


def encode_key(key):
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, bytes):
        return key
    if isinstance(key, (bytearray, memoryview)):
        return bytes(key)
    raise TypeError("key must be str or bytes, not %s" % type(key).__name__)


def encode_value(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError("value must be bytes, bytearray or memoryview, not %s"
                    % type(value).__name__)


def ttl_to_ms(ttl):
    """Seconds (int/float) or timedelta -> integer milliseconds.

    Rounded to the nearest ms; a positive ttl under 1 ms becomes 1 ms.
    Zero/negative values are sent as they are (``set`` answers BadArgs,
    ``expire`` deletes the key)."""
    if isinstance(ttl, datetime.timedelta):
        seconds = ttl.total_seconds()
    elif isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError("ttl must be seconds (int/float) or timedelta, not %s"
                        % type(ttl).__name__)
    else:
        seconds = ttl
    ms = int(round(seconds * 1000))
    if ms == 0 and seconds > 0:
        ms = 1
    return ms


def pack_request(packer, msgid, method, params):
    return packer.pack([0, msgid, method, params])


def new_packer():
    return msgpack.Packer(use_bin_type=True)


def new_unpacker():
    return msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=0,
                            unicode_errors="surrogateescape")


def _ident(x):
    return x


def _true(_):
    return True


def _list(x):
    return list(x) if x is not None else x


def _dict(x):
    return dict(x) if x is not None else x


def _write_opt(opts, write):
    if write is not None:
        if write not in WRITE_MODES:
            raise ValueError("write must be one of %s or None, not %r"
                             % (WRITE_MODES, write))
        opts["write"] = write


class Commands:
    """Public methods; subclasses implement ``_execute((method, params, post))``."""

    def call(self, method, *params):
        """Send any method with raw params; returns the raw result."""
        return self._execute((method, list(params), _ident))

    def ping(self):
        """-> "pong"."""
        return self._execute(("ping", [], _ident))

    def get(self, key):
        """-> bytes, or None on a miss."""
        return self._execute(("get", [encode_key(key)], _ident))

    def set(self, key, value, ttl=None, nx=False, xx=False, write=None):
        """-> True; False when ``nx``/``xx`` is not met."""
        opts = {}
        if ttl is not None:
            opts["ttl_ms"] = ttl_to_ms(ttl)
        if nx:
            opts["nx"] = True
        if xx:
            opts["xx"] = True
        _write_opt(opts, write)
        params = [encode_key(key), encode_value(value)]
        if opts:
            params.append(opts)
        return self._execute(("set", params, bool))

    def delete(self, *keys):
        """Delete keys (idempotent) -> True."""
        return self._execute(("del", [encode_key(k) for k in keys], _true))

    def mget(self, keys):
        """-> list of bytes-or-None, in the order of ``keys``."""
        if isinstance(keys, (str, bytes)):
            raise TypeError("mget takes a list of keys")
        return self._execute(("mget", [[encode_key(k) for k in keys]], _list))

    def mset(self, mapping, ttl=None, write=None):
        """``mapping`` is a dict or an iterable of (key, value) pairs -> True."""
        items = mapping.items() if hasattr(mapping, "items") else mapping
        flat = []
        for k, v in items:
            flat.append(encode_key(k))
            flat.append(encode_value(v))
        opts = {}
        if ttl is not None:
            opts["ttl_ms"] = ttl_to_ms(ttl)
        _write_opt(opts, write)
        params = [flat]
        if opts:
            params.append(opts)
        return self._execute(("mset", params, _true))

    def ttl(self, key):
        """-> ms left; -1 no expiry; -2 no such key (Redis PTTL)."""
        return self._execute(("ttl", [encode_key(key)], int))

    def expire(self, key, ttl):
        """-> True if the key existed. ttl <= 0 deletes the key."""
        return self._execute(("expire", [encode_key(key), ttl_to_ms(ttl)], bool))

    def exists(self, *keys):
        """-> how many of the keys exist (a repeated key counts each time)."""
        return self._execute(("exists", [encode_key(k) for k in keys], int))

    def stats(self):
        """-> dict of server counters."""
        return self._execute(("stats", [], _dict))
