/*
 * File-based service discovery. Reading a file is a few small read(2)
 * calls on the loop thread: target files are tiny and local.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "file_sd.h"
#include "labels.h"
#include "log.h"
#include "loop.h"
#include "scrape.h"
#include "xmalloc.h"
#include "yaml.h"

#define FILE_SD_MAX_BYTES	(16 * 1024 * 1024)

struct file_sd_known {
	char		*path;
	int		 seen;
};

struct file_sd {
	struct event_base		*base;
	struct scrape_manager		*sm;
	char				*job;
	const struct config_file_sd	*cfg;
	size_t				 ncfg;
	int				 ifd;
	struct event			*iev;
	struct event			*timer;
	struct event			*debounce;
	struct file_sd_known		*known;
	size_t				 nknown;
};

void
file_sd_groups_free(struct target_group *g, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; k < g[i].ntargets; k++)
			free(g[i].targets[k]);
		free(g[i].targets);
		for (k = 0; k < g[i].labels.n; k++) {
			free((char *)g[i].labels.v[k].name.p);
			free((char *)g[i].labels.v[k].value.p);
		}
		labels_free(&g[i].labels);
	}
	free(g);
}

static void
file_sd_add_label(struct target_group *g, const char *name, const char *value)
{
	labels_set(&g->labels, (struct lstr){ xstrdup(name), strlen(name) },
	    (struct lstr){ xstrdup(value), strlen(value) });
}

void
file_sd_groups_label(struct target_group *g, size_t n, const char *name,
    const char *value)
{
	size_t i;

	for (i = 0; i < n; i++)
		file_sd_add_label(&g[i], name, value);
}

int
file_sd_parse_json(const char *path, const char *buf, size_t len,
    struct target_group **out, size_t *nout, char **cause)
{
	json_error_t err;
	json_t *root, *grp, *targets, *labels, *v;
	struct target_group *g = NULL;
	size_t i, k, n = 0;
	const char *key;

	if ((root = json_loadb(buf, len, 0, &err)) == NULL) {
		xasprintf(cause, "%s:%d:%d: %s", path, err.line, err.column,
		    err.text);
		return -1;
	}
	if (!json_is_array(root)) {
		xasprintf(cause, "%s: expected a list of target groups", path);
		goto fail;
	}
	g = xcalloc(json_array_size(root) + 1, sizeof *g);
	json_array_foreach(root, i, grp) {
		struct target_group *tg = &g[n++];

		labels_init(&tg->labels);
		if (!json_is_object(grp)) {
			xasprintf(cause, "%s: group %zu is not an object",
			    path, i);
			goto fail;
		}
		json_object_foreach(grp, key, v) {
			if (strcmp(key, "targets") != 0 &&
			    strcmp(key, "labels") != 0) {
				xasprintf(cause, "%s: group %zu: unknown key "
				    "\"%s\"", path, i, key);
				goto fail;
			}
		}
		targets = json_object_get(grp, "targets");
		if (targets != NULL && !json_is_array(targets)) {
			xasprintf(cause, "%s: group %zu: targets must be a "
			    "list", path, i);
			goto fail;
		}
		tg->targets = xcalloc(json_array_size(targets) + 1,
		    sizeof *tg->targets);
		json_array_foreach(targets, k, v) {
			if (!json_is_string(v) || json_string_length(v) == 0) {
				xasprintf(cause, "%s: group %zu: target %zu is "
				    "not a non-empty string", path, i, k);
				goto fail;
			}
			tg->targets[tg->ntargets++] = xstrdup(
			    json_string_value(v));
		}
		labels = json_object_get(grp, "labels");
		if (labels != NULL && !json_is_object(labels) &&
		    !json_is_null(labels)) {
			xasprintf(cause, "%s: group %zu: labels must be an "
			    "object", path, i);
			goto fail;
		}
		json_object_foreach(labels, key, v) {
			if (!labels_valid_label_name((struct lstr){ key,
			    strlen(key) })) {
				xasprintf(cause, "%s: group %zu: \"%s\" is not "
				    "a valid label name", path, i, key);
				goto fail;
			}
			if (!json_is_string(v)) {
				xasprintf(cause, "%s: group %zu: label \"%s\" "
				    "is not a string", path, i, key);
				goto fail;
			}
			file_sd_add_label(tg, key, json_string_value(v));
		}
	}
	json_decref(root);
	*out = g;
	*nout = n;
	return 0;
fail:
	json_decref(root);
	file_sd_groups_free(g, n);
	return -1;
}

static int
file_sd_parse_yaml(const char *path, const char *buf, size_t len,
    struct target_group **out, size_t *nout, char **cause)
{
	struct yaml_tree *tree;
	struct ynode *root, *grp, *targets, *labels;
	struct target_group *g = NULL;
	size_t i, k, n = 0;

	if ((tree = yaml_tree_load(path, buf, len, cause)) == NULL)
		return -1;
	root = tree->root;
	if (root == NULL) {
		yaml_tree_free(tree);
		*out = xcalloc(1, sizeof **out);
		*nout = 0;
		return 0;
	}
	if (root->type != YNODE_SEQ) {
		xasprintf(cause, "%s:%u:%u: expected a list of target groups",
		    path, root->line, root->column);
		goto fail;
	}
	g = xcalloc(root->n + 1, sizeof *g);
	for (i = 0; i < root->n; i++) {
		struct target_group *tg = &g[n++];

		labels_init(&tg->labels);
		grp = root->v[i];
		if (grp->type != YNODE_MAP) {
			xasprintf(cause, "%s:%u:%u: expected a mapping", path,
			    grp->line, grp->column);
			goto fail;
		}
		for (k = 0; k < grp->n; k++) {
			const char *key = YNODE_KEY(grp, k)->value;
			if (strcmp(key, "targets") != 0 &&
			    strcmp(key, "labels") != 0) {
				xasprintf(cause, "%s:%u:%u: unknown key \"%s\"",
				    path, YNODE_KEY(grp, k)->line,
				    YNODE_KEY(grp, k)->column, key);
				goto fail;
			}
		}
		targets = yaml_tree_map_get(grp, "targets");
		if (targets != NULL && targets->type != YNODE_SEQ &&
		    !(targets->flags & YNODE_NULL)) {
			xasprintf(cause, "%s:%u:%u: targets must be a list",
			    path, targets->line, targets->column);
			goto fail;
		}
		tg->targets = xcalloc((targets != NULL &&
		    targets->type == YNODE_SEQ ? targets->n : 0) + 1,
		    sizeof *tg->targets);
		for (k = 0; targets != NULL && targets->type == YNODE_SEQ &&
		    k < targets->n; k++) {
			struct ynode *t = targets->v[k];
			if (t->type != YNODE_SCALAR || t->len == 0) {
				xasprintf(cause, "%s:%u:%u: a target must be a "
				    "non-empty string", path, t->line,
				    t->column);
				goto fail;
			}
			tg->targets[tg->ntargets++] = xstrdup(t->value);
		}
		labels = yaml_tree_map_get(grp, "labels");
		if (labels == NULL || (labels->type == YNODE_SCALAR &&
		    (labels->flags & YNODE_NULL)))
			continue;
		if (labels->type != YNODE_MAP) {
			xasprintf(cause, "%s:%u:%u: labels must be a mapping",
			    path, labels->line, labels->column);
			goto fail;
		}
		for (k = 0; k < labels->n; k++) {
			struct ynode *kn = YNODE_KEY(labels, k);
			struct ynode *vn = YNODE_VAL(labels, k);
			if (!labels_valid_label_name((struct lstr){ kn->value,
			    kn->len })) {
				xasprintf(cause, "%s:%u:%u: \"%s\" is not a "
				    "valid label name", path, kn->line,
				    kn->column, kn->value);
				goto fail;
			}
			if (vn->type != YNODE_SCALAR) {
				xasprintf(cause, "%s:%u:%u: label \"%s\" must "
				    "be a string", path, vn->line, vn->column,
				    kn->value);
				goto fail;
			}
			file_sd_add_label(tg, kn->value, vn->value);
		}
	}
	yaml_tree_free(tree);
	*out = g;
	*nout = n;
	return 0;
fail:
	yaml_tree_free(tree);
	file_sd_groups_free(g, n);
	return -1;
}

int
file_sd_parse(const char *path, const char *buf, size_t len,
    struct target_group **out, size_t *nout, char **cause)
{
	const char *dot = strrchr(path, '.');
	int rc;

	if (dot != NULL && strcmp(dot, ".json") == 0)
		rc = file_sd_parse_json(path, buf, len, out, nout, cause);
	else if (dot != NULL && (strcmp(dot, ".yml") == 0 ||
	    strcmp(dot, ".yaml") == 0))
		rc = file_sd_parse_yaml(path, buf, len, out, nout, cause);
	else {
		xasprintf(cause, "%s: unknown file extension (want .json, "
		    ".yml or .yaml)", path);
		return -1;
	}
	if (rc == 0)
		file_sd_groups_label(*out, *nout, "__meta_filepath", path);
	return rc;
}

static int
file_sd_read(const char *path, struct buf *b, char **cause)
{
	char chunk[65536];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || b->len + (size_t)n > FILE_SD_MAX_BYTES) {
			xasprintf(cause, "%s: %s", path, n == -1 ?
			    strerror(errno) : "file too large");
			close(fd);
			return -1;
		}
		buf_append(b, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

static struct file_sd_known *
file_sd_known_find(struct file_sd *fs, const char *path)
{
	size_t i;

	for (i = 0; i < fs->nknown; i++)
		if (strcmp(fs->known[i].path, path) == 0)
			return &fs->known[i];
	return NULL;
}

static void
file_sd_source_name(char *out, size_t len, const char *path)
{
	snprintf(out, len, "file:%s", path);
}

/* Re-read every matching file and hand the groups to the scraper. */
static void
file_sd_refresh(struct file_sd *fs)
{
	struct target_group *groups;
	struct file_sd_known *k;
	struct buf b = BUF_INIT;
	char *cause, source[4096];
	size_t i, j, n;
	glob_t gl;

	for (i = 0; i < fs->nknown; i++)
		fs->known[i].seen = 0;
	for (i = 0; i < fs->ncfg; i++) {
		for (j = 0; j < fs->cfg[i].nfiles; j++) {
			size_t m;

			memset(&gl, 0, sizeof gl);
			if (glob(fs->cfg[i].files[j], 0, NULL, &gl) != 0) {
				globfree(&gl);
				continue;
			}
			for (m = 0; m < gl.gl_pathc; m++) {
				const char *path = gl.gl_pathv[m];

				if ((k = file_sd_known_find(fs, path)) == NULL) {
					fs->known = xreallocarray(fs->known,
					    fs->nknown + 1, sizeof *fs->known);
					k = &fs->known[fs->nknown++];
					k->path = xstrdup(path);
					k->seen = 0;
				}
				if (k->seen)
					continue;
				k->seen = 1;
				cause = NULL;
				buf_reset(&b);
				if (file_sd_read(path, &b, &cause) == -1 ||
				    file_sd_parse(path, b.data == NULL ? "" :
				    b.data, b.len, &groups, &n, &cause) == -1) {
					/* Keep the previous targets. */
					log_error("file_sd: cannot use file, "
					    "keeping its previous targets",
					    "job=%s err=%s", fs->job, cause);
					free(cause);
					continue;
				}
				file_sd_source_name(source, sizeof source,
				    path);
				log_debug("file_sd: file read", "job=%s "
				    "file=%s groups=%zu", fs->job, path, n);
				scrape_manager_set_targets(fs->sm, fs->job,
				    source, groups, n);
				file_sd_groups_free(groups, n);
			}
			globfree(&gl);
		}
	}
	/* Files that no longer match lose their targets. */
	for (i = 0; i < fs->nknown; ) {
		if (fs->known[i].seen) {
			i++;
			continue;
		}
		file_sd_source_name(source, sizeof source, fs->known[i].path);
		scrape_manager_set_targets(fs->sm, fs->job, source, NULL, 0);
		free(fs->known[i].path);
		fs->known[i] = fs->known[--fs->nknown];
	}
	buf_free(&b);
}

