/*
 * Relabeling against Prometheus's own test vectors (../shared/conformance:
 * relabel_cases.json and relabel_extra.json), plus a timing of the three
 * benchmark configs found there. Skips when the folder is absent.
 *
 * Not applicable here: cases that need UTF-8 label names (promlet keeps
 * Prometheus's legacy names). They still run, and must be rejected the
 * way legacy validation rejects them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define YAML_TREE_LIBYAML
#include <yaml.h>

#include "arena.h"
#include "buf.h"
#include "labels.h"
#include "relabel.h"
#include "xmalloc.h"

#define CONF_DIR	TOP_SRCDIR "/../shared/conformance"

static json_t *
load_json(const char *name)
{
	json_error_t err;
	json_t *j;
	char *path;

	xasprintf(&path, "%s/%s", CONF_DIR, name);
	if (access(path, R_OK) != 0) {
		free(path);
		return NULL;
	}
	j = json_load_file(path, 0, &err);
	if (j == NULL)
		fail_msg("%s: %s at line %d", path, err.text, err.line);
	free(path);
	return j;
}

static void
set_str(char **field, const char *v)
{
	free(*field);
	*field = xstrdup(v);
}

/* Labels from a JSON object of name: value, sorted. */
static void
labels_from_json(struct labels *ls, json_t *obj)
{
	const char *k;
	json_t *v;

	labels_reset(ls);
	json_object_foreach(obj, k, v) {
		const char *s = json_string_value(v);

		labels_push(ls, (struct lstr){ k, strlen(k) },
		    (struct lstr){ s, json_string_length(v) });
	}
	labels_sort(ls);
}

/*
 * A rule from a JSON config. Absent keys keep promlet's defaults, except
 * an absent action: the Go tests build Config structs directly, where the
 * zero action is "" (from YAML an absent action is "replace").
 */
static struct relabel_rule *
rule_from_json(json_t *cfg, char **cause)
{
	struct relabel_rule *r = relabel_rule_create();
	json_t *v, *item;
	size_t i;

	*cause = NULL;
	v = json_object_get(cfg, "action");
	if (relabel_rule_set_action(r, json_is_string(v) ?
	    json_string_value(v) : "", cause) != 0)
		goto fail;
	v = json_object_get(cfg, "source_labels");
	if (json_is_array(v) && json_array_size(v) != 0) {
		r->source_labels = xcalloc(json_array_size(v),
		    sizeof *r->source_labels);
		json_array_foreach(v, i, item)
			r->source_labels[r->nsource++] =
			    xstrdup(json_string_value(item));
	}
	if (json_is_string(v = json_object_get(cfg, "separator")))
		set_str(&r->separator, json_string_value(v));
	if (json_is_string(v = json_object_get(cfg, "regex")))
		set_str(&r->regex, json_string_value(v));
	if (json_is_string(v = json_object_get(cfg, "replacement")))
		set_str(&r->replacement, json_string_value(v));
	/* "" is Go's zero value: not set. */
	if (json_is_string(v = json_object_get(cfg, "target_label")) &&
	    json_string_length(v) != 0)
		set_str(&r->target_label, json_string_value(v));
	if (json_is_integer(v = json_object_get(cfg, "modulus")))
		r->modulus = (uint64_t)json_integer_value(v);
	if (relabel_rule_compile(r, cause) != 0)
		goto fail;
	return r;
fail:
	relabel_rule_free(r);
	return NULL;
}

static int
notes_contain(json_t *c, const char *what)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(c, "notes"), i, n) {
		if (json_is_string(n) && strstr(json_string_value(n), what))
			return 1;
	}
	return 0;
}

