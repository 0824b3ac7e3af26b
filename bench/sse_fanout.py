#!/usr/bin/env python3
"""Live events (SSE) under a large fan-out: how long the loop is held.

    bench/sse_fanout.py FERRY [FERRY...] [--subscribers N] [--items N] [--rounds R]

For each ferry binary (e.g. a base and a new build), R times, alternating: a throw-away
project and data folder, `ferry serve` on a free 127.0.0.1 port, N clients streaming
GET /api/v1/events (each read by its own thread), then one execution of a for_each over
ITEMS pure `transform` items started with ?wait=, while a probe asks /healthz every 10 ms.
Prints the run's wall time and the probe's worst answer time: the longest the loop was
held (a healthy server answers /healthz in about a millisecond). Every process it starts
is stopped by its PID; the folders are removed.
"""
import argparse
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

VIEWER = "viewer-token-0123456789abcdefghijklmnop"
OPERATOR = "operator-token-0123456789abcdefghijklmn"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def project(folder, port, items):
    os.makedirs(os.path.join(folder, "workflows"))
    digest = lambda t: hashlib.sha256(t.encode()).hexdigest()
    with open(os.path.join(folder, "ferry.yaml"), "w") as f:
        f.write("server:\n  listen: 127.0.0.1:%d\nauth:\n  tokens:\n"
                "    - {name: v, role: viewer, sha256: %s}\n"
                "    - {name: o, role: operator, sha256: %s}\n"
                % (port, digest(VIEWER), digest(OPERATOR)))
    with open(os.path.join(folder, "workflows", "fan.yaml"), "w") as f:
        f.write("steps:\n  - id: each\n    for_each: \"{{ range(%d) | list }}\"\n"
                "    task: transform\n    with: {data: {n: \"{{ item }}\"}, "
                "mappings: [{source: n, target: m}]}\n" % items)


def one_run(ferry, subscribers, items):
    folder = tempfile.mkdtemp(prefix="ferry-sse-bench-")
    port = free_port()
    project(os.path.join(folder, "p"), port, items)
    server = subprocess.Popen([ferry, "serve", "--quiet", "--project", os.path.join(folder, "p"),
                               "--data", os.path.join(folder, "data")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    streams = []
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)

        def drain(s):
            while not stop.is_set():
                try:
                    if not s.recv(1 << 16):
                        return
                except OSError:
                    return

        for _ in range(subscribers):
            s = socket.create_connection(("127.0.0.1", port), timeout=120)
            s.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: bench\r\n"
                       "Authorization: Bearer %s\r\n\r\n" % VIEWER).encode())
            threading.Thread(target=drain, args=(s,), daemon=True).start()
            streams.append(s)
        time.sleep(0.5)
        worst = [0.0]

        def probe():
            while not stop.is_set():
                t0 = time.monotonic()
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                try:
                    c.request("GET", "/healthz")
                    c.getresponse().read()
                except OSError:
                    return
                finally:
                    c.close()
                worst[0] = max(worst[0], time.monotonic() - t0)
                time.sleep(0.01)

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        t0 = time.monotonic()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        c.request("POST", "/api/v1/workflows/fan/executions?wait=600s", body=json.dumps({}),
                  headers={"Authorization": "Bearer " + OPERATOR,
                           "Content-Type": "application/json"})
        answer = c.getresponse()
        status = json.loads(answer.read()).get("status")
        elapsed = time.monotonic() - t0
        stop.set()
        prober.join(timeout=130)
        if answer.status != 200 or status != "succeeded":
            raise SystemExit("%s: the run answered %d %s" % (ferry, answer.status, status))
        return elapsed, worst[0]
    finally:
        stop.set()
        for s in streams:
            s.close()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ferry", nargs="+")
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    print("%d subscribers, a for_each of %d items" % (a.subscribers, a.items))
    for r in range(a.rounds):
        for ferry in a.ferry:
            run, held = one_run(ferry, a.subscribers, a.items)
            print("round %d  %-40s run %6.2f s   loop held up to %6.3f s" % (r + 1, ferry, run,
                                                                          held))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
