#!/usr/bin/env python3
"""A real HTTPS server for the client's TLS tests (loopback only).

Usage: tls_server.py CERT KEY CLIENT_CA   -- prints the port it listens on, then serves until killed.
Requires a client certificate signed by CLIENT_CA. Answers every GET with JSON naming the client certificate's
CN, the HTTP version, the number of TCP connections accepted so far and the Accept-Encoding it saw; with
?gzip=1 it answers gzip-compressed.
"""
import gzip
import http.server
import json
import os
import ssl
import sys
import threading

cert, key, client_ca = sys.argv[1:4]
connections = 0
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        global connections
        with lock:
            connections += 1
        super().setup()

    def do_GET(self):
        peer = self.connection.getpeercert() or {}
        cn = ""
        for rdn in peer.get("subject", ()):
            for k, v in rdn:
                if k == "commonName":
                    cn = v
        body = json.dumps({
            "clientCN": cn,
            "path": self.path,
            "httpVersion": self.request_version,
            "connections": connections,
            "acceptEncoding": self.headers.get("Accept-Encoding", ""),
            "authorization": self.headers.get("Authorization", ""),
        }).encode()
        headers = {"Content-Type": "application/json"}
        if "gzip=1" in self.path:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(client_ca)
ctx.verify_mode = ssl.CERT_REQUIRED
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)


def exit_with_parent():
    # The test process holds our stdin open; when it exits (even by a crash), stop too.
    sys.stdin.read()
    os._exit(0)


threading.Thread(target=exit_with_parent, daemon=True).start()
server.serve_forever()
