#!/usr/bin/python3
"""Writes the seed corpus of request_decoder_fuzz into tests/fuzz/corpus/.

Each file is an input for the target: two control bytes (where the stream is
split into reads, and the drip chunk size), then a stream of MessagePack
objects, mostly valid requests. Deterministic: rerunning rewrites the same
files. Needs Debian's python3-msgpack (/usr/bin/python3).
"""
import os
import sys

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def req(msgid, method, *params):
    return msgpack.packb([0, msgid, method, list(params)], use_bin_type=True)


SEEDS = {
    "ping": req(1, "ping"),
    "set_get": req(1, "set", b"k", b"v") + req(2, "get", b"k"),
    "set_opts": req(3, "set", "k", b"value", {"ttl_ms": 5, "nx": True, "write": "through"})
    + req(4, "set", b"k", b"w", {"xx": True})
    + req(5, "set", b"k", b"w", None),
    "del_exists": req(6, "set", b"a", b"1") + req(7, "exists", b"a", b"a", b"b")
    + req(8, "del", b"a", b"b"),
    "mget_mset": req(9, "mset", [b"a", b"1", b"b", b"2"], {"ttl_ms": 3, "write": "behind"})
    + req(10, "mget", [b"a", b"b", b"c"]),
    "ttl_expire": req(11, "set", b"t", b"v") + req(12, "expire", b"t", 2)
    + req(13, "ttl", b"t") + req(14, "expire", b"t", -1) + req(15, "ttl", b"t"),
    "stats": req(16, "stats"),
    "shape_errors": msgpack.packb([1, 17, "get", []]) + msgpack.packb([0, 18, b"get", []])
    + msgpack.packb([0, -1, "get", []]) + msgpack.packb({"a": 1}) + req(19, "nope"),
    "limits": req(20, "set", b"k" * 65, b"v") + req(21, "set", b"k", b"v" * 1025)
    + req(22, "del", *[b"k"] * 17),
    "nested": msgpack.packb([0, 23, "get", [[[[[[b"k"]]]]]]]),
    "big_claim": b"\xc6\xff\xff\xff\xff\x00",
    "malformed": req(24, "ping") + b"\xc1",
    # Regression: an overwrite with a value a few bytes longer (same malloc
    # charge) overflowed the old L1 entry (found by this target).
    "regression_l1_overwrite_longer": req(25, "set", b"t", b"") + req(26, "set", b"t", b"v"),
}

# Control bytes per seed: varied split points and chunk sizes.
CONTROL = [b"\x00\x07", b"\x31\x05", b"\x72\x0b", b"\xf0\x10", b"\x00\x00", b"\x5a\x5a"]


def main():
    os.makedirs(OUT, exist_ok=True)
    for i, (name, stream) in enumerate(sorted(SEEDS.items())):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(CONTROL[i % len(CONTROL)] + stream)
    print("wrote %d seeds to %s" % (len(SEEDS), OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
