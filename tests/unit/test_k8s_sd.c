/*
 * kubernetes_sd: Kubernetes objects to targets with Prometheus's
 * __meta_kubernetes_* labels, trimming, selectors and URL helpers.
 *
 * The objects in tests/unit/data/k8s are shaped like API server output
 * (managedFields, env, status noise included); the expected label sets
 * are written out in full from Prometheus's documented rules, so a label
 * too many fails as much as one missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "k8s_sd.h"
#include "labels.h"

#define DATA	TOP_SRCDIR "/tests/unit/data/k8s/"
#define P	"__meta_kubernetes_"

static json_t *
load(const char *name)
{
	char path[512];
	json_error_t err;
	json_t *o;

	snprintf(path, sizeof path, DATA "%s", name);
	o = json_load_file(path, 0, &err);
	if (o == NULL)
		fail_msg("%s: %s", path, err.text);
	return o;
}

/* Lookups from {"pods": {key: obj}, "services": ..., "nodes": ...}. */
static json_t *
lookup_cb(enum k8s_sd_kind kind, const char *key, void *arg)
{
	return json_object_get(json_object_get(arg, k8s_sd_kind_name(kind)),
	    key);
}

static const struct target_group *
find(const struct k8s_sd_groups *g, const char *addr)
{
	const struct target_group *found = NULL;
	size_t i;

	for (i = 0; i < g->n; i++) {
		assert_int_equal(g->v[i].ntargets, 1);
		if (strcmp(g->v[i].targets[0], addr) != 0)
			continue;
		if (found != NULL)
			fail_msg("target %s appears twice", addr);
		found = &g->v[i];
	}
	if (found == NULL)
		fail_msg("no target %s", addr);
	return found;
}

