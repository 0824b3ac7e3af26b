#!/usr/bin/env bash
# `ferry render` as a user meets it: output bytes, exit codes, error lines naming
# FILE:LINE:COL, nothing on stdout after an error, and templates confined to their folder.
#   test_render_cli.sh FERRY_BINARY
set -u
FERRY=${1:?usage: test_render_cli.sh FERRY_BINARY}
FERRY=$(cd "$(dirname "$FERRY")" && pwd)/$(basename "$FERRY")
T=$(mktemp -d "${TMPDIR:-/tmp}/ferry-render-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; }

# run NAME EXPECTED_EXIT [ARGS...]: runs ferry, keeps out/err, checks the exit code
run() {
  local name=$1 want=$2
  shift 2
  "$FERRY" "$@" >out 2>err </dev/null
  local rc=$?
  if [[ $rc -ne $want ]]; then
    bad "$name" "exit $rc, expected $want; stderr: $(head -c 300 err)"
    return 1
  fi
  return 0
}
expect_out() { # NAME EXPECTED_STDOUT
  if [[ "$(cat out; printf x)" == "$2x" ]]; then ok "$1"; else bad "$1" "stdout $(head -c 200 out | od -c | head -3)"; fi
}
expect_err() { # NAME REGEX
  if grep -Eq -- "$2" err && [[ ! -s out ]]; then ok "$1"; else bad "$1" "stderr '$(head -c 300 err)', stdout $(wc -c <out) bytes"; fi
}

mkdir -p tpl/partials
printf 'Hello {{ name }}!\n' > tpl/hello.j2
printf '{"name": "Zürich"}' > vars.json
run "renders to stdout" 0 render tpl/hello.j2 --vars vars.json && expect_out "renders to stdout" "Hello Zürich!"
run "a folder for vars" 2 render tpl/hello.j2 --vars tpl &&
  expect_err "a folder for vars says so" '^tpl: cannot read the vars file: Is a directory'
# A template read whole, as --vars takes one: '-' and a pipe were "template not found".
run "a folder for TEMPLATE" 2 render tpl --vars vars.json &&
  expect_err "a folder for TEMPLATE says so" '^tpl: is a folder, not a template file$'
printf 'Hi {{ name }} {%% include "tpl/hello.j2" %%}' | "$FERRY" render - --vars vars.json >out 2>err
if [[ $? == 0 ]]; then expect_out "TEMPLATE - reads stdin, includes from here" "Hi Zürich Hello Zürich!"; else bad "TEMPLATE -" "$(cat err)"; fi
"$FERRY" render <(printf '{{ name }}|') --vars vars.json >out 2>err </dev/null
if [[ $? == 0 ]]; then expect_out "TEMPLATE from a pipe" "Zürich|"; else bad "TEMPLATE from a pipe" "$(cat err)"; fi
printf 'a\n{{ name' | "$FERRY" render - --vars vars.json >out 2>err
if [[ $? == 2 ]]; then expect_err "a streamed template's error names -:LINE:COL" '^-:2:[0-9]+: TemplateSyntaxError'; else bad "streamed syntax error" "$(cat err)"; fi
ln -sf /dev/stdin stdin-link
for pair in "- -" "- /dev/stdin" "/dev/stdin -" "/dev//stdin -" "stdin-link -"; do
  set -- $pair
  printf '{}' | "$FERRY" render "$1" --vars "$2" >out 2>err
  if [[ $? == 2 ]]; then expect_err "stdin for both ($pair) is refused" "TEMPLATE and --vars cannot both read standard input"; else bad "stdin for both ($pair)" "$(cat err)"; fi
done
# /dev/stdin redirected from a file is a regular file: it was a link out of its folder.
printf '{{ name }}!' > tpl/from-file.j2
"$FERRY" render /dev/stdin --vars vars.json <tpl/from-file.j2 >out 2>err
if [[ $? == 0 ]]; then expect_out "/dev/stdin from a file" "Zürich!"; else bad "/dev/stdin from a file" "$(cat err)"; fi

# Jinja2 reports the line where the last token (the text "\nb") starts.
printf 'a\n{%% if x %%}\nb\n' > tpl/unclosed.j2
run "syntax error exit 2" 2 render tpl/unclosed.j2 --vars vars.json &&
  expect_err "syntax error names FILE:LINE:COL" '^tpl/unclosed\.j2:2:[0-9]+: TemplateSyntaxError: Unexpected end of template'

printf 'x\n{{ missing }}\n' > tpl/strict.j2
run "undefined renders empty by default" 0 render tpl/strict.j2 --vars vars.json && expect_out "undefined renders empty by default" $'x\n'
run "strict undefined exit 2" 2 render tpl/strict.j2 --vars vars.json --strict &&
  expect_err "strict undefined names line" "^tpl/strict\.j2:2:[0-9]+: UndefinedError: 'missing' is undefined"

printf '{%% include "partials/row.j2" %%}' > tpl/inc.j2
printf 'ok\n{{ 1 + }}' > tpl/partials/row.j2
run "error in include" 2 render tpl/inc.j2 --vars vars.json &&
  expect_err "error in include names the partial" '^tpl/partials/row\.j2:2:'

# Jinja2's loader decodes UTF-8 (a UnicodeDecodeError, a ValueError): a Latin-1 byte is
# refused where it is, in the template or in one it includes, not printed or replaced.
printf 'line one\ncaf\xe9 {{ name }}' > tpl/latin1.j2
printf '{%% include "latin1.j2" %%}' > tpl/inc_latin1.j2
run "latin-1 template exit 2" 2 render tpl/latin1.j2 --vars vars.json &&
  expect_err "latin-1 template names FILE:LINE:COL" '^tpl/latin1\.j2:2:4: ValueError: the template is not valid UTF-8 \(byte 0xE9\)'
run "latin-1 include exit 2" 2 render tpl/inc_latin1.j2 --vars vars.json &&
  expect_err "latin-1 include names the included file" '^tpl/latin1\.j2:2:4: ValueError'
run "validate names a latin-1 template" 2 validate tpl/latin1.j2 &&
  if grep -q '^tpl/latin1\.j2:2:4: the template is not valid UTF-8' out; then ok "validate's line"; else bad "validate's line" "$(cat out err)"; fi

printf '{{ "a" + 1 }}' > tpl/type.j2
run "runtime TypeError" 2 render tpl/type.j2 --vars vars.json &&
  expect_err "runtime TypeError message" 'tpl/type\.j2:1:[0-9]+: TypeError: can only concatenate str'

printf '{%% include "../vars.json" %%}' > tpl/escape.j2
run "include outside the folder refused" 2 render tpl/escape.j2 --vars vars.json &&
  expect_err "include outside the folder message" 'leaves the template folder'

ln -s "$T/vars.json" tpl/link.j2
printf '{%% include "link.j2" %%}' > tpl/symlink.j2
run "symlink outside the folder refused" 2 render tpl/symlink.j2 --vars vars.json &&
  expect_err "symlink outside message" 'outside the template folder'

printf '{%% include "self.j2" %%}' > tpl/self.j2
run "include loop stopped" 2 render tpl/self.j2 --vars vars.json &&
  expect_err "include loop message" 'maximum recursion depth'

printf '{%% extends "b.j2" %%}' > tpl/a.j2
printf '{%% extends "a.j2" %%}' > tpl/b.j2
run "extends loop stopped" 2 render tpl/a.j2 --vars vars.json &&
  expect_err "extends loop message" 'extends loop'

printf '{%% for i in range(100000) %%}{{ "x" * 10000 }}{%% endfor %%}' > tpl/big.j2
run "runaway output stopped" 2 render tpl/big.j2 --vars vars.json &&
  expect_err "runaway output message" 'output exceeds the limit'

printf '{{ %s1%s }}' "$(head -c 3000 /dev/zero | tr '\0' '(')" "$(head -c 3000 /dev/zero | tr '\0' ')')" > tpl/deep.j2
run "deep nesting is an error, not a crash" 2 render tpl/deep.j2 --vars vars.json &&
  expect_err "deep nesting message" 'tpl/deep\.j2:1:[0-9]+: TemplateSyntaxError: .*nested deeper'

printf '{"name": ' > broken.json
run "bad vars JSON" 2 render tpl/hello.j2 --vars broken.json &&
  expect_err "bad vars JSON names FILE:LINE:COL" '^broken\.json:1:[0-9]+: invalid JSON'

printf '[1, 2]' > list.json
run "vars must be an object" 2 render tpl/hello.j2 --vars list.json &&
  expect_err "vars must be an object message" 'must hold a JSON object'

run "missing template" 2 render tpl/nope.j2 --vars vars.json &&
  expect_err "missing template message" 'not found'

run "missing vars file" 2 render tpl/hello.j2 --vars nope.json &&
  expect_err "missing vars file message" 'nope\.json: cannot read'

run "usage error" 2 render && expect_err "usage error message" 'missing TEMPLATE'
# Usage errors read as every other command's: the problem, then where help is.
run "unknown option" 2 render --bogus &&
  { [[ "$(cat err)" == "ferry render: unknown option '--bogus'
(see 'ferry render --help')" ]] && ok "unknown option message" || bad "unknown option message" "$(cat err)"; }
run "render --help" 0 render --help && { grep -q "usage: ferry render" out && ok "render --help text" || bad "render --help text" "no usage"; }
run "ferry --help" 0 --help && { grep -q "render" out && ok "ferry --help lists render" || bad "ferry --help lists render" "no render"; }
run "ferry --version" 0 --version && { grep -Eq '^ferry [0-9]+\.[0-9]+\.[0-9]+' out && ok "version text" || bad "version text" "$(cat out)"; }
run "unknown command" 2 frobnicate && expect_err "unknown command message" "unknown command 'frobnicate'"
# The commands as a script author meets them (the top-level dispatch, beyond render).
run "a mistyped command" 2 exectuions list &&
  expect_err "a mistyped command is suggested" "unknown command 'exectuions' \(did you mean 'executions'\?\)"
run "a mistyped option as command" 2 --verison &&
  expect_err "a mistyped --version is suggested" "did you mean '--version'"
run "ferry help run" 0 help run && { grep -q "^usage: ferry run WORKFLOW" out && ok "ferry help run is run's help" || bad "ferry help run" "$(head -2 out)"; }
mkdir -p proj/workflows
printf 'name: w\nsteps:\n  - {id: a, task: log, with: {message: hi}}\n' > proj/workflows/w.yaml
run "common options before the command" 0 --project proj validate &&
  { grep -q "no problems" err && ok "ferry --project DIR validate" || bad "ferry --project DIR validate" "$(cat err)"; }
run "a run with --data before the command" 0 --data proj/.ferry --project=proj run w &&
  { grep -q '"status":"succeeded"' out && ok "options before run" || bad "options before run" "$(cat out)"; }
# validate from a folder that is not a project checked the built-in tasks and passed.
mkdir -p notproject
(cd notproject && "$FERRY" validate >../out 2>../err </dev/null; echo $? >../rc)
if [[ "$(cat rc)" == 2 ]] && grep -q "has no ferry.yaml, workflows/, tasks/ or templates/: is it the project?" err; then
  ok "validate outside a project"; else bad "validate outside a project" "rc $(cat rc): $(cat err)"; fi
# Problems in file name order, whatever order the directory lists them in.
mkdir -p order/workflows
for n in 9 3 7 1 5 2 8 4 6; do printf 'steps:\n  - {id: a, task: loq}\n' > order/workflows/w$n.yaml; done
run "validate order" 2 validate --project order &&
  { if [[ "$(grep -o 'w[0-9].yaml' out | tr '\n' ' ')" == "w1.yaml w2.yaml w3.yaml w4.yaml w5.yaml w6.yaml w7.yaml w8.yaml w9.yaml " ]]; then ok "validate lists problems in name order"; else bad "validate order" "$(cat out)"; fi; }
# The history is read when ferry.yaml does not load (a bad deploy), with a warning.
cp -r proj broken && printf 'integrations:\n  x: {type: http, base_url: "http://a\n' > broken/ferry.yaml
run "history with a broken ferry.yaml" 0 executions list --project broken --data proj/.ferry &&
  { grep -q "ferry.yaml does not load (above); the history is read without it" err && grep -q "succeeded" out && ok "history read despite ferry.yaml" || bad "history read despite ferry.yaml" "$(cat err)"; }
# A project folder that is not there is said once, not also as two warnings.
run "history of a missing project" 2 executions list --project nowhere --data proj/.ferry &&
  { if [[ "$(cat err)" == "ferry: project folder 'nowhere' does not exist" ]]; then ok "a missing project is one message"; else bad "a missing project is one message" "$(cat err)"; fi; }
run "a run with a broken ferry.yaml" 2 run w --project broken --data proj/.ferry &&
  expect_err "a run still refuses a broken ferry.yaml" "ferry.yaml:"
# A value that reads like a help request is the option's value, not help with exit 0
# (`cancel ID --reason "$WHY" && ...` went on as if cancelled).
run "an option's value -h" 2 executions cancel NOPE --reason -h --project proj --data proj/.ferry &&
  expect_err "an option's value -h is a value" "no execution 'NOPE'"
# Task files' descriptions reach the terminal escaped, on one line, as every other output.
mkdir -p proj/tasks/my
printf 'return {name = "my.t", description = "line1\\nline2 \\27[31mred", input = {x = {type = "string", description = "d\\27[2Jx"}}, run = function(ctx, input) return {} end}\n' > proj/tasks/my/t.lua
run "tasks show" 0 tasks show my.t --project proj &&
  { if grep -q $'\x1b' out || ! grep -qF 'line1\nline2 \x1B[31mred' out || ! grep -qF 'd\x1B[2Jx' out; then bad "tasks show escapes" "$(od -c out | head -5)"; else ok "tasks show escapes"; fi; }
run "tasks list" 0 tasks list --project proj &&
  { if grep -q $'\x1b' out; then bad "tasks list escapes" "$(od -c out | head -5)"; else ok "tasks list escapes"; fi; }

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
