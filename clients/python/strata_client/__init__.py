"""Python client for Strata (msgpack-RPC over a Unix socket).

    from strata_client import Client
    c = Client("./strata.sock")
    c.set("k", b"v", ttl=60)
    c.get("k")  # b"v"
"""

from .client import Client, Pipeline
from .aio import AsyncClient
from .decorator import cached, default_serializer, default_deserializer
from .errors import (StrataError, BadRequest, UnknownMethod, BadArgs, TooLarge,
                     Unavailable, Timeout, Overloaded, ShuttingDown, Internal,
                     StrataConnectionError, ClientTimeout, error_from_wire)

__version__ = "0.1.0"

__all__ = [
    "Client", "Pipeline", "AsyncClient", "cached", "default_serializer",
    "default_deserializer", "StrataError", "BadRequest", "UnknownMethod",
    "BadArgs", "TooLarge", "Unavailable", "Timeout", "Overloaded",
    "ShuttingDown", "Internal", "StrataConnectionError", "ClientTimeout",
    "error_from_wire",
]
