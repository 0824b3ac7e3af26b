#!/usr/bin/env python3
"""Differential test of `ferry render` against Jinja2.

    jinja_differential.py FERRY [--count N] [--seed S] [--only I] [--failures DIR]
                                [--time-budget SECONDS] [--verbose]

Generates N (default 300) random but valid templates from a grammar of realistic
constructs - expressions over ints, floats, strings, lists and dicts; arithmetic,
comparisons, and/or/not, conditional expressions; builtin filters and tests; for loops
with `loop.*`, if/elif/else, set and set blocks, with, macros and call blocks, filter
blocks, include/import of a partial, comments, raw blocks and whitespace control - plus
random JSON vars. Each case renders with Jinja2 in-process (the `ferry render` contract:
default Environment over FileSystemLoader(the case folder), StrictUndefined for the
cases run with --strict) and with `FERRY render main.j2 --vars vars.json`.

A case passes when both succeed with byte-identical output, or both fail (Jinja2 raises,
ferry exits non-zero). Each mismatch prints one `FAIL case-NNNN: reason (saved to DIR)`
line and keeps the case (templates, vars, Jinja2's and ferry's output) in the failures
folder; the last line is exactly `N passed, M failed`. Exit status: 0 when all cases
passed, 1 on any mismatch, 2 on usage errors.

The run is deterministic for a given seed; `--only I` re-runs case I alone. Generation
stops early when --time-budget (default 50 s) is spent, so the default run stays under a
minute. Needs only the standard library and Jinja2 (Debian's python3-jinja2 is preferred
when this runs under another python3).
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

DEBIAN_DIST = "/usr/lib/python3/dist-packages"


def load_jinja2():
    """Debian's python3-jinja2 is the reference, even under a python3 with its own."""
    if "jinja2" not in sys.modules and os.path.isdir(os.path.join(DEBIAN_DIST, "jinja2")):
        sys.path.insert(0, DEBIAN_DIST)
        try:
            import jinja2  # noqa: F401
        finally:
            sys.path.remove(DEBIAN_DIST)
    import jinja2
    return jinja2


jinja2 = load_jinja2()


# ---- random data --------------------------------------------------------------------------

WORDS = ["alpha", "beta", "Gamma", "delta", "ticket", "server", "db-01", "Ops", "urgent",
         "résumé", "naïve", "日本", "Straße", "ÉCOLE", "it's", 'say "hi"', "a&b", "<b>",
         "x_y", "hello world", "  padded  ", "", "ok", "😀 smile", "Zürich", "über", "MiXeD",
         "see https://example.com/x?a=1&b=2 now", "mail ops@example.com", "C:\\temp\\log", "50%",
         "line1\nline2", "tab\there", "ﬁ ligature", "İstanbul", "ǅ", "ΣΊΣΥΦΟΣ"]
NAMES = ["Ann", "bob", "Chloé", "dmitri", "Eve", "o'neil", "ZED", "李"]


def rand_word(r):
    return r.choice(WORDS)


def rand_float(r):
    return r.choice([0.0, 0.5, 1.0, 1.5, 2.25, -3.75, 10.0, 0.1, 0.2, 0.3, 1e20, 1e-05,
                     1234.5678, 2.675, 0.125, 99.99, -0.5, 3.14159, 100.0, 1e16])


def rand_int(r):
    return r.choice([0, 1, 2, 3, 5, 7, 10, 12, 42, 100, -1, -7, 255, 1000, 1024, 65536,
                     r.randint(-50, 50), r.randint(0, 10 ** 6)])


def make_vars(r):
    """The context: a fixed schema (so expressions can be typed) with random values."""
    items = []
    for _ in range(r.randint(0, 5)):
        items.append({"name": rand_word(r), "qty": r.randint(0, 9),
                      "price": r.choice([0.5, 1.25, 9.99, 10.0, 3.0]),
                      "tags": r.sample(["red", "blue", "green", "x"], r.randint(0, 3))})
    v = {
        "n1": rand_int(r), "n2": r.randint(1, 12), "n3": r.randint(-5, 5),
        "f1": rand_float(r), "f2": rand_float(r),
        "s1": rand_word(r), "s2": rand_word(r), "s3": r.choice(NAMES),
        "flag": r.choice([True, False]), "other": r.choice([True, False]),
        "nothing": None,
        "nums": [rand_int(r) for _ in range(r.randint(0, 6))],
        "words": [rand_word(r) for _ in range(r.randint(0, 5))],
        "user": {"name": r.choice(NAMES), "age": r.randint(18, 90),
                 "email": r.choice(["a@example.com", "x.y@ferry.local"]),
                 "tags": r.sample(["admin", "ops", "dev", "sec"], r.randint(0, 4)),
                 "active": r.choice([True, False])},
        "items": items,
        "matrix": [[r.randint(0, 9) for _ in range(r.randint(0, 3))] for _ in range(r.randint(0, 3))],
        "empty": [],
        "meta": {w: r.randint(0, 99) for w in r.sample(["zeta", "alpha", "Mid", "beta", "b"],
                                                        r.randint(0, 5))},
    }
    # Some keys go missing so `default`, `is defined` and undefined printing get exercised.
    for key in ("s2", "n3", "other", "meta"):
        if r.random() < 0.1:
            del v[key]
    return v


