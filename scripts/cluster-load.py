#!/usr/bin/env python3
"""Load for the cluster drills (scripts/cluster-drills.sh): writers creating elements and
readers reading one, through the balancer, for a fixed time. Standard library only.

    cluster-load.py BASE_URL --seconds 8 --writers 4 --readers 4 --out result.json
        [--token-reads]   half the readers send the setup write's Lorebase-Consistency back
        [--ready-file F]  created once setup is done and the load begins

Writes a JSON summary: the world, every status seen per kind of request (with the
transport failures as "error:<kind>"), 503s without Retry-After, and the id of every
element whose creation was acknowledged (2xx), with when each request ended.
"""
import argparse
import http.client
import json
import threading
import time
import urllib.parse
import uuid


class Client:
    """One keep-alive connection; reconnects after a transport failure."""

    def __init__(self, base):
        parsed = urllib.parse.urlparse(base)
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.conn = None

    def request(self, method, path, token=None, body=None, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=all_headers)
            response = self.conn.getresponse()
            text = response.read()
            return response.status, dict(response.getheaders()), text
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = None
            return None, {}, str(e).encode()


def header(headers, name):
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def setup(base):
    client = Client(base)
    email = f"drill-{uuid.uuid4().hex}@example.com"
    status, _, text = client.request(
        "POST", "/api/v1/auth/register", body={"email": email, "password": "drill-password-42", "display_name": "Drill"}
    )
    if status != 201:
        raise SystemExit(f"register: {status} {text[:300]!r}")
    token = json.loads(text)["access_token"]
    status, _, text = client.request("POST", "/api/v1/worlds", token, {"name": "Drill world"})
    if status != 201:
        raise SystemExit(f"create world: {status} {text[:300]!r}")
    world = json.loads(text)["id"]
    status, headers, text = client.request(
        "POST", f"/api/v1/worlds/{world}/elements", token, {"kind": "place", "name": "Read me"}
    )
    if status != 201:
        raise SystemExit(f"create element: {status} {text[:300]!r}")
    return token, world, json.loads(text)["id"], header(headers, "Lorebase-Consistency")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--token-reads", action="store_true")
    parser.add_argument("--ready-file")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    token, world, element, consistency = setup(args.base)
    lock = threading.Lock()
    statuses = {}
    missing_retry_after = 0
    acknowledged = []
    timeline = []  # (end time, kind, status)
    started = time.time()
    deadline = started + args.seconds

    def record(kind, status, headers):
        nonlocal missing_retry_after
        key = f"{kind}:{status}" if status is not None else f"error:{kind}"
        with lock:
            statuses[key] = statuses.get(key, 0) + 1
            timeline.append((round(time.time() - started, 3), kind, status))
            if status == 503 and header(headers, "Retry-After") is None:
                missing_retry_after += 1

    def writer(number):
        client = Client(args.base)
        n = 0
        while time.time() < deadline:
            n += 1
            status, headers, text = client.request(
                "POST",
                f"/api/v1/worlds/{world}/elements",
                token,
                {"kind": "note", "name": f"w{number}-{n}"},
            )
            record("create", status, headers)
            if status is not None and 200 <= status < 300:
                with lock:
                    acknowledged.append(json.loads(text)["id"])

    def reader(number):
        client = Client(args.base)
        sends_token = args.token_reads and consistency and number % 2 == 1
        extra = {"Lorebase-Consistency": consistency} if sends_token else {}
        n = 0
        while time.time() < deadline:
            n += 1
            if n % 5 == 0:
                path, kind = f"/api/v1/worlds/{world}/elements?limit=20", "list"
            else:
                path, kind = f"/api/v1/worlds/{world}/elements/{element}", "get"
            status, headers, _ = client.request("GET", path, token, headers=extra)
            record(kind, status, headers)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(args.writers)]
    threads += [threading.Thread(target=reader, args=(i,)) for i in range(args.readers)]
    for thread in threads:
        thread.start()
    if args.ready_file:
        open(args.ready_file, "w").close()
    for thread in threads:
        thread.join()
    with open(args.out, "w") as out:
        json.dump(
            {
                "started": started,
                "world": world,
                "statuses": dict(sorted(statuses.items())),
                "missing_retry_after": missing_retry_after,
                "acknowledged": acknowledged,
                "timeline": timeline,
            },
            out,
        )


if __name__ == "__main__":
    main()