static void
test_relabel_cases(void **state)
{
	struct labels ls = LABELS_INIT, want = LABELS_INIT;
	struct arena a = ARENA_INIT;
	struct buf got = BUF_INIT, exp = BUF_INIT;
	size_t i, j, pass = 0, failed = 0, na = 0;
	json_t *cases, *c, *cfg, *out;
	const char *id;
	char *cause;
	int keep, utf8names;

	(void)state;
	if ((cases = load_json("relabel_cases.json")) == NULL)
		skip();
	json_array_foreach(cases, i, c) {
		struct relabel_rules rs = { NULL, 0 };

		id = json_string_value(json_object_get(c, "id"));
		utf8names = notes_contain(c, "needs UTF-8 label names");
		cause = NULL;
		json_array_foreach(json_object_get(c, "configs"), j, cfg) {
			struct relabel_rule *r = rule_from_json(cfg, &cause);

			if (r == NULL)
				break;
			relabel_rules_add(&rs, r);
		}
		if (utf8names) {
			/* Legacy validation must reject the config. */
			if (cause != NULL &&
			    (strstr(cause, "is not a valid label name") ||
			    strstr(cause, "is invalid 'target_label'"))) {
				printf("  n/a  %s: needs UTF-8 label names; "
				    "rejected as legacy names: %s\n", id,
				    cause);
				na++;
			} else {
				printf("  FAIL %s: UTF-8 label name accepted "
				    "(%s)\n", id, cause ? cause : "no error");
				failed++;
			}
			free(cause);
			relabel_rules_free(&rs);
			continue;
		}
		if (cause != NULL) {
			printf("  FAIL %s: config rejected: %s\n", id, cause);
			free(cause);
			relabel_rules_free(&rs);
			failed++;
			continue;
		}
		labels_from_json(&ls, json_object_get(c, "input"));
		keep = relabel_apply(&rs, &ls, &a);
		out = json_object_get(c, "output");
		buf_reset(&got);
		buf_reset(&exp);
		if (keep)
			labels_format(&ls, &got);
		else
			buf_puts(&got, "dropped");
		if (json_is_null(out))
			buf_puts(&exp, "dropped");
		else {
			labels_from_json(&want, out);
			labels_format(&want, &exp);
		}
		if (strcmp(got.data, exp.data) == 0 &&
		    (!keep || labels_equal(&ls, &want)))
			pass++;
		else {
			printf("  FAIL %s: got %s, want %s\n", id, got.data,
			    exp.data);
			failed++;
		}
		relabel_rules_free(&rs);
		arena_reset(&a);
	}
	printf("relabel_cases.json: %zu cases: %zu passed, %zu failed, "
	    "%zu not applicable\n", json_array_size(cases), pass, failed, na);
	json_decref(cases);
	labels_free(&ls);
	labels_free(&want);
	arena_free(&a);
	buf_free(&got);
	buf_free(&exp);
	assert_int_equal(failed, 0);
	assert_int_equal(pass + na, i);
}

static void
test_validation_cases(void **state)
{
	size_t i, pass = 0, failed = 0, na = 0;
	json_t *extra, *c, *cfg, *want_err;
	struct relabel_rule *r;
	const char *id, *scheme;
	char *cause;
	int valid, ok;

	(void)state;
	if ((extra = load_json("relabel_extra.json")) == NULL)
		skip();
	json_array_foreach(json_object_get(extra, "validation_cases"), i, c) {
		id = json_string_value(json_object_get(c, "id"));
		cfg = json_object_get(c, "config_as_written");
		scheme = json_string_value(json_object_get(cfg,
		    "name_validation_scheme"));
		valid = json_is_true(json_object_get(c, "valid"));
		want_err = json_object_get(c, "error_contains");
		r = rule_from_json(cfg, &cause);
		relabel_rule_free(r);
		if (valid)
			ok = cause == NULL;
		else
			ok = cause != NULL && strstr(cause,
			    json_string_value(want_err)) != NULL;
		if (ok)
			pass++;
		else if (valid && scheme != NULL &&
		    strcmp(scheme, "utf8") == 0 && cause != NULL &&
		    strstr(cause, "is invalid 'target_label'") != NULL) {
			/* Valid only with UTF-8 names; legacy rejects it. */
			printf("  n/a  %s: valid under utf8 names only; "
			    "legacy: %s\n", id, cause);
			na++;
		} else {
			printf("  FAIL %s: got %s, want %s\n", id,
			    cause ? cause : "valid", valid ? "valid" :
			    json_string_value(want_err));
			failed++;
		}
		free(cause);
	}
	printf("relabel_extra.json validation_cases: %zu passed, %zu failed, "
	    "%zu not applicable\n", pass, failed, na);
	json_decref(extra);
	assert_int_equal(failed, 0);
	assert_true(pass > 0);
}