static size_t
count(const char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

static void
check_one(const struct target_group *tg, const char *nv)
{
	const char *eq = strchr(nv, '=');
	const struct lstr *v;

	assert_non_null(eq);
	v = labels_get(&tg->labels, (struct lstr){ nv, (size_t)(eq - nv) });
	if (v == NULL)
		fail_msg("%s: label %.*s missing", tg->targets[0],
		    (int)(eq - nv), nv);
	if (v->len != strlen(eq + 1) || memcmp(v->p, eq + 1, v->len) != 0)
		fail_msg("%s: %.*s=\"%.*s\", want \"%s\"", tg->targets[0],
		    (int)(eq - nv), nv, (int)v->len, v->p, eq + 1);
}

/* The target's labels are exactly the union of the NULL-ended lists. */
static void
check_labels(const struct target_group *tg, ...)
{
	const char *const *list;
	struct buf s = BUF_INIT;
	size_t k, want = 0;
	va_list ap;

	va_start(ap, tg);
	while ((list = va_arg(ap, const char *const *)) != NULL) {
		for (k = 0; list[k] != NULL; k++)
			check_one(tg, list[k]);
		want += count(list);
	}
	va_end(ap);
	if (tg->labels.n != want) {
		labels_format(&tg->labels, &s);
		fail_msg("%s: %zu labels, want %zu: %s", tg->targets[0],
		    tg->labels.n, want, s.data);
	}
	buf_free(&s);
}

static const char *const pod_group[] = {
	P "namespace=shop",
	P "pod_name=web-7d4b9c6f5-x2x9q",
	P "pod_ip=10.244.1.17",
	P "pod_ready=true",
	P "pod_phase=Running",
	P "pod_node_name=node-a",
	P "pod_host_ip=10.240.0.4",
	P "pod_uid=5c0b2a31-8f0e-4a57-9a3c-2b3f4f1d9e10",
	P "pod_controller_kind=ReplicaSet",
	P "pod_controller_name=web-7d4b9c6f5",
	P "pod_label_app_kubernetes_io_name=web",
	P "pod_labelpresent_app_kubernetes_io_name=true",
	P "pod_label_pod_template_hash=7d4b9c6f5",
	P "pod_labelpresent_pod_template_hash=true",
	/* tier="" : the value is absent, presence is what is left. */
	P "pod_labelpresent_tier=true",
	P "pod_annotation_prometheus_io_scrape=true",
	P "pod_annotationpresent_prometheus_io_scrape=true",
	P "pod_annotation_prometheus_io_port=9102",
	P "pod_annotationpresent_prometheus_io_port=true",
	P "pod_annotation_kubectl_kubernetes_io_restartedAt="
	    "2026-11-20T09:12:40Z",
	P "pod_annotationpresent_kubectl_kubernetes_io_restartedAt=true",
	NULL
};

/* podLabels() without the namespace, as endpoints targets carry it. */
static const char *const *pod_meta = pod_group + 1;

static const char *const pod_app_http[] = {
	P "pod_container_name=app",
	P "pod_container_image=shop/web:3.1",
	P "pod_container_port_name=http",
	P "pod_container_port_number=8080",
	P "pod_container_port_protocol=TCP",
	P "pod_container_init=false",
	NULL
};
static const char *const pod_app_metrics[] = {
	P "pod_container_name=app",
	P "pod_container_image=shop/web:3.1",
	P "pod_container_port_name=metrics",
	P "pod_container_port_number=9102",
	P "pod_container_port_protocol=TCP",
	P "pod_container_init=false",
	NULL
};
static const char *const pod_migrate[] = {
	P "pod_container_name=migrate",
	P "pod_container_image=shop/migrate:1.2",
	P "pod_container_port_name=admin",
	P "pod_container_port_number=9000",
	P "pod_container_port_protocol=TCP",
	P "pod_container_init=true",
	NULL
};

static void
test_pod(void **state)
{
	static const char *const id_app[] = {
		P "pod_container_id=containerd://bbbb0002", NULL
	};
	static const char *const sidecar[] = {
		P "pod_container_name=sidecar",
		P "pod_container_id=containerd://cccc0003",
		P "pod_container_image=envoy:1.30",
		P "pod_container_init=false",
		NULL
	};
	static const char *const id_migrate[] = {
		P "pod_container_id=containerd://aaaa0001", NULL
	};
	struct k8s_sd_groups g;
	json_t *pod = load("pod.json");

	(void)state;
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_POD, 0, pod, NULL, NULL, &g);
	/* One target per declared port, one for the port-less sidecar. */
	assert_int_equal(g.n, 4);
	check_labels(find(&g, "10.244.1.17:8080"), pod_group, pod_app_http,
	    id_app, NULL);
	check_labels(find(&g, "10.244.1.17:9102"), pod_group,
	    pod_app_metrics, id_app, NULL);
	check_labels(find(&g, "10.244.1.17"), pod_group, sidecar, NULL);
	check_labels(find(&g, "10.244.1.17:9000"), pod_group, pod_migrate,
	    id_migrate, NULL);
	/* Containers first, then init containers, in declaration order. */
	assert_string_equal(g.v[0].targets[0], "10.244.1.17:8080");
	assert_string_equal(g.v[2].targets[0], "10.244.1.17");
	assert_string_equal(g.v[3].targets[0], "10.244.1.17:9000");
	k8s_sd_groups_free(&g);
	json_decref(pod);
}

static void
test_pod_without_ip_or_ready(void **state)
{
	struct k8s_sd_groups g;
	json_t *pod = load("pod.json"), *st, *cond;
	const struct lstr *v;
	size_t i;

	(void)state;
	st = json_object_get(pod, "status");
	/* Ready=False, and an IPv6 pod. */
	json_array_foreach(json_object_get(st, "conditions"), i, cond) {
		if (strcmp(json_string_value(json_object_get(cond, "type")),
		    "Ready") == 0)
			json_object_set_new(cond, "status",
			    json_string("False"));
	}
	json_object_set_new(st, "podIP", json_string("fd00:10:244::11"));
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_POD, 0, pod, NULL, NULL, &g);
	assert_int_equal(g.n, 4);
	v = labels_get(&find(&g, "[fd00:10:244::11]:8080")->labels,
	    LSTR(P "pod_ready"));
	assert_non_null(v);
	assert_memory_equal(v->p, "false", 5);
	/* The port-less target is the bare address, no brackets. */
	find(&g, "fd00:10:244::11");
	k8s_sd_groups_free(&g);

	/* No condition at all: "unknown". */
	json_object_del(st, "conditions");
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_POD, 0, pod, NULL, NULL, &g);
	v = labels_get(&g.v[0].labels, LSTR(P "pod_ready"));
	assert_non_null(v);
	assert_int_equal(v->len, 7);
	assert_memory_equal(v->p, "unknown", 7);
	k8s_sd_groups_free(&g);

	/* Pending (no IP yet): no targets at all. */
	json_object_del(st, "podIP");
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_POD, 0, pod, NULL, NULL, &g);
	assert_int_equal(g.n, 0);
	k8s_sd_groups_free(&g);
	json_decref(pod);
}

