#!/usr/bin/env python3
"""Generates unicode_data.cpp: the Unicode tables behind Python's str predicates and full case
mappings (see unicode_data.h). Run with Python 3.11 (Unicode 14.0) on a Debian 12 machine:

    python3 engine/template/unicode_data_gen.py

Case_Ignorable and Cased come from perl 5.36 (also Unicode 14.0), since Python's unicodedata
module does not expose them. The script asserts that glibc's simple case mappings agree with
Python's, because unicode_data.cpp lists only the mappings that differ from them.
"""
import ctypes
import ctypes.util
import os
import subprocess
import unicodedata

PERL = r"""
for my $prop ('Case_Ignorable', 'Cased') {
    my $re = qr/\p{$prop}/;
    my $start = -1;
    for my $c (0 .. 0x110000) {
        my $in = $c < 0x110000 && !($c >= 0xD800 && $c < 0xE000) && chr($c) =~ $re;
        if ($in && $start < 0) { $start = $c; }
        if (!$in && $start >= 0) { printf "%s %d %d\n", $prop, $start, $c - 1; $start = -1; }
    }
}
"""

HERE = os.path.dirname(os.path.abspath(__file__))
ALL = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]


def ranges_of(pred):
    out, start = [], None
    for c in range(0x110001):
        inside = c < 0x110000 and not 0xD800 <= c < 0xE000 and pred(c)
        if inside and start is None:
            start = c
        if not inside and start is not None:
            out.append((start, c - 1))
            start = None
    return out


def perl_ranges():
    text = subprocess.run(["perl", "-e", PERL], check=True, capture_output=True, text=True).stdout
    props = {}
    for line in text.splitlines():
        name, lo, hi = line.split()
        props.setdefault(name, []).append((int(lo), int(hi)))
    return props


def check_glibc_simple_mappings():
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.setlocale(0, b"C.UTF-8")
    libc.towupper.restype = ctypes.c_uint
    libc.towlower.restype = ctypes.c_uint
    for c in ALL:
        up, low = chr(c).upper(), chr(c).lower()
        if len(up) == 1:
            assert ord(up) == libc.towupper(c), hex(c)
        if len(low) == 1:
            assert ord(low) == libc.towlower(c), hex(c)
        else:
            assert c == 0x130, hex(c)  # 'İ', which str_case.cpp handles


def literal(s):
    return 'U"' + "".join("\\u%04X" % ord(ch) if ord(ch) < 0x10000 else "\\U%08X" % ord(ch)
                          for ch in s) + '"'


