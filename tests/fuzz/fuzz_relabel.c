/*
 * libFuzzer target for relabeling: rule validation and compilation (RE2
 * subset on PCRE2, hashmod, label names) and relabel_apply() on label sets
 * the input chooses.
 *
 * Two input shapes, so both the conformance corpus and raw bytes are
 * useful seeds:
 *
 *	JSON	one case or an array of cases as in relabel_cases.json:
 *		{"input": {"name": "value", ...},
 *		 "configs": [{"source_labels": [..], "separator": "..",
 *		   "regex": "..", "modulus": N, "target_label": "..",
 *		   "replacement": "..", "action": ".."}, ...]}
 *	lines	anything else: regex, replacement, action, target_label,
 *		source label names (';'-separated), then name=value lines
 *
 * A rule that fails to compile must say why; a kept set must stay sorted
 * with unique, non-empty names and non-empty values, and applying the same
 * rules to the same input twice must give the same answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "labels.h"
#include "log.h"
#include "relabel.h"
#include "xmalloc.h"
#include "fuzz.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Regex compile time grows with length; real rules are short. */
#define FUZZ_RELABEL_MAX	(16 * 1024)
#define FUZZ_RELABEL_MAXCASES	16
#define FUZZ_RELABEL_MAXRULES	16

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_setup(LOG_ERROR, LOG_FORMAT_LOGFMT);
	return 0;
}

static void
fuzz_relabel_set(char **field, const char *s)
{
	free(*field);
	*field = xstrdup(s);
}

/* Returns 1 when the rule compiled and was added. */
static int
fuzz_relabel_add(struct relabel_rules *rules, struct relabel_rule *r)
{
	char *cause = NULL;

	if (relabel_rule_compile(r, &cause) != 0) {
		FUZZ_CHECK(cause != NULL && cause[0] != '\0');
		free(cause);
		relabel_rule_free(r);
		return 0;
	}
	FUZZ_CHECK(cause == NULL);
	relabel_rules_add(rules, r);
	return 1;
}

static void
fuzz_relabel_check(const struct labels *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++) {
		FUZZ_CHECK(ls->v[i].name.len > 0);
		FUZZ_CHECK(ls->v[i].value.len > 0);
		if (i > 0)
			FUZZ_CHECK(lstr_cmp(ls->v[i - 1].name,
			    ls->v[i].name) < 0);
	}
}

/* Apply twice to copies of the input: same verdict, same result. */
static void
fuzz_relabel_apply(const struct relabel_rules *rules,
    const struct labels *input)
{
	struct labels a = LABELS_INIT, b = LABELS_INIT;
	struct arena ar = ARENA_INIT, br = ARENA_INIT;
	int ka, kb;

	labels_copy(&a, input);
	labels_copy(&b, input);
	ka = relabel_apply(rules, &a, &ar);
	kb = relabel_apply(rules, &b, &br);
	FUZZ_CHECK(ka == 0 || ka == 1);
	FUZZ_CHECK(ka == kb);
	if (ka == 1) {
		fuzz_relabel_check(&a);
		FUZZ_CHECK(labels_equal(&a, &b));
	}
	labels_free(&a);
	labels_free(&b);
	arena_free(&ar);
	arena_free(&br);
}

/* A label set from name=value pairs, sorted, duplicates and empties out. */
static void
fuzz_relabel_input(struct labels *ls)
{
	labels_sort(ls);
	while (ls->n > 0 && labels_find_dup(ls) >= 0)
		labels_del(ls, ls->v[labels_find_dup(ls)].name);
}

static void
fuzz_relabel_json_case(json_t *c)
{
	struct relabel_rules rules = { NULL, 0 };
	struct labels ls = LABELS_INIT;
	struct relabel_rule *r;
	json_t *cfgs, *cfg, *v, *item;
	const char *k;
	char *cause;
	size_t i, j;

	if (!json_is_object(c))
		return;
	json_object_foreach(json_object_get(c, "input"), k, v) {
		if (json_is_string(v) && k[0] != '\0' &&
		    json_string_length(v) != 0)
			labels_push(&ls, (struct lstr){ k, strlen(k) },
			    (struct lstr){ json_string_value(v),
			    json_string_length(v) });
	}
	fuzz_relabel_input(&ls);

	cfgs = json_object_get(c, "configs");
	json_array_foreach(cfgs, i, cfg) {
		if (i >= FUZZ_RELABEL_MAXRULES || !json_is_object(cfg))
			break;
		r = relabel_rule_create();
		v = json_object_get(cfg, "action");
		cause = NULL;
		if (relabel_rule_set_action(r, json_is_string(v) ?
		    json_string_value(v) : "", &cause) != 0) {
			FUZZ_CHECK(cause != NULL);
			free(cause);
			relabel_rule_free(r);
			continue;
		}
		v = json_object_get(cfg, "source_labels");
		if (json_is_array(v) && json_array_size(v) != 0) {
			r->source_labels = xcalloc(json_array_size(v),
			    sizeof *r->source_labels);
			json_array_foreach(v, j, item) {
				r->source_labels[r->nsource++] = xstrdup(
				    json_is_string(item) ?
				    json_string_value(item) : "");
			}
		}
		if (json_is_string(v = json_object_get(cfg, "separator")))
			fuzz_relabel_set(&r->separator, json_string_value(v));
		if (json_is_string(v = json_object_get(cfg, "regex")))
			fuzz_relabel_set(&r->regex, json_string_value(v));
		if (json_is_string(v = json_object_get(cfg, "replacement")))
			fuzz_relabel_set(&r->replacement,
			    json_string_value(v));
		if (json_is_string(v = json_object_get(cfg, "target_label")) &&
		    json_string_length(v) != 0)
			fuzz_relabel_set(&r->target_label,
			    json_string_value(v));
		if (json_is_integer(v = json_object_get(cfg, "modulus")))
			r->modulus = (uint64_t)json_integer_value(v);
		(void)fuzz_relabel_add(&rules, r);
	}
	fuzz_relabel_apply(&rules, &ls);
	relabel_rules_free(&rules);
	labels_free(&ls);
}

