#!/bin/sh
# promlet(1) is written by hand: fail when `promlet --help` offers a flag
# that the man page does not document, so the two cannot drift apart.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

man=$TOP_SRCDIR/packaging/man/promlet.1
[ -f "$man" ] || fail "no $man"
"$PROMLET" --help >"$T/help" 2>&1 || fail "promlet --help exited non-zero"
# mdoc writes --name as "Fl \-name": undo the escapes, keep "Fl -name".
sed 's/\\-/-/g' "$man" >"$T/man"
flags=$(grep -o -e '--[a-z][a-z0-9.-]*[a-z0-9]' "$T/help" | sort -u)
[ -n "$flags" ] || fail "found no flags in --help: $(cat "$T/help")"
missing=""
for f in $flags; do
	grep -q -F -e "Fl ${f#-}" "$T/man" || missing="$missing $f"
done
[ -z "$missing" ] || fail "flags in --help but not in promlet.1:$missing"
pass
