#!/usr/bin/env python3
"""A webhook receiver for the drills: records each POST as one JSON line (path, the
webhook-* headers, the raw body) and answers 500 to the first --fail-first requests,
never answers the next --hang-first ones, then 204. Standard library only."""
import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=0)
parser.add_argument("--port-file", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--fail-first", type=int, default=0)
parser.add_argument("--hang-first", type=int, default=0)
args = parser.parse_args()
lock = threading.Lock()
count = 0


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        with lock:
            count += 1
            n = count
        if n <= args.fail_first:
            status = 500
        elif n <= args.fail_first + args.hang_first:
            status = None
        else:
            status = 204
        record = {
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items() if k.lower().startswith("webhook-")},
            "body": body.decode("utf-8"),
            "status": status,
        }
        with lock, open(args.log, "a") as log:
            log.write(json.dumps(record) + "\n")
        if status is None:
            time.sleep(3600)
            return
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_):
        pass


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
with open(args.port_file, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
