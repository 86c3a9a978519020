#!/usr/bin/python3
"""Query a Prometheus server's HTTP API and print the result.

    promq.py [--value] [--time T] URL QUERY
    promq.py --range START END STEP URL QUERY

Instant queries print one 'name{label="value",...} VALUE' line per
series, sorted; range queries print 'name{...} V1 V2 ...'. --value prints
only the value of a single-series result (nothing for an empty result;
exit 3 for more than one series). Exit 2 when the API answers an error.
"""

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


def fmt_metric(m):
    name = m.get("__name__", "")
    inner = ",".join('%s="%s"' % (k, m[k]) for k in sorted(m)
                     if k != "__name__")
    return "%s{%s}" % (name, inner)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--value", action="store_true")
    ap.add_argument("--time")
    ap.add_argument("--range", nargs=3, metavar=("START", "END", "STEP"))
    ap.add_argument("url")
    ap.add_argument("query")
    args = ap.parse_args()

    params = {"query": args.query}
    if args.range:
        params.update(zip(("start", "end", "step"), args.range))
        api = "/api/v1/query_range"
    else:
        api = "/api/v1/query"
        if args.time:
            params["time"] = args.time
    url = args.url.rstrip("/") + api + "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.load(r)
    except urllib.error.HTTPError as e:
        try:
            doc = json.load(e)
        except ValueError:
            doc = {"status": "error", "error": str(e)}
    except (OSError, ValueError) as e:
        print("promq: %s: %s" % (url, e), file=sys.stderr)
        return 2
    if doc.get("status") != "success":
        print("promq: %s: %s" % (args.query, doc.get("error")),
              file=sys.stderr)
        return 2
    data = doc["data"]
    if data["resultType"] == "scalar":
        print(data["result"][1])
        return 0
    rows = []
    for r in data["result"]:
        if "values" in r:
            rows.append((fmt_metric(r["metric"]),
                         " ".join(v for _, v in r["values"])))
        else:
            rows.append((fmt_metric(r["metric"]), r["value"][1]))
    rows.sort()
    if args.value:
        if len(rows) > 1:
            print("promq: %s: %d series" % (args.query, len(rows)),
                  file=sys.stderr)
            return 3
        for _, v in rows:
            print(v)
        return 0
    for m, v in rows:
        print("%s %s" % (m, v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
