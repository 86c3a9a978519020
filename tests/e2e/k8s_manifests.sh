#!/bin/sh
# packaging/kubernetes: every manifest is a valid Kubernetes object, the
# objects fit together, the two Azure variants differ only where they
# must, the ConfigMap's prometheus.yml passes `promlet check config`, and
# the Dockerfile's runtime image has the libraries promlet links.
#
# Offline, without a cluster: `kubectl create --dry-run=client` still asks
# the API server for its resource list, so the schema check walks each
# object through the Kubernetes API models of Debian's python3-kubernetes
# (unknown fields, wrong types and missing required fields fail), and
# kubectl, when installed, decodes the files with --local.
. "$TOP_SRCDIR/tests/e2e/lib.sh"

K="$TOP_SRCDIR/packaging/kubernetes"
FILES="$K/promlet-workload-identity.yaml $K/promlet-managed-identity.yaml"
$PY -c 'import yaml' 2>/dev/null || skip "python3-yaml is not installed"

# 1. Schema and cross-references.
$PY - $FILES <<'PYEOF' || fail "manifest checks"
import re, sys
import yaml

try:
    import kubernetes.client as kc
except ImportError:
    kc = None
    print("note: python3-kubernetes missing, schema walk skipped")

NAMESPACED = {"ServiceAccount", "ConfigMap", "DaemonSet"}
SCALARS = {"str": str, "int": int, "bool": bool, "float": (int, float)}
errors = []

def err(f, msg):
    errors.append("%s: %s" % (f, msg))

def walk(f, v, typ, path):
    """Check v against a python-kubernetes model type, strictly."""
    if v is None:
        return
    if typ.startswith("list["):
        if not isinstance(v, list):
            return err(f, "%s: expected a list" % path)
        for i, x in enumerate(v):
            walk(f, x, typ[5:-1], "%s[%d]" % (path, i))
    elif typ.startswith("dict("):
        if not isinstance(v, dict):
            return err(f, "%s: expected a map" % path)
        inner = typ[typ.index(",") + 1:-1].strip()
        for k, x in v.items():
            walk(f, x, inner, "%s.%s" % (path, k))
    elif typ in SCALARS:
        if not isinstance(v, SCALARS[typ]) or (typ != "bool" and
                                               isinstance(v, bool)):
            err(f, "%s: expected %s, got %r" % (path, typ, v))
    elif typ in ("object", "datetime", "date"):
        pass
    else:
        cls = getattr(kc, typ)
        if not isinstance(v, dict):
            return err(f, "%s: expected a %s object" % (path, typ))
        json_to_py = {j: p for p, j in cls.attribute_map.items()}
        for k, x in v.items():
            if k not in json_to_py:
                err(f, "%s: unknown field %r in %s" % (path, k, typ))
                continue
            walk(f, x, cls.openapi_types[json_to_py[k]], path + "." + k)

