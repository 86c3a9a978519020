/*
 * libFuzzer target for kubernetes_sd's handling of what the API server
 * sends: watch event lines ({"type": .., "object": {..}}) are applied to a
 * store per resource as the watch does (k8s_sd_key, k8s_sd_trim), then
 * target groups are built for every role from the stored objects
 * (k8s_sd_build, with lookups across resources, attach_metadata on and
 * off). Nothing may crash, leak or loop; every group has targets with
 * non-empty addresses and labels with valid, unique names; building twice
 * gives the same hash.
 *
 * Input: lines of JSON. A line may start with a digit 0..4 and a space to
 * name the resource it belongs to (pods, nodes, services, endpoints,
 * endpointslices); without one, the object's "kind" decides, else pods.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "k8s_sd.h"
#include "labels.h"
#include "log.h"
#include "fuzz.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define FUZZ_K8S_MAX	(128 * 1024)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LOG_ERROR, LOG_FORMAT_LOGFMT);
	return 0;
}

static json_t *
fuzz_k8s_lookup_cb(enum k8s_sd_kind kind, const char *key, void *arg)
{
	json_t **stores = arg;

	if ((unsigned)kind >= K8S_SD_NKINDS || key == NULL)
		return NULL;
	return json_object_get(stores[kind], key);
}

static enum k8s_sd_kind
fuzz_k8s_kind_of(json_t *obj)
{
	static const char *kinds[K8S_SD_NKINDS] = {
		"Pod", "Node", "Service", "Endpoints", "EndpointSlice"
	};
	const char *k = json_string_value(json_object_get(obj, "kind"));
	int i;

	for (i = 0; k != NULL && i < K8S_SD_NKINDS; i++)
		if (strcmp(k, kinds[i]) == 0)
			return (enum k8s_sd_kind)i;
	return K8S_SD_PODS;
}

/* One watch line, applied as k8s_sd.c applies it. */
static void
fuzz_k8s_event(json_t **stores, const char *line, size_t len)
{
	enum k8s_sd_kind kind;
	json_t *ev, *obj, *trimmed;
	const char *type;
	char *key;
	int forced = -1;

	if (len >= 2 && line[0] >= '0' && line[0] <= '4' && line[1] == ' ') {
		forced = line[0] - '0';
		line += 2;
		len -= 2;
	}
	if ((ev = json_loadb(line, len, 0, NULL)) == NULL)
		return;
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (type == NULL || !json_is_object(obj)) {
		json_decref(ev);
		return;
	}
	kind = forced >= 0 ? (enum k8s_sd_kind)forced : fuzz_k8s_kind_of(obj);
	if ((key = k8s_sd_key(kind, obj)) != NULL) {
		FUZZ_CHECK(key[0] != '\0');
		if (strcmp(type, "DELETED") == 0)
			json_object_del(stores[kind], key);
		else if (strcmp(type, "ADDED") == 0 ||
		    strcmp(type, "MODIFIED") == 0) {
			trimmed = k8s_sd_trim(kind, obj);
			FUZZ_CHECK(trimmed != NULL);
			json_object_set_new(stores[kind], key, trimmed);
		}
		free(key);
	}
	json_decref(ev);
}

static void
fuzz_k8s_check(const struct k8s_sd_groups *g)
{
	const struct target_group *tg;
	size_t i, j;

	for (i = 0; i < g->n; i++) {
		tg = &g->v[i];
		for (j = 0; j < tg->ntargets; j++)
			FUZZ_CHECK(tg->targets[j] != NULL &&
			    tg->targets[j][0] != '\0');
		for (j = 0; j < tg->labels.n; j++) {
			FUZZ_CHECK(labels_valid_label_name(
			    tg->labels.v[j].name));
			FUZZ_CHECK(tg->labels.v[j].value.len > 0);
		}
		FUZZ_CHECK(labels_find_dup(&tg->labels) < 0 ||
		    tg->labels.n < 2);
	}
}

/* Build the groups of one role over every stored object of its kind. */
static uint64_t
fuzz_k8s_build(json_t **stores, enum config_k8s_role role, int attach)
{
	struct k8s_sd_groups g;
	const char *key;
	json_t *obj;
	uint64_t h;

	k8s_sd_groups_init(&g);
	json_object_foreach(stores[k8s_sd_role_kind(role)], key, obj)
		k8s_sd_build(role, attach, obj, fuzz_k8s_lookup_cb, stores,
		    &g);
	fuzz_k8s_check(&g);
	h = k8s_sd_groups_hash(&g);
	k8s_sd_groups_free(&g);
	return h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *stores[K8S_SD_NKINDS];
	const char *p = (const char *)data, *end = p + size, *nl;
	int role, attach, i;

	if (size > FUZZ_K8S_MAX)
		return 0;
	for (i = 0; i < K8S_SD_NKINDS; i++)
		stores[i] = json_object();
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (nl > p)
			fuzz_k8s_event(stores, p, (size_t)(nl - p));
		p = nl + 1;
	}
	for (role = CONFIG_K8S_POD; role <= CONFIG_K8S_SERVICE; role++)
		for (attach = 0; attach <= 1; attach++)
			FUZZ_CHECK(fuzz_k8s_build(stores, role, attach) ==
			    fuzz_k8s_build(stores, role, attach));
	for (i = 0; i < K8S_SD_NKINDS; i++)
		json_decref(stores[i]);
	return 0;
}