# ---- expressions ------------------------------------------------------------------------

def q(r, s):
    """A Jinja2 string literal for s."""
    if "'" in s and '"' not in s:
        return '"' + s.replace("\\", "\\\\") + '"'
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Scope:
    """Names visible at a point of the template, by type."""

    def __init__(self, vars, parent=None):
        self.names = {}
        self.parent = parent
        self.in_loop = parent.in_loop if parent else False
        self.macros = dict(parent.macros) if parent else {}
        if vars is not None:
            for k, val in vars.items():
                self.names[k] = type_of(k, val)

    def child(self):
        return Scope(None, self)

    def all(self):
        out = dict(self.parent.all()) if self.parent else {}
        out.update(self.names)
        return out

    def of(self, t):
        return [k for k, tt in self.all().items() if tt == t]


def type_of(key, val):
    if isinstance(val, bool):
        return "bool"
    if isinstance(val, int):
        return "int"
    if isinstance(val, float):
        return "float"
    if isinstance(val, str):
        return "str"
    if val is None:
        return "none"
    if isinstance(val, list):
        return {"nums": "list_int", "words": "list_str", "items": "list_item",
                "matrix": "list_list", "empty": "list_int"}.get(key, "list_any")
    if isinstance(val, dict):
        return {"user": "user", "meta": "dict_int"}.get(key, "item")
    return "any"


