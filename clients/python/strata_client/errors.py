"""Exception classes of the Strata client.

Server errors (``[code, message]`` in a response) map to one subclass of
:class:`StrataError` per protocol code (docs/protocol.md, "Errors").
Client-side failures use two more classes:

* :class:`StrataConnectionError` -- the socket could not be connected, or broke
  (EOF, reset) while a call was in flight.  It derives from both
  :class:`StrataError` (``code`` is ``None``) and the builtin
  :class:`ConnectionError`.
* :class:`ClientTimeout` -- the client's own deadline (``timeout=``) passed
  before the answer arrived.  It derives from :class:`Timeout` (the class of
  server code 6, so ``except strata_client.Timeout`` catches both kinds) and
  from the builtin :class:`TimeoutError`.  Its ``code`` is 6 and ``server`` is
  ``False`` (``True`` for a TIMEOUT sent by the server).
"""

import errno as _errno

__all__ = [
    "StrataError", "BadRequest", "UnknownMethod", "BadArgs", "TooLarge",
    "Unavailable", "Timeout", "Overloaded", "ShuttingDown", "Internal",
    "StrataConnectionError", "ClientTimeout", "error_from_wire",
]


class StrataError(Exception):
    """Base class: ``code`` (int or None) and ``message`` (str)."""

    code = None
    server = True

    def __init__(self, code=None, message=""):
        if code is None:
            code = type(self).code
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self):
        if self.code is None:
            return str(self.message)
        return "[%s] %s" % (self.code, self.message)


class BadRequest(StrataError):
    code = 1


class UnknownMethod(StrataError):
    code = 2


class BadArgs(StrataError):
    code = 3


class TooLarge(StrataError):
    code = 4


class Unavailable(StrataError):
    code = 5


class Timeout(StrataError):
    code = 6


class Overloaded(StrataError):
    code = 7


class ShuttingDown(StrataError):
    code = 8


class Internal(StrataError):
    code = 9


class StrataConnectionError(StrataError, ConnectionError):
    """The socket failed: could not connect, or closed/reset mid-call."""

    server = False

    def __init__(self, message=""):
        super().__init__(None, message)
        self.code = None
        self.message = message
        self.errno = None
        self.strerror = message


class ClientTimeout(Timeout, TimeoutError):
    """The client-side deadline passed (no answer within ``timeout``)."""

    server = False

    def __init__(self, message="timed out"):
        super().__init__(6, message)
        self.errno = _errno.ETIMEDOUT
        self.strerror = message


_BY_CODE = {cls.code: cls for cls in (
    BadRequest, UnknownMethod, BadArgs, TooLarge, Unavailable, Timeout,
    Overloaded, ShuttingDown, Internal)}


def error_from_wire(err):
    """Turn the ``error`` element of a response into an exception object."""
    code, message = None, ""
    if isinstance(err, (list, tuple)) and err:
        code = err[0]
        if len(err) > 1:
            message = err[1]
    else:
        message = err
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    elif not isinstance(message, str):
        message = repr(message)
    cls = _BY_CODE.get(code, StrataError) if isinstance(code, int) else StrataError
    return cls(code, message)
