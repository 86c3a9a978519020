/*
 * file_sd_configs: targets from JSON or YAML files matched by globs.
 *
 * A file holds a list of target groups:
 *
 *	[ { "targets": ["host:9100", ...], "labels": { "env": "prod" } } ]
 *
 * Changes are picked up through inotify on the directories of the
 * patterns, with refresh_interval as a fallback (network filesystems,
 * missed events). A file that fails to parse is logged and its previous
 * targets are kept, as Prometheus does; a file that disappears takes its
 * targets with it. Each target gets __meta_filepath.
 */
#ifndef PROMLET_FILE_SD_H
#define PROMLET_FILE_SD_H

#include <stddef.h>

struct config_file_sd;
struct event_base;
struct scrape_manager;
struct target_group;
struct file_sd;

struct file_sd	*file_sd_create(struct event_base *, struct scrape_manager *,
		    const char *job, const struct config_file_sd *, size_t);
void		 file_sd_free(struct file_sd *);
/* Parse one file's content; exposed for tests. Returns -1 with *cause. */
int		 file_sd_parse(const char *path, const char *buf, size_t len,
		    struct target_group **, size_t *, char **cause);
/*
 * The JSON form alone (http_sd's too): unknown keys are errors, as in
 * Prometheus's strict decoding of a target group. name prefixes errors.
 */
int		 file_sd_parse_json(const char *name, const char *buf,
		    size_t len, struct target_group **, size_t *, char **cause);
/* Set a label (a __meta_ one) on each of n groups. */
void		 file_sd_groups_label(struct target_group *, size_t,
		    const char *name, const char *value);
void		 file_sd_groups_free(struct target_group *, size_t);

#endif
