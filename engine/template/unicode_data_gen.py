#!/usr/bin/env python3
"""Generates unicode_data.cpp: the Unicode tables behind Python's str predicates and full case
mappings (see unicode_data.h). Run with Python 3.11 (Unicode 14.0) on a Debian 12 machine:

    python3 engine/template/unicode_data_gen.py

Case_Ignorable and Cased come from perl 5.36 (also Unicode 14.0), which Python's unicodedata
module does not expose. The script asserts that glibc's simple case mappings agree with
Python's, since unicode_data.cpp only lists what differs from them.
"""
import os
import subprocess
import tempfile

PERL = r'''
# Prints the ranges of Case_Ignorable and Cased, Unicode 14 (perl 5.36), as "name start end".
for my $prop ('Case_Ignorable', 'Cased') {
    my $re = qr/\p{$prop}/;
    my $start = -1;
    for my $c (0 .. 0x110000) {
        my $in = $c < 0x110000 && !($c >= 0xD800 && $c < 0xE000) && chr($c) =~ $re;
        if ($in && $start < 0) { $start = $c; }
        if (!$in && $start >= 0) { printf "%s %d %d\n", $prop, $start, $c - 1; $start = -1; }
    }
}
'''

HERE = os.path.dirname(os.path.abspath(__file__))
with tempfile.NamedTemporaryFile("w", suffix=".pl", delete=False) as f:
    f.write(PERL)
PROPS = subprocess.run(["perl", f.name], check=True, capture_output=True, text=True).stdout
os.unlink(f.name)
import unicodedata, ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library('c')); libc.setlocale(0, b"C.UTF-8")
libc.towupper.restype = ctypes.c_uint; libc.towlower.restype = ctypes.c_uint
ALL = [c for c in range(0x110000) if not (0xd800 <= c < 0xe000)]
def ranges_of(pred):
    r=[]; start=None; prev=None
    for c in range(0x110000):
        p = not (0xd800 <= c < 0xe000) and pred(c)
        if p and start is None: start=c
        if not p and start is not None: r.append((start,c-1)); start=None
    if start is not None: r.append((start,0x10ffff))
    return r
perl = {}
for l in PROPS.splitlines():
    n,a,b=l.split(); perl.setdefault(n, []).append((int(a),int(b)))
# Decimal digits: every Nd range is runs of 0..9.
dec = ranges_of(lambda c: chr(c).isdecimal())
for a,b in dec:
    for c in range(a,b+1): assert unicodedata.decimal(chr(c)) == (c-a) % 10, hex(c)
tables = {
  'kDecimal': dec,
  'kDigit': ranges_of(lambda c: chr(c).isdigit()),
  'kNumeric': ranges_of(lambda c: chr(c).isnumeric()),
  'kAlpha': ranges_of(lambda c: chr(c).isalpha()),
  'kPrintable': ranges_of(lambda c: chr(c).isprintable()),
  'kXidStart': ranges_of(lambda c: chr(c).isidentifier() and c != 0x5f),
  'kXidContinue': ranges_of(lambda c: ('a'+chr(c)).isidentifier()),
  'kCaseIgnorable': perl['Case_Ignorable'],
  'kCased': perl['Cased'],
}
def lit(s):
    return 'U"' + ''.join('\\u%04X' % ord(ch) if ord(ch) < 0x10000 else '\\U%08X' % ord(ch) for ch in s) + '"'
maps = {
  'kUpperFull': [(c, chr(c).upper()) for c in ALL if len(chr(c).upper()) > 1],
  'kTitleFull': [(c, chr(c).title()) for c in ALL if chr(c).title() != chr(c).upper()],
  'kFoldFull': [(c, chr(c).casefold()) for c in ALL if chr(c).casefold() != chr(c).lower()],
}
# The simple mappings glibc gives must be Python's wherever no table entry overrides them.
for c in ALL:
    u, l = chr(c).upper(), chr(c).lower()
    if len(u) == 1: assert ord(u) == libc.towupper(c), hex(c)
    if len(l) == 1: assert ord(l) == libc.towlower(c), hex(c)
    else: assert c == 0x130
out = []
out.append('// Generated from Python %s (Unicode %s) and perl\'s Unicode %s property tables by\n' % ('3.11', unicodedata.unidata_version, '14.0.0'))
out.append('// unicode_data_gen.py. Do not edit by hand.\n')
out.append('#include "template/unicode_data.h"\n\n#include <algorithm>\n#include <iterator>\n\nnamespace ferry::tmpl::uni {\n\nnamespace {\n\n')
out.append('struct Range {\n    char32_t lo, hi;\n};\n\nstruct Mapping {\n    char32_t from;\n    const char32_t* to;\n};\n\n')
for name, rs in tables.items():
    out.append('constexpr Range %s[] = {\n' % name)
    items = ['{0x%X, 0x%X}' % r for r in rs]
    line = '   '
    for it in items:
        if len(line) + len(it) + 2 > 100:
            out.append(line.rstrip() + '\n'); line = '   '
        line += ' ' + it + ','
    out.append(line + '\n};\n\n')
for name, ms in maps.items():
    out.append('constexpr Mapping %s[] = {\n' % name)
    for c, s in ms:
        out.append('    {0x%X, %s},\n' % (c, lit(s)))
    out.append('};\n\n')
out.append('''template <size_t N>
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
bool is_numeric(char32_t c) { return c < 0x80 ? (c >= '0' && c <= '9') : in_ranges(kNumeric, c); }
bool is_alpha(char32_t c) {
    if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
    return in_ranges(kAlpha, c);
}
bool is_printable(char32_t c) { return c < 0x80 ? (c >= 0x20 && c < 0x7f) : in_ranges(kPrintable, c); }
bool is_xid_start(char32_t c) { return in_ranges(kXidStart, c); }
bool is_xid_continue(char32_t c) { return in_ranges(kXidContinue, c); }
bool is_case_ignorable(char32_t c) { return in_ranges(kCaseIgnorable, c); }
bool is_cased(char32_t c) { return in_ranges(kCased, c); }

const char32_t* upper_expansion(char32_t c) { return c < 0xDF ? nullptr : find_mapping(kUpperFull, c); }
const char32_t* title_special(char32_t c) { return c < 0xDF ? nullptr : find_mapping(kTitleFull, c); }
const char32_t* fold_special(char32_t c) { return c < 0xB5 ? nullptr : find_mapping(kFoldFull, c); }

}  // namespace ferry::tmpl::uni
''')
open(os.path.join(HERE, 'unicode_data.cpp'), 'w').write(''.join(out))
if False: print({k: len(v) for k,v in tables.items()}, {k: len(v) for k,v in maps.items()})
if False: print(min(c for c,_ in maps['kUpperFull']), min(c for c,_ in maps['kTitleFull']), min(c for c,_ in maps['kFoldFull']))
