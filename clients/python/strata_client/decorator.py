"""``cached``: read-through caching decorator with in-process single-flight."""

import asyncio
import functools
import hashlib
import inspect
import threading

import msgpack

from .errors import StrataError

__all__ = ["cached", "default_serializer", "default_deserializer"]

# 0xC1 is the one byte MessagePack never uses, so it marks "msgpack follows".
_TAG = b"\xc1"


def default_serializer(obj):
    """bytes-like -> stored verbatim (unless it starts with 0xC1);
    anything else (and bytes starting with 0xC1) -> 0xC1 + msgpack(obj)."""
    if isinstance(obj, (bytearray, memoryview)):
        obj = bytes(obj)
    if isinstance(obj, bytes) and not obj.startswith(_TAG):
        return obj
    return _TAG + msgpack.packb(obj, use_bin_type=True)


def default_deserializer(data):
    """Inverse of :func:`default_serializer` (msgpack arrays come back as lists)."""
    if data.startswith(_TAG):
        return msgpack.unpackb(data[1:], raw=False, strict_map_key=False)
    return data


def _default_key(fn, args, kwargs):
    name = "%s.%s" % (fn.__module__, fn.__qualname__)
    digest = hashlib.sha256(
        repr((args, sorted(kwargs.items()))).encode("utf-8", "surrogatepass")
    ).hexdigest()[:32]
    return "%s:%s" % (name, digest)


# Errors that mean "the cache is not working"; the decorated function still runs.
_CACHE_ERRORS = (StrataError, OSError, asyncio.TimeoutError)


def cached(client, ttl=None, key=None, namespace=None,
           serializer=None, deserializer=None):
    """Read-through cache for a function (``Client``) or a coroutine function
    (``AsyncClient``).

    * key: ``key(*args, **kwargs)`` (str or bytes) if given, else
      ``"<module>.<qualname>:<sha256(repr((args, sorted(kwargs.items()))))[:32]>"``;
      ``namespace`` if given is prefixed as ``"<namespace>:"``.  The default
      key is only as stable as the ``repr`` of the arguments.
    * values: ``serializer(result) -> bytes`` / ``deserializer(bytes)``; by
      default bytes are stored as they are and other objects as msgpack
      (see :func:`default_serializer`).
    * ttl: seconds or timedelta passed to ``set`` (None = server default).
    * single-flight: concurrent callers of the same key in this process share
      one lookup + computation (a lock/event per key for threads, a future per
      key for asyncio tasks); an exception of the function is re-raised to all.
    * if Strata fails (StrataError, OSError, timeout) the function is computed
      and returned anyway; ``wrapper.cache_info()`` counts ``hits``,
      ``misses`` and ``errors``.

    ``wrapper.cache_key(*a, **kw)`` gives the key, ``wrapper.invalidate(*a,
    **kw)`` deletes it (a coroutine for async functions).
    """
    ser = serializer or default_serializer
    de = deserializer or default_deserializer

    def decorate(fn):
        from .aio import AsyncClient
        is_async = inspect.iscoroutinefunction(fn)
        if is_async != isinstance(client, AsyncClient):
            raise TypeError("cached(): use a Client for plain functions and an "
                            "AsyncClient for coroutine functions")
        counters = {"hits": 0, "misses": 0, "errors": 0}
        count_lock = threading.Lock()

        def count(name):
            with count_lock:
                counters[name] += 1

        def make_key(*args, **kwargs):
            k = key(*args, **kwargs) if key is not None else _default_key(fn, args, kwargs)
            if namespace:
                k = (namespace.encode("utf-8") + b":" + k) if isinstance(k, bytes) \
                    else "%s:%s" % (namespace, k)
            return k

        def cache_info():
            with count_lock:
                return dict(counters)

        if is_async:
            flights = {}

            async def lookup_compute(k, args, kwargs):
                try:
                    data = await client.get(k)
                except _CACHE_ERRORS:
                    count("errors")
                    data = None
                else:
                    if data is not None:
                        count("hits")
                        return de(data)
                    count("misses")
                value = await fn(*args, **kwargs)
                blob = ser(value)
                try:
                    await client.set(k, blob, ttl=ttl)
                except _CACHE_ERRORS:
                    count("errors")
                return value

            @functools.wraps(fn)
            async def awrapper(*args, **kwargs):
                k = make_key(*args, **kwargs)
                fk = (id(asyncio.get_running_loop()), k)
                fut = flights.get(fk)
                if fut is not None:
                    return await asyncio.shield(fut)
                fut = asyncio.get_running_loop().create_future()
                flights[fk] = fut
                try:
                    value = await lookup_compute(k, args, kwargs)
                except BaseException as e:
                    if not fut.done():
                        if isinstance(e, asyncio.CancelledError):
                            fut.cancel()
                        else:
                            fut.set_exception(e)
                            fut.exception()  # mark retrieved: no warning if no follower
                    raise
                else:
                    fut.set_result(value)
                    return value
                finally:
                    if flights.get(fk) is fut:
                        del flights[fk]

            async def invalidate(*args, **kwargs):
                return await client.delete(make_key(*args, **kwargs))

            wrapper = awrapper
        else:
            flights = {}
            flights_lock = threading.Lock()

            class _Flight:
                __slots__ = ("event", "value", "error")

                def __init__(self):
                    self.event = threading.Event()
                    self.value = None
                    self.error = None

            def lookup_compute(k, args, kwargs):
                try:
                    data = client.get(k)
                except _CACHE_ERRORS:
                    count("errors")
                    data = None
                else:
                    if data is not None:
                        count("hits")
                        return de(data)
                    count("misses")
                value = fn(*args, **kwargs)
                blob = ser(value)
                try:
                    client.set(k, blob, ttl=ttl)
                except _CACHE_ERRORS:
                    count("errors")
                return value

            @functools.wraps(fn)
            def swrapper(*args, **kwargs):
                k = make_key(*args, **kwargs)
                with flights_lock:
                    flight = flights.get(k)
                    leader = flight is None
                    if leader:
                        flight = flights[k] = _Flight()
                if not leader:
                    flight.event.wait()
                    if flight.error is not None:
                        raise flight.error
                    return flight.value
                try:
                    flight.value = lookup_compute(k, args, kwargs)
                    return flight.value
                except BaseException as e:
                    flight.error = e
                    raise
                finally:
                    with flights_lock:
                        if flights.get(k) is flight:
                            del flights[k]
                    flight.event.set()

            def invalidate(*args, **kwargs):
                return client.delete(make_key(*args, **kwargs))

            wrapper = swrapper

        wrapper.cache_key = make_key
        wrapper.cache_info = cache_info
        wrapper.invalidate = invalidate
        return wrapper

    return decorate
