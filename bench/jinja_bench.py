#!/usr/bin/env python3
"""The reference side of bench/template_vs_jinja.sh: Debian's python3-jinja2 renders the
same template with the same data, compiled once, rendered many times.

    jinja_bench.py TEMPLATE VARS.json [SECONDS]
"""
import json
import os
import sys
import time

sys.path.insert(0, "/usr/lib/python3/dist-packages")  # Debian's Jinja2, as the corpus uses
import jinja2  # noqa: E402


def main():
    path, vars_path = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    with open(vars_path, encoding="utf-8") as f:
        data = json.load(f)
    folder, name = os.path.split(os.path.abspath(path))
    # Jinja2's defaults, auto_reload included (each render's {% import %} stats the imported
    # file, which Ferry's cache does not); JINJA_AUTO_RELOAD=0 measures without it.
    auto_reload = os.environ.get("JINJA_AUTO_RELOAD", "1") != "0"
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), auto_reload=auto_reload)
    tmpl = env.get_template(name)
    out = tmpl.render(data)
    renders = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            out = tmpl.render(data)
        renders += 100
    elapsed = time.perf_counter() - start
    print(json.dumps({"renders": renders, "seconds": round(elapsed, 3),
                      "renders_per_second": round(renders / elapsed),
                      "bytes": len(out.encode("utf-8")), "jinja2": jinja2.__version__,
                      "auto_reload": auto_reload}))


if __name__ == "__main__":
    main()
