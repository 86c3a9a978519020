#!/bin/sh
# The command line: --version, --help, flag errors.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

out=$("$PROMLET" --version) || fail "--version exited non-zero"
case $out in "promlet, version "*) ;; *) fail "--version printed: $out" ;; esac

"$PROMLET" --help | grep -q -- '--config.file' || fail "--help lacks --config.file"
"$PROMLET" --help | grep -q -- '--storage.agent.path' || fail "--help lacks --storage.agent.path"

"$PROMLET" --log.level=loud >/dev/null 2>"$T/err" && fail "bad --log.level accepted"
grep -q 'log.level' "$T/err" || fail "bad --log.level error does not name the flag"

"$PROMLET" --no-such-flag >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown flag did not exit 2"
pass
