#!/usr/bin/env bash
# Bundled templates: `ferry render` must match Jinja2 byte for byte, and what the
# templates produce must be usable (the ADF description parses as JSON and is a
# valid ADF document; the HTML mail carries no unescaped markup from the data).
#
#   tests/integration/test_templates.sh FERRY_BINARY
#
# One line per check on stdout (PASS/FAIL ...), details of a failure on stderr,
# and a last line "N passed, M failed". Exit 0 when nothing failed, 1 otherwise,
# 2 for usage problems. The oracle is tests/integration/jinja_oracle.py run by
# $PYTHON (default /usr/bin/python3, which has Debian's python3-jinja2).
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 FERRY_BINARY" >&2
    exit 2
fi
ferry=$1
# A path given relative to the caller's directory must survive the cd below.
case $ferry in
    */*) ferry=$(cd "$(dirname "$ferry")" && pwd)/$(basename "$ferry") ;;
esac
if ! command -v "$ferry" >/dev/null 2>&1; then
    echo "$0: not an executable: $1" >&2
    exit 2
fi

cd "$(dirname "$0")/../.." || exit 2
python=${PYTHON:-/usr/bin/python3}
oracle=tests/integration/jinja_oracle.py
adf_validate=tests/integration/adf_validate.py
if ! "$python" -c 'import sys; sys.path.insert(0, "/usr/lib/python3/dist-packages"); import jinja2' 2>/dev/null; then
    echo "$0: $python cannot import jinja2 (apt-get install python3-jinja2, or set PYTHON)" >&2
    exit 2
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL $1"
    failed=$((failed + 1))
    [ $# -gt 1 ] && [ -s "$2" ] && sed 's/^/    /' "$2" | head -n 20 >&2
    return 0
}

# template | vars file (templates/samples/NAME.json). Each pair is rendered twice:
# with default undefined and with --strict (the bundled templates test optional
# inputs with |default / `is defined`, so both must succeed).
cases=(
    "priority.j2              rca-minimal"
    "incident.md.j2           rca-incident"
    "incident.md.j2           rca-minimal"
    "jira-issue.adf.json.j2   rca-incident"
    "jira-issue.adf.json.j2   rca-minimal"
    "jira-issue.wiki.j2       rca-incident"
    "jira-issue.wiki.j2       rca-minimal"
    "notification.html.j2     rca-incident"
    "notification.html.j2     rca-minimal"
    "change-request.md.j2     change-request"
)

if "$python" "$adf_validate" --self-test >"$tmp/selftest" 2>&1; then
    pass "adf_validate.py --self-test"
else
    fail "adf_validate.py --self-test" "$tmp/selftest"
fi

n=0
for case in "${cases[@]}"; do
    read -r template sample <<<"$case"
    for mode in "" --strict; do
        n=$((n + 1))
        name="$template + $sample${mode:+ $mode}"
        tpl=templates/$template
        vars=templates/samples/$sample.json
        want=$tmp/$n.want
        got=$tmp/$n.got

        if ! "$python" "$oracle" render "$tpl" --vars "$vars" $mode >"$want" 2>"$tmp/$n.oracle.err"; then
            fail "render $name: Jinja2 itself fails (template bug)" "$tmp/$n.oracle.err"
            continue
        fi
        "$ferry" render "$tpl" --vars "$vars" $mode >"$got" 2>"$tmp/$n.err"
        rc=$?
        if [ $rc -ne 0 ]; then
            fail "render $name: ferry exited $rc" "$tmp/$n.err"
            rendered=no
        elif cmp -s "$want" "$got"; then
            pass "render $name: byte-exact with Jinja2 ($(wc -c <"$got") bytes)"
            rendered=yes
        else
            {
                cmp "$want" "$got" 2>&1
                diff -u --label jinja2 --label ferry "$want" "$got"
            } >"$tmp/$n.diff"
            fail "render $name: differs from Jinja2" "$tmp/$n.diff"
            rendered=yes
        fi

        # Checks on what ferry produced (the oracle's output when ferry failed,
        # so a template problem is still reported as such).
        out=$got
        [ "$rendered" = yes ] || out=$want
        case $template in
            *.json.j2)
                if "$python" -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' \
                        "$out" 2>"$tmp/$n.json.err"; then
                    pass "json $name: parses"
                else
                    fail "json $name: does not parse" "$tmp/$n.json.err"
                fi
                ;;
        esac
        case $template in
            *.adf.json.j2)
                if "$python" "$adf_validate" "$out" 2>"$tmp/$n.adf.err"; then
                    pass "adf $name: valid ADF document"
                else
                    fail "adf $name: invalid ADF" "$tmp/$n.adf.err"
                fi
                ;;
            *.html.j2)
                # Sample data contains <script>; escaped with |e it must never
                # come out as a tag.
                if grep -n -i '<script' "$out" >"$tmp/$n.html.err"; then
                    fail "html $name: unescaped <script> in output" "$tmp/$n.html.err"
                else
                    pass "html $name: dynamic values escaped"
                fi
                ;;
            priority.j2)
                # Only macros and variables: rendering it alone prints nothing.
                if [ -s "$out" ]; then
                    od -c "$out" | head -n 5 >"$tmp/$n.prio.err"
                    fail "output $name: not empty" "$tmp/$n.prio.err"
                else
                    pass "output $name: empty (definitions only)"
                fi
                ;;
        esac
    done
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