static void
file_sd_refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	file_sd_refresh(arg);
}

/* Editors write files in several steps: wait for the burst to end. */
static void
file_sd_inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct file_sd *fs = arg;
	struct timeval tv = { 0, 100 * 1000 };
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(fs->ifd, ev, sizeof ev) > 0)
		;
	evtimer_add(fs->debounce, &tv);
}

struct file_sd *
file_sd_create(struct event_base *base, struct scrape_manager *sm,
    const char *job, const struct config_file_sd *cfg, size_t n)
{
	struct file_sd *fs;
	int64_t refresh = 0;
	size_t i, j;

	fs = xcalloc(1, sizeof *fs);
	fs->base = base;
	fs->sm = sm;
	fs->job = xstrdup(job);
	fs->cfg = cfg;
	fs->ncfg = n;
	fs->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fs->ifd != -1) {
		for (i = 0; i < n; i++) {
			for (j = 0; j < cfg[i].nfiles; j++) {
				char *copy = xstrdup(cfg[i].files[j]);
				const char *dir = dirname(copy);

				if (inotify_add_watch(fs->ifd, dir, IN_CREATE |
				    IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_TO |
				    IN_MOVED_FROM | IN_MODIFY) == -1)
					log_warn("file_sd: cannot watch "
					    "directory, relying on "
					    "refresh_interval", "job=%s dir=%s "
					    "err=%s", job, dir,
					    strerror(errno));
				free(copy);
			}
		}
		fs->iev = event_new(base, fs->ifd, EV_READ | EV_PERSIST,
		    file_sd_inotify_cb, fs);
		event_add(fs->iev, NULL);
	}
	fs->debounce = evtimer_new(base, file_sd_refresh_cb, fs);
	for (i = 0; i < n; i++) {
		if (refresh == 0 || (cfg[i].refresh_interval_ms > 0 &&
		    cfg[i].refresh_interval_ms < refresh))
			refresh = cfg[i].refresh_interval_ms;
	}
	if (refresh <= 0)
		refresh = 5 * 60 * 1000;
	fs->timer = event_new(base, -1, EV_PERSIST, file_sd_refresh_cb, fs);
	loop_timer_add_ms(fs->timer, refresh);
	file_sd_refresh(fs);
	return fs;
}

void
file_sd_free(struct file_sd *fs)
{
	size_t i;

	if (fs == NULL)
		return;
	if (fs->iev != NULL)
		event_free(fs->iev);
	if (fs->ifd != -1)
		close(fs->ifd);
	if (fs->timer != NULL)
		event_free(fs->timer);
	if (fs->debounce != NULL)
		event_free(fs->debounce);
	for (i = 0; i < fs->nknown; i++)
		free(fs->known[i].path);
	free(fs->known);
	free(fs->job);
	free(fs);
}