static void
test_target_label_validity(void **state)
{
	size_t i, pass = 0, failed = 0;
	struct relabel_rule *r;
	json_t *extra, *c, *tl;
	char *cause;
	int valid;

	(void)state;
	if ((extra = load_json("relabel_extra.json")) == NULL)
		skip();
	json_array_foreach(json_object_get(extra,
	    "target_label_legacy_validity"), i, c) {
		tl = json_object_get(c, "target_label");
		valid = json_is_true(json_object_get(c, "valid"));
		r = relabel_rule_create();
		set_str(&r->target_label, json_string_value(tl));
		if (relabel_rule_compile(r, &cause) == 0 ? valid :
		    !valid && strstr(cause, "is invalid 'target_label' for "
		    "replace action") != NULL)
			pass++;
		else {
			printf("  FAIL target_label %s: got %s, want %s\n",
			    json_string_value(tl), cause ? cause : "valid",
			    valid ? "valid" : "invalid");
			failed++;
		}
		free(cause);
		relabel_rule_free(r);
	}
	printf("relabel_extra.json target_label_legacy_validity: %zu passed, "
	    "%zu failed\n", pass, failed);
	json_decref(extra);
	assert_int_equal(failed, 0);
	assert_int_equal(pass, i);
}

/* ---- benchmark configs: YAML relabel_configs via libyaml ---------- */

static const char *
yscalar(yaml_document_t *d, int id, int *is_null)
{
	yaml_node_t *n = yaml_document_get_node(d, id);
	const char *s;

	assert_non_null(n);
	assert_int_equal(n->type, YAML_SCALAR_NODE);
	s = (const char *)n->data.scalar.value;
	*is_null = n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0);
	return s;
}

/* A relabel_configs list; Prometheus's defaults, regex: null is "". */
static void
rules_from_yaml(const char *text, struct relabel_rules *rs)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root, *m, *seq;
	yaml_node_item_t *it, *si;
	yaml_node_pair_t *p;
	struct relabel_rule *r;
	const char *k, *v;
	char *cause = NULL;
	int null;

	assert_true(yaml_parser_initialize(&parser));
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
	    strlen(text));
	assert_true(yaml_parser_load(&parser, &doc));
	root = yaml_document_get_root_node(&doc);
	assert_non_null(root);
	assert_int_equal(root->type, YAML_SEQUENCE_NODE);
	for (it = root->data.sequence.items.start;
	    it < root->data.sequence.items.top; it++) {
		m = yaml_document_get_node(&doc, *it);
		assert_int_equal(m->type, YAML_MAPPING_NODE);
		r = relabel_rule_create();
		for (p = m->data.mapping.pairs.start;
		    p < m->data.mapping.pairs.top; p++) {
			k = yscalar(&doc, p->key, &null);
			if (strcmp(k, "source_labels") == 0) {
				seq = yaml_document_get_node(&doc, p->value);
				assert_int_equal(seq->type,
				    YAML_SEQUENCE_NODE);
				for (si = seq->data.sequence.items.start;
				    si < seq->data.sequence.items.top; si++) {
					v = yscalar(&doc, *si, &null);
					r->source_labels = xreallocarray(
					    r->source_labels, r->nsource + 1,
					    sizeof *r->source_labels);
					r->source_labels[r->nsource++] =
					    xstrdup(v);
				}
				continue;
			}
			v = yscalar(&doc, p->value, &null);
			if (strcmp(k, "regex") == 0)
				set_str(&r->regex, null ? "" : v);
			else if (strcmp(k, "separator") == 0)
				set_str(&r->separator, v);
			else if (strcmp(k, "target_label") == 0)
				set_str(&r->target_label, v);
			else if (strcmp(k, "replacement") == 0)
				set_str(&r->replacement, v);
			else if (strcmp(k, "modulus") == 0)
				r->modulus = strtoull(v, NULL, 10);
			else if (strcmp(k, "action") == 0)
				assert_int_equal(relabel_rule_set_action(r, v,
				    &cause), 0);
			else
				fail_msg("unexpected key %s", k);
		}
		if (relabel_rule_compile(r, &cause) != 0)
			fail_msg("benchmark rule: %s", cause);
		relabel_rules_add(rs, r);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
}

