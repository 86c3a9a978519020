/*
 * The loaded configuration: a prometheus.yml subset.
 *
 * config_load() parses YAML with libyaml, fills Prometheus's defaults and
 * validates everything; the result is immutable and owned by the caller
 * (config_free). Errors name file:line:column and the key. Unknown keys are
 * errors; known Prometheus features outside the subset get an error that
 * says promlet does not support them.
 *
 * Durations are in milliseconds. Secrets (passwords, credentials, client
 * secrets) are kept here but never printed: config_dump() redacts them.
 *
 * Scalar values may use ${NAME} for an environment variable (an unset one
 * is an error) and $$ for a literal dollar; relabel replacement and
 * target_label are exempt because they use $1/${name} themselves. Relative
 * file paths are resolved against the directory of the config file.
 * docs/configuration.md lists the supported subset.
 */
#ifndef PROMLET_CONFIG_H
#define PROMLET_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"
#include "relabel.h"

struct buf;

/* Owned name=value pairs (external_labels, static labels, params, headers). */
struct config_kv {
	char	*name;
	char	*value;
};

struct config_kvs {
	struct config_kv	*v;
	size_t			 n;
};

struct config_tls {
	char	*ca_file;
	char	*cert_file;
	char	*key_file;
	/* The same as PEM in the config (ca, cert, key); checked at load. */
	char	*ca;
	char	*cert;
	char	*key;		/* secret */
	char	*server_name;
	int	 insecure_skip_verify;
	char	*min_version;	/* "TLS12" etc., NULL = default */
	char	*max_version;	/* NULL = library default */
};

struct config_oauth2;

/*
 * One http_headers entry, as Prometheus's HTTP client sends it: a line
 * per value, secret and file (in that order), the name in Go's canonical
 * form. Files are read at every request, so a rotated one applies
 * without a reload; their content is sent trimmed of white space.
 */
struct config_header {
	char			 *name;		/* canonical: X-Foo-Id */
	char			**values;
	size_t			  nvalues;
	char			**secrets;	/* secret */
	size_t			  nsecrets;
	char			**files;	/* absolute */
	size_t			  nfiles;
};

/* HTTP client settings shared by scrape and remote write. */
struct config_http {
	/* Non-NULL (maybe "") exactly when basic_auth is configured. */
	char			*basic_auth_username;
	char			*basic_auth_password;		/* secret */
	char			*basic_auth_password_file;
	char			*basic_auth_username_file;	/* read per request */
	/* "Bearer" when authorization or bearer_token(_file) is set, else NULL;
	 * bearer_token(_file) land in authorization_credentials(_file). */
	char			*authorization_type;
	char			*authorization_credentials;	/* secret */
	char			*authorization_credentials_file;
	struct config_tls	 tls;
	char			*proxy_url;
	char			*no_proxy;	/* comma-separated hosts */
	int			 proxy_from_environment;	/* default 0 */
	int			 follow_redirects;		/* default 1 */
	int			 enable_http2;	/* default 1 scrape, 0 rw */
	struct config_oauth2	*oauth2;	/* NULL = none */
	struct config_header	*headers;	/* http_headers */
	size_t			 nheaders;
	/*
	 * proxy_connect_header: for the proxy, in the CONNECT of an https://
	 * request, as Go sends it; a name once per value (secrets), names
	 * as written.
	 */
	struct config_kvs	 proxy_connect_header;
};

/*
 * oauth2: the client credentials grant (RFC 6749 4.4), as Prometheus's
 * HTTP client does it. The token request has TLS and proxy settings of
 * its own, in http (no auth there).
 */
struct config_oauth2 {
	char			*client_id;
	char			*client_secret;		/* secret */
	char			*client_secret_file;
	char			**scopes;
	size_t			  nscopes;
	char			*token_url;
	struct config_kvs	  endpoint_params;	/* sorted by name */
	struct config_http	  http;
	/*
	 * Every setting above in one string: requests whose configs have
	 * equal keys share a token (across jobs and reloads). Holds the
	 * secret, so it is never printed.
	 */
	char			*key;
};