class Gen:
    def __init__(self, r):
        self.r = r
        self.macro_count = 0
        self.set_count = 0

    def pick(self, options):
        """options: list of (weight, callable)."""
        total = sum(w for w, _ in options)
        x = self.r.uniform(0, total)
        for w, f in options:
            x -= w
            if x <= 0:
                return f()
        return options[-1][1]()

    def name_of(self, sc, t):
        names = sc.of(t)
        return self.r.choice(names) if names else None

    # Each generator returns an expression string of the requested type.
    def expr(self, sc, t, d):
        fn = getattr(self, "e_" + t)
        return fn(sc, d)

    def e_int(self, sc, d):
        r = self.r
        var = self.name_of(sc, "int")
        opts = [(3, lambda: str(r.randint(0, 20))),
                (1, lambda: str(r.choice([100, 1000, 1_000_000, 7, 13]))),
                (1, lambda: r.choice(["1_000", "0x1F", "0o17", "0b101"]))]
        if var:
            opts.append((6, lambda: var))
        opts += [(1, lambda: "user.age"), (1, lambda: "nums|length"), (1, lambda: "words|length"),
                 (1, lambda: "s1|length"), (1, lambda: "items|length"), (1, lambda: "nums|sum"),
                 (1, lambda: "items|sum(attribute='qty')"), (1, lambda: "user.tags|count"),
                 (1, lambda: "n1|abs"), (1, lambda: "(f1 % 1000)|int"), (1, lambda: "(f2 % 1000)|round|int"),
                 (1, lambda: "s3|wordcount"), (1, lambda: "'42'|int"), (1, lambda: "meta|length"),
                 (1, lambda: "s1.count('a')"), (1, lambda: "s1.find('e')"), (1, lambda: "'0x1A'|int(0, 16)"),
                 (1, lambda: "'12abc'|int(7)"), (1, lambda: "' 42 '|int"), (1, lambda: "'1e3'|float|int"),
                 (1, lambda: "nums|min|default(0)"), (1, lambda: "(f2 % 1000)|round(0, 'ceil')|int"),
                 (1, lambda: "nums|select('gt', 5)|list|length"), (1, lambda: "words|select('upper')|list|length")]
        if sc.in_loop:
            opts += [(3, lambda: "loop.index"), (1, lambda: "loop.index0"),
                     (1, lambda: "loop.revindex"), (1, lambda: "loop.length")]
        if d > 0:
            # Products stay far below 2**63: Python ints are unbounded, Ferry's are 64-bit.
            opts += [(3, lambda: "(%s %s %s)" % (self.expr(sc, "int", d - 1), r.choice("+-"),
                                                 self.expr(sc, "int", d - 1))),
                     (2, lambda: "(%s * %d)" % (self.expr(sc, "int", d - 1), r.randint(-3, 9))),
                     (1, lambda: "%s %s %s" % (self.expr(sc, "int", d - 1), r.choice("+-"),
                                               self.expr(sc, "int", d - 1))),
                     (1, lambda: "(%s // %d)" % (self.expr(sc, "int", d - 1), r.choice([1, 2, 3, -2, 7]))),
                     (1, lambda: "(%s %% %d)" % (self.expr(sc, "int", d - 1), r.choice([2, 3, 5, -3]))),
                     (1, lambda: "(%s ** %d)" % (r.choice(["2", "3", "-2", "n2", "10"]), r.randint(0, 3))),
                     (1, lambda: "-%s" % self.expr(sc, "int", d - 1)),
                     (1, lambda: "(%s if %s else %s)" % (self.expr(sc, "int", d - 1), self.expr(sc, "bool", d - 1),
                                                         self.expr(sc, "int", d - 1))),
                     (1, lambda: "[%s, %s]|max" % (self.expr(sc, "int", d - 1), self.expr(sc, "int", d - 1))),
                     (1, lambda: "%s|length" % self.expr(sc, "list_int", d - 1))]
        return self.pick(opts)

    def e_float(self, sc, d):
        r = self.r
        var = self.name_of(sc, "float")
        opts = [(3, lambda: r.choice(["0.5", "1.0", "2.5", "0.1", "1e3", "1.5e-3", "3.14", "1_0.5", "100.0"]))]
        if var:
            opts.append((5, lambda: var))
        opts += [(1, lambda: "n1|float"), (1, lambda: "f1|round(1)"), (1, lambda: "f2|abs"),
                 (1, lambda: "'2.5'|float"), (1, lambda: "f1|round(2, 'floor')")]
        if d > 0:
            opts += [(3, lambda: "(%s %s %s)" % (self.expr(sc, "float", d - 1), r.choice("+-*"),
                                                 self.expr(sc, r.choice(["int", "float"]), d - 1))),
                     (2, lambda: "(%s / %s)" % (self.expr(sc, r.choice(["int", "float"]), d - 1),
                                                r.choice(["2", "4", "3", "0.5", "n2", "-8"]))),
                     (1, lambda: "(%s // %s)" % (self.expr(sc, "float", d - 1), r.choice(["2", "0.5", "-3"]))),
                     (1, lambda: "(%s %% %s)" % (self.expr(sc, "float", d - 1), r.choice(["2", "1.5", "-3"]))),
                     (1, lambda: "(%s ** %s)" % (self.expr(sc, "float", d - 1), r.choice(["2", "-1", "3"]))),
                     # A negative base with a fractional exponent is complex in Python.
                     (1, lambda: "(%s|abs) ** 0.5" % self.expr(sc, "float", d - 1)),
                     (1, lambda: "%s|round(%d)" % (self.expr(sc, "float", d - 1), r.randint(0, 3)))]
        return self.pick(opts)

    def e_str(self, sc, d):
        r = self.r
        var = self.name_of(sc, "str")
        opts = [(3, lambda: q(r, rand_word(r)))]
        if var:
            opts.append((6, lambda: var))
        opts += [(1, lambda: "user.name"), (1, lambda: "user.email"),
                 (1, lambda: "s2|default('none given')"), (1, lambda: "missing_var|default(%s)" % q(r, rand_word(r))),
                 (1, lambda: "nothing|string"), (1, lambda: "words|join(%s)" % q(r, r.choice([", ", "-", "", " | "]))),
                 (1, lambda: "user.tags|join(',')"), (1, lambda: "items|map(attribute='name')|join('/')"),
                 (1, lambda: "'%s=%d'|format(s1, n2)"), (1, lambda: "'%.2f'|format(f1)"),
                 (1, lambda: "n1|filesizeformat"), (1, lambda: "meta|tojson"), (1, lambda: "user|tojson"),
                 (1, lambda: "words|tojson"), (1, lambda: "{'b': 1, 'a': [s1, n2]}|tojson"),
                 (1, lambda: r.choice(["'%s-%03d' % (s1, n2)", "'%(a)s/%(b)d' % {'a': s3, 'b': n1}",
                                       "'%.3f' % f1", "'%5.1f%%' % f2", "'%x|%o|%X' % (n2, n2, n1|abs)",
                                       "'%e' % f1", "'%-6s|' % s3", "'%+d' % n3|default(0)", "'%g' % f2",
                                       "'%r' % s1", "'%s' % (words,)", "'%10.4s|' % s1"])),
                 (1, lambda: r.choice(["'{:>8}|{:.2f}'.format(s3, f1)", "'{0}-{0}'.format(n1)",
                                       "'{:,}'.format(n1)", "'{name}!'.format(name=s1)",
                                       "'{:^9}'.format(s3)", "'{!r}'.format(s1)", "'{:08.3f}'.format(f2)",
                                       "'{:x}'.format(n1|abs)", "'{:.1%}'.format(f2)", "'{}'.format(words)",
                                       "'{:e}'.format(f1)", "'{:g}'.format(f1)", "'{0[name]}'.format(user)"])),
                 (1, lambda: "%s.%s" % (r.choice(["s1", "s3", "user.name"]), r.choice(
                     ["upper()", "lower()", "title()", "strip()", "capitalize()", "swapcase()",
                      "replace('a', '@')", "center(9, '*')", "ljust(6)", "rjust(6, '.')", "zfill(5)",
                      "lstrip('ab')", "rstrip()", "casefold()", "split()|join('+')", "expandtabs(4)",
                      "partition(' ')|join('/')", "splitlines()|join('/')"]))),
                 (1, lambda: "%s|urlize" % r.choice(["s1", "'see https://example.com/a?b=1&c=2.'", "'mail ops@example.com'"])),
                 (1, lambda: "%s|%s" % (r.choice(["s1", "s3", "user.name", "words|join(' ')"]), r.choice(
                     ["wordwrap(8)", "wordwrap(4, true, '|')", "truncate(5)", "truncate(10, false, '...', 0)",
                      "title", "center(5)", "indent('> ', true)", "forceescape", "urlencode"]))),
                 (1, lambda: "items|groupby('qty')|map('first')|join(',')"),
                 (1, lambda: "(items|map(attribute='qty')|max|default(0))|string"),
                 (1, lambda: "meta|dictsort(false, 'value')|join(';')"),
                 (1, lambda: "meta|dictsort(reverse=true)|map('first')|join"),
                 (1, lambda: "words|unique|join('|')"), (1, lambda: "words|map('lower')|unique|join('|')"),
                 (1, lambda: "nums|batch(2, 0)|map('join', '+')|join(' ')"),
                 (1, lambda: "words|sort|join(',')"), (1, lambda: "words|sort(case_sensitive=true)|join(',')"),
                 (1, lambda: "user.items()|list|string"), (1, lambda: "meta.keys()|list|join"),
                 (1, lambda: "meta.get('alpha', 'no alpha')|string"), (1, lambda: "user.get('nick', s3)"),
                 (1, lambda: "(nums|sum / (nums|length or 1))|round(2)|string"),
                 (1, lambda: "[f1, f2, 0.1]|sum|string"), (1, lambda: "items|sum(attribute='price')|string")]
        if sc.in_loop:
            opts += [(1, lambda: "loop.cycle('odd', 'even')")]
        if d > 0:
            f1 = lambda: "%s|%s" % (self.expr(sc, "str", d - 1), r.choice(
                ["upper", "lower", "title", "capitalize", "trim", "e", "escape", "striptags", "string",
                 "reverse", "urlencode", "center(11)", "truncate(9)", "truncate(12, true, '..', 0)",
                 "indent(2)", "indent(2, true)", "replace('a', '4')", "replace(' ', '_')",
                 "wordwrap(5)", "default('dflt', true)", "trim('x')"]))
            opts += [(5, f1),
                     (3, lambda: "%s ~ %s" % (self.expr(sc, "str", d - 1),
                                              self.expr(sc, r.choice(["str", "int", "float", "bool"]), d - 1))),
                     (1, lambda: "(%s + %s)" % (self.expr(sc, "str", d - 1), self.expr(sc, "str", d - 1))),
                     (1, lambda: "(%s)[%s]" % (self.expr(sc, "str", d - 1), r.choice(["1:3", "::-1", ":4", "-2:", "::2", "0", "-1"]))),
                     (1, lambda: "(%s if %s else %s)" % (self.expr(sc, "str", d - 1), self.expr(sc, "bool", d - 1),
                                                         self.expr(sc, "str", d - 1))),
                     (1, lambda: "(%s * %d)" % (self.expr(sc, "str", d - 1), r.randint(0, 3))),
                     (1, lambda: "%s|string" % self.expr(sc, r.choice(["int", "float", "bool", "list_int", "list_str"]), d - 1)),
                     (1, lambda: "%s|join(' ')" % self.expr(sc, "list_str", d - 1)),
                     (1, lambda: "%s|first|default('-')" % self.expr(sc, "list_str", d - 1)),
                     (1, lambda: "%s|xmlattr" % r.choice(["{'class': s1, 'id': n2}", "{'a': none, 'b': 'x y'}"]))]
        return self.pick(opts)

    def e_bool(self, sc, d):
        r = self.r
        var = self.name_of(sc, "bool")
        opts = [(1, lambda: r.choice(["true", "false", "True", "none is none"]))]
        if var:
            opts.append((3, lambda: var))
        opts += [(1, lambda: "user.active"), (1, lambda: "s2 is defined"), (1, lambda: "meta is defined"),
                 (1, lambda: "nothing is none"), (1, lambda: "n1 is odd"), (1, lambda: "n2 is even"),
                 (1, lambda: "n1 is divisibleby 3"), (1, lambda: "s1 is string"), (1, lambda: "nums is sequence"),
                 (1, lambda: "user is mapping"), (1, lambda: "f1 is number"), (1, lambda: "s1 is lower"),
                 (1, lambda: "missing_var is undefined"), (1, lambda: "'ops' in user.tags"), (1, lambda: "words"),
                 (1, lambda: "nums|length > 2")]
        if sc.in_loop:
            opts += [(2, lambda: "loop.first"), (2, lambda: "loop.last")]
        if d > 0:
            cmp_num = lambda: "%s %s %s" % (self.expr(sc, r.choice(["int", "float"]), d - 1),
                                            r.choice(["<", ">", "<=", ">=", "==", "!="]),
                                            self.expr(sc, r.choice(["int", "float"]), d - 1))
            opts += [(4, cmp_num),
                     (1, lambda: "%s < %s < %s" % tuple(self.expr(sc, "int", d - 1) for _ in range(3))),
                     (2, lambda: "%s %s %s" % (self.expr(sc, "str", d - 1), r.choice(["==", "!=", "<", "in", "not in"]),
                                               self.expr(sc, "str", d - 1))),
                     (2, lambda: "%s in %s" % (self.expr(sc, "int", d - 1), self.expr(sc, "list_int", d - 1))),
                     (2, lambda: "not %s" % self.expr(sc, "bool", d - 1)),
                     (2, lambda: "(%s and %s)" % (self.expr(sc, "bool", d - 1), self.expr(sc, "bool", d - 1))),
                     (2, lambda: "(%s or %s)" % (self.expr(sc, "bool", d - 1), self.expr(sc, "bool", d - 1))),
                     (1, lambda: "%s and %s or %s" % tuple(self.expr(sc, "bool", d - 1) for _ in range(3))),
                     (1, lambda: "%s is %s" % (self.expr(sc, "int", d - 1), r.choice(["odd", "even", "number", "integer", "divisibleby(4)", "eq 3", "gt 5", "in [1, 2, 3]"]))),
                     (1, lambda: "%s is not %s" % (self.expr(sc, "str", d - 1), r.choice(["upper", "lower", "string", "none", "eq 'x'"]))),
                     (1, lambda: "%s|length %s %d" % (self.expr(sc, r.choice(["list_int", "list_str", "str"]), d - 1),
                                                      r.choice(["==", ">"]), r.randint(0, 3)))]
        return self.pick(opts)

    def e_list_int(self, sc, d):
        r = self.r
        var = self.name_of(sc, "list_int")
        opts = [(2, lambda: "[%s]" % ", ".join(str(r.randint(-9, 30)) for _ in range(r.randint(0, 5)))),
                (1, lambda: "range(%d)|list" % r.randint(0, 6)), (1, lambda: "range(1, %d, 2)|list" % r.randint(1, 9)),
                (1, lambda: "matrix|first|default([])"), (1, lambda: "items|map(attribute='qty')|list"),
                (1, lambda: "meta|dictsort|map('last')|list")]
        if var:
            opts.append((4, lambda: var))
        opts.append((2, lambda: "nums"))
        if d > 0:
            opts += [(3, lambda: "%s|%s" % (self.expr(sc, "list_int", d - 1), r.choice(
                ["sort", "sort(reverse=true)", "unique|list", "reverse|list", "list", "select('odd')|list",
                 "reject('even')|list", "map('abs')|list", "batch(2)|map('sum')|list", "slice(2)|map('length')|list",
                 "map('string')|map('int')|list"]))),
                     (1, lambda: "(%s)[%s]" % (self.expr(sc, "list_int", d - 1), r.choice(["1:", ":2", "::-1", "::2"]))),
                     (1, lambda: "(%s + %s)" % (self.expr(sc, "list_int", d - 1), self.expr(sc, "list_int", d - 1))),
                     (1, lambda: "[%s, %s]" % (self.expr(sc, "int", d - 1), self.expr(sc, "int", d - 1))),
                     (1, lambda: "(%s * 2)" % self.expr(sc, "list_int", d - 1))]
        return self.pick(opts)

    def e_list_str(self, sc, d):
        r = self.r
        var = self.name_of(sc, "list_str")
        opts = [(2, lambda: "[%s]" % ", ".join(q(r, rand_word(r)) for _ in range(r.randint(0, 4)))),
                (2, lambda: "words"), (1, lambda: "user.tags"), (1, lambda: "items|map(attribute='name')|list"),
                (1, lambda: "meta|list"), (1, lambda: "s1|list"), (1, lambda: "%s.split()" % q(r, "a b  c"))]
        if var:
            opts.append((3, lambda: var))
        if d > 0:
            opts += [(3, lambda: "%s|%s" % (self.expr(sc, "list_str", d - 1), r.choice(
                ["sort", "sort(case_sensitive=true)", "unique|list", "map('upper')|list", "map('title')|list",
                 "reject('none')|list", "select('lower')|list", "reverse|list", "map('trim')|list"]))),
                     (1, lambda: "(%s + [%s])" % (self.expr(sc, "list_str", d - 1), self.expr(sc, "str", d - 1)))]
        return self.pick(opts)

    def e_list_item(self, sc, d):
        r = self.r
        return r.choice(["items", "items|sort(attribute='qty')", "items|selectattr('qty', '>', 3)|list",
                         "items|rejectattr('qty')|list", "items|sort(attribute='name,qty')",
                         "items|selectattr('tags')|list"])

    def e_item(self, sc, d):
        var = self.name_of(sc, "item")
        if var and self.r.random() < 0.7:
            return var
        return self.r.choice(["items|first|default({'name': 'none', 'qty': 0, 'price': 0.0, 'tags': []})",
                              "{'name': %s, 'qty': 2, 'price': 1.5, 'tags': ['t']}" % q(self.r, rand_word(self.r))])

    def e_user(self, sc, d):
        return "user"

    def e_dict_int(self, sc, d):
        return self.r.choice(["meta|default({})", "{'b': 2, 'a': 1}", "dict(x=1, y=n2)"])

    def e_none(self, sc, d):
        return "nothing"

    def e_list_list(self, sc, d):
        return "matrix"

    def e_any(self, sc, d):
        t = self.r.choice(["int", "float", "str", "bool", "list_int", "list_str", "user", "dict_int", "none",
                           "list_list", "item"])
        return self.expr(sc, t, d)

    def printable(self, sc, d):
        """An expression worth printing (any type)."""
        r = self.r
        return self.pick([(4, lambda: self.expr(sc, "str", d)), (3, lambda: self.expr(sc, "int", d)),
                          (2, lambda: self.expr(sc, "float", d)), (1, lambda: self.expr(sc, "bool", d)),
                          (1, lambda: self.expr(sc, "list_int", d)), (1, lambda: self.expr(sc, "list_str", d)),
                          (1, lambda: self.expr(sc, r.choice(["user", "dict_int", "item", "list_list", "none"]), d)),
                          (1, lambda: "%s|dictsort" % self.expr(sc, "dict_int", d)),
                          (1, lambda: "(%s, %s)" % (self.expr(sc, "int", d), self.expr(sc, "str", d))),
                          (1, lambda: "missing_var"), (1, lambda: "user.missing_attr")] +
                         ([(2, lambda: r.choice(["loop.previtem|default('-')", "loop.nextitem|default('-')",
                                                  "loop.revindex0", "loop.depth", "loop.cycle(1, 2, 3)",
                                                  "loop.changed(loop.index // 2)", "loop.length - loop.index"]))]
                          if sc.in_loop else []))

    # ---- statements -----------------------------------------------------------------------

    def ws(self):
        """Optional whitespace-control marker."""
        return "-" if self.r.random() < 0.25 else ""

    def text(self):
        r = self.r
        return r.choice(["\n", " ", "  ", "\n\n", "- ", ", ", "Hello ", "Status: ", "\n  * ", "| ",
                         "Ticket #", " (", ") ", "\t", "é ", "— ", ": ", "\r\n", "<li>", "</li>\n"])

    def block(self, sc, depth, n):
        return "".join(self.stmt(sc, depth) for _ in range(n))

    def stmt(self, sc, depth):
        r = self.r
        opts = [(6, lambda: self.text()),
                (8, lambda: "{{%s %s %s}}" % (self.ws(), self.printable(sc, r.randint(0, 2)), self.ws())),
                (1, lambda: "{#%s a comment {{ x }} %s#}" % (self.ws(), self.ws())),
                (1, lambda: "{% raw %}{{ not_rendered }}{% if %}{% endraw %}"),
                (2, lambda: self.s_set(sc))]
        if depth > 0:
            opts += [(3, lambda: self.s_if(sc, depth)), (3, lambda: self.s_for(sc, depth)),
                     (1, lambda: self.s_set_block(sc, depth)), (1, lambda: self.s_with(sc, depth)),
                     (1, lambda: self.s_filter(sc, depth))]
        if sc.macros:
            opts.append((2, lambda: self.s_call_macro(sc, depth)))
        if depth > 0:
            opts.append((1, lambda: self.s_namespace(sc, depth)))
        return self.pick(opts)

    def tag(self, body):
        return "{%" + self.ws() + " " + body + " " + self.ws() + "%}"

    def s_set(self, sc):
        r = self.r
        t = r.choice(["int", "str", "float", "list_int", "bool", "list_str"])
        name = "v%d" % self.set_count
        self.set_count += 1
        if t == "int" and r.random() < 0.2:
            name2 = "w%d" % self.set_count
            self.set_count += 1
            stmt = self.tag("set %s, %s = %s, %s" % (name, name2, self.expr(sc, "int", 1), self.expr(sc, "str", 1)))
            sc.names[name] = "int"
            sc.names[name2] = "str"
            return stmt
        stmt = self.tag("set %s = %s" % (name, self.expr(sc, t, r.randint(0, 2))))
        sc.names[name] = t
        return stmt

    def s_namespace(self, sc, depth):
        """A namespace counter and list updated inside a loop, read after it. The list is
        sometimes held by a variable as well while it grows (Ferry appends in place only
        when the namespace alone holds it)."""
        r = self.r
        ns = "ns%d" % self.set_count
        self.set_count += 1
        inner = sc.child()
        inner.in_loop = True
        inner.names["it"] = "int"
        body = self.tag("set %s.total = %s.total + it" % (ns, ns)) + \
            self.tag("set %s.last = %s" % (ns, self.expr(inner, "str", 1)))
        if r.random() < 0.8:
            body += self.tag("set %s.items = %s.items + [it, %s]" % (ns, ns, self.expr(inner, "str", 1)))
        if r.random() < 0.4:
            body += (self.tag("set kept = %s.items" % ns) +
                     self.tag("set %s.items = %s.items + [it * 2]" % (ns, ns)) +
                     "{{ kept|length }}:{{ %s.items|length }}" % ns)
        body += self.block(inner, depth - 1, r.randint(0, 2))
        return (self.tag("set %s = namespace(total=0, last='none', items=[])" % ns) +
                self.tag("for it in %s" % self.expr(sc, "list_int", 1)) + body + self.tag("endfor") +
                "{{ %s.total }}/{{ %s.last }}/{{ %s.items }}" % (ns, ns, ns))

    def s_set_block(self, sc, depth):
        name = "b%d" % self.set_count
        self.set_count += 1
        body = self.block(sc.child(), depth - 1, self.r.randint(1, 3))
        sc.names[name] = "str"
        return self.tag("set %s" % name) + body + self.tag("endset")

    def s_if(self, sc, depth):
        r = self.r
        # `if` opens no scope: sets inside are visible after it (in the taken branch).
        out = self.tag("if %s" % self.expr(sc, "bool", r.randint(0, 2)))
        out += self.block(sc.child(), depth - 1, r.randint(1, 3))
        for _ in range(r.choice([0, 0, 1, 2])):
            out += self.tag("elif %s" % self.expr(sc, "bool", 1)) + self.block(sc.child(), depth - 1, r.randint(1, 2))
        if r.random() < 0.5:
            out += self.tag("else") + self.block(sc.child(), depth - 1, r.randint(1, 2))
        return out + self.tag("endif")

    def s_for(self, sc, depth):
        r = self.r
        inner = sc.child()
        inner.in_loop = True
        kind = r.choice(["int", "str", "item", "pairs", "chars", "items_kv", "range"])
        var = "x%d" % self.set_count
        self.set_count += 1
        if kind == "int":
            head, inner.names[var] = "%s in %s" % (var, self.expr(sc, "list_int", 1)), "int"
        elif kind == "str":
            head, inner.names[var] = "%s in %s" % (var, self.expr(sc, "list_str", 1)), "str"
        elif kind == "item":
            head, inner.names[var] = "%s in %s" % (var, self.expr(sc, "list_item", 1)), "item"
        elif kind == "chars":
            head, inner.names[var] = "%s in %s" % (var, self.expr(sc, "str", 0)), "str"
        elif kind == "range":
            head, inner.names[var] = "%s in range(%s)" % (var, r.choice(["3", "n2", "1, 4", "5, 0, -2"])), "int"
        else:
            k, v = var + "k", var + "v"
            src = "meta|dictsort" if kind == "pairs" else r.choice(["meta.items()", "{'a': 1, 'b': 2}.items()"])
            head = "%s, %s in %s" % (k, v, src)
            inner.names[k], inner.names[v] = "str", "int"
        if r.random() < 0.25:
            # The loop filter sees the loop variable but not `loop`.
            cond = sc.child()
            cond.in_loop = False
            cond.names.update(inner.names)
            head += " if %s" % self.expr(cond, "bool", 1)
        out = self.tag("for " + head) + self.block(inner, depth - 1, r.randint(1, 4))
        if r.random() < 0.3:
            else_scope = sc.child()
            out += self.tag("else") + self.block(else_scope, depth - 1, 1)
        return out + self.tag("endfor")

    def s_with(self, sc, depth):
        inner = sc.child()
        name = "w%d" % self.set_count
        self.set_count += 1
        t = self.r.choice(["int", "str"])
        head = "with %s = %s" % (name, self.expr(sc, t, 1))
        inner.names[name] = t
        return self.tag(head) + self.block(inner, depth - 1, self.r.randint(1, 3)) + self.tag("endwith")

    def s_filter(self, sc, depth):
        # (Not `length` or `wordcount`: Jinja2 then yields a non-string and raises TypeError.)
        f = self.r.choice(["upper", "lower", "trim", "title", "replace('e', 'E')", "indent(4)", "center(30)",
                           "striptags", "capitalize|replace(' ', '.')", "e", "truncate(20)", "wordwrap(10)"])
        return self.tag("filter " + f) + self.block(sc.child(), depth - 1, self.r.randint(1, 3)) + self.tag("endfilter")

    def s_macro(self, sc):
        r = self.r
        name = "m%d" % self.macro_count
        self.macro_count += 1
        inner = Scope(None, None)
        inner.names = dict(sc.all())
        inner.names.update({"a": "str", "b": "int"})
        uses_caller = r.random() < 0.3
        body = self.block(inner, 1, r.randint(1, 3))
        if uses_caller:
            body += "[{{ caller() }}]"
        if r.random() < 0.3:
            body += "{{ varargs }}{{ kwargs }}"
        default = r.choice(["2", "a|length", "n2 + 1"])
        sc.macros[name] = uses_caller
        return self.tag("macro %s(a, b=%s)" % (name, default)) + body + self.tag("endmacro")

    def s_call_macro(self, sc, depth):
        r = self.r
        name = r.choice(sorted(sc.macros))
        uses_caller = sc.macros[name]
        args = [self.expr(sc, "str", 1)]
        if r.random() < 0.5:
            args.append(("b=" if r.random() < 0.5 else "") + self.expr(sc, "int", 1))
        call = "%s(%s)" % (name, ", ".join(args))
        if uses_caller:
            return self.tag("call " + call) + self.block(sc.child(), max(depth - 1, 0), r.randint(1, 2)) + self.tag("endcall")
        return "{{ %s }}" % call

    def template(self, vars):
        r = self.r
        sc = Scope(vars)
        parts = []
        files = {}
        # Optionally a partial to import or include.
        if r.random() < 0.2:
            psc = Scope(vars)
            files["part.j2"] = self.tag("macro shout(a, b=1)") + "{{ (a ~ '!') * b }}" + self.tag("endmacro") + \
                self.tag("set answer = 42") + self.block(psc, 1, r.randint(1, 3)) + "\n"
            parts.append(r.choice([
                "{% import 'part.j2' as part %}{{ part.shout(s1, 2) }}{{ part.answer }}",
                "{% from 'part.j2' import shout, answer as a42 %}{{ shout(s3) }}{{ a42 }}",
                "{% include 'part.j2' %}",
                "{% include 'part.j2' without context %}",
                "{% include ['missing.j2', 'part.j2'] %}",
            ]))
        for _ in range(r.randint(0, 2)):
            parts.append(self.s_macro(sc))
        for _ in range(r.randint(2, 8)):
            parts.append(self.stmt(sc, r.randint(0, 3)))
        text = "".join(parts)
        if r.random() < 0.5:
            text += "\n"
        files["main.j2"] = text
        return files


