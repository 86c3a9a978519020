/*
 * Subcommands. Each returns the process exit status: 0 on success, 1 when
 * the input was bad, 2 for usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "cli.h"
#include "config.h"
#include "labels.h"
#include "relabel.h"
#include "textparse.h"
#include "xmalloc.h"

/* Read a whole file, or stdin for "-", into b. */
static int
cli_read_file(const char *path, struct buf *b, char **cause)
{
	char chunk[65536];
	ssize_t n;
	int fd;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			xasprintf(cause, "%s: %s", path, strerror(errno));
			if (fd != STDIN_FILENO)
				close(fd);
			return -1;
		}
		buf_append(b, chunk, (size_t)n);
	}
	if (fd != STDIN_FILENO)
		close(fd);
	return 0;
}

int
cli_check_config(int argc, char **argv)
{
	struct config *cfg;
	char *cause = NULL;
	size_t i;

	if (argc < 1) {
		fprintf(stderr, "usage: promlet check config FILE...\n");
		return 2;
	}
	for (i = 0; i < (size_t)argc; i++) {
		if ((cfg = config_load(argv[i], &cause)) == NULL) {
			fprintf(stderr, "FAILED: %s\n", cause);
			free(cause);
			return 1;
		}
		printf("SUCCESS: %s is valid: %zu scrape configs, "
		    "%zu remote_write endpoints\n", argv[i], cfg->nscrape,
		    cfg->nremote_write);
		config_free(cfg);
	}
	return 0;
}

static void
cli_print_value(struct buf *out, double v)
{
	if (isnan(v))
		buf_puts(out, "NaN");
	else if (isinf(v))
		buf_puts(out, v > 0 ? "+Inf" : "-Inf");
	else
		buf_printf(out, "%.17g", v);
}

int
cli_debug_parse(int argc, char **argv)
{
	enum textparse_format fmt = TEXTPARSE_PROMTEXT;
	struct buf page = BUF_INIT, out = BUF_INIT, scratch = BUF_INIT;
	struct labels ls = LABELS_INIT;
	struct textparse p;
	enum textparse_entry e;
	const char *path = NULL;
	char *cause = NULL;
	int64_t ts;
	int i, rc = 0;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--openmetrics") == 0)
			fmt = TEXTPARSE_OPENMETRICS;
		else if (path == NULL)
			path = argv[i];
		else
			path = NULL, i = argc;
	}
	if (path == NULL) {
		fprintf(stderr,
		    "usage: promlet debug parse [--openmetrics] FILE|-\n");
		return 2;
	}
	if (cli_read_file(path, &page, &cause) == -1) {
		fprintf(stderr, "error: %s\n", cause);
		free(cause);
		return 1;
	}
	textparse_init(&p, page.data == NULL ? "" : page.data, page.len, fmt);
	while ((e = textparse_next(&p)) != TEXTPARSE_EOF) {
		if (e == TEXTPARSE_ERROR)
			break;
		if (e != TEXTPARSE_SERIES)
			continue;
		if (textparse_labels(&p, &ls, &scratch) == -1) {
			e = TEXTPARSE_ERROR;
			break;
		}
		buf_reset(&out);
		labels_format(&ls, &out);
		buf_putc(&out, ' ');
		cli_print_value(&out, textparse_value(&p));
		if (textparse_timestamp(&p, &ts))
			buf_printf(&out, " %lld", (long long)ts);
		buf_putc(&out, '\n');
		fwrite(out.data, 1, out.len, stdout);
	}
	if (e == TEXTPARSE_ERROR) {
		fprintf(stderr, "%s:%s\n", path, textparse_error(&p));
		rc = 1;
	}
	labels_free(&ls);
	buf_free(&page);
	buf_free(&out);
	buf_free(&scratch);
	return rc;
}