def main():
    check_glibc_simple_mappings()
    perl = perl_ranges()
    decimal = ranges_of(lambda c: chr(c).isdecimal())
    for lo, hi in decimal:  # every Nd range is runs of 0..9, which decimal_value relies on
        for c in range(lo, hi + 1):
            assert unicodedata.decimal(chr(c)) == (c - lo) % 10, hex(c)
    tables = {
        "kDecimal": decimal,
        "kDigit": ranges_of(lambda c: chr(c).isdigit()),
        "kNumeric": ranges_of(lambda c: chr(c).isnumeric()),
        "kAlpha": ranges_of(lambda c: chr(c).isalpha()),
        "kPrintable": ranges_of(lambda c: chr(c).isprintable()),
        "kXidStart": ranges_of(lambda c: c != 0x5F and chr(c).isidentifier()),
        "kXidContinue": ranges_of(lambda c: ("a" + chr(c)).isidentifier()),
        "kCaseIgnorable": perl["Case_Ignorable"],
        "kCased": perl["Cased"],
    }
    mappings = {
        "kUpperFull": [(c, chr(c).upper()) for c in ALL if len(chr(c).upper()) > 1],
        "kTitleFull": [(c, chr(c).title()) for c in ALL if chr(c).title() != chr(c).upper()],
        "kFoldFull": [(c, chr(c).casefold()) for c in ALL
                      if chr(c).casefold() != chr(c).lower()],
    }
    assert min(c for c, _ in mappings["kUpperFull"]) >= 0xDF
    assert min(c for c, _ in mappings["kTitleFull"]) >= 0xDF
    assert min(c for c, _ in mappings["kFoldFull"]) >= 0xB5

    out = [
        "// Generated from Python 3.11 (Unicode %s) and perl's Unicode property tables by\n"
        % unicodedata.unidata_version,
        "// unicode_data_gen.py. Do not edit by hand.\n",
        '#include "template/unicode_data.h"\n\n#include <algorithm>\n#include <iterator>\n\n',
        "namespace ferry::tmpl::uni {\n\nnamespace {\n\n",
        "struct Range {\n    char32_t lo, hi;\n};\n\n",
        "struct Mapping {\n    char32_t from;\n    const char32_t* to;\n};\n\n",
    ]
    for name, ranges in tables.items():
        out.append("constexpr Range %s[] = {\n" % name)
        line = "   "
        for item in ("{0x%X, 0x%X}," % r for r in ranges):
            if len(line) + len(item) + 1 > 100:
                out.append(line + "\n")
                line = "   "
            line += " " + item
        out.append(line + "\n};\n\n")
    for name, pairs in mappings.items():
        out.append("constexpr Mapping %s[] = {\n" % name)
        out.extend("    {0x%X, %s},\n" % (c, literal(s)) for c, s in pairs)
        out.append("};\n\n")
    out.append(FUNCTIONS)
    with open(os.path.join(HERE, "unicode_data.cpp"), "w") as f:
        f.write("".join(out))


FUNCTIONS = """\
template <size_t N>
bool in_ranges(const Range (&table)[N], char32_t c) {
    auto it = std::upper_bound(std::begin(table), std::end(table), c,
                               [](char32_t v, const Range& r) { return v < r.lo; });
    return it != std::begin(table) && c <= std::prev(it)->hi;
}

template <size_t N>
const char32_t* find_mapping(const Mapping (&table)[N], char32_t c) {
    auto it = std::lower_bound(std::begin(table), std::end(table), c,
                               [](const Mapping& m, char32_t v) { return m.from < v; });
    return it != std::end(table) && it->from == c ? it->to : nullptr;
}

}  // namespace

int decimal_value(char32_t c) {
    if (c < 0x80) return c >= '0' && c <= '9' ? int(c - '0') : -1;
    auto it = std::upper_bound(std::begin(kDecimal), std::end(kDecimal), c,
                               [](char32_t v, const Range& r) { return v < r.lo; });
    if (it == std::begin(kDecimal) || c > std::prev(it)->hi) return -1;
    return int((c - std::prev(it)->lo) % 10);
}

bool is_digit(char32_t c) { return c < 0x80 ? (c >= '0' && c <= '9') : in_ranges(kDigit, c); }
bool is_numeric(char32_t c) {
    return c < 0x80 ? (c >= '0' && c <= '9') : in_ranges(kNumeric, c);
}
bool is_alpha(char32_t c) {
    if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    return in_ranges(kAlpha, c);
}
bool is_printable(char32_t c) {
    return c < 0x80 ? (c >= 0x20 && c < 0x7f) : in_ranges(kPrintable, c);
}
bool is_xid_start(char32_t c) { return in_ranges(kXidStart, c); }
bool is_xid_continue(char32_t c) { return in_ranges(kXidContinue, c); }
bool is_case_ignorable(char32_t c) { return in_ranges(kCaseIgnorable, c); }
bool is_cased(char32_t c) { return in_ranges(kCased, c); }

const char32_t* upper_expansion(char32_t c) {
    return c < 0xDF ? nullptr : find_mapping(kUpperFull, c);
}
const char32_t* title_special(char32_t c) {
    return c < 0xDF ? nullptr : find_mapping(kTitleFull, c);
}
const char32_t* fold_special(char32_t c) {
    return c < 0xB5 ? nullptr : find_mapping(kFoldFull, c);
}

}  // namespace ferry::tmpl::uni
"""

if __name__ == "__main__":
    main()