struct config_static {
	char			**targets;
	size_t			  ntargets;
	struct config_kvs	  labels;
};

struct config_file_sd {
	char			**files;	/* globs allowed */
	size_t			  nfiles;
	int64_t			  refresh_interval_ms;	/* default 5m */
};

/* http_sd_configs. */
struct config_http_sd {
	char			*url;		/* http(s)://host... */
	int64_t			 refresh_interval_ms;	/* def. 60s */
	struct config_http	 http;
	unsigned		 line;
};

/* kubernetes_sd_configs. */
enum config_k8s_role {
	CONFIG_K8S_POD = 0,
	CONFIG_K8S_NODE,
	CONFIG_K8S_ENDPOINTS,
	CONFIG_K8S_ENDPOINTSLICE,
	CONFIG_K8S_SERVICE,
};

struct config_k8s_selector {
	enum config_k8s_role	 role;
	char			*label;		/* NULL = none */
	char			*field;		/* NULL = none */
};

struct config_k8s_sd {
	enum config_k8s_role		 role;
	char				*api_server;	/* NULL = in-cluster */
	char				**namespaces;	/* none = all */
	size_t				  nnamespaces;
	int				  own_namespace;
	struct config_k8s_selector	 *selectors;	/* one per role */
	size_t				  nselectors;
	int				  attach_metadata_node;
	/* Only set with api_server; in-cluster uses the service account. */
	struct config_http		  http;
	unsigned			  line;
};

struct config_scrape {
	char			*job_name;
	int64_t			 scrape_interval_ms;
	int64_t			 scrape_timeout_ms;
	char			*metrics_path;		/* default /metrics */
	char			*scheme;		/* default http */
	struct config_kvs	 params;	/* repeated names allowed */
	int			 honor_labels;
	int			 honor_timestamps;	/* default 1 */
	struct config_static	*static_configs;
	size_t			 nstatic;
	struct config_file_sd	*file_sd;
	size_t			 nfile_sd;
	uint64_t		 sample_limit;		/* 0 = none */
	uint64_t		 label_limit;
	uint64_t		 label_name_length_limit;
	uint64_t		 label_value_length_limit;
	uint64_t		 body_size_limit;	/* bytes, 0 = none */
	struct config_http	 http;
	struct relabel_rules	 relabel;
	struct relabel_rules	 metric_relabel;
	unsigned		 line;		/* where it was defined */
	/* The scrape_config_files file it came from; NULL: the config. */
	char			*file;

	/* In Accept preference order, Prometheus spelling
	 * ("OpenMetricsText1.0.0", "PrometheusText0.0.4", ...). */
	char			**scrape_protocols;
	size_t			  nscrape_protocols;
	char			 *fallback_scrape_protocol;	/* or NULL */
	int			  enable_compression;		/* default 1 */
	int			  track_timestamps_staleness;	/* default 0 */
	int			  extra_scrape_metrics;		/* default 0 */
	uint64_t		  target_limit;			/* 0 = none */
	uint64_t		  keep_dropped_targets;		/* 0 = all */
	struct config_k8s_sd	 *k8s_sd;
	size_t			  nk8s_sd;
	struct config_http_sd	 *http_sd;
	size_t			  nhttp_sd;
};

struct config_queue {
	int64_t		capacity;		/* 10000 */
	int64_t		min_shards;		/* 1 */
	int64_t		max_shards;		/* 50 */
	int64_t		max_samples_per_send;	/* 2000 */
	int64_t		batch_send_deadline_ms;	/* 5s */
	int64_t		min_backoff_ms;		/* 30ms */
	int64_t		max_backoff_ms;		/* 5s */
	int		retry_on_http_429;	/* promlet default 1 */
	int64_t		sample_age_limit_ms;	/* 0 = off */
};

enum config_azuread_method {
	AZUREAD_NONE = 0,
	AZUREAD_MANAGED_IDENTITY,
	AZUREAD_OAUTH,		/* client secret */
	AZUREAD_CERTIFICATE,
	AZUREAD_WORKLOAD_IDENTITY,
};