/* Next line of [*p, end) as a NUL-terminated copy, or NULL at the end. */
static char *
fuzz_relabel_line(const char **p, const char *end)
{
	const char *nl;
	char *s;

	if (*p >= end)
		return NULL;
	nl = memchr(*p, '\n', end - *p);
	if (nl == NULL)
		nl = end;
	s = xmalloc(nl - *p + 1);
	memcpy(s, *p, nl - *p);
	s[nl - *p] = '\0';
	*p = nl < end ? nl + 1 : end;
	return s;
}

static void
fuzz_relabel_lines(const char *data, size_t size)
{
	struct relabel_rules rules = { NULL, 0 };
	struct labels ls = LABELS_INIT;
	struct arena strings = ARENA_INIT;
	struct relabel_rule *r = relabel_rule_create();
	const char *p = data, *end = data + size;
	char *regex, *repl, *action, *target, *sources, *line, *eq, *tok;
	char *save, *cause = NULL;
	size_t n;

	regex = fuzz_relabel_line(&p, end);
	repl = fuzz_relabel_line(&p, end);
	action = fuzz_relabel_line(&p, end);
	target = fuzz_relabel_line(&p, end);
	sources = fuzz_relabel_line(&p, end);
	if (regex != NULL)
		fuzz_relabel_set(&r->regex, regex);
	if (repl != NULL)
		fuzz_relabel_set(&r->replacement, repl);
	if (target != NULL && target[0] != '\0')
		fuzz_relabel_set(&r->target_label, target);
	if (action != NULL && relabel_rule_set_action(r, action,
	    &cause) != 0) {
		FUZZ_CHECK(cause != NULL);
		free(cause);
		relabel_rule_free(r);
		r = NULL;
	}
	if (r != NULL && sources != NULL) {
		for (tok = strtok_r(sources, ";", &save); tok != NULL;
		    tok = strtok_r(NULL, ";", &save)) {
			r->source_labels = xreallocarray(r->source_labels,
			    r->nsource + 1, sizeof *r->source_labels);
			r->source_labels[r->nsource++] = xstrdup(tok);
		}
	}
	if (r != NULL && r->action == RELABEL_HASHMOD)
		r->modulus = size % 7 + 1;

	for (n = 0; (line = fuzz_relabel_line(&p, end)) != NULL; n++) {
		if ((eq = strchr(line, '=')) != NULL && eq != line &&
		    eq[1] != '\0') {
			labels_push(&ls, (struct lstr){
			    arena_strndup(&strings, line, eq - line),
			    eq - line }, (struct lstr){
			    arena_strndup(&strings, eq + 1, strlen(eq + 1)),
			    strlen(eq + 1) });
		}
		free(line);
	}
	fuzz_relabel_input(&ls);
	if (r != NULL && fuzz_relabel_add(&rules, r))
		fuzz_relabel_apply(&rules, &ls);
	relabel_rules_free(&rules);
	labels_free(&ls);
	arena_free(&strings);
	free(regex);
	free(repl);
	free(action);
	free(target);
	free(sources);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t err;
	json_t *j, *c;
	size_t i;

	if (size > FUZZ_RELABEL_MAX)
		return 0;
	j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &err);
	if (j == NULL) {
		fuzz_relabel_lines((const char *)data, size);
		return 0;
	}
	if (json_is_array(j)) {
		json_array_foreach(j, i, c) {
			if (i >= FUZZ_RELABEL_MAXCASES)
				break;
			fuzz_relabel_json_case(c);
		}
	} else
		fuzz_relabel_json_case(j);
	json_decref(j);
	return 0;
}