static void
test_pod_attach_node(void **state)
{
	static const char *const node_meta[] = {
		P "node_name=node-a",
		P "node_label_kubernetes_io_arch=amd64",
		P "node_labelpresent_kubernetes_io_arch=true",
		P "node_annotation_example_com_rack=r12",
		P "node_annotationpresent_example_com_rack=true",
		NULL
	};
	struct k8s_sd_groups g;
	json_t *pod = load("pod.json"), *objs;

	(void)state;
	objs = json_pack("{s:{s:{s:{s:s,s:{s:s},s:{s:s}},s:{s:s}}}}",
	    "nodes", "node-a", "metadata", "name", "node-a", "labels",
	    "kubernetes.io/arch", "amd64", "annotations", "example.com/rack",
	    "r12", "spec", "providerID", "not-attached");
	assert_non_null(objs);
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_POD, 1, pod, lookup_cb, objs, &g);
	assert_int_equal(g.n, 4);
	check_labels(find(&g, "10.244.1.17:8080"), pod_group, pod_app_http,
	    (const char *const[]){ P "pod_container_id=containerd://bbbb0002",
	    NULL }, node_meta, NULL);
	k8s_sd_groups_free(&g);

	/* Without attach_metadata the node is not looked at. */
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_POD, 0, pod, lookup_cb, objs, &g);
	assert_null(labels_get(&g.v[0].labels, LSTR(P "node_name")));
	k8s_sd_groups_free(&g);
	json_decref(objs);
	json_decref(pod);
}

static void
test_node(void **state)
{
	static const char *const want[] = {
		"instance=aks-pool1-12345678-vmss000000",
		P "node_name=aks-pool1-12345678-vmss000000",
		P "node_provider_id=azure:///subscriptions/s/resourceGroups/rg/"
		    "providers/Microsoft.Compute/virtualMachineScaleSets/"
		    "aks-pool1/virtualMachines/0",
		P "node_label_kubernetes_io_hostname="
		    "aks-pool1-12345678-vmss000000",
		P "node_labelpresent_kubernetes_io_hostname=true",
		P "node_label_kubernetes_io_os=linux",
		P "node_labelpresent_kubernetes_io_os=true",
		P "node_label_topology_kubernetes_io_zone=westeurope-1",
		P "node_labelpresent_topology_kubernetes_io_zone=true",
		P "node_label_node_kubernetes_io_instance_type=Standard_D2s_v5",
		P "node_labelpresent_node_kubernetes_io_instance_type=true",
		P "node_annotation_node_alpha_kubernetes_io_ttl=0",
		P "node_annotationpresent_node_alpha_kubernetes_io_ttl=true",
		P "node_annotation_volumes_kubernetes_io_controller_managed_"
		    "attach_detach=true",
		P "node_annotationpresent_volumes_kubernetes_io_controller_"
		    "managed_attach_detach=true",
		/* The first address of each type. */
		P "node_address_Hostname=aks-pool1-12345678-vmss000000",
		P "node_address_InternalIP=10.224.0.4",
		NULL
	};
	struct k8s_sd_groups g;
	json_t *node = load("node.json"), *addrs;

	(void)state;
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_NODE, 0, node, NULL, NULL, &g);
	assert_int_equal(g.n, 1);
	/* InternalIP before Hostname, with the kubelet's port. */
	check_labels(find(&g, "10.224.0.4:10250"), want, NULL);
	k8s_sd_groups_free(&g);

	/* Only a hostname: that is the address. */
	addrs = json_object_get(json_object_get(node, "status"), "addresses");
	json_array_remove(addrs, 2);
	json_array_remove(addrs, 1);
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_NODE, 0, node, NULL, NULL, &g);
	find(&g, "aks-pool1-12345678-vmss000000:10250");
	k8s_sd_groups_free(&g);

	/* No address at all: no target. */
	json_array_clear(addrs);
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_NODE, 0, node, NULL, NULL, &g);
	assert_int_equal(g.n, 0);
	k8s_sd_groups_free(&g);
	json_decref(node);
}

