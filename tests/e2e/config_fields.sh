#!/bin/sh
# Every setting the config parser stores is read by the stage it is for:
# each field of include/config.h's structs must be read by some file in
# src/ other than config.c. A key parsed and then silently ignored broke
# the "refused, never ignored" rule four times (extra_scrape_metrics,
# track_timestamps_staleness, tls server_name and max_version) before
# this check existed. Fields only config.c needs are listed below.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

$PY - "$TOP_SRCDIR" <<'PYEOF' || fail "config fields nothing reads (see above)"
import glob, os, re, sys
top = sys.argv[1]
# config.c's own: scrape_config_files patterns for its checksum.
own = {("config", "include_globs"), ("config", "ninclude_globs")}
h = open(os.path.join(top, "include/config.h")).read()
h = re.sub(r"/\*.*?\*/", "", h, flags=re.S)
srcs = [open(f).read() for f in glob.glob(os.path.join(top, "src/*.c"))
        if not f.endswith("/config.c")]
unread, n = [], 0
for m in re.finditer(r"struct (\w+) \{(.*?)\n\};", h, re.S):
    for decl in m.group(2).split(";"):
        f = re.search(r"(\w+)\s*(\[[^]]*\])?\s*$", decl.strip())
        if not f or not decl.strip():
            continue
        n += 1
        key = (m.group(1), f.group(1))
        if key in own:
            continue
        pat = re.compile(r"(->|\.)" + re.escape(f.group(1)) + r"\b")
        if not any(pat.search(s) for s in srcs):
            unread.append("struct %s: %s" % key)
print("%d fields, %d not read outside config.c" % (n, len(unread)))
for u in unread:
    print("FAIL " + u)
sys.exit(1 if unread or n < 100 else 0)
PYEOF
pass