# ---- running ------------------------------------------------------------------------------

def render_jinja(folder, strict):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder),
                             undefined=jinja2.StrictUndefined if strict else jinja2.Undefined)
    with open(os.path.join(folder, "vars.json"), encoding="utf-8") as f:
        data = json.load(f)
    try:
        return True, env.get_template("main.j2").render(data).encode("utf-8")
    except RecursionError:
        return False, b"RecursionError"
    except Exception as e:  # any template error: ferry must fail too
        return False, ("%s: %s" % (type(e).__name__, e)).encode("utf-8", "replace")


def run_case(ferry, index, seed, work, timeout):
    r = random.Random(seed * 1_000_003 + index)
    vars = make_vars(r)
    files = Gen(r).template(vars)
    strict = r.random() < 0.15
    folder = os.path.join(work, "case-%04d" % index)
    os.makedirs(folder)
    for name, text in files.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8", newline="") as f:
            f.write(text)
    with open(os.path.join(folder, "vars.json"), "w", encoding="utf-8") as f:
        json.dump(vars, f, ensure_ascii=r.random() < 0.5, indent=1)
    if strict:
        with open(os.path.join(folder, "flags.txt"), "w") as f:
            f.write("--strict\n")
    ok, expected = render_jinja(folder, strict)
    cmd = [ferry, "render", os.path.join(folder, "main.j2"), "--vars", os.path.join(folder, "vars.json")]
    if strict:
        cmd.append("--strict")
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        rc, out, err = None, b"", b"timeout"
    if rc is None:
        reason = "ferry timed out after %ss" % timeout
    elif rc < 0:
        reason = "ferry crashed (signal %d)" % -rc
    elif ok and rc != 0:
        reason = "Jinja2 renders, ferry fails: %s" % err.decode("utf-8", "replace").strip()[:200]
    elif ok and out != expected:
        reason = "output differs: %s" % first_difference(expected, out)
    elif not ok and rc == 0:
        reason = "Jinja2 raises (%s), ferry renders" % expected.decode("utf-8", "replace")[:200]
    else:
        reason = None
    if reason:
        with open(os.path.join(folder, "expected.txt" if ok else "expected_error.txt"), "wb") as f:
            f.write(expected)
        with open(os.path.join(folder, "ferry_stdout.txt"), "wb") as f:
            f.write(out)
        with open(os.path.join(folder, "ferry_stderr.txt"), "wb") as f:
            f.write(err)
    return folder, reason