static const char *const svc_meta[] = {
	P "service_name=web",
	P "service_label_app_kubernetes_io_name=web",
	P "service_labelpresent_app_kubernetes_io_name=true",
	P "service_annotation_prometheus_io_probe=true",
	P "service_annotationpresent_prometheus_io_probe=true",
	NULL
};

static void
test_service(void **state)
{
	static const char *const http[] = {
		P "namespace=shop",
		P "service_port_name=http",
		P "service_port_number=80",
		P "service_port_protocol=TCP",
		P "service_type=ClusterIP",
		P "service_cluster_ip=10.0.12.34",
		NULL
	};
	struct k8s_sd_groups g;
	json_t *svc = load("service.json"), *spec;
	const struct target_group *tg;

	(void)state;
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_SERVICE, 0, svc, NULL, NULL, &g);
	assert_int_equal(g.n, 2);
	check_labels(find(&g, "web.shop.svc:80"), svc_meta, http, NULL);
	find(&g, "web.shop.svc:9102");
	k8s_sd_groups_free(&g);

	spec = json_object_get(svc, "spec");
	json_object_set_new(spec, "type", json_string("LoadBalancer"));
	json_object_set_new(spec, "loadBalancerIP", json_string("20.1.2.3"));
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_SERVICE, 0, svc, NULL, NULL, &g);
	tg = find(&g, "web.shop.svc:80");
	check_one(tg, P "service_loadbalancer_ip=20.1.2.3");
	check_one(tg, P "service_cluster_ip=10.0.12.34");
	k8s_sd_groups_free(&g);

	json_object_set_new(spec, "type", json_string("ExternalName"));
	json_object_set_new(spec, "externalName", json_string("db.example"));
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_SERVICE, 0, svc, NULL, NULL, &g);
	tg = find(&g, "web.shop.svc:80");
	check_one(tg, P "service_external_name=db.example");
	assert_null(labels_get(&tg->labels, LSTR(P "service_cluster_ip")));
	assert_null(labels_get(&tg->labels,
	    LSTR(P "service_loadbalancer_ip")));
	k8s_sd_groups_free(&g);
	json_decref(svc);
}

static json_t *
objects(void)
{
	json_t *o = json_object();

	json_object_set_new(o, "pods", json_pack("{s:o}",
	    "shop/web-7d4b9c6f5-x2x9q", load("pod.json")));
	json_object_set_new(o, "services", json_pack("{s:o}", "shop/web",
	    load("service.json")));
	return o;
}

