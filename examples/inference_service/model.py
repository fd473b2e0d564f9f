"""A stand-in for an expensive embedding model: pure Python, deterministic, slow.

It hashes character trigrams and words into a 64-float feature vector
(the "hashing trick"), then runs it through LAYERS dense 64x64 layers with a
tanh, using weights derived from SHA-256 of a fixed seed. Same text in, same
64 floats out, bit for bit, on every call and in every process on the same
machine -- which is what makes it safe to cache. One call costs tens of
milliseconds (about 30 ms at the default depth on a 2-vCPU VM), like a small
model on a CPU.
"""

import hashlib
import math
import operator

DIM = 64
LAYERS = 256          # depth; sets the cost per call (the output depends on it)
MAX_TEXT_CHARS = 8192
_SEED = b"strata-example-embedding-v1"
_N_MATRICES = 4


def _uniform_stream(label):
    """Deterministic floats in [-1, 1) from SHA-256 in counter mode."""
    counter = 0
    while True:
        block = hashlib.sha256(_SEED + label + counter.to_bytes(8, "little")).digest()
        for i in range(0, 32, 8):
            u = int.from_bytes(block[i:i + 8], "little") / 2.0 ** 64
            yield 2.0 * u - 1.0
        counter += 1


def _make_weights():
    scale = 1.5 / math.sqrt(DIM)
    mats = []
    for m in range(_N_MATRICES):
        s = _uniform_stream(b"W%d" % m)
        mats.append([[next(s) * scale for _ in range(DIM)] for _ in range(DIM)])
    s = _uniform_stream(b"bias")
    biases = [[next(s) * 0.1 for _ in range(DIM)] for _ in range(LAYERS)]
    return mats, biases


_MATS, _BIASES = _make_weights()


def _features(text):
    x = [0.0] * DIM
    t = text.lower()
    grams = [t[i:i + 3] for i in range(max(len(t) - 2, 1))]
    grams += ["w:" + w for w in t.split()]
    for g in grams:
        h = hashlib.sha256(g.encode("utf-8", "surrogatepass")).digest()
        for k in range(4):
            idx = h[2 * k] % DIM
            x[idx] += 1.0 if h[2 * k + 1] & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in x))
    if norm == 0.0:
        x[0], norm = 1.0, 1.0
    return [v / norm for v in x]


def embed(text):
    """Return the 64-float embedding of `text` (a list of Python floats)."""
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError("text longer than %d characters" % MAX_TEXT_CHARS)
    x = _features(text)
    mul, tanh = operator.mul, math.tanh
    for layer in range(LAYERS):
        w = _MATS[layer % _N_MATRICES]
        b = _BIASES[layer]
        y = [tanh(sum(map(mul, row, x)) + bi) for row, bi in zip(w, b)]
        x = [xi + 0.25 * yi for xi, yi in zip(x, y)]  # residual: keeps the input's identity
        n = math.sqrt(sum(v * v for v in x))
        x = [v / n for v in x]
    return x


if __name__ == "__main__":
    import sys
    import time
    text = " ".join(sys.argv[1:]) or "hello world"
    t0 = time.perf_counter()
    v = embed(text)
    dt = time.perf_counter() - t0
    print("%d floats in %.1f ms; first 4: %s" % (len(v), dt * 1e3, v[:4]))
