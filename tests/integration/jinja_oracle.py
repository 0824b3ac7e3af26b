#!/usr/bin/env python3
"""The reference for `ferry render`: the same command line, rendered by Jinja2.

    jinja_oracle.py render TEMPLATE_FILE --vars VARS_JSON_FILE [--strict]

Renders with Jinja2's default Environment (autoescape off, trim_blocks and
lstrip_blocks off, keep_trailing_newline off) and a FileSystemLoader on the
template's own directory, so {% import %}/{% include %} resolve like Ferry's.
--strict uses StrictUndefined.

Prints the rendered text to stdout exactly (UTF-8, no newline added) and exits
0. On a template error prints "FILE:LINE: Type: message" on stderr (FILE is
the failing template) and exits 1; a usage or vars-file problem exits 2.

The reference Jinja2 is Debian's python3-jinja2 (3.1.x). When this runs under
another python3 that has its own Jinja2 (pyenv, a venv), Debian's copy in
/usr/lib/python3/dist-packages is still preferred.
"""

import argparse
import json
import os
import sys
import traceback

DEBIAN_DIST = "/usr/lib/python3/dist-packages"


def load_jinja2():
    if "jinja2" not in sys.modules and os.path.isdir(
            os.path.join(DEBIAN_DIST, "jinja2")):
        sys.path.insert(0, DEBIAN_DIST)
        try:
            import jinja2  # noqa: F401  (brings Debian's markupsafe along)
        except ImportError:
            pass
        finally:
            sys.path.remove(DEBIAN_DIST)
    try:
        import jinja2
    except ImportError:
        sys.stderr.write("jinja_oracle.py: Jinja2 is not installed for "
                         f"{sys.executable} (apt-get install python3-jinja2)\n")
        sys.exit(2)
    return jinja2


def render(jinja2, template_path, vars_path, strict):
    path = os.path.abspath(template_path)
    tdir, name = os.path.split(path)
    try:
        with open(vars_path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        sys.stderr.write(f"{vars_path}: cannot read vars: {e}\n")
        return 2
    if not isinstance(data, dict):
        sys.stderr.write(f"{vars_path}: vars must be a JSON object\n")
        return 2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(tdir),
        undefined=jinja2.StrictUndefined if strict else jinja2.Undefined)
    try:
        out = env.get_template(name).render(data)
    except jinja2.TemplateSyntaxError as e:
        where = e.filename or e.name or path
        sys.stderr.write(f"{where}:{e.lineno}: {type(e).__name__}: "
                         f"{e.message}\n")
        return 1
    except Exception as e:  # every runtime error, missing templates too
        sys.stderr.write(f"{_where(e, tdir, path)}: {type(e).__name__}: "
                         f"{e}\n")
        return 1
    sys.stdout.buffer.write(out.encode("utf-8"))
    sys.stdout.flush()
    return 0


def _where(exc, tdir, fallback):
    """FILE:LINE of the innermost frame inside the template directory."""
    frames = [fr for fr in traceback.extract_tb(exc.__traceback__)
              if fr.filename and os.path.abspath(fr.filename).startswith(
                  tdir + os.sep)]
    if frames:
        return f"{frames[-1].filename}:{frames[-1].lineno}"
    return fallback


def main():
    ap = argparse.ArgumentParser(prog="jinja_oracle.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("render", help="render one template")
    r.add_argument("template")
    r.add_argument("--vars", required=True)
    r.add_argument("--strict", action="store_true")
    args = ap.parse_args()
    jinja2 = load_jinja2()
    return render(jinja2, args.template, args.vars, args.strict)


if __name__ == "__main__":
    sys.exit(main())