/*
 * Expected results, worked out from Prometheus's semantics (upstream only
 * times these). "example": the first regex must match all of
 * "foo;example-some-x.com" and does not. "kubernetes": hashmod of
 * "10.132.183.40:80" is 1 (md5 checked with Python's hashlib), and the
 * next rule keeps only 0.
 */
static const struct {
	const char	*name;
	const char	*want;
} bench_want[] = {
	{ "example", "{__meta_dns_name=\"example-some-x.com\",abc=\"static\","
	    "cde=\"def\",job=\"foo\"}" },
	{ "kubernetes", "dropped" },
	{ "static label pair", "{abcdefg01=\"hijklmn1\",abcdefg02=\"hijklmn2\","
	    "abcdefg03=\"hijklmn3\",abcdefg04=\"hijklmn4\","
	    "abcdefg05=\"hijklmn5\",abcdefg06=\"hijklmn6\","
	    "abcdefg07=\"hijklmn7\",abcdefg08=\"hijklmn8\",job=\"foo\","
	    "with_source_labels=\"value\",wwwwww=\"wwwwww\","
	    "xxxxxxxxx=\"yyyyyyyyyyyy\",yyyyyyyyyyyy=\"xxxxxxxxx\"}" },
};

static void
test_benchmarks(void **state)
{
	struct labels in = LABELS_INIT, ls = LABELS_INIT;
	struct arena a = ARENA_INIT;
	struct buf got = BUF_INIT;
	struct timespec t0, t1;
	json_t *extra, *b;
	const char *name, *env;
	long iters = 20000, n;
	/* Summed so the timed calls have a visible result. */
	size_t i, k;
	double ns;
	int keep;

	(void)state;
	if ((extra = load_json("relabel_extra.json")) == NULL)
		skip();
	if ((env = getenv("RELABEL_BENCH_ITERS")) != NULL)
		iters = strtol(env, NULL, 10);
	json_array_foreach(json_object_get(extra, "benchmarks"), i, b) {
		struct relabel_rules rs = { NULL, 0 };

		name = json_string_value(json_object_get(b, "name"));
		rules_from_yaml(json_string_value(json_object_get(b,
		    "config_yaml")), &rs);
		labels_from_json(&in, json_object_get(b, "input"));

		labels_copy(&ls, &in);
		keep = relabel_apply(&rs, &ls, &a);
		buf_reset(&got);
		if (keep)
			labels_format(&ls, &got);
		else
			buf_puts(&got, "dropped");
		for (k = 0; k < sizeof bench_want / sizeof bench_want[0]; k++) {
			if (strcmp(bench_want[k].name, name) == 0 &&
			    strcmp(bench_want[k].want, got.data) != 0)
				fail_msg("benchmark %s: got %s, want %s", name,
				    got.data, bench_want[k].want);
		}

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (n = 0; n < iters; n++) {
			labels_copy(&ls, &in);
			keep += relabel_apply(&rs, &ls, &a);
			arena_reset(&a);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
		    (double)(t1.tv_nsec - t0.tv_nsec)) /
		    (double)(iters > 0 ? iters : 1);
		printf("benchmark %-18s %2zu rules %2zu labels: %8.0f ns/op "
		    "(%ld iterations, %d kept)\n", name, rs.n, in.n, ns, iters,
		    keep);
		relabel_rules_free(&rs);
	}
	json_decref(extra);
	labels_free(&in);
	labels_free(&ls);
	arena_free(&a);
	buf_free(&got);
	assert_int_equal(i, sizeof bench_want / sizeof bench_want[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relabel_cases),
		cmocka_unit_test(test_validation_cases),
		cmocka_unit_test(test_target_label_validity),
		cmocka_unit_test(test_benchmarks),
	};

	if (access(CONF_DIR, F_OK) != 0) {
		printf("SKIP: %s not found\n", CONF_DIR);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