static const struct relabel_rules *
cli_find_rules(const struct config *cfg, const char *job, const char *rw,
    int target_stage, char **cause)
{
	size_t i;

	if (job != NULL) {
		for (i = 0; i < cfg->nscrape; i++) {
			if (strcmp(cfg->scrape[i].job_name, job) == 0)
				return target_stage ? &cfg->scrape[i].relabel :
				    &cfg->scrape[i].metric_relabel;
		}
		xasprintf(cause, "no scrape config with job_name \"%s\"", job);
		return NULL;
	}
	for (i = 0; i < cfg->nremote_write; i++) {
		if (strcmp(cfg->remote_write[i].name, rw) == 0)
			return &cfg->remote_write[i].write_relabel;
	}
	xasprintf(cause, "no remote_write with name \"%s\"", rw);
	return NULL;
}

int
cli_debug_relabel(int argc, char **argv)
{
	const char *file = NULL, *job = NULL, *rw = NULL, *series = NULL;
	const struct relabel_rules *rules;
	struct buf text = BUF_INIT, scratch = BUF_INIT, out = BUF_INIT;
	struct labels ls = LABELS_INIT;
	struct arena arena = ARENA_INIT;
	struct config *cfg = NULL;
	struct textparse p;
	char *cause = NULL;
	int i, target_stage = 0, rc = 1;
	size_t k;

	for (i = 0; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 ||
		    strcmp(argv[i], "--config.file") == 0) && i + 1 < argc)
			file = argv[++i];
		else if (strcmp(argv[i], "--job") == 0 && i + 1 < argc)
			job = argv[++i];
		else if (strcmp(argv[i], "--remote-write") == 0 && i + 1 < argc)
			rw = argv[++i];
		else if (strcmp(argv[i], "--target") == 0)
			target_stage = 1;
		else if (series == NULL && argv[i][0] != '-')
			series = argv[i];
		else
			file = NULL, i = argc;
	}
	if (file == NULL || series == NULL || (job == NULL) == (rw == NULL)) {
		fprintf(stderr, "usage: promlet debug relabel -c FILE "
		    "(--job NAME [--target] | --remote-write NAME) "
		    "'metric{a=\"1\"}'\n");
		return 2;
	}
	if ((cfg = config_load(file, &cause)) == NULL)
		goto out;
	if ((rules = cli_find_rules(cfg, job, rw, target_stage, &cause)) == NULL)
		goto out;

	/*
	 * Reuse the page parser: the series is a page line without a value.
	 * Target label sets have no name, which a page line must have, so
	 * lend them one and take it back.
	 */
	buf_printf(&text, "%s%s 0\n", series[0] == '{' ? "x" : "", series);
	textparse_init(&p, text.data, text.len, TEXTPARSE_PROMTEXT);
	if (textparse_next(&p) != TEXTPARSE_SERIES ||
	    textparse_labels(&p, &ls, &scratch) == -1) {
		xasprintf(&cause, "bad series %s: %s", series,
		    textparse_error(&p));
		goto out;
	}
	if (series[0] == '{')
		labels_del(&ls, LSTR(LABELS_METRIC_NAME));
	/* Write relabeling sees external labels, as in Prometheus. */
	if (rw != NULL) {
		for (k = 0; k < cfg->external_labels.n; k++) {
			struct lstr n = { cfg->external_labels.v[k].name,
			    strlen(cfg->external_labels.v[k].name) };
			struct lstr v = { cfg->external_labels.v[k].value,
			    strlen(cfg->external_labels.v[k].value) };
			if (labels_get(&ls, n) == NULL)
				labels_set(&ls, n, v);
		}
	}
	if (relabel_apply(rules, &ls, &arena))
		labels_format(&ls, &out), printf("%s\n", out.data);
	else
		printf("dropped\n");
	rc = 0;
out:
	if (cause != NULL) {
		fprintf(stderr, "error: %s\n", cause);
		free(cause);
	}
	config_free(cfg);
	labels_free(&ls);
	arena_free(&arena);
	buf_free(&text);
	buf_free(&scratch);
	buf_free(&out);
	return rc;
}
