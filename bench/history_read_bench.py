#!/usr/bin/env python3
"""Memory and time of reading a large execution back: a for_each of N items (default
40,000, the size of a CMDB sync), then `ferry executions show` (human and --json),
`ferry executions diff` against a second run whose every item differs, and
GET /api/v1/executions/{id} from `ferry serve`. Each binary given runs in turn on its own
throw-away project, so two builds compare in the same minutes:

    bench/history_read_bench.py --ferry build-bench/ferry --ferry /tmp/ferry-before

Options:
    --ferry BIN    a ferry binary (repeatable; default: build-rel, else build-bench)
    --items N      items of the for_each (default 40000)
    --dir BASE     where the throw-away projects go (default $TMPDIR or /tmp)

Peak RSS of a command is its ru_maxrss (os.wait4); of the server, VmHWM before and after
the GET, and RssAnon 5.5 s after the answer (the heap given back or not). Both count the
history file's pages read through the map; "peak anon" (RssAnon sampled every 5 ms) is the
process's own memory. Everything
listens on 127.0.0.1; the server is stopped by its PID.
"""
import argparse
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "history-read-bench-token"

WORKFLOW = """\
name: wide
inputs:
  n: {type: integer}
  tag: {type: string, default: ""}
steps:
  - id: each
    task: transform
    for_each: "{{ range(inputs.n) | list }}"
    concurrency: 200
    with:
      data: {ci: "server-{{ item }}{{ inputs.tag }}", ok: true}
      mappings: [{source: ci, target: name}, {source: ok, target: up}]
outputs:
  count: "{{ steps.each.output | length }}"
"""


def measured(cmd, out_path):
    """Runs cmd with stdout to out_path; returns (seconds, peak RSS in MB, peak RssAnon in MB).
    Peak RSS (ru_maxrss) counts the history file's pages the command read through the map;
    RssAnon, sampled every 5 ms, is the process's own memory."""
    start = time.monotonic()
    anon_kb = 0
    with open(out_path, "wb") as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            try:
                anon_kb = max(anon_kb, status_kb(p.pid, "RssAnon"))
            except OSError:
                pass
            time.sleep(0.005)
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        message = err.read().decode(errors="replace")
    if p.returncode != 0:
        sys.exit("history_read_bench: %s failed (%d): %s" % (" ".join(cmd), p.returncode,
                                                              message[-500:]))
    return time.monotonic() - start, usage.ru_maxrss / 1024.0, anon_kb / 1024.0


def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_get(ferry, project, exec_id, out_path):
    port = free_port()
    log = open(os.path.join(project, "serve.log"), "wb")
    server = subprocess.Popen([ferry, "serve", "--project", project, "--listen",
                               "127.0.0.1:%d" % port, "--quiet"], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("history_read_bench: ferry serve did not start")
                time.sleep(0.05)
        before = status_kb(server.pid, "VmHWM") / 1024.0
        sampled = {"anon_kb": 0, "stop": False}

        def sample():
            while not sampled["stop"]:
                sampled["anon_kb"] = max(sampled["anon_kb"], status_kb(server.pid, "RssAnon"))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        start = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            conn.request("GET", "/api/v1/executions/" + exec_id,
                         headers={"Authorization": "Bearer " + TOKEN})
            res = conn.getresponse()
            body = res.read()
            seconds = time.monotonic() - start
        finally:
            sampled["stop"] = True
            sampler.join()
        if res.status != 200:
            sys.exit("history_read_bench: GET answered %d" % res.status)
        with open(out_path, "wb") as f:
            f.write(body)
        # The write's buffer is freed once the socket has taken it; freed heap goes back to
        # the system at the server's next heap check (every 5 s, HeapTrimmer).
        time.sleep(5.5)
        peak = status_kb(server.pid, "VmHWM") / 1024.0
        anon = status_kb(server.pid, "RssAnon") / 1024.0
        return seconds, before, peak, sampled["anon_kb"] / 1024.0, anon, len(body)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def bench(ferry, items, base):
    project = tempfile.mkdtemp(prefix="ferry-history-bench-", dir=base)
    try:
        os.makedirs(os.path.join(project, "workflows"))
        with open(os.path.join(project, "workflows", "wide.yaml"), "w") as f:
            f.write(WORKFLOW)
        digest = hashlib.sha256(TOKEN.encode()).hexdigest()
        with open(os.path.join(project, "ferry.yaml"), "w") as f:
            f.write("store:\n  map_size: 4GiB\nauth:\n  tokens:\n"
                    "    - {name: bench, sha256: \"%s\", role: viewer}\n" % digest)
        out = os.path.join(project, "out.json")
        run_s, run_mb, run_anon = measured([ferry, "run", "wide", "--project", project,
                                            "--quiet", "--input", "n=%d" % items], out)
        with open(out) as f:
            exec_id = f.read().split('"id":"', 1)[1].split('"', 1)[0]
        rows = [("run", run_s, run_mb, run_anon, os.path.getsize(out))]
        for label, extra in (("show", []), ("show --json", ["--json"])):
            s, mb, anon = measured([ferry, "executions", "show", exec_id, "--project", project] +
                                   extra, out)
            rows.append((label, s, mb, anon, os.path.getsize(out)))
        measured([ferry, "run", "wide", "--project", project, "--quiet", "--input",
                  "n=%d" % items, "--input", "tag=-b"], out)
        with open(out) as f:
            other_id = f.read().split('"id":"', 1)[1].split('"', 1)[0]
        s, mb, anon = measured([ferry, "executions", "diff", exec_id, other_id, "--project",
                                project], out)
        rows.append(("diff (every item changed)", s, mb, anon, os.path.getsize(out)))
        s, before, peak, peak_anon, anon_after, size = serve_get(ferry, project, exec_id, out)
        print("%s (%d items)" % (ferry, items))
        print("  %-26s %8s %12s %14s %10s" % ("", "seconds", "peak RSS MB", "peak anon MB",
                                              "output MB"))
        for label, sec, mb, anon, size_out in rows:
            print("  %-26s %8.2f %12.1f %14.1f %10.1f" % (label, sec, mb, anon, size_out / 1e6))
        print("  %-26s %8.2f %12.1f %14.1f %10.1f   (VmHWM before %.1f MB; RssAnon 5.5 s after "
              "%.1f MB)" % ("GET /api/v1/executions/ID", s, peak, peak_anon, size / 1e6, before,
                             anon_after))
    finally:
        shutil.rmtree(project, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ferry", action="append", default=[])
    ap.add_argument("--items", type=int, default=40000)
    ap.add_argument("--dir", default=os.environ.get("TMPDIR", "/tmp"))
    args = ap.parse_args()
    bins = args.ferry
    if not bins:
        for b in ("build-rel", "build-bench"):
            if os.access(os.path.join(ROOT, b, "ferry"), os.X_OK):
                bins = [os.path.join(ROOT, b, "ferry")]
                break
    if not bins:
        sys.exit("history_read_bench: no ferry binary; give --ferry BIN")
    print("machine: %d CPUs; load %s" % (os.cpu_count(), " ".join(open("/proc/loadavg").read().split()[:3])))
    for ferry in bins:
        bench(os.path.abspath(ferry), args.items, args.dir)


if __name__ == "__main__":
    main()