static void
test_endpoints(void **state)
{
	static const char *const group[] = {
		P "namespace=shop",
		P "endpoints_name=web",
		P "endpoints_label_app_kubernetes_io_name=web",
		P "endpoints_labelpresent_app_kubernetes_io_name=true",
		P "endpoints_annotation_endpoints_kubernetes_io_last_change_"
		    "trigger_time=2026-11-20T09:13:00Z",
		P "endpoints_annotationpresent_endpoints_kubernetes_io_last_"
		    "change_trigger_time=true",
		NULL
	};
	static const char *const pod_ep[] = {
		P "endpoint_port_name=http",
		P "endpoint_port_protocol=TCP",
		P "endpoint_ready=true",
		P "endpoint_address_target_kind=Pod",
		P "endpoint_address_target_name=web-7d4b9c6f5-x2x9q",
		P "endpoint_node_name=node-a",
		NULL
	};
	static const char *const vm_ep[] = {
		P "endpoint_port_name=http",
		P "endpoint_port_protocol=TCP",
		P "endpoint_ready=true",
		P "endpoint_hostname=legacy-vm",
		NULL
	};
	static const char *const unknown_ep[] = {
		P "endpoint_port_name=http",
		P "endpoint_port_protocol=TCP",
		P "endpoint_ready=false",
		P "endpoint_address_target_kind=Pod",
		P "endpoint_address_target_name=web-7d4b9c6f5-unknown",
		P "endpoint_node_name=node-b",
		NULL
	};
	struct k8s_sd_groups g;
	json_t *eps = load("endpoints.json"), *objs = objects();

	(void)state;
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_ENDPOINTS, 0, eps, lookup_cb, objs, &g);
	/* 3 addresses on one port, and the pod's 2 uncovered ports. */
	assert_int_equal(g.n, 5);
	check_labels(find(&g, "10.244.1.17:8080"), group, svc_meta, pod_ep,
	    pod_meta, pod_app_http, NULL);
	check_labels(find(&g, "10.240.0.9:8080"), group, svc_meta, vm_ep,
	    NULL);
	/* A pod the store does not have: endpoint labels only. */
	check_labels(find(&g, "10.244.2.5:8080"), group, svc_meta,
	    unknown_ep, NULL);
	check_labels(find(&g, "10.244.1.17:9102"), group, svc_meta,
	    pod_meta, pod_app_metrics, NULL);
	check_labels(find(&g, "10.244.1.17:9000"), group, svc_meta,
	    pod_meta, pod_migrate, NULL);
	k8s_sd_groups_free(&g);

	/* Without the service and pods: endpoints labels alone. */
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_ENDPOINTS, 0, eps, NULL, NULL, &g);
	assert_int_equal(g.n, 3);
	check_labels(find(&g, "10.244.1.17:8080"), group, pod_ep, NULL);
	k8s_sd_groups_free(&g);
	json_decref(objs);
	json_decref(eps);
}

static void
test_endpointslice(void **state)
{
	static const char *const group[] = {
		P "namespace=shop",
		P "endpointslice_address_type=IPv4",
		P "endpointslice_name=web-abc12",
		P "endpointslice_label_endpointslice_kubernetes_io_managed_by="
		    "endpointslice-controller.k8s.io",
		P "endpointslice_labelpresent_endpointslice_kubernetes_io_"
		    "managed_by=true",
		P "endpointslice_label_kubernetes_io_service_name=web",
		P "endpointslice_labelpresent_kubernetes_io_service_name=true",
		NULL
	};
	static const char *const pod_ep[] = {
		P "endpointslice_port_name=http",
		P "endpointslice_port_protocol=TCP",
		P "endpointslice_port=8080",
		P "endpointslice_port_app_protocol=http",
		P "endpointslice_endpoint_conditions_ready=true",
		P "endpointslice_endpoint_conditions_serving=true",
		P "endpointslice_endpoint_conditions_terminating=false",
		P "endpointslice_address_target_kind=Pod",
		P "endpointslice_address_target_name=web-7d4b9c6f5-x2x9q",
		P "endpointslice_endpoint_node_name=node-a",
		P "endpointslice_endpoint_zone=westeurope-1",
		P "endpointslice_endpoint_topology_topology_kubernetes_io_"
		    "region=westeurope",
		P "endpointslice_endpoint_topology_present_topology_"
		    "kubernetes_io_region=true",
		NULL
	};
	static const char *const other_ep[] = {
		P "endpointslice_port_name=http",
		P "endpointslice_port_protocol=TCP",
		P "endpointslice_port=8080",
		P "endpointslice_port_app_protocol=http",
		P "endpointslice_endpoint_conditions_ready=false",
		P "endpointslice_endpoint_hostname=web-2",
		NULL
	};
	struct k8s_sd_groups g;
	json_t *eps = load("endpointslice.json"), *objs = objects();

	(void)state;
	k8s_sd_groups_init(&g);
	k8s_sd_build(CONFIG_K8S_ENDPOINTSLICE, 0, eps, lookup_cb, objs, &g);
	assert_int_equal(g.n, 4);
	check_labels(find(&g, "10.244.1.17:8080"), group, svc_meta, pod_ep,
	    pod_meta, pod_app_http, NULL);
	check_labels(find(&g, "10.244.3.8:8080"), group, svc_meta,
	    other_ep, NULL);
	check_labels(find(&g, "10.244.1.17:9102"), group, svc_meta,
	    pod_meta, pod_app_metrics, NULL);
	check_labels(find(&g, "10.244.1.17:9000"), group, svc_meta,
	    pod_meta, pod_migrate, NULL);
	k8s_sd_groups_free(&g);
	json_decref(objs);
	json_decref(eps);
}

