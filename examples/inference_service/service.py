#!/usr/bin/python3
"""A small embedding service that caches its model's answers in Strata.

    POST /embed   {"text": "..."}  ->  {"embedding": [64 floats], "cached": bool}
    GET  /healthz                   ->  {"ok": true, "strata": "up" | "down",
                                         "cache": {"hits": n, "misses": n, "errors": n}}

The model (model.py) costs tens of milliseconds per call. One decorator puts
Strata in front of it: the first request for a text computes and stores the
embedding, later requests for the same text (from any worker process sharing
the socket) read it back in well under a millisecond. If Strata is down the
decorator computes anyway, so the service degrades to "slow", never to "broken".

Run:  STRATA_SOCKET=./strata.sock python3 service.py --port 8080
"""

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from strata_client import Client, StrataError, cached

import model

MAX_BODY_BYTES = 64 * 1024


def sha256(text):
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def build_embedder(client):
    """Wrap the model in Strata's read-through cache.

    Returns embed(text) -> (embedding, cached). `cached` is True when this
    request did not run the model itself (a Strata hit, or it waited for
    another request computing the same text: the decorator is single-flight).
    """
    ran_model = threading.local()

    @cached(client, ttl=3600, key=lambda text: "emb:" + sha256(text))
    def embed(text):
        ran_model.flag = True
        return model.embed(text)          # a list of floats: stored as msgpack

    def embed_with_flag(text):
        ran_model.flag = False
        vec = embed(text)
        return [float(v) for v in vec], not ran_model.flag

    embed_with_flag.cache_info = embed.cache_info   # hits / misses / errors
    return embed_with_flag


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"         # keep-alive: clients reuse connections
    # Headers and body go out in two writes; with Nagle on, keep-alive clients
    # then wait ~40 ms for a delayed ACK on every response -- longer than a
    # cache hit. TCP_NODELAY removes that.
    disable_nagle_algorithm = True
    server_version = "strata-example-embed/1"
    embed = None                          # set in main()
    client = None
    verbose = False

    def _reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/healthz":
            return self._reply(404, {"error": "not found"})
        try:
            up = bool(self.client.ping())
        except (StrataError, OSError):
            up = False
        self._reply(200, {"ok": True, "strata": "up" if up else "down",
                          "cache": self.embed.cache_info()})

    def do_POST(self):
        if self.path != "/embed":
            return self._reply(404, {"error": "not found"})
        try:
            n = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._reply(411, {"error": "Content-Length required"})
        if n < 0 or n > MAX_BODY_BYTES:
            self.close_connection = True
            return self._reply(413, {"error": "body over %d bytes" % MAX_BODY_BYTES})
        try:
            req = json.loads(self.rfile.read(n))
            text = req["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
        except (ValueError, KeyError, TypeError) as e:
            return self._reply(400, {"error": "expected {\"text\": \"...\"}: %s" % e})
        if len(text) > model.MAX_TEXT_CHARS:
            return self._reply(413, {"error": "text over %d characters" % model.MAX_TEXT_CHARS})
        vec, was_cached = self.embed(text)
        self._reply(200, {"embedding": vec, "cached": was_cached})

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return                        # a client went away; nothing to report
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", default=os.environ.get("STRATA_SOCKET", "./strata.sock"),
                    help="Strata's Unix socket (env STRATA_SOCKET; default ./strata.sock)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")),
                    help="HTTP port (env PORT; default 8080; 0 = any free port)")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--timeout", type=float, default=2.0,
                    help="Strata request timeout in seconds (default 2)")
    ap.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = ap.parse_args()

    client = Client(args.socket, timeout=args.timeout, pool_size=8)
    Handler.client = client
    Handler.embed = staticmethod(build_embedder(client))
    Handler.verbose = args.verbose

    httpd = Server((args.host, args.port), Handler)
    port = httpd.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)   # readers never see a half-written file

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    print("embedding service on http://%s:%d (strata at %s)" % (args.host, port, args.socket),
          file=sys.stderr, flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
        close = getattr(client, "close", None)
        if close:
            close()


if __name__ == "__main__":
    main()