for f in sys.argv[1:]:
    name = f.rsplit("/", 1)[-1]
    docs = [d for d in yaml.safe_load_all(open(f)) if d is not None]
    by = {}
    for d in docs:
        for key in ("apiVersion", "kind", "metadata"):
            if key not in d:
                err(name, "document without %s" % key)
        kind, md = d.get("kind"), d.get("metadata") or {}
        if not md.get("name"):
            err(name, "%s without metadata.name" % kind)
        if kind in NAMESPACED and md.get("namespace") != "monitoring":
            err(name, "%s %s not in namespace monitoring" % (kind,
                md.get("name")))
        by.setdefault(kind, []).append(d)
        if kc is not None:
            model = "V1" + kind
            if d.get("apiVersion") not in ("v1", "apps/v1",
                                           "rbac.authorization.k8s.io/v1"):
                err(name, "unexpected apiVersion %s" % d.get("apiVersion"))
            elif not hasattr(kc, model):
                err(name, "unknown kind %s" % kind)
            else:
                walk(name, d, model, kind)
                try:   # required fields and enum checks of the models
                    kc.ApiClient()._ApiClient__deserialize(d, model)
                except (ValueError, TypeError) as e:
                    err(name, "%s %s: %s" % (kind, md.get("name"), e))
    want = ["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet",
            "Namespace", "ServiceAccount"]
    if sorted(by) != want:
        err(name, "kinds %s, want %s" % (sorted(by), want))
        continue
    ds, = by["DaemonSet"]
    cm, = by["ConfigMap"]
    sa, = by["ServiceAccount"]
    role, = by["ClusterRole"]
    rb, = by["ClusterRoleBinding"]
    spec = ds["spec"]["template"]["spec"]
    labels = ds["spec"]["template"]["metadata"]["labels"]
    for k, v in ds["spec"]["selector"]["matchLabels"].items():
        if labels.get(k) != v:
            err(name, "selector %s=%s does not match the pod template" % (k, v))
    if spec.get("serviceAccountName") != sa["metadata"]["name"]:
        err(name, "DaemonSet does not use the ServiceAccount")
    if rb["roleRef"]["name"] != role["metadata"]["name"] or \
            rb["roleRef"]["kind"] != "ClusterRole":
        err(name, "ClusterRoleBinding does not bind the ClusterRole")
    if {"kind": "ServiceAccount", "name": sa["metadata"]["name"],
            "namespace": sa["metadata"]["namespace"]} not in rb["subjects"]:
        err(name, "ClusterRoleBinding does not name the ServiceAccount")
    # Least privilege: read-only, no wildcards, no secrets.
    for r in role["rules"]:
        if set(r["verbs"]) - {"get", "list", "watch"} or "*" in r["verbs"]:
            err(name, "ClusterRole verbs %s" % r["verbs"])
        if set(r["resources"]) & {"secrets", "*", "nodes/proxy"}:
            err(name, "ClusterRole resources %s" % r["resources"])
    granted = {(res, v) for r in role["rules"] for res in r["resources"]
               for v in r["verbs"]}
    for need in [("pods", "list"), ("pods", "watch"), ("nodes", "list"),
                 ("nodes", "watch"), ("nodes/metrics", "get")]:
        if need not in granted:
            err(name, "ClusterRole lacks %s %s" % (need[1], need[0]))
    vols = {v["name"]: v for v in spec["volumes"]}
    psc = spec.get("securityContext", {})
    if not psc.get("runAsNonRoot"):
        err(name, "pod not runAsNonRoot")
    c, = spec["containers"]
    sc = c.get("securityContext", {})
    if not sc.get("readOnlyRootFilesystem") or \
            sc.get("allowPrivilegeEscalation") is not False or \
            sc.get("capabilities", {}).get("drop") != ["ALL"]:
        err(name, "container securityContext not locked down: %s" % sc)
    for m in c["volumeMounts"]:
        if m["name"] not in vols:
            err(name, "volumeMount %s has no volume" % m["name"])
    if vols["config"]["configMap"]["name"] != cm["metadata"]["name"]:
        err(name, "config volume is not the ConfigMap")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    args = dict(a.split("=", 1) for a in c["args"])
    if not args["--config.file"].startswith(mounts["config"] + "/") or \
            args["--config.file"].rsplit("/", 1)[1] not in cm["data"]:
        err(name, "--config.file is not the ConfigMap's file")
    if not args["--storage.agent.path"].startswith(mounts["wal"] + "/"):
        err(name, "WAL is not on the wal volume")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    listen = int(args["--web.listen-address"].rsplit(":", 1)[1])
    for probe, path in [("livenessProbe", "/-/healthy"),
                        ("readinessProbe", "/-/ready"),
                        ("startupProbe", "/-/healthy")]:
        g = c[probe]["httpGet"]
        if g["path"] != path or ports.get(g["port"]) != listen:
            err(name, "%s is not %s on the listen port" % (probe, path))
    res = c["resources"]
    if "memory" not in res["requests"] or "memory" not in res["limits"] \
            or "cpu" not in res["requests"]:
        err(name, "resources incomplete: %s" % res)
    # Every ${VAR} the config uses is set in the container (or, for
    # workload identity, injected by the webhook).
    env = {e["name"] for e in c["env"]}
    cfg = cm["data"]["prometheus.yml"]
    for var in set(re.findall(r"\$\{(\w+)\}", cfg)):
        if var not in env:
            err(name, "prometheus.yml uses ${%s}, not in the env" % var)
    if "workload_identity" in cfg:
        if labels.get("azure.workload.identity/use") != "true" or \
                "azure.workload.identity/client-id" not in \
                sa["metadata"].get("annotations", {}):
            err(name, "workload identity label/annotation missing")
    elif "azure.workload.identity/use" in labels:
        err(name, "workload identity label without workload_identity")
    grace = spec["terminationGracePeriodSeconds"]
    if grace <= int(args["--storage.remote.flush-deadline"].rstrip("s")):
        err(name, "terminationGracePeriodSeconds shorter than the flush")
for e in errors:
    print("FAIL " + e)
print("%d problems in %d files" % (len(errors), len(sys.argv) - 1))
sys.exit(1 if errors else 0)
PYEOF

# 2. The variants differ only in identity.
$PY - $FILES <<'PYEOF' || fail "the two variants drifted apart"
import copy, sys
import yaml
wi, mi = ([d for d in yaml.safe_load_all(open(f)) if d] for f in sys.argv[1:])
def norm(docs, variant):
    out = []
    for d in copy.deepcopy(docs):
        if d["kind"] == "ServiceAccount":
            d["metadata"].pop("annotations", None)
        if d["kind"] == "ConfigMap":
            cfg = d["data"]["prometheus.yml"]
            d["data"]["prometheus.yml"] = cfg[:cfg.index("azuread:")]
        if d["kind"] == "DaemonSet":
            t = d["spec"]["template"]
            t["metadata"]["labels"].pop("azure.workload.identity/use", None)
            c = t["spec"]["containers"][0]
            c["env"] = [e for e in c["env"] if e["name"] != "IDENTITY_CLIENT_ID"]
        out.append(d)
    return out