static int
groups_equal(const struct k8s_sd_groups *a, const struct k8s_sd_groups *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++) {
		if (strcmp(a->v[i].targets[0], b->v[i].targets[0]) != 0 ||
		    !labels_equal(&a->v[i].labels, &b->v[i].labels))
			return 0;
	}
	return 1;
}

/* Trimmed objects give exactly the targets the full ones give. */
static void
test_trim_keeps_what_labels_need(void **state)
{
	static const struct {
		const char		*file;
		enum config_k8s_role	 role;
		enum k8s_sd_kind	 kind;
	} cases[] = {
		{ "pod.json", CONFIG_K8S_POD, K8S_SD_PODS },
		{ "node.json", CONFIG_K8S_NODE, K8S_SD_NODES },
		{ "service.json", CONFIG_K8S_SERVICE, K8S_SD_SERVICES },
		{ "endpoints.json", CONFIG_K8S_ENDPOINTS, K8S_SD_ENDPOINTS },
		{ "endpointslice.json", CONFIG_K8S_ENDPOINTSLICE,
		    K8S_SD_ENDPOINTSLICES },
	};
	struct k8s_sd_groups full, trimmed;
	json_t *o, *t, *objs = objects(), *tobjs, *pods, *svcs;
	size_t i;

	(void)state;
	tobjs = json_object();
	pods = json_object_get(objs, "pods");
	svcs = json_object_get(objs, "services");
	json_object_set_new(tobjs, "pods", json_pack("{s:o}",
	    "shop/web-7d4b9c6f5-x2x9q", k8s_sd_trim(K8S_SD_PODS,
	    json_object_get(pods, "shop/web-7d4b9c6f5-x2x9q"))));
	json_object_set_new(tobjs, "services", json_pack("{s:o}", "shop/web",
	    k8s_sd_trim(K8S_SD_SERVICES, json_object_get(svcs, "shop/web"))));
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		o = load(cases[i].file);
		t = k8s_sd_trim(cases[i].kind, o);
		k8s_sd_groups_init(&full);
		k8s_sd_groups_init(&trimmed);
		k8s_sd_build(cases[i].role, 0, o, lookup_cb, objs, &full);
		k8s_sd_build(cases[i].role, 0, t, lookup_cb, tobjs, &trimmed);
		assert_true(full.n > 0);
		if (!groups_equal(&full, &trimmed))
			fail_msg("%s: trimmed object builds other targets",
			    cases[i].file);
		assert_int_equal(k8s_sd_groups_hash(&full),
		    k8s_sd_groups_hash(&trimmed));
		assert_null(json_object_get(json_object_get(t, "metadata"),
		    "managedFields"));
		assert_null(json_object_get(json_object_get(t, "metadata"),
		    "resourceVersion"));
		k8s_sd_groups_free(&full);
		k8s_sd_groups_free(&trimmed);
		json_decref(t);
		json_decref(o);
	}
	/* What a pod drops: env (secrets), volumes, resources, status noise. */
	o = load("pod.json");
	t = k8s_sd_trim(K8S_SD_PODS, o);
	assert_null(json_object_get(json_array_get(json_object_get(
	    json_object_get(t, "spec"), "containers"), 0), "env"));
	assert_null(json_object_get(json_object_get(t, "spec"), "volumes"));
	assert_null(json_object_get(json_object_get(t, "status"), "qosClass"));
	assert_null(json_object_get(json_array_get(json_object_get(
	    json_object_get(t, "status"), "conditions"), 0),
	    "lastTransitionTime"));
	assert_non_null(json_object_get(json_object_get(t, "metadata"),
	    "annotations"));
	json_decref(t);
	json_decref(o);
	json_decref(tobjs);
	json_decref(objs);
}

