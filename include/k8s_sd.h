/*
 * kubernetes_sd_configs: targets from the Kubernetes API, with the same
 * __meta_kubernetes_* labels Prometheus gives them, so relabel rules
 * written for Prometheus work unchanged.
 *
 * Each config runs one list+watch loop per resource and namespace it
 * needs:
 *
 *	role		watched (selector role)
 *	pod		pods (pod); nodes (node) with attach_metadata.node
 *	node		nodes (node)
 *	service		services (service)
 *	endpoints	endpoints (endpoints), services (service), pods (pod)
 *	endpointslice	endpointslices, services, pods (as endpoints)
 *
 * and keeps only the fields the labels need (k8s_sd_trim), keyed by
 * "namespace/name" ("name" for nodes). Memory is therefore bounded by
 * what the selectors return: with a field selector spec.nodeName=$NODE a
 * DaemonSet member holds its own node's pods and nothing else.
 *
 *	GET .../pods?limit=500&labelSelector=..&fieldSelector=..  (pages)
 *	    -> store, resourceVersion RV
 *	GET .../pods?watch=1&resourceVersion=RV&allowWatchBookmarks=true
 *	    -> one JSON event per line, for as long as the server keeps it:
 *	       {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{..}}
 *	    ends normally (timeoutSeconds) -> watch again from the last RV
 *	    ERROR 410 / HTTP 410 -> list again
 *	    transport error, 5xx, 401 -> exponential backoff, then retry
 *
 * Changes are coalesced for a short moment and then handed to the scrape
 * manager as one source per config ("kubernetes/<n>"); nothing is handed
 * over before every watch of the config has listed once, so targets do
 * not appear first without the pod or service labels they will get.
 */
#ifndef PROMLET_K8S_SD_H
#define PROMLET_K8S_SD_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "scrape.h"

struct buf;
struct event_base;
struct http_client;
struct json_t;
struct k8s_sd;

/* Resources a config may watch. */
enum k8s_sd_kind {
	K8S_SD_PODS = 0,
	K8S_SD_NODES,
	K8S_SD_SERVICES,
	K8S_SD_ENDPOINTS,
	K8S_SD_ENDPOINTSLICES,
};
#define K8S_SD_NKINDS	5

struct k8s_sd	*k8s_sd_create(struct event_base *, struct http_client *,
		    struct scrape_manager *, const char *job,
		    const struct config_k8s_sd *, size_t);
void		 k8s_sd_free(struct k8s_sd *);

/* ---- the pure part (k8s_sd_meta.c), exposed for tests ----------------- */

/* Target groups built for a config; every string lives in the arena. */
struct k8s_sd_groups {
	struct target_group	*v;
	size_t			 n;
	size_t			 cap;
	struct arena		 strings;
};

/* A stored object by kind and key, or NULL. */
typedef struct json_t *(*k8s_sd_lookup_cb)(enum k8s_sd_kind, const char *,
		    void *);

void		 k8s_sd_groups_init(struct k8s_sd_groups *);
void		 k8s_sd_groups_free(struct k8s_sd_groups *);
/* A hash of every group's labels and targets, to skip no-op updates. */
uint64_t	 k8s_sd_groups_hash(const struct k8s_sd_groups *);
/*
 * Append the targets one object yields for a role, one group per target
 * (group and target labels merged, target labels winning, as Prometheus
 * merges them). The lookup resolves pods, services and nodes an object
 * refers to; with attach_node, node labels are added. Empty label
 * values are dropped (Prometheus treats them as absent).
 */
void		 k8s_sd_build(enum config_k8s_role, int attach_node,
		    struct json_t *, k8s_sd_lookup_cb, void *,
		    struct k8s_sd_groups *);
/* A new object with only the fields discovery reads (no managedFields,
 * env, volumes, ...); leaf values are shared with the input. */
struct json_t	*k8s_sd_trim(enum k8s_sd_kind, struct json_t *);
/* "namespace/name", or "name" for nodes; NULL without a name. */
char		*k8s_sd_key(enum k8s_sd_kind, struct json_t *);
/* The kind a role's objects are (pods for pod, ...). */
enum k8s_sd_kind k8s_sd_role_kind(enum config_k8s_role);
/* "pods", "nodes", ... and the API path of a collection. */
const char	*k8s_sd_kind_name(enum k8s_sd_kind);
void		 k8s_sd_collection_path(struct buf *, enum k8s_sd_kind,
		    const char *ns);
/* Prometheus's label name sanitising: anything but [a-zA-Z0-9_] -> _. */
void		 k8s_sd_sanitize(struct buf *, const char *);
/* Percent-encode a query parameter value. */
void		 k8s_sd_query_escape(struct buf *, const char *);
/* "host:port", "[v6]:port". */
void		 k8s_sd_join_host_port(struct buf *, const char *,
		    long long);
/* For a pod selector "spec.nodeName=X" (alone or among others) return X,
 * else NULL; used to watch only that node for attach_metadata. */
char		*k8s_sd_selector_node(const char *field);

#endif
