/*
 * Kubernetes objects to target groups: the pure half of kubernetes_sd.
 *
 * The label names, the one-target-per-container-port rule, the node
 * address preference and the endpoints/pod join follow Prometheus's
 * discovery/kubernetes package, so a relabel config written for
 * Prometheus sees the same __meta_kubernetes_* labels here. Objects are
 * jansson trees as the API server sends them (camelCase fields).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "config.h"
#include "k8s_sd.h"
#include "labels.h"
#include "xmalloc.h"

#define K8S_SD_PREFIX	"__meta_kubernetes_"

/* What one k8s_sd_build() call works with. */
struct k8s_sd_ctx {
	struct k8s_sd_groups	*out;
	k8s_sd_lookup_cb	 lookup;
	void			*arg;
	int			 attach_node;
	struct buf		 name;	/* label name being built */
	struct buf		 tmp;
};

/* A pod an endpoints object pointed at, and the ports it covered. */
struct k8s_sd_seen {
	json_t		*pod;
	long long	*ports;
	size_t		 nports;
};

static const char *k8s_sd_kind_names[K8S_SD_NKINDS] = {
	"pods", "nodes", "services", "endpoints", "endpointslices"
};

const char *
k8s_sd_kind_name(enum k8s_sd_kind kind)
{
	return k8s_sd_kind_names[kind];
}

enum k8s_sd_kind
k8s_sd_role_kind(enum config_k8s_role role)
{
	switch (role) {
	case CONFIG_K8S_POD:
		return K8S_SD_PODS;
	case CONFIG_K8S_NODE:
		return K8S_SD_NODES;
	case CONFIG_K8S_ENDPOINTS:
		return K8S_SD_ENDPOINTS;
	case CONFIG_K8S_ENDPOINTSLICE:
		return K8S_SD_ENDPOINTSLICES;
	case CONFIG_K8S_SERVICE:
		break;
	}
	return K8S_SD_SERVICES;
}

void
k8s_sd_collection_path(struct buf *b, enum k8s_sd_kind kind, const char *ns)
{
	if (kind == K8S_SD_ENDPOINTSLICES)
		buf_puts(b, "/apis/discovery.k8s.io/v1");
	else
		buf_puts(b, "/api/v1");
	if (ns != NULL && kind != K8S_SD_NODES) {
		buf_puts(b, "/namespaces/");
		k8s_sd_query_escape(b, ns);
	}
	buf_putc(b, '/');
	buf_puts(b, k8s_sd_kind_names[kind]);
}

void
k8s_sd_sanitize(struct buf *b, const char *s)
{
	const unsigned char *p;

	/* Go's regexp works on runes: one '_' per character, not per byte. */
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_')
			buf_putc(b, (char)*p);
		else if ((*p & 0xc0) != 0x80)
			buf_putc(b, '_');
	}
}

void
k8s_sd_query_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		    *p == '_' || *p == '~')
			buf_putc(b, (char)*p);
		else {
			buf_putc(b, '%');
			buf_putc(b, hex[*p >> 4]);
			buf_putc(b, hex[*p & 15]);
		}
	}
}

void
k8s_sd_join_host_port(struct buf *b, const char *host, long long port)
{
	if (strchr(host, ':') != NULL)
		buf_printf(b, "[%s]:%lld", host, port);
	else
		buf_printf(b, "%s:%lld", host, port);
}

char *
k8s_sd_selector_node(const char *field)
{
	static const char key[] = "spec.nodeName";
	const char *p = field, *end, *v;
	size_t klen = sizeof key - 1;

	if (field == NULL)
		return NULL;
	while (*p != '\0') {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		while (p < end && *p == ' ')
			p++;
		if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0) {
			v = p + klen;
			while (v < end && *v == ' ')
				v++;
			if (v + 1 < end && v[0] == '=' && v[1] == '=')
				v += 2;
			else if (v < end && v[0] == '=')
				v++;
			else
				v = NULL;
			if (v != NULL) {
				while (v < end && *v == ' ')
					v++;
				while (end > v && end[-1] == ' ')
					end--;
				if (end > v)
					return xstrndup(v, (size_t)(end - v));
			}
		}
		p = *end == ',' ? end + 1 : end;
	}
	return NULL;
}

/* ---- object access ----------------------------------------------------- */

static json_t *
k8s_sd_get(json_t *o, const char *a, const char *b)
{
	o = json_object_get(o, a);
	if (b != NULL)
		o = json_object_get(o, b);
	return o;
}

/* A string field, or NULL when absent or not a string. */
static const char *
k8s_sd_str(json_t *o, const char *a, const char *b)
{
	return json_string_value(k8s_sd_get(o, a, b));
}

/* Integers may come as JSON numbers; anything else counts as 0. */
static long long
k8s_sd_int(json_t *o, const char *a)
{
	json_t *v = json_object_get(o, a);

	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	if (json_is_real(v))
		return (long long)json_real_value(v);
	return 0;
}

char *
k8s_sd_key(enum k8s_sd_kind kind, json_t *obj)
{
	const char *name, *ns;
	char *key;

	name = k8s_sd_str(obj, "metadata", "name");
	if (name == NULL || *name == '\0')
		return NULL;
	if (kind == K8S_SD_NODES)
		return xstrdup(name);
	ns = k8s_sd_str(obj, "metadata", "namespace");
	xasprintf(&key, "%s/%s", ns != NULL ? ns : "", name);
	return key;
}