static void
test_hash_sees_changes(void **state)
{
	struct k8s_sd_groups a, b;
	json_t *pod = load("pod.json");
	uint64_t h;

	(void)state;
	k8s_sd_groups_init(&a);
	k8s_sd_build(CONFIG_K8S_POD, 0, pod, NULL, NULL, &a);
	h = k8s_sd_groups_hash(&a);
	json_object_set_new(json_object_get(json_object_get(pod, "metadata"),
	    "labels"), "version", json_string("2"));
	k8s_sd_groups_init(&b);
	k8s_sd_build(CONFIG_K8S_POD, 0, pod, NULL, NULL, &b);
	assert_int_not_equal(h, k8s_sd_groups_hash(&b));
	k8s_sd_groups_free(&b);
	/* Same objects, same hash. */
	assert_int_equal(h, k8s_sd_groups_hash(&a));
	k8s_sd_groups_free(&a);
	json_decref(pod);
}

static void
test_keys(void **state)
{
	json_t *pod = load("pod.json"), *node = load("node.json");
	char *k;

	(void)state;
	k = k8s_sd_key(K8S_SD_PODS, pod);
	assert_string_equal(k, "shop/web-7d4b9c6f5-x2x9q");
	free(k);
	k = k8s_sd_key(K8S_SD_NODES, node);
	assert_string_equal(k, "aks-pool1-12345678-vmss000000");
	free(k);
	json_object_del(json_object_get(pod, "metadata"), "name");
	assert_null(k8s_sd_key(K8S_SD_PODS, pod));
	json_decref(pod);
	json_decref(node);
}

static void
test_helpers(void **state)
{
	struct buf b = BUF_INIT;
	char *s;

	(void)state;
	k8s_sd_sanitize(&b, "app.kubernetes.io/name");
	assert_string_equal(b.data, "app_kubernetes_io_name");
	buf_reset(&b);
	/* One underscore per character, as Go's rune-based regexp does. */
	k8s_sd_sanitize(&b, "caf\xc3\xa9-x");
	assert_string_equal(b.data, "caf__x");
	buf_reset(&b);
	k8s_sd_query_escape(&b, "spec.nodeName=node-a,app in (x, y)");
	assert_string_equal(b.data,
	    "spec.nodeName%3Dnode-a%2Capp%20in%20%28x%2C%20y%29");
	buf_reset(&b);
	k8s_sd_join_host_port(&b, "10.0.0.1", 10250);
	assert_string_equal(b.data, "10.0.0.1:10250");
	buf_reset(&b);
	k8s_sd_join_host_port(&b, "fd00::1", 80);
	assert_string_equal(b.data, "[fd00::1]:80");
	buf_reset(&b);
	k8s_sd_collection_path(&b, K8S_SD_PODS, "shop");
	assert_string_equal(b.data, "/api/v1/namespaces/shop/pods");
	buf_reset(&b);
	k8s_sd_collection_path(&b, K8S_SD_NODES, "shop");
	assert_string_equal(b.data, "/api/v1/nodes");
	buf_reset(&b);
	k8s_sd_collection_path(&b, K8S_SD_ENDPOINTSLICES, NULL);
	assert_string_equal(b.data,
	    "/apis/discovery.k8s.io/v1/endpointslices");
	buf_free(&b);

	s = k8s_sd_selector_node("spec.nodeName=node-a");
	assert_string_equal(s, "node-a");
	free(s);
	s = k8s_sd_selector_node("status.phase=Running, spec.nodeName==n2");
	assert_string_equal(s, "n2");
	free(s);
	assert_null(k8s_sd_selector_node("spec.nodeName!=n3"));
	assert_null(k8s_sd_selector_node("spec.nodeNameX=n3"));
	assert_null(k8s_sd_selector_node("metadata.name=n3"));
	assert_null(k8s_sd_selector_node(NULL));
	assert_int_equal(k8s_sd_role_kind(CONFIG_K8S_ENDPOINTSLICE),
	    K8S_SD_ENDPOINTSLICES);
	assert_int_equal(k8s_sd_role_kind(CONFIG_K8S_SERVICE),
	    K8S_SD_SERVICES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod),
		cmocka_unit_test(test_pod_without_ip_or_ready),
		cmocka_unit_test(test_pod_attach_node),
		cmocka_unit_test(test_node),
		cmocka_unit_test(test_service),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_endpointslice),
		cmocka_unit_test(test_trim_keeps_what_labels_need),
		cmocka_unit_test(test_hash_sees_changes),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
