#!/bin/sh
# The e2e helpers check themselves: fake_receiver.py decodes and answers
# as documented, fake_target.py serves what it says, and every rwcheck.py
# case passes a correct recording and fails broken ones. This needs no
# promlet, so it also guards the other rw_* tests against checks that
# cannot fail.
. "$TOP_SRCDIR/tests/e2e/lib.sh"
$PY -c 'import snappy' 2>/dev/null ||
    skip "$PY lacks the snappy module (Debian package python3-snappy)"
$PY "$HELPERS/rwcheck_selftest.py" >"$T/rwcheck.log" 2>&1 ||
    fail "rwcheck self-test: $(grep -c WRONG "$T/rwcheck.log") wrong"
tail -n 1 "$T/rwcheck.log"
$PY "$HELPERS/helpers_selftest.py" >"$T/helpers.log" 2>&1 ||
    fail "helpers self-test: $(grep FAIL "$T/helpers.log")"
tail -n 1 "$T/helpers.log"
pass