def first_difference(expected, actual):
    n = 0
    while n < min(len(expected), len(actual)) and expected[n] == actual[n]:
        n += 1
    ctx = lambda b: repr(b[max(0, n - 20):n + 20].decode("utf-8", "replace"))
    return "at byte %d: Jinja2 %s, ferry %s" % (n, ctx(expected), ctx(actual))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ferry", help="path to the ferry binary")
    ap.add_argument("--count", type=int, default=300, help="number of cases (default 300)")
    ap.add_argument("--seed", type=int, default=20240601, help="random seed")
    ap.add_argument("--only", type=int, help="run only case I")
    ap.add_argument("--failures", help="folder that keeps failing cases (default: a new temp folder)")
    ap.add_argument("--time-budget", type=float, default=50.0,
                    help="stop starting new cases after this many seconds (default 50)")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per ferry run (default 10)")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every case's folder")
    args = ap.parse_args()

    ferry = os.path.abspath(args.ferry)
    if not (os.path.isfile(ferry) and os.access(ferry, os.X_OK)):
        print("jinja_differential.py: not an executable: %s" % args.ferry, file=sys.stderr)
        return 2

    work = tempfile.mkdtemp(prefix="jinja-diff-work-")
    failures_dir = args.failures
    passed = failed = 0
    start = time.monotonic()
    indexes = [args.only] if args.only is not None else range(args.count)
    try:
        for i in indexes:
            if time.monotonic() - start > args.time_budget:
                print("time budget of %.0f s spent: stopping after %d cases"
                      % (args.time_budget, passed + failed), file=sys.stderr)
                break
            folder, reason = run_case(ferry, i, args.seed, work, args.timeout)
            if reason is None:
                passed += 1
                if args.verbose:
                    print("ok   case-%04d" % i)
                continue
            failed += 1
            if failures_dir is None:
                failures_dir = tempfile.mkdtemp(prefix="jinja-diff-failures-")
            os.makedirs(failures_dir, exist_ok=True)
            kept = os.path.join(failures_dir, os.path.basename(folder))
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(folder, kept)
            print("FAIL case-%04d: %s (saved to %s)" % (i, reason, kept))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