struct config_azuread {
	enum config_azuread_method method;
	/* AzurePublic (default), AzureChina, AzureGovernment */
	char	*cloud;
	char	*client_id;		/* may be NULL for system-assigned MI */
	char	*tenant_id;
	char	*client_secret;		/* secret */
	char	*client_secret_file;
	char	*certificate_file;	/* PEM cert (+ key unless below) */
	char	*token_file_path;	/* workload identity */
	char	*scope;			/* override; NULL = per cloud */
	char	*certificate_key_file;	/* separate PEM key, NULL = in cert */
	int	 send_certificate_chain;	/* x5c header, default 0 */
};

struct config_remote_write {
	char			*url;
	char			*name;	/* default: hash of the config */
	int64_t			 remote_timeout_ms;	/* 30s */
	struct config_kvs	 headers;
	struct relabel_rules	 write_relabel;
	struct config_queue	 queue;
	int			 metadata_send;		/* default 1 */
	int64_t			 metadata_send_interval_ms;	/* 1m */
	int64_t			 metadata_max_samples_per_send;	/* 2000 */
	struct config_http	 http;
	struct config_azuread	 azuread;
	/* Limits a receiver enforces; series beyond them are dropped before
	 * sending. Defaults fit Azure Monitor; 0 = no limit. */
	uint64_t		 max_label_count;	/* 63 */
	uint64_t		 max_label_name_length;	/* 511 */
	uint64_t		 max_label_value_length;/* 1023 */
	unsigned		 line;
};

struct config {
	char				*path;
	int64_t				 scrape_interval_ms;	/* 1m */
	int64_t				 scrape_timeout_ms;	/* 10s */
	struct config_kvs		 external_labels;	/* sorted */
	struct config_scrape		*scrape;
	size_t				 nscrape;
	struct config_remote_write	*remote_write;
	size_t				 nremote_write;
	char				**scrape_protocols;	/* global */
	size_t				  nscrape_protocols;
	/* scrape_config_files, made absolute: for config_files_checksum. */
	char				**include_globs;
	size_t				  ninclude_globs;
	/*
	 * config_files_checksum of the bytes this config was read from
	 * (config_load; 0 from config_load_string): an edit made while it
	 * loaded makes the files differ from it.
	 */
	uint64_t			  files_sum;
};

/* Returns NULL and an allocated "file:line:col: message" in *cause. */
struct config	*config_load(const char *path, char **cause);
struct config	*config_load_string(const char *name, const char *yaml,
		    size_t len, char **cause);
void		 config_free(struct config *);
/*
 * A checksum of the config file at path and of the files cfg's
 * scrape_config_files patterns match now, names and contents, to notice
 * an edit (--enable-feature=auto-reload-config). A file that cannot be
 * read counts as a content of its own, so that fixing it is an edit too.
 */
uint64_t	 config_files_checksum(const struct config *cfg,
		    const char *path);
/* The config as YAML with every secret replaced by <secret>. */
void		 config_dump(const struct config *, struct buf *);
/* Prometheus duration syntax: 1h30m, 500ms, 1d, 1w, 1y. */
int		 config_parse_duration(const char *, int64_t *ms);
/* A stable identity for comparing configs across reloads. */
uint64_t	 config_scrape_hash(const struct config_scrape *);
uint64_t	 config_remote_write_hash(const struct config_remote_write *);
/* Prometheus size syntax (units.ParseBase2Bytes): 10MB = 10MiB, 1.5GB. */
int		 config_parse_size(const char *, uint64_t *bytes);
/* "pod", "node", ... */
const char	*config_k8s_role_name(enum config_k8s_role);
/* A copy of a URL fit for logs: the password of user:pass@ as <secret>. */
char		*config_redact_url(const char *);
/* A deep copy, for a token source that outlives its config. */
struct config_oauth2 *config_oauth2_dup(const struct config_oauth2 *);
void		 config_oauth2_free(struct config_oauth2 *);

#endif