a, b = norm(wi, "wi"), norm(mi, "mi")
for x, y in zip(a, b):
    if x != y:
        print("FAIL %s %s differs" % (x["kind"], x["metadata"]["name"]))
        sys.exit(1)
sys.exit(0 if len(a) == len(b) else 1)
PYEOF

# 3. kubectl, when there is one, decodes every object offline.
if command -v kubectl >/dev/null 2>&1; then
	for f in $FILES; do
		HOME="$T" kubectl label --local -f "$f" -o name \
		    promlet.check=1 >"$T/kubectl.out" 2>&1 ||
		    fail "kubectl cannot decode $f: $(cat "$T/kubectl.out")"
		[ "$(wc -l <"$T/kubectl.out")" -eq 6 ] ||
		    fail "kubectl decoded $(wc -l <"$T/kubectl.out") objects of 6 in $f"
	done
else
	echo "note: kubectl not installed, decode check skipped"
fi

# 4. promlet accepts each ConfigMap's prometheus.yml with the environment
#    the DaemonSet (and the workload identity webhook) gives it.
echo federated-token >"$T/azure-token"
for f in $FILES; do
	b=$(basename "$f" .yaml)
	$PY - "$f" "$T/$b.yml" <<'PYEOF' || fail "no ConfigMap in $f"
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap":
        open(sys.argv[2], "w").write(d["data"]["prometheus.yml"])
PYEOF
	NODE_NAME=aks-pool1-12345678-vmss000000 CLUSTER=test \
	    INGESTION_URL='https://dce-x.westeurope-1.metrics.ingest.monitor.azure.com/dataCollectionRules/dcr-0123456789abcdef/streams/Microsoft-PrometheusMetrics/api/v1/write?api-version=2023-04-24' \
	    IDENTITY_CLIENT_ID=00000000-0000-0000-0000-000000000003 \
	    AZURE_CLIENT_ID=00000000-0000-0000-0000-000000000001 \
	    AZURE_TENANT_ID=00000000-0000-0000-0000-000000000002 \
	    AZURE_FEDERATED_TOKEN_FILE="$T/azure-token" \
	    "$PROMLET" check config "$T/$b.yml" >"$T/check.out" 2>&1 ||
	    fail "promlet check config $b: $(cat "$T/check.out")"
	# Without NODE_NAME the config is refused, not silently cluster-wide.
	CLUSTER=test INGESTION_URL=https://x.example/api/v1/write \
	    IDENTITY_CLIENT_ID=00000000-0000-0000-0000-000000000003 \
	    AZURE_FEDERATED_TOKEN_FILE="$T/azure-token" \
	    "$PROMLET" check config "$T/$b.yml" >"$T/check.out" 2>&1 &&
	    fail "$b accepted without NODE_NAME"
	grep -q NODE_NAME "$T/check.out" || fail "unset NODE_NAME not named"
	# The container's args are flags promlet takes (--version parses
	# every flag before it prints).
	$PY - "$f" >"$T/$b.args" <<'PYEOF' || fail "no container args in $f"
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "DaemonSet":
        c, = d["spec"]["template"]["spec"]["containers"]
        print("\n".join(c["args"]))
PYEOF
	# shellcheck disable=SC2046 # one argument per line
	(IFS='
'; "$PROMLET" $(cat "$T/$b.args") --version) >"$T/args.out" 2>&1 ||
	    fail "$b's container args refused: $(cat "$T/args.out")"
done

# 5. The runtime image installs a package for every library promlet
#    links directly (sanitizer and C runtime libraries aside).
if command -v readelf >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
	pkgs=$(sed -n '/^FROM debian:12-slim/,$p' "$K/Dockerfile" |
	    sed -n '/apt-get install/,/rm -rf/p')
	for lib in $(readelf -d "$PROMLET" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
		case $lib in
		libc.so*|libm.so*|libgcc_s*|ld-linux*|libpthread*|libdl*|libasan*|libubsan*|librt*)
			continue ;;
		esac
		path=$(ldconfig -p | awk -v l="$lib" '$1 == l {print $NF; exit}')
		[ -n "$path" ] || fail "cannot find $lib"
		pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1)
		[ -n "$pkg" ] || continue
		echo "$pkgs" | grep -qw -- "$pkg" ||
		    fail "Dockerfile runtime stage lacks $pkg (for $lib)"
	done
fi
echo "note: the Dockerfile itself is not built here (no container engine)"
pass