/* ---- trimming ---------------------------------------------------------- */

/*
 * The fields kept, as a tree: a NULL sub keeps the whole value; on an
 * array the sub applies to each element.
 */
struct k8s_sd_keep {
	const char			*key;
	const struct k8s_sd_keep	*sub;
};

static const struct k8s_sd_keep k8s_sd_keep_owner[] = {
	{ "kind", NULL }, { "name", NULL }, { "controller", NULL },
	{ NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_meta[] = {
	{ "name", NULL }, { "namespace", NULL }, { "uid", NULL },
	{ "labels", NULL }, { "annotations", NULL },
	{ "ownerReferences", k8s_sd_keep_owner },
	{ NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_container[] = {
	{ "name", NULL }, { "image", NULL }, { "ports", NULL },
	{ NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_pod_spec[] = {
	{ "nodeName", NULL },
	{ "containers", k8s_sd_keep_container },
	{ "initContainers", k8s_sd_keep_container },
	{ NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_cond[] = {
	{ "type", NULL }, { "status", NULL }, { NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_cstatus[] = {
	{ "name", NULL }, { "containerID", NULL }, { NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_pod_status[] = {
	{ "podIP", NULL }, { "hostIP", NULL }, { "phase", NULL },
	{ "conditions", k8s_sd_keep_cond },
	{ "containerStatuses", k8s_sd_keep_cstatus },
	{ "initContainerStatuses", k8s_sd_keep_cstatus },
	{ NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_pod[] = {
	{ "metadata", k8s_sd_keep_meta },
	{ "spec", k8s_sd_keep_pod_spec },
	{ "status", k8s_sd_keep_pod_status },
	{ NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_node_spec[] = {
	{ "providerID", NULL }, { NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_node_status[] = {
	{ "addresses", NULL }, { "daemonEndpoints", NULL }, { NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_node[] = {
	{ "metadata", k8s_sd_keep_meta },
	{ "spec", k8s_sd_keep_node_spec },
	{ "status", k8s_sd_keep_node_status },
	{ NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_svc_spec[] = {
	{ "ports", NULL }, { "type", NULL }, { "clusterIP", NULL },
	{ "externalName", NULL }, { "loadBalancerIP", NULL },
	{ NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_svc[] = {
	{ "metadata", k8s_sd_keep_meta },
	{ "spec", k8s_sd_keep_svc_spec },
	{ NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_eps[] = {
	{ "metadata", k8s_sd_keep_meta },
	{ "subsets", NULL },
	{ NULL, NULL }
};
static const struct k8s_sd_keep k8s_sd_keep_slice[] = {
	{ "metadata", k8s_sd_keep_meta },
	{ "addressType", NULL },
	{ "endpoints", NULL },
	{ "ports", NULL },
	{ NULL, NULL }
};

static const struct k8s_sd_keep *k8s_sd_keeps[K8S_SD_NKINDS] = {
	k8s_sd_keep_pod, k8s_sd_keep_node, k8s_sd_keep_svc, k8s_sd_keep_eps,
	k8s_sd_keep_slice
};

static json_t *
k8s_sd_trim_value(json_t *v, const struct k8s_sd_keep *keep)
{
	const struct k8s_sd_keep *k;
	json_t *out, *sub;
	size_t i;

	if (keep == NULL)
		return json_incref(v);
	if (json_is_array(v)) {
		out = json_array();
		for (i = 0; i < json_array_size(v); i++)
			json_array_append_new(out, k8s_sd_trim_value(
			    json_array_get(v, i), keep));
		return out;
	}
	if (!json_is_object(v))
		return json_incref(v);
	out = json_object();
	for (k = keep; k->key != NULL; k++) {
		if ((sub = json_object_get(v, k->key)) != NULL)
			json_object_set_new(out, k->key,
			    k8s_sd_trim_value(sub, k->sub));
	}
	return out;
}

json_t *
k8s_sd_trim(enum k8s_sd_kind kind, json_t *obj)
{
	return k8s_sd_trim_value(obj, k8s_sd_keeps[kind]);
}

/* ---- groups ------------------------------------------------------------ */

void
k8s_sd_groups_init(struct k8s_sd_groups *g)
{
	memset(g, 0, sizeof *g);
}

void
k8s_sd_groups_free(struct k8s_sd_groups *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		labels_free(&g->v[i].labels);
	free(g->v);
	arena_free(&g->strings);
	k8s_sd_groups_init(g);
}

uint64_t
k8s_sd_groups_hash(const struct k8s_sd_groups *g)
{
	uint64_t h = 0x6b38730000000000ULL, lh;
	size_t i, k;

	for (i = 0; i < g->n; i++) {
		lh = labels_hash(&g->v[i].labels);
		h = hash_bytes(&lh, sizeof lh, h);
		for (k = 0; k < g->v[i].ntargets; k++)
			h = hash_bytes(g->v[i].targets[k],
			    strlen(g->v[i].targets[k]) + 1, h);
	}
	return h ^ g->n;
}

static struct lstr
k8s_sd_intern(struct k8s_sd_ctx *c, const char *s, size_t len)
{
	return (struct lstr){ arena_strndup(&c->out->strings, s, len), len };
}

/* name=value into a set; a NULL or empty value leaves the label absent. */
static void
k8s_sd_set(struct k8s_sd_ctx *c, struct labels *ls, const char *name,
    const char *value)
{
	if (value == NULL || *value == '\0') {
		labels_del(ls, (struct lstr){ name, strlen(name) });
		return;
	}
	labels_set(ls, k8s_sd_intern(c, name, strlen(name)),
	    k8s_sd_intern(c, value, strlen(value)));
}

static void
k8s_sd_set_int(struct k8s_sd_ctx *c, struct labels *ls, const char *name,
    long long v)
{
	char tmp[32];

	snprintf(tmp, sizeof tmp, "%lld", v);
	k8s_sd_set(c, ls, name, tmp);
}

static void
k8s_sd_set_bool(struct k8s_sd_ctx *c, struct labels *ls, const char *name,
    int v)
{
	k8s_sd_set(c, ls, name, v ? "true" : "false");
}

/* One target: the group labels, then the target's own on top. */
static void
k8s_sd_emit(struct k8s_sd_ctx *c, const struct labels *group,
    const struct labels *target)
{
	struct k8s_sd_groups *g = c->out;
	struct target_group *tg;
	const struct lstr *addr;
	size_t i;

	addr = labels_get(target, LSTR("__address__"));
	if (addr == NULL)
		return;
	if (g->n == g->cap) {
		g->cap = g->cap == 0 ? 16 : g->cap * 2;
		g->v = xreallocarray(g->v, g->cap, sizeof *g->v);
	}
	tg = &g->v[g->n++];
	memset(tg, 0, sizeof *tg);
	labels_init(&tg->labels);
	labels_copy(&tg->labels, group);
	for (i = 0; i < target->n; i++) {
		if (lstr_eqs(target->v[i].name, "__address__"))
			continue;
		labels_set(&tg->labels, target->v[i].name,
		    target->v[i].value);
	}
	tg->targets = arena_alloc(&g->strings, sizeof *tg->targets);
	tg->targets[0] = (char *)addr->p;
	tg->ntargets = 1;
}

/* __meta_kubernetes_<role>_name, _label_*, _labelpresent_*, ... */
static void
k8s_sd_object_meta(struct k8s_sd_ctx *c, struct labels *ls, const char *role,
    json_t *obj)
{
	static const char *kinds[][2] = {
		{ "labels", "label" }, { "annotations", "annotation" }
	};
	json_t *meta = json_object_get(obj, "metadata"), *v;
	const char *key;
	size_t i, base;

	buf_reset(&c->name);
	buf_printf(&c->name, K8S_SD_PREFIX "%s_name", role);
	k8s_sd_set(c, ls, c->name.data, k8s_sd_str(meta, "name", NULL));
	for (i = 0; i < 2; i++) {
		json_object_foreach(json_object_get(meta, kinds[i][0]), key,
		    v) {
			buf_reset(&c->tmp);
			k8s_sd_sanitize(&c->tmp, key);
			buf_reset(&c->name);
			buf_printf(&c->name, K8S_SD_PREFIX "%s_%s", role,
			    kinds[i][1]);
			base = c->name.len;
			buf_printf(&c->name, "_%s", c->tmp.data == NULL ? "" :
			    c->tmp.data);
			k8s_sd_set(c, ls, c->name.data, json_string_value(v));
			c->name.len = base;
			buf_printf(&c->name, "present_%s", c->tmp.data ==
			    NULL ? "" : c->tmp.data);
			k8s_sd_set(c, ls, c->name.data, "true");
		}
	}
}

/* Prometheus's addNodeLabels: name, labels and annotations of a node. */
static void
k8s_sd_node_meta(struct k8s_sd_ctx *c, struct labels *ls, const char *name)
{
	json_t *node;

	if (!c->attach_node || name == NULL || c->lookup == NULL)
		return;
	if ((node = c->lookup(K8S_SD_NODES, name, c->arg)) != NULL)
		k8s_sd_object_meta(c, ls, "node", node);
}

static json_t *
k8s_sd_resolve(struct k8s_sd_ctx *c, enum k8s_sd_kind kind, const char *ns,
    const char *name)
{
	char *key;
	json_t *o;

	if (c->lookup == NULL || name == NULL)
		return NULL;
	xasprintf(&key, "%s/%s", ns != NULL ? ns : "", name);
	o = c->lookup(kind, key, c->arg);
	free(key);
	return o;
}

static const char *
k8s_sd_pod_ready(json_t *pod)
{
	json_t *conds = k8s_sd_get(pod, "status", "conditions"), *cond;
	const char *s;
	size_t i;

	json_array_foreach(conds, i, cond) {
		if ((s = k8s_sd_str(cond, "type", NULL)) == NULL ||
		    strcmp(s, "Ready") != 0)
			continue;
		s = k8s_sd_str(cond, "status", NULL);
		if (s == NULL || strcmp(s, "True") == 0)
			return s == NULL ? "" : "true";
		if (strcmp(s, "False") == 0)
			return "false";
		if (strcmp(s, "Unknown") == 0)
			return "unknown";
		return s;
	}
	return "unknown";
}

/* Prometheus's podLabels(): everything but the namespace. */
static void
k8s_sd_pod_labels(struct k8s_sd_ctx *c, struct labels *ls, json_t *pod)
{
	json_t *owners, *o;
	const char *s;
	size_t i;

	k8s_sd_set(c, ls, K8S_SD_PREFIX "pod_ip",
	    k8s_sd_str(pod, "status", "podIP"));
	k8s_sd_set(c, ls, K8S_SD_PREFIX "pod_ready", k8s_sd_pod_ready(pod));
	k8s_sd_set(c, ls, K8S_SD_PREFIX "pod_phase",
	    k8s_sd_str(pod, "status", "phase"));
	k8s_sd_set(c, ls, K8S_SD_PREFIX "pod_node_name",
	    k8s_sd_str(pod, "spec", "nodeName"));
	k8s_sd_set(c, ls, K8S_SD_PREFIX "pod_host_ip",
	    k8s_sd_str(pod, "status", "hostIP"));
	k8s_sd_set(c, ls, K8S_SD_PREFIX "pod_uid",
	    k8s_sd_str(pod, "metadata", "uid"));
	k8s_sd_object_meta(c, ls, "pod", pod);
	owners = k8s_sd_get(pod, "metadata", "ownerReferences");
	json_array_foreach(owners, i, o) {
		if (!json_is_true(json_object_get(o, "controller")))
			continue;
		if ((s = k8s_sd_str(o, "kind", NULL)) != NULL && *s != '\0')
			k8s_sd_set(c, ls, K8S_SD_PREFIX "pod_controller_kind",
			    s);
		if ((s = k8s_sd_str(o, "name", NULL)) != NULL && *s != '\0')
			k8s_sd_set(c, ls, K8S_SD_PREFIX "pod_controller_name",
			    s);
		break;
	}
}

/* Containers then init containers, as Prometheus iterates them. */
static json_t *
k8s_sd_container(json_t *pod, size_t i, int *init)
{
	json_t *cs = k8s_sd_get(pod, "spec", "containers");
	size_t n = json_array_size(cs);

	*init = i >= n;
	if (i < n)
		return json_array_get(cs, i);
	return json_array_get(k8s_sd_get(pod, "spec", "initContainers"),
	    i - n);
}

static size_t
k8s_sd_ncontainers(json_t *pod)
{
	return json_array_size(k8s_sd_get(pod, "spec", "containers")) +
	    json_array_size(k8s_sd_get(pod, "spec", "initContainers"));
}

static const char *
k8s_sd_container_id(json_t *pod, const char *name, int init)
{
	json_t *st, *s;
	const char *n;
	size_t i;

	st = k8s_sd_get(pod, "status", init ? "initContainerStatuses" :
	    "containerStatuses");
	json_array_foreach(st, i, s) {
		if ((n = k8s_sd_str(s, "name", NULL)) != NULL && name != NULL &&
		    strcmp(n, name) == 0)
			return k8s_sd_str(s, "containerID", NULL);
	}
	return NULL;
}

static void
k8s_sd_set_addr(struct k8s_sd_ctx *c, struct labels *ls, const char *host,
    int has_port, long long port)
{
	buf_reset(&c->tmp);
	if (has_port)
		k8s_sd_join_host_port(&c->tmp, host, port);
	else
		buf_puts(&c->tmp, host);
	k8s_sd_set(c, ls, "__address__", c->tmp.data);
}

static void
k8s_sd_build_pod(struct k8s_sd_ctx *c, json_t *pod)
{
	struct labels group = LABELS_INIT, t = LABELS_INIT;
	const char *ip, *cname, *cid;
	json_t *ct, *ports, *p;
	size_t i, k, n;
	int init;

	/* No IP yet (pending) or any more (evicted): no targets. */
	ip = k8s_sd_str(pod, "status", "podIP");
	if (ip == NULL || *ip == '\0')
		return;
	k8s_sd_pod_labels(c, &group, pod);
	k8s_sd_set(c, &group, K8S_SD_PREFIX "namespace",
	    k8s_sd_str(pod, "metadata", "namespace"));
	k8s_sd_node_meta(c, &group, k8s_sd_str(pod, "spec", "nodeName"));

	n = k8s_sd_ncontainers(pod);
	for (i = 0; i < n; i++) {
		ct = k8s_sd_container(pod, i, &init);
		cname = k8s_sd_str(ct, "name", NULL);
		cid = k8s_sd_container_id(pod, cname, init);
		labels_reset(&t);
		k8s_sd_set(c, &t, K8S_SD_PREFIX "pod_container_name", cname);
		k8s_sd_set(c, &t, K8S_SD_PREFIX "pod_container_id", cid);
		k8s_sd_set(c, &t, K8S_SD_PREFIX "pod_container_image",
		    k8s_sd_str(ct, "image", NULL));
		k8s_sd_set_bool(c, &t, K8S_SD_PREFIX "pod_container_init",
		    init);
		ports = json_object_get(ct, "ports");
		if (json_array_size(ports) == 0) {
			/* The user has to add a port by relabelling. */
			k8s_sd_set_addr(c, &t, ip, 0, 0);
			k8s_sd_emit(c, &group, &t);
			continue;
		}
		json_array_foreach(ports, k, p) {
			long long port = k8s_sd_int(p, "containerPort");

			k8s_sd_set_addr(c, &t, ip, 1, port);
			k8s_sd_set_int(c, &t, K8S_SD_PREFIX
			    "pod_container_port_number", port);
			k8s_sd_set(c, &t, K8S_SD_PREFIX
			    "pod_container_port_name",
			    k8s_sd_str(p, "name", NULL));
			k8s_sd_set(c, &t, K8S_SD_PREFIX
			    "pod_container_port_protocol",
			    k8s_sd_str(p, "protocol", NULL));
			k8s_sd_emit(c, &group, &t);
		}
	}
	labels_free(&group);
	labels_free(&t);
}

static void
k8s_sd_build_node(struct k8s_sd_ctx *c, json_t *node)
{
	static const char *prefer[] = {
		"InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS",
		"LegacyHostIP", "Hostname"
	};
	struct labels group = LABELS_INIT, t = LABELS_INIT;
	json_t *addrs, *a, *b, *kubelet;
	const char *addr = NULL, *type, *btype;
	size_t i, j, k;

	k8s_sd_set(c, &group, K8S_SD_PREFIX "node_provider_id",
	    k8s_sd_str(node, "spec", "providerID"));
	k8s_sd_object_meta(c, &group, "node", node);

	addrs = k8s_sd_get(node, "status", "addresses");
	for (i = 0; addr == NULL && i < sizeof prefer / sizeof prefer[0];
	    i++) {
		json_array_foreach(addrs, k, a) {
			type = k8s_sd_str(a, "type", NULL);
			if (type != NULL && strcmp(type, prefer[i]) == 0) {
				addr = k8s_sd_str(a, "address", NULL);
				break;
			}
		}
	}
	if (addr == NULL)	/* Prometheus logs "no node address found" */
		goto out;
	/* DaemonEndpoint's port is the one capitalised field in the API. */
	kubelet = k8s_sd_get(k8s_sd_get(node, "status", "daemonEndpoints"),
	    "kubeletEndpoint", NULL);
	k8s_sd_set_addr(c, &t, addr, 1, k8s_sd_int(kubelet, "Port"));
	k8s_sd_set(c, &t, "instance", k8s_sd_str(node, "metadata", "name"));
	/* The first address of each type. */
	json_array_foreach(addrs, k, a) {
		if ((type = k8s_sd_str(a, "type", NULL)) == NULL)
			continue;
		for (j = 0; j < k; j++) {
			b = json_array_get(addrs, j);
			btype = k8s_sd_str(b, "type", NULL);
			if (btype != NULL && strcmp(btype, type) == 0)
				break;
		}
		if (j < k)
			continue;
		buf_reset(&c->name);
		buf_puts(&c->name, K8S_SD_PREFIX "node_address_");
		k8s_sd_sanitize(&c->name, type);
		k8s_sd_set(c, &t, c->name.data, k8s_sd_str(a, "address",
		    NULL));
	}
	k8s_sd_emit(c, &group, &t);
out:
	labels_free(&group);
	labels_free(&t);
}

/* Prometheus's serviceLabels(). */
static void
k8s_sd_service_labels(struct k8s_sd_ctx *c, struct labels *ls, json_t *svc)
{
	k8s_sd_set(c, ls, K8S_SD_PREFIX "namespace",
	    k8s_sd_str(svc, "metadata", "namespace"));
	k8s_sd_object_meta(c, ls, "service", svc);
}

static void
k8s_sd_build_service(struct k8s_sd_ctx *c, json_t *svc)
{
	struct labels group = LABELS_INIT, t = LABELS_INIT;
	const char *name, *ns, *type;
	json_t *p;
	size_t i;

	k8s_sd_service_labels(c, &group, svc);
	name = k8s_sd_str(svc, "metadata", "name");
	ns = k8s_sd_str(svc, "metadata", "namespace");
	type = k8s_sd_str(svc, "spec", "type");
	json_array_foreach(k8s_sd_get(svc, "spec", "ports"), i, p) {
		long long port = k8s_sd_int(p, "port");

		labels_reset(&t);
		buf_reset(&c->tmp);
		buf_printf(&c->tmp, "%s.%s.svc:%lld", name != NULL ? name : "",
		    ns != NULL ? ns : "", port);
		k8s_sd_set(c, &t, "__address__", c->tmp.data);
		k8s_sd_set(c, &t, K8S_SD_PREFIX "service_port_name",
		    k8s_sd_str(p, "name", NULL));
		k8s_sd_set_int(c, &t, K8S_SD_PREFIX "service_port_number",
		    port);
		k8s_sd_set(c, &t, K8S_SD_PREFIX "service_port_protocol",
		    k8s_sd_str(p, "protocol", NULL));
		k8s_sd_set(c, &t, K8S_SD_PREFIX "service_type", type);
		if (type != NULL && strcmp(type, "ExternalName") == 0)
			k8s_sd_set(c, &t, K8S_SD_PREFIX
			    "service_external_name",
			    k8s_sd_str(svc, "spec", "externalName"));
		else
			k8s_sd_set(c, &t, K8S_SD_PREFIX "service_cluster_ip",
			    k8s_sd_str(svc, "spec", "clusterIP"));
		if (type != NULL && strcmp(type, "LoadBalancer") == 0)
			k8s_sd_set(c, &t, K8S_SD_PREFIX
			    "service_loadbalancer_ip",
			    k8s_sd_str(svc, "spec", "loadBalancerIP"));
		k8s_sd_emit(c, &group, &t);
	}
	labels_free(&group);
	labels_free(&t);
}

static struct k8s_sd_seen *
k8s_sd_seen_add(struct k8s_sd_seen **seen, size_t *nseen, json_t *pod,
    long long port)
{
	struct k8s_sd_seen *s = NULL;
	size_t i;

	for (i = 0; i < *nseen; i++) {
		if ((*seen)[i].pod == pod) {
			s = &(*seen)[i];
			break;
		}
	}
	if (s == NULL) {
		*seen = xreallocarray(*seen, *nseen + 1, sizeof **seen);
		s = &(*seen)[(*nseen)++];
		memset(s, 0, sizeof *s);
		s->pod = pod;
	}
	s->ports = xreallocarray(s->ports, s->nports + 1, sizeof *s->ports);
	s->ports[s->nports++] = port;
	return s;
}

/*
 * Container labels for the container port an endpoint port matches; the
 * last matching container wins, as in Prometheus's loop.
 */
static void
k8s_sd_match_container(struct k8s_sd_ctx *c, struct labels *t, json_t *pod,
    long long port, const char *protocol)
{
	json_t *ct, *p;
	size_t i, k, n = k8s_sd_ncontainers(pod);
	int init;

	for (i = 0; i < n; i++) {
		ct = k8s_sd_container(pod, i, &init);
		json_array_foreach(json_object_get(ct, "ports"), k, p) {
			if (k8s_sd_int(p, "containerPort") != port)
				continue;
			k8s_sd_set(c, t, K8S_SD_PREFIX "pod_container_name",
			    k8s_sd_str(ct, "name", NULL));
			k8s_sd_set(c, t, K8S_SD_PREFIX "pod_container_image",
			    k8s_sd_str(ct, "image", NULL));
			k8s_sd_set(c, t, K8S_SD_PREFIX
			    "pod_container_port_name",
			    k8s_sd_str(p, "name", NULL));
			k8s_sd_set_int(c, t, K8S_SD_PREFIX
			    "pod_container_port_number", port);
			k8s_sd_set(c, t, K8S_SD_PREFIX
			    "pod_container_port_protocol", protocol != NULL ?
			    protocol : k8s_sd_str(p, "protocol", NULL));
			k8s_sd_set_bool(c, t, K8S_SD_PREFIX
			    "pod_container_init", init);
			break;
		}
	}
}

/*
 * Container ports of the pods seen that no endpoint port covered get a
 * target of their own (a pod's metrics port is rarely in its service).
 */
static void
k8s_sd_seen_rest(struct k8s_sd_ctx *c, const struct labels *group,
    struct k8s_sd_seen *seen, size_t nseen)
{
	struct labels t = LABELS_INIT;
	const char *ip;
	json_t *ct, *p;
	size_t i, j, k, m, n;
	int init;

	for (i = 0; i < nseen; i++) {
		ip = k8s_sd_str(seen[i].pod, "status", "podIP");
		if (ip == NULL || *ip == '\0')
			continue;
		n = k8s_sd_ncontainers(seen[i].pod);
		for (j = 0; j < n; j++) {
			ct = k8s_sd_container(seen[i].pod, j, &init);
			json_array_foreach(json_object_get(ct, "ports"), k,
			    p) {
				long long port = k8s_sd_int(p,
				    "containerPort");

				for (m = 0; m < seen[i].nports; m++)
					if (seen[i].ports[m] == port)
						break;
				if (m < seen[i].nports)
					continue;
				labels_reset(&t);
				k8s_sd_set_addr(c, &t, ip, 1, port);
				k8s_sd_set(c, &t, K8S_SD_PREFIX
				    "pod_container_name",
				    k8s_sd_str(ct, "name", NULL));
				k8s_sd_set(c, &t, K8S_SD_PREFIX
				    "pod_container_image",
				    k8s_sd_str(ct, "image", NULL));
				k8s_sd_set(c, &t, K8S_SD_PREFIX
				    "pod_container_port_name",
				    k8s_sd_str(p, "name", NULL));
				k8s_sd_set_int(c, &t, K8S_SD_PREFIX
				    "pod_container_port_number", port);
				k8s_sd_set(c, &t, K8S_SD_PREFIX
				    "pod_container_port_protocol",
				    k8s_sd_str(p, "protocol", NULL));
				k8s_sd_set_bool(c, &t, K8S_SD_PREFIX
				    "pod_container_init", init);
				k8s_sd_pod_labels(c, &t, seen[i].pod);
				k8s_sd_emit(c, group, &t);
			}
		}
	}
	labels_free(&t);
}

static void
k8s_sd_seen_free(struct k8s_sd_seen *seen, size_t nseen)
{
	size_t i;

	for (i = 0; i < nseen; i++)
		free(seen[i].ports);
	free(seen);
}

/* One address of an endpoints subset on one port. */
static void
k8s_sd_endpoints_add(struct k8s_sd_ctx *c, const struct labels *group,
    json_t *addr, json_t *port, const char *ready,
    struct k8s_sd_seen **seen, size_t *nseen)
{
	struct labels t = LABELS_INIT;
	json_t *ref = json_object_get(addr, "targetRef"), *pod = NULL;
	const char *node, *kind, *ip;
	long long pnum = k8s_sd_int(port, "port");

	ip = k8s_sd_str(addr, "ip", NULL);
	k8s_sd_set_addr(c, &t, ip != NULL ? ip : "", 1, pnum);
	k8s_sd_set(c, &t, K8S_SD_PREFIX "endpoint_port_name",
	    k8s_sd_str(port, "name", NULL));
	k8s_sd_set(c, &t, K8S_SD_PREFIX "endpoint_port_protocol",
	    k8s_sd_str(port, "protocol", NULL));
	k8s_sd_set(c, &t, K8S_SD_PREFIX "endpoint_ready", ready);
	kind = k8s_sd_str(ref, "kind", NULL);
	if (ref != NULL) {
		k8s_sd_set(c, &t, K8S_SD_PREFIX "endpoint_address_target_kind",
		    kind);
		k8s_sd_set(c, &t, K8S_SD_PREFIX "endpoint_address_target_name",
		    k8s_sd_str(ref, "name", NULL));
	}
	node = k8s_sd_str(addr, "nodeName", NULL);
	k8s_sd_set(c, &t, K8S_SD_PREFIX "endpoint_node_name", node);
	k8s_sd_set(c, &t, K8S_SD_PREFIX "endpoint_hostname",
	    k8s_sd_str(addr, "hostname", NULL));
	if (node != NULL)
		k8s_sd_node_meta(c, &t, node);
	else if (kind != NULL && strcmp(kind, "Node") == 0)
		k8s_sd_node_meta(c, &t, k8s_sd_str(ref, "name", NULL));

	if (kind != NULL && strcmp(kind, "Pod") == 0)
		pod = k8s_sd_resolve(c, K8S_SD_PODS, k8s_sd_str(ref,
		    "namespace", NULL), k8s_sd_str(ref, "name", NULL));
	if (pod != NULL) {
		k8s_sd_seen_add(seen, nseen, pod, pnum);
		k8s_sd_pod_labels(c, &t, pod);
		k8s_sd_match_container(c, &t, pod, pnum, k8s_sd_str(port,
		    "protocol", NULL));
	}
	k8s_sd_emit(c, group, &t);
	labels_free(&t);
}

static void
k8s_sd_build_endpoints(struct k8s_sd_ctx *c, json_t *eps)
{
	struct labels group = LABELS_INIT;
	struct k8s_sd_seen *seen = NULL;
	const char *ns;
	json_t *ss, *port, *addr, *svc;
	size_t i, j, k, nseen = 0;

	ns = k8s_sd_str(eps, "metadata", "namespace");
	k8s_sd_set(c, &group, K8S_SD_PREFIX "namespace", ns);
	svc = k8s_sd_resolve(c, K8S_SD_SERVICES, ns, k8s_sd_str(eps,
	    "metadata", "name"));
	if (svc != NULL)
		k8s_sd_service_labels(c, &group, svc);
	k8s_sd_object_meta(c, &group, "endpoints", eps);

	json_array_foreach(json_object_get(eps, "subsets"), i, ss) {
		json_array_foreach(json_object_get(ss, "ports"), j, port) {
			json_array_foreach(json_object_get(ss, "addresses"), k,
			    addr)
				k8s_sd_endpoints_add(c, &group, addr, port,
				    "true", &seen, &nseen);
			json_array_foreach(json_object_get(ss,
			    "notReadyAddresses"), k, addr)
				k8s_sd_endpoints_add(c, &group, addr, port,
				    "false", &seen, &nseen);
		}
	}
	k8s_sd_seen_rest(c, &group, seen, nseen);
	k8s_sd_seen_free(seen, nseen);
	labels_free(&group);
}

static void
k8s_sd_slice_add(struct k8s_sd_ctx *c, const struct labels *group,
    const char *addr, json_t *ep, json_t *port, struct k8s_sd_seen **seen,
    size_t *nseen)
{
	static const char *conds[] = { "ready", "serving", "terminating" };
	struct labels t = LABELS_INIT;
	json_t *ref = json_object_get(ep, "targetRef"), *pod = NULL, *v;
	json_t *pnum = json_object_get(port, "port");
	const char *kind, *key;
	size_t i;

	k8s_sd_set_addr(c, &t, addr, pnum != NULL, k8s_sd_int(port, "port"));
	k8s_sd_set(c, &t, K8S_SD_PREFIX "endpointslice_port_name",
	    k8s_sd_str(port, "name", NULL));
	k8s_sd_set(c, &t, K8S_SD_PREFIX "endpointslice_port_protocol",
	    k8s_sd_str(port, "protocol", NULL));
	if (pnum != NULL)
		k8s_sd_set_int(c, &t, K8S_SD_PREFIX "endpointslice_port",
		    k8s_sd_int(port, "port"));
	k8s_sd_set(c, &t, K8S_SD_PREFIX "endpointslice_port_app_protocol",
	    k8s_sd_str(port, "appProtocol", NULL));
	for (i = 0; i < sizeof conds / sizeof conds[0]; i++) {
		v = k8s_sd_get(ep, "conditions", conds[i]);
		if (!json_is_boolean(v))
			continue;
		buf_reset(&c->name);
		buf_printf(&c->name, K8S_SD_PREFIX
		    "endpointslice_endpoint_conditions_%s", conds[i]);
		k8s_sd_set_bool(c, &t, c->name.data, json_is_true(v));
	}
	k8s_sd_set(c, &t, K8S_SD_PREFIX "endpointslice_endpoint_hostname",
	    k8s_sd_str(ep, "hostname", NULL));
	kind = k8s_sd_str(ref, "kind", NULL);
	if (ref != NULL) {
		k8s_sd_set(c, &t, K8S_SD_PREFIX
		    "endpointslice_address_target_kind", kind);
		k8s_sd_set(c, &t, K8S_SD_PREFIX
		    "endpointslice_address_target_name",
		    k8s_sd_str(ref, "name", NULL));
	}
	k8s_sd_set(c, &t, K8S_SD_PREFIX "endpointslice_endpoint_node_name",
	    k8s_sd_str(ep, "nodeName", NULL));
	k8s_sd_set(c, &t, K8S_SD_PREFIX "endpointslice_endpoint_zone",
	    k8s_sd_str(ep, "zone", NULL));
	json_object_foreach(json_object_get(ep, "deprecatedTopology"), key,
	    v) {
		buf_reset(&c->name);
		buf_puts(&c->name, K8S_SD_PREFIX
		    "endpointslice_endpoint_topology_");
		k8s_sd_sanitize(&c->name, key);
		k8s_sd_set(c, &t, c->name.data, json_string_value(v));
		buf_reset(&c->name);
		buf_puts(&c->name, K8S_SD_PREFIX
		    "endpointslice_endpoint_topology_present_");
		k8s_sd_sanitize(&c->name, key);
		k8s_sd_set(c, &t, c->name.data, "true");
	}
	if (kind != NULL && strcmp(kind, "Node") == 0)
		k8s_sd_node_meta(c, &t, k8s_sd_str(ref, "name", NULL));
	else
		k8s_sd_node_meta(c, &t, k8s_sd_str(ep, "nodeName", NULL));

	if (kind != NULL && strcmp(kind, "Pod") == 0)
		pod = k8s_sd_resolve(c, K8S_SD_PODS, k8s_sd_str(ref,
		    "namespace", NULL), k8s_sd_str(ref, "name", NULL));
	if (pod != NULL) {
		/* A port without a number covers no container port. */
		k8s_sd_seen_add(seen, nseen, pod, pnum != NULL ?
		    k8s_sd_int(port, "port") : -1);
		k8s_sd_pod_labels(c, &t, pod);
		if (pnum != NULL)
			k8s_sd_match_container(c, &t, pod, k8s_sd_int(port,
			    "port"), NULL);
	}
	k8s_sd_emit(c, group, &t);
	labels_free(&t);
}

static void
k8s_sd_build_slice(struct k8s_sd_ctx *c, json_t *eps)
{
	struct labels group = LABELS_INIT;
	struct k8s_sd_seen *seen = NULL;
	const char *ns;
	json_t *ep, *port, *addr, *svc;
	size_t i, j, k, nseen = 0;

	ns = k8s_sd_str(eps, "metadata", "namespace");
	k8s_sd_set(c, &group, K8S_SD_PREFIX "namespace", ns);
	k8s_sd_set(c, &group, K8S_SD_PREFIX "endpointslice_address_type",
	    k8s_sd_str(eps, "addressType", NULL));
	k8s_sd_object_meta(c, &group, "endpointslice", eps);
	/* The owning service is named in the kubernetes.io/service-name
	 * label of every EndpointSlice. */
	svc = k8s_sd_resolve(c, K8S_SD_SERVICES, ns, json_string_value(
	    k8s_sd_get(k8s_sd_get(eps, "metadata", "labels"),
	    "kubernetes.io/service-name", NULL)));
	if (svc != NULL)
		k8s_sd_service_labels(c, &group, svc);

	json_array_foreach(json_object_get(eps, "endpoints"), i, ep) {
		json_array_foreach(json_object_get(eps, "ports"), j, port) {
			json_array_foreach(json_object_get(ep, "addresses"), k,
			    addr) {
				if (json_string_value(addr) == NULL)
					continue;
				k8s_sd_slice_add(c, &group,
				    json_string_value(addr), ep, port, &seen,
				    &nseen);
			}
		}
	}
	k8s_sd_seen_rest(c, &group, seen, nseen);
	k8s_sd_seen_free(seen, nseen);
	labels_free(&group);
}

void
k8s_sd_build(enum config_k8s_role role, int attach_node, json_t *obj,
    k8s_sd_lookup_cb lookup, void *arg, struct k8s_sd_groups *out)
{
	struct k8s_sd_ctx c;

	memset(&c, 0, sizeof c);
	c.out = out;
	c.lookup = lookup;
	c.arg = arg;
	c.attach_node = attach_node;
	buf_init(&c.name);
	buf_init(&c.tmp);
	switch (role) {
	case CONFIG_K8S_POD:
		k8s_sd_build_pod(&c, obj);
		break;
	case CONFIG_K8S_NODE:
		k8s_sd_build_node(&c, obj);
		break;
	case CONFIG_K8S_SERVICE:
		k8s_sd_build_service(&c, obj);
		break;
	case CONFIG_K8S_ENDPOINTS:
		k8s_sd_build_endpoints(&c, obj);
		break;
	case CONFIG_K8S_ENDPOINTSLICE:
		k8s_sd_build_slice(&c, obj);
		break;
	}
	buf_free(&c.name);
	buf_free(&c.tmp);
}
