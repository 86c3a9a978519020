/* Unit tests for the relabeling engine: actions, templates, regexes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "labels.h"
#include "relabel.h"
#include "xmalloc.h"

/* Replace an owned string field of a rule. */
static void
set_str(char **field, const char *v)
{
	free(*field);
	*field = v != NULL ? xstrdup(v) : NULL;
}

/* Comma-separated source labels ("" = one empty name is not expressible). */
static void
set_sources(struct relabel_rule *r, const char *csv)
{
	const char *p = csv, *e;

	while (*p != '\0') {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		r->source_labels = xreallocarray(r->source_labels,
		    r->nsource + 1, sizeof *r->source_labels);
		r->source_labels[r->nsource++] = xstrndup(p, (size_t)(e - p));
		p = *e == ',' ? e + 1 : e;
	}
}

/* A rule; NULL arguments keep the defaults. Returns NULL with *cause. */
static struct relabel_rule *
mkrule_err(const char *action, const char *src, const char *regex,
    const char *target, const char *repl, char **cause)
{
	struct relabel_rule *r = relabel_rule_create();

	*cause = NULL;
	if (action != NULL &&
	    relabel_rule_set_action(r, action, cause) != 0) {
		relabel_rule_free(r);
		return NULL;
	}
	if (src != NULL)
		set_sources(r, src);
	if (regex != NULL)
		set_str(&r->regex, regex);
	if (target != NULL)
		set_str(&r->target_label, target);
	if (repl != NULL)
		set_str(&r->replacement, repl);
	if (relabel_rule_compile(r, cause) != 0) {
		relabel_rule_free(r);
		return NULL;
	}
	return r;
}

static struct relabel_rule *
mkrule(const char *action, const char *src, const char *regex,
    const char *target, const char *repl)
{
	struct relabel_rule *r;
	char *cause = NULL;

	r = mkrule_err(action, src, regex, target, repl, &cause);
	if (r == NULL)
		fail_msg("rule did not compile: %s", cause);
	return r;
}

/* The compile error for a rule that must not compile. */
static char *
mkrule_fail(const char *action, const char *src, const char *regex,
    const char *target, const char *repl)
{
	struct relabel_rule *r;
	char *cause = NULL;

	r = mkrule_err(action, src, regex, target, repl, &cause);
	if (r != NULL) {
		relabel_rule_free(r);
		fail_msg("regex %s compiled but must not", regex);
	}
	assert_non_null(cause);
	return cause;
}

static void
expect_error(const char *action, const char *src, const char *regex,
    const char *target, const char *repl, const char *want)
{
	char *cause = mkrule_fail(action, src, regex, target, repl);

	if (strstr(cause, want) == NULL)
		fail_msg("error \"%s\" does not contain \"%s\"", cause, want);
	free(cause);
}

/* Labels from name, value, ..., NULL pairs, sorted. */
static void
mklabels(struct labels *ls, ...)
{
	const char *n, *v;
	va_list ap;

	labels_reset(ls);
	va_start(ap, ls);
	while ((n = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		labels_push(ls, (struct lstr){ n, strlen(n) },
		    (struct lstr){ v, strlen(v) });
	}
	va_end(ap);
	labels_sort(ls);
}

static void
assert_labels(const struct labels *ls, const char *want)
{
	struct buf b = BUF_INIT;

	labels_format(ls, &b);
	if (strcmp(b.data, want) != 0)
		fail_msg("got %s, want %s", b.data, want);
	buf_free(&b);
}

/*
 * Apply one rule to the labels; returns relabel_apply's result. The rule
 * is freed.
 */
static int
apply1(struct relabel_rule *r, struct labels *ls, struct arena *a)
{
	struct relabel_rules rs = { NULL, 0 };
	int keep;

	relabel_rules_add(&rs, r);
	keep = relabel_apply(&rs, ls, a);
	relabel_rules_free(&rs);
	assert_null(rs.v);
	return keep;
}

/* Does regex match value (fully anchored), judged by a keep rule? */
static int
matches(const char *regex, const char *value)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;
	int keep;

	mklabels(&ls, "a", value, NULL);
	keep = apply1(mkrule("keep", "a", regex, NULL, NULL), &ls, &a);
	labels_free(&ls);
	arena_free(&a);
	return keep;
}

/* The result of replacing into "t" from a="value". */
static void
expect_replace(const char *regex, const char *value, const char *target,
    const char *repl, const char *want)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;

	mklabels(&ls, "a", value, NULL);
	assert_int_equal(apply1(mkrule("replace", "a", regex, target, repl),
	    &ls, &a), 1);
	assert_labels(&ls, want);
	labels_free(&ls);
	arena_free(&a);
}

static void
test_defaults_and_actions(void **state)
{
	struct relabel_rule *r;
	enum relabel_action act;
	char *cause = NULL;

	(void)state;
	r = relabel_rule_create();
	assert_string_equal(r->separator, ";");
	assert_string_equal(r->regex, "(.*)");
	assert_string_equal(r->replacement, "$1");
	assert_int_equal(r->action, RELABEL_REPLACE);
	assert_null(r->target_label);
	assert_int_equal(r->nsource, 0);
	assert_int_equal(r->modulus, 0);

	assert_int_equal(relabel_action_parse("LabelMap", &act), 0);
	assert_int_equal(act, RELABEL_LABELMAP);
	assert_int_equal(relabel_action_parse("keepequal", &act), 0);
	assert_int_equal(act, RELABEL_KEEPEQUAL);
	assert_int_equal(relabel_action_parse("keep_equal", &act), -1);
	assert_string_equal(relabel_action_name(RELABEL_UPPERCASE),
	    "uppercase");
	assert_string_equal(relabel_action_name(RELABEL_DROPEQUAL),
	    "dropequal");

	assert_int_equal(relabel_rule_set_action(r, "", &cause), -1);
	assert_string_equal(cause, "relabel action cannot be empty");
	free(cause);
	assert_int_equal(relabel_rule_set_action(r, "Frobnicate", &cause), -1);
	assert_string_equal(cause, "unknown relabel action \"Frobnicate\"");
	free(cause);
	assert_int_equal(relabel_rule_set_action(r, "HASHMOD", &cause), 0);
	assert_int_equal(r->action, RELABEL_HASHMOD);
	relabel_rule_free(r);
	relabel_rule_free(NULL);
	relabel_rules_free(NULL);
}

static void
test_replace_defaults(void **state)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;

	(void)state;
	/* Defaults copy the joined source values: a;b -> "x;y". */
	mklabels(&ls, "a", "x", "b", "y", NULL);
	assert_int_equal(apply1(mkrule(NULL, "a,b", NULL, "c", NULL), &ls,
	    &a), 1);
	assert_labels(&ls, "{a=\"x\",b=\"y\",c=\"x;y\"}");

	/* A missing source contributes "" and keeps its separator. */
	mklabels(&ls, "a", "x", "c", "z", NULL);
	assert_int_equal(apply1(mkrule(NULL, "a,b,c", NULL, "d", NULL), &ls,
	    &a), 1);
	assert_labels(&ls, "{a=\"x\",c=\"z\",d=\"x;;z\"}");

	/* No source labels: a constant label, and "" deletes. */
	mklabels(&ls, "a", "x", NULL);
	assert_int_equal(apply1(mkrule(NULL, NULL, NULL, "env", "prod"),
	    &ls, &a), 1);
	assert_labels(&ls, "{a=\"x\",env=\"prod\"}");
	assert_int_equal(apply1(mkrule(NULL, NULL, NULL, "a", ""), &ls, &a),
	    1);
	assert_labels(&ls, "{env=\"prod\"}");

	/* The default copy of a missing source deletes the target. */
	mklabels(&ls, "a", "x", "t", "old", NULL);
	assert_int_equal(apply1(mkrule(NULL, "missing", NULL, "t", NULL),
	    &ls, &a), 1);
	assert_labels(&ls, "{a=\"x\"}");
	labels_free(&ls);
	arena_free(&a);
}

static void
test_replace_expansion(void **state)
{
	(void)state;
	expect_replace("f(.*)", "foo", "d", "ch${1}-ch${1}",
	    "{a=\"foo\",d=\"choo-choo\"}");
	expect_replace("f(.*)", "foo", "d", "ch$1-ch$1",
	    "{a=\"foo\",d=\"choo-choo\"}");
	/* $1x is the group named "1x": empty. */
	expect_replace("f(.*)", "foo", "d", "<$1x>", "{a=\"foo\",d=\"<>\"}");
	/* $$ is a dollar; a lone or malformed $ is text. */
	expect_replace("f(.*)", "foo", "d", "$$1", "{a=\"foo\",d=\"$1\"}");
	expect_replace("f(.*)", "foo", "d", "x$", "{a=\"foo\",d=\"x$\"}");
	expect_replace("f(.*)", "foo", "d", "${1", "{a=\"foo\",d=\"${1\"}");
	expect_replace("f(.*)", "foo", "d", "$-", "{a=\"foo\",d=\"$-\"}");
	expect_replace("f(.*)", "foo", "d", "${}", "{a=\"foo\",d=\"${}\"}");
	/* $0 is the whole match; $01 is a name, not a number. */
	expect_replace("f(.*)", "foo", "d", "$0", "{a=\"foo\",d=\"foo\"}");
	expect_replace("f(.*)", "foo", "d", "[$01]", "{a=\"foo\",d=\"[]\"}");
	/* Unknown and huge groups expand to nothing. */
	expect_replace("f(.*)", "foo", "d", "[$7]", "{a=\"foo\",d=\"[]\"}");
	expect_replace("f(.*)", "foo", "d", "[$99999999999]",
	    "{a=\"foo\",d=\"[]\"}");
	expect_replace("f(.*)", "foo", "d", "[$nope]", "{a=\"foo\",d=\"[]\"}");
	/* Named groups, both spellings, as $name and ${name}. */
	expect_replace("(?P<first>f)(?<rest>.*)", "foo", "d",
	    "${rest}-$first", "{a=\"foo\",d=\"oo-f\"}");
	/* A name may label two groups: the first that matched wins. */
	expect_replace("(?P<x>a)|(?P<x>b)", "b", "d", "<$x>",
	    "{a=\"b\",d=\"<b>\"}");
	/* A group that did not take part is empty. */
	expect_replace("(a)|(b)", "b", "d", "[$1|$2]",
	    "{a=\"b\",d=\"[|b]\"}");
	/* $é: the name runs over Unicode letters, so nothing is left. */
	expect_replace("(.*)", "foo", "d", "x$1\xc3\xa9y-z",
	    "{a=\"foo\",d=\"x-z\"}");
	/* A non-letter ends the name. */
	expect_replace("(.*)", "foo", "d", "x$1\xe2\x82\xac",
	    "{a=\"foo\",d=\"xfoo\xe2\x82\xac\"}");
	/* Target templates. */
	expect_replace("some-([^-]+)-([^,]+)", "some-name-value", "${1}",
	    "${2}", "{a=\"some-name-value\",name=\"value\"}");
	expect_replace("(f)(o+)", "foo", "x_${2}_${1}", "y",
	    "{a=\"foo\",x_oo_f=\"y\"}");
	/* Go's gotcha: "$2_" is the group named "2_". */
	expect_replace("(f)(o+)", "foo", "x_$2_${1}", "y",
	    "{a=\"foo\",x_f=\"y\"}");
}

static void
test_replace_edge_cases(void **state)
{
	(void)state;
	/* No match: nothing happens. */
	expect_replace("f", "boo", "b", "bar", "{a=\"boo\"}");
	/* An empty expansion deletes the target. */
	expect_replace("(f)(.*)", "foo", "a", "$3", "{}");
	/* An invalid expanded target leaves the set unchanged. */
	expect_replace("(.*)", "1abc", "$1", "v", "{a=\"1abc\"}");
	expect_replace("(.*)", "a-b", "${1}", "v", "{a=\"a-b\"}");
	expect_replace("(f).*", "foo", "$2", "v", "{a=\"foo\"}");
	/* A valid expanded target may be a slice of the value. */
	expect_replace("(\\w+)-.*", "job-x", "$1", "v",
	    "{a=\"job-x\",job=\"v\"}");
}

static void
test_replace_targets_name(void **state)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;

	(void)state;
	/* Deleting __name__ still keeps the set: the caller decides. */
	mklabels(&ls, "__name__", "up", "job", "x", NULL);
	assert_int_equal(apply1(mkrule(NULL, NULL, NULL, "__name__", ""),
	    &ls, &a), 1);
	assert_labels(&ls, "{job=\"x\"}");
	/* Renaming a metric. */
	mklabels(&ls, "__name__", "old_total", NULL);
	assert_int_equal(apply1(mkrule(NULL, "__name__", "old_(.*)",
	    "__name__", "new_$1"), &ls, &a), 1);
	assert_labels(&ls, "new_total");
	labels_free(&ls);
	arena_free(&a);
}

static void
test_keep_drop(void **state)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;
	struct relabel_rule *r;
	size_t used;

	(void)state;
	mklabels(&ls, "__name__", "up", "job", "x", NULL);
	assert_int_equal(apply1(mkrule("keep", "__name__", "up|down", NULL,
	    NULL), &ls, &a), 1);
	assert_int_equal(apply1(mkrule("keep", "__name__", "u", NULL, NULL),
	    &ls, &a), 0);
	assert_int_equal(apply1(mkrule("drop", "__name__", "up", NULL, NULL),
	    &ls, &a), 0);
	assert_int_equal(apply1(mkrule("drop", "__name__", "u.+x", NULL,
	    NULL), &ls, &a), 1);
	/* keep/drop do not touch the set nor the arena. */
	used = a.used;
	assert_int_equal(apply1(mkrule("keep", "__name__,job", "up;x",
	    NULL, NULL), &ls, &a), 1);
	assert_int_equal(a.used, used);
	assert_labels(&ls, "up{job=\"x\"}");
	/* A missing label is "", which the default regex matches. */
	assert_int_equal(apply1(mkrule("keep", "nope", NULL, NULL, NULL),
	    &ls, &a), 1);
	assert_int_equal(apply1(mkrule("drop", "nope", "", NULL, NULL), &ls,
	    &a), 0);
	assert_int_equal(apply1(mkrule("keep", "nope", ".+", NULL, NULL),
	    &ls, &a), 0);

	/* The first dropping rule stops: later rules do not run. */
	{
		struct relabel_rules rs = { NULL, 0 };

		relabel_rules_add(&rs, mkrule("drop", "job", "x", NULL, NULL));
		relabel_rules_add(&rs, mkrule(NULL, NULL, NULL, "z", "1"));
		assert_int_equal(relabel_apply(&rs, &ls, &a), 0);
		assert_null(labels_get(&ls, LSTR("z")));
		relabel_rules_free(&rs);
	}

	/* A custom separator. */
	r = mkrule("keep", "__name__,job", "up/x", NULL, NULL);
	set_str(&r->separator, "/");
	{
		char *cause = NULL;

		assert_int_equal(relabel_rule_compile(r, &cause), 0);
	}
	assert_int_equal(apply1(r, &ls, &a), 1);
	labels_free(&ls);
	arena_free(&a);
}

static void
test_keepequal_dropequal(void **state)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;

	(void)state;
	mklabels(&ls, "__tmp_port", "1234", "__port1", "1234", "__port2",
	    "5678", NULL);
	assert_int_equal(apply1(mkrule("keepequal", "__tmp_port", NULL,
	    "__port1", NULL), &ls, &a), 1);
	assert_int_equal(apply1(mkrule("keepequal", "__tmp_port", NULL,
	    "__port2", NULL), &ls, &a), 0);
	assert_int_equal(apply1(mkrule("dropequal", "__tmp_port", NULL,
	    "__port1", NULL), &ls, &a), 0);
	assert_int_equal(apply1(mkrule("dropequal", "__tmp_port", NULL,
	    "__port2", NULL), &ls, &a), 1);
	/* Absent target and absent source are both "". */
	assert_int_equal(apply1(mkrule("keepequal", "nope", NULL, "absent",
	    NULL), &ls, &a), 1);
	assert_int_equal(apply1(mkrule("dropequal", "nope", NULL, "absent",
	    NULL), &ls, &a), 0);
	assert_labels(&ls,
	    "{__port1=\"1234\",__port2=\"5678\",__tmp_port=\"1234\"}");
	labels_free(&ls);
	arena_free(&a);
}

static void
test_hashmod(void **state)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;
	struct relabel_rule *r;
	char *cause = NULL;

	(void)state;
	mklabels(&ls, "c", "baz", "n", "foo\nbar", NULL);
	r = relabel_rule_create();
	assert_int_equal(relabel_rule_set_action(r, "hashmod", &cause), 0);
	set_sources(r, "c");
	set_str(&r->target_label, "d");
	r->modulus = 1000;
	assert_int_equal(relabel_rule_compile(r, &cause), 0);
	assert_int_equal(apply1(r, &ls, &a), 1);
	assert_string_equal(labels_get(&ls, LSTR("d"))->p, "976");

	r = relabel_rule_create();
	r->action = RELABEL_HASHMOD;
	set_sources(r, "n");
	set_str(&r->target_label, "d");
	r->modulus = 1000;
	assert_int_equal(relabel_rule_compile(r, &cause), 0);
	assert_int_equal(apply1(r, &ls, &a), 1);
	assert_string_equal(labels_get(&ls, LSTR("d"))->p, "734");

	/*
	 * Modulus 2^64-1 exposes the full 64-bit value: md5("baz") bytes
	 * 8..15 are e4 4c f9 84 c8 5f 6e 88, read big-endian.
	 */
	r = relabel_rule_create();
	r->action = RELABEL_HASHMOD;
	set_sources(r, "c");
	set_str(&r->target_label, "d");
	r->modulus = UINT64_MAX;
	assert_int_equal(relabel_rule_compile(r, &cause), 0);
	assert_int_equal(apply1(r, &ls, &a), 1);
	assert_string_equal(labels_get(&ls, LSTR("d"))->p,
	    "16450797887570275976");
	labels_free(&ls);
	arena_free(&a);
}

static void
test_labelmap(void **state)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;

	(void)state;
	mklabels(&ls, "a", "foo", "b1", "bar", "b2", "baz", NULL);
	assert_int_equal(apply1(mkrule("labelmap", NULL, "(b.*)", NULL,
	    "bar_${1}"), &ls, &a), 1);
	assert_labels(&ls, "{a=\"foo\",b1=\"bar\",b2=\"baz\",bar_b1=\"bar\","
	    "bar_b2=\"baz\"}");

	/* Default replacement $1, anchored regex. */
	mklabels(&ls, "__meta_my_bar", "aaa", "__meta_other", "ccc", "x",
	    "1", NULL);
	assert_int_equal(apply1(mkrule("labelmap", NULL, "__meta_(my.*)",
	    NULL, NULL), &ls, &a), 1);
	assert_labels(&ls, "{__meta_my_bar=\"aaa\",__meta_other=\"ccc\","
	    "my_bar=\"aaa\",x=\"1\"}");

	/*
	 * Values come from the set as it was: a -> b and b -> c see the
	 * original b, and the new b is not mapped again.
	 */
	mklabels(&ls, "a", "1", "b", "2", NULL);
	assert_int_equal(apply1(mkrule("labelmap", NULL, "([ab])", NULL,
	    "${1}x"), &ls, &a), 1);
	assert_labels(&ls, "{a=\"1\",ax=\"1\",b=\"2\",bx=\"2\"}");
	mklabels(&ls, "a", "1", "b", "2", NULL);
	assert_int_equal(apply1(mkrule("labelmap", NULL, "a", NULL, "b"),
	    &ls, &a), 1);
	assert_labels(&ls, "{a=\"1\",b=\"1\"}");
	labels_free(&ls);
	arena_free(&a);
}

static void
test_labeldrop_labelkeep(void **state)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;

	(void)state;
	mklabels(&ls, "a", "foo", "b1", "bar", "b2", "baz", NULL);
	assert_int_equal(apply1(mkrule("labelkeep", NULL, "(b.*)", NULL,
	    NULL), &ls, &a), 1);
	assert_labels(&ls, "{b1=\"bar\",b2=\"baz\"}");
	mklabels(&ls, "a", "foo", "b1", "bar", "b2", "baz", NULL);
	assert_int_equal(apply1(mkrule("labeldrop", NULL, "b.*", NULL, NULL),
	    &ls, &a), 1);
	assert_labels(&ls, "{a=\"foo\"}");
	/* Anchored: "b" does not drop "b1". */
	mklabels(&ls, "b", "1", "b1", "2", NULL);
	assert_int_equal(apply1(mkrule("labeldrop", NULL, "b", NULL, NULL),
	    &ls, &a), 1);
	assert_labels(&ls, "{b1=\"2\"}");
	/* Literal alternation (the fast path). */
	mklabels(&ls, "__name__", "m", "pod", "p", "node", "n", "zone", "z",
	    NULL);
	assert_int_equal(apply1(mkrule("labeldrop", NULL, "pod|node", NULL,
	    NULL), &ls, &a), 1);
	assert_labels(&ls, "m{zone=\"z\"}");
	labels_free(&ls);
	arena_free(&a);
}

static void
test_lowercase_uppercase(void **state)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;
	struct relabel_rules rs = { NULL, 0 };

	(void)state;
	mklabels(&ls, "foo", "bAr123Foo", NULL);
	relabel_rules_add(&rs, mkrule("uppercase", "foo", NULL, "up", NULL));
	relabel_rules_add(&rs, mkrule("lowercase", "foo", NULL, "low", NULL));
	assert_int_equal(relabel_apply(&rs, &ls, &a), 1);
	assert_labels(&ls,
	    "{foo=\"bAr123Foo\",low=\"bar123foo\",up=\"BAR123FOO\"}");

	/*
	 * Unicode simple case mapping, as Go's strings.ToUpper/ToLower:
	 * äΣxǅ gives ÄΣXǄ and äσxǆ (ǅ is titlecase).
	 */
	mklabels(&ls, "foo", "\xc3\xa4\xce\xa3x\xc7\x85", NULL);
	assert_int_equal(relabel_apply(&rs, &ls, &a), 1);
	assert_string_equal(labels_get(&ls, LSTR("up"))->p,
	    "\xc3\x84\xce\xa3X\xc7\x84");
	assert_string_equal(labels_get(&ls, LSTR("low"))->p,
	    "\xc3\xa4\xcf\x83x\xc7\x86");

	/* Invalid bytes in a non-ASCII value become U+FFFD, as in Go. */
	mklabels(&ls, "foo", "\xc3\xa4\xff", NULL);
	assert_int_equal(relabel_apply(&rs, &ls, &a), 1);
	assert_string_equal(labels_get(&ls, LSTR("up"))->p,
	    "\xc3\x84\xef\xbf\xbd");

	/* An empty source deletes the target. */
	mklabels(&ls, "low", "x", "up", "y", NULL);
	assert_int_equal(relabel_apply(&rs, &ls, &a), 1);
	assert_labels(&ls, "{}");
	relabel_rules_free(&rs);
	labels_free(&ls);
	arena_free(&a);
}

static void
test_anchoring_and_dotall(void **state)
{
	(void)state;
	assert_false(matches("a", "ab"));
	assert_false(matches("b", "ab"));
	assert_true(matches("a.", "ab"));
	assert_false(matches("f|o", "foo"));
	assert_true(matches("f|o", "o"));
	assert_true(matches("foo|f.*", "fxx"));
	assert_true(matches("a|ab", "ab"));
	/* Dot matches newline; (?-s) turns that off. */
	assert_true(matches("line1.*line2", "line1\nline2"));
	assert_true(matches("a.b", "a\nb"));
	assert_false(matches("(?-s)a.b", "a\nb"));
	assert_true(matches("(?-s)a.b", "a\rb"));
	/* $ is the end of text, never before a final newline. */
	assert_false(matches("a$\n", "a\n"));
	assert_false(matches("a$", "a\n"));
	assert_true(matches("a\n$", "a\n"));
	/* Multi-line mode: ^ after any newline, $ before one. */
	assert_true(matches("(?m)a$\n^b", "a\nb"));
	assert_true(matches("(?m)a\n^", "a\n"));
	assert_false(matches("a\n^", "a\n"));
	/* Explicit anchors inside are harmless. */
	assert_true(matches("^metrics$", "metrics"));
	assert_true(matches(".*_total$", "http_requests_total"));
	/* Empty regex matches only "". */
	assert_true(matches("", ""));
	assert_false(matches("", "x"));
}

static void
test_re2_syntax_accepted(void **state)
{
	(void)state;
	assert_true(matches("(?P<n>a)(?<m>b)", "ab"));
	assert_true(matches("a\\z", "a"));
	assert_true(matches("\\Aa", "a"));
	assert_true(matches("\\pL+", "h\xc3\xa9llo"));
	assert_true(matches("\\p{Greek}+", "\xce\xb1\xce\xb2"));
	assert_false(matches("\\p{Greek}+", "ab"));
	assert_true(matches("\\PL", "1"));
	assert_true(matches("\\p{^L}", "1"));
	assert_true(matches("[\\p{Lu}\\d]+", "A1B2"));
	assert_true(matches("\\Qa.b*\\E+", "a.b**"));
	assert_false(matches("\\Qa.b\\E", "axb"));
	assert_true(matches("\\Qa.b", "a.b"));
	/* Octal and hex escapes. */
	assert_true(matches("\\101\\x42\\x{43}", "ABC"));
	assert_true(matches("\\12", "\n"));
	/* POSIX classes, negated too. */
	assert_true(matches("[[:alpha:]]+[[:^alpha:]]", "abc1"));
	assert_true(matches("[[:word:]]+", "a_1"));
	/* Flags. */
	assert_true(matches("(?i)abc", "ABC"));
	assert_true(matches("(?i:a)b", "Ab"));
	assert_false(matches("(?i:a)b", "AB"));
	assert_true(matches("(?i)k", "\xe2\x84\xaa"));	/* Kelvin sign */
	assert_true(matches("(?U)(a+)(a*)", "aaa"));
	assert_true(matches("(?i-s:a.)", "A\r"));
	assert_true(matches("(?)a", "a"));
	/* "{" that is not a repeat is a literal, even "{,2}". */
	assert_true(matches("a{,2}", "a{,2}"));
	assert_true(matches("a{", "a{"));
	assert_true(matches("a{01}", "a{01}"));
	assert_true(matches("a{2}", "aa"));
	assert_true(matches("a{2,}", "aaaa"));
	assert_true(matches("a{1,2}?b", "ab"));
	assert_true(matches("[]a]+", "]a"));
	assert_true(matches("[^]a]", "b"));
	assert_true(matches("[a-]+", "a-"));
	assert_true(matches("[\\d-z]+", "1-z"));
	assert_true(matches("x]}", "x]}"));
	assert_true(matches("\\_", "_"));
	/* Repeated empty-width assertions are legal in RE2. */
	assert_true(matches("^*a\\b+$?", "a"));
	/* A class of only surrogates matches nothing, negated anything. */
	assert_false(matches("[\\x{D800}]", "a"));
	assert_true(matches("[^\\x{D800}-\\x{DFFF}]", "a"));
	assert_true(matches("[\\x{D7FF}-\\x{E000}]", "\xee\x80\x80"));
	/* Unicode: . is one code point. */
	assert_true(matches("^.$", "\xe2\x82\xac"));
	assert_true(matches("...", "\xe2\x82\xac\xc3\xa9" "a"));
}

static void
test_re2_semantics_differences(void **state)
{
	(void)state;
	/* RE2's \s is [\t\n\f\r ]: no vertical tab (PCRE's has it). */
	assert_true(matches("\\s", " "));
	assert_false(matches("\\s", "\v"));
	assert_true(matches("\\S", "\v"));
	assert_true(matches("[\\S]", "\v"));
	assert_false(matches("[^\\S]", "\v"));
	assert_true(matches("[^\\S]", "\t"));
	/* ...but [[:space:]] has it in both. */
	assert_true(matches("[[:space:]]", "\v"));
	/* \v is VT, not PCRE's vertical-space class. */
	assert_true(matches("\\v", "\v"));
	assert_false(matches("\\v", "\n"));
	/* \w, \d, \b are ASCII. */
	assert_false(matches("\\w", "\xc3\xa9"));
	assert_false(matches("\\d", "\xd9\xa3"));
	assert_true(matches("\\W", "\xc3\xa9"));
	/* (PCRE2 10.42's JIT gets these wrong with MATCH_INVALID_UTF.) */
	assert_true(matches("\\D\\S\\W",
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));	/* é€😀 */
	assert_true(matches("[\\D][\\S][\\W]",
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
	/* Values that are not UTF-8 never match a PCRE2-compiled regex. */
	assert_false(matches("a.", "a\xff"));
	/* \pN: digits in any script. */
	assert_true(matches("\\pN", "\xd9\xa3"));
}

static void
test_re2_rejected(void **state)
{
	static const struct {
		const char	*regex;
		const char	*want;
	} bad[] = {
		{ "(a)\\1", "invalid escape sequence: `\\1`" },
		{ "\\9", "invalid escape sequence: `\\9`" },
		{ "(?P<n>a)\\k<n>", "invalid escape sequence: `\\k`" },
		{ "(a)\\g1", "invalid escape sequence: `\\g`" },
		{ "(?P<n>a)(?P=n)",
		    "invalid or unsupported Perl syntax: `(?P`" },
		{ "a(?=b)", "invalid or unsupported Perl syntax: `(?=`" },
		{ "a(?!b)", "invalid or unsupported Perl syntax: `(?!`" },
		{ "(?<=a)b", "invalid or unsupported Perl syntax: `(?<=`" },
		{ "(?<!a)b", "invalid or unsupported Perl syntax: `(?<!`" },
		{ "(?>a)", "invalid or unsupported Perl syntax: `(?>`" },
		{ "a*+", "invalid nested repetition operator: `*+`" },
		{ "a++", "invalid nested repetition operator: `++`" },
		{ "a?+", "invalid nested repetition operator: `?+`" },
		{ "a{2}+", "invalid nested repetition operator: `{2}+`" },
		{ "a**", "invalid nested repetition operator: `**`" },
		{ "(a|(?R))", "invalid or unsupported Perl syntax: `(?R`" },
		{ "(a)(?1)", "invalid or unsupported Perl syntax: `(?1`" },
		{ "(a)(?+1)", "invalid or unsupported Perl syntax: `(?+`" },
		{ "(?&n)", "invalid or unsupported Perl syntax: `(?&`" },
		{ "(?(1)a|b)", "invalid or unsupported Perl syntax: `(?(`" },
		{ "a\\Kb", "invalid escape sequence: `\\K`" },
		{ "a(?C1)", "invalid or unsupported Perl syntax: `(?C`" },
		{ "(?#comment)", "invalid or unsupported Perl syntax: `(?#`" },
		{ "(?|a)", "invalid or unsupported Perl syntax: `(?|`" },
		{ "(?'n'a)", "invalid or unsupported Perl syntax: `(?'`" },
		{ "(*ACCEPT)", "missing argument to repetition operator: `*`" },
		{ "(?x)a b", "invalid or unsupported Perl syntax: `(?x`" },
		{ "(?i-)a", "invalid or unsupported Perl syntax: `(?i-)`" },
		{ "\\C", "invalid escape sequence: `\\C`" },
		{ "a\\Z", "invalid escape sequence: `\\Z`" },
		{ "\\e", "invalid escape sequence: `\\e`" },
		{ "\\h", "invalid escape sequence: `\\h`" },
		{ "\\R", "invalid escape sequence: `\\R`" },
		{ "\\X", "invalid escape sequence: `\\X`" },
		{ "\\x1", "invalid escape sequence: `\\x1`" },
		{ "\\x{110000}", "invalid escape sequence" },
		{ "[\\b]", "invalid escape sequence: `\\b`" },
		{ "\\", "trailing backslash at end of expression" },
		{ "(a", "missing closing ): `(a`" },
		{ "a)", "unexpected ): `a)`" },
		{ "[a", "missing closing ]: `[a`" },
		{ "[z-a]", "invalid character class range: `z-a`" },
		{ "[[:foo:]]", "invalid character class range: `[:foo:]`" },
		{ "\\p{Foo}", "invalid character class range" },
		{ "\\p{greek}", "invalid character class range" },
		{ "*a", "missing argument to repetition operator: `*`" },
		{ "a|*", "missing argument to repetition operator: `*`" },
		{ "a{1001}", "invalid repeat count: `{1001}`" },
		{ "a{2,1}", "invalid repeat count: `{2,1}`" },
		{ "(?P<a-b>x)", "invalid named capture: `(?P<a-b>`" },
		{ "(?P<>x)", "invalid named capture" },
		{ "\xff", "invalid UTF-8" },
	};
	size_t i;
	char *cause;

	(void)state;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cause = mkrule_fail("keep", "a", bad[i].regex, NULL, NULL);
		if (strstr(cause, bad[i].want) == NULL ||
		    strncmp(cause, "error parsing regexp: ", 22) != 0)
			fail_msg("regex %s: error \"%s\", want \"%s\"",
			    bad[i].regex, cause, bad[i].want);
		free(cause);
	}
}

static void
test_validation_errors(void **state)
{
	struct relabel_rule *r;
	char *cause = NULL;

	(void)state;
	expect_error("replace", NULL, NULL, NULL, NULL,
	    "relabel configuration for replace action requires "
	    "'target_label' value");
	expect_error("lowercase", NULL, NULL, NULL, NULL,
	    "relabel configuration for lowercase action requires "
	    "'target_label' value");
	expect_error("keepequal", "a", NULL, "", NULL,
	    "relabel configuration for keepequal action requires "
	    "'target_label' value");
	expect_error("replace", NULL, NULL, "0abc", NULL,
	    "\"0abc\" is invalid 'target_label' for replace action");
	expect_error("replace", NULL, NULL, "a.b$1", NULL,
	    "\"a.b$1\" is invalid 'target_label' for replace action");
	expect_error("replace", NULL, NULL, "${", NULL,
	    "\"${\" is invalid 'target_label' for replace action");
	expect_error("lowercase", NULL, NULL, "${3}", NULL,
	    "\"${3}\" is invalid 'target_label' for lowercase action");
	expect_error("uppercase", "a", NULL, "a\nb", NULL,
	    "\"a\\nb\" is invalid 'target_label' for uppercase action");
	expect_error("uppercase", "a", NULL, "b", "x",
	    "'replacement' can not be set for uppercase action");
	expect_error("labelmap", NULL, NULL, NULL, "a-$1",
	    "\"a-$1\" is invalid 'replacement' for labelmap action");
	expect_error("labelmap", NULL, NULL, NULL, "",
	    "\"\" is invalid 'replacement' for labelmap action");
	expect_error("keepequal", "a", "x", "b", NULL,
	    "keepequal action requires only 'source_labels' and "
	    "`target_label`, and no other fields");
	expect_error("labeldrop", "a", "x", NULL, NULL,
	    "labeldrop action requires only 'regex', and no other fields");
	expect_error("labelkeep", NULL, "x", "t", NULL,
	    "labelkeep action requires only 'regex', and no other fields");
	expect_error("labelkeep", NULL, "x", NULL, "$2",
	    "labelkeep action requires only 'regex', and no other fields");

	expect_error("keep", "ok,a.b", NULL, NULL, NULL,
	    "\"a.b\" is not a valid label name");

	/* Regex errors come first, as Prometheus parses them first. */
	expect_error("keepequal", "a", "(", NULL, NULL,
	    "error parsing regexp: missing closing ): `(`");

	/* hashmod: modulus, then target. */
	r = relabel_rule_create();
	r->action = RELABEL_HASHMOD;
	set_str(&r->target_label, "t");
	assert_int_equal(relabel_rule_compile(r, &cause), -1);
	assert_string_equal(cause, "relabel configuration for hashmod "
	    "requires non-zero modulus");
	free(cause);
	r->modulus = 2;
	set_str(&r->target_label, "$1");
	assert_int_equal(relabel_rule_compile(r, &cause), -1);
	assert_string_equal(cause,
	    "\"$1\" is invalid 'target_label' for hashmod action");
	free(cause);
	/* Fixed fields recompile fine. */
	set_str(&r->target_label, "t");
	assert_int_equal(relabel_rule_compile(r, &cause), 0);
	assert_null(cause);
	relabel_rule_free(r);

	/* Separator and modulus on keepequal / labeldrop. */
	r = relabel_rule_create();
	r->action = RELABEL_DROPEQUAL;
	set_sources(r, "a");
	set_str(&r->target_label, "b");
	set_str(&r->separator, ",");
	assert_int_equal(relabel_rule_compile(r, &cause), -1);
	assert_string_equal(cause, "dropequal action requires only "
	    "'source_labels' and `target_label`, and no other fields");
	free(cause);
	relabel_rule_free(r);
	r = relabel_rule_create();
	r->action = RELABEL_LABELDROP;
	r->modulus = 3;
	assert_int_equal(relabel_rule_compile(r, &cause), -1);
	free(cause);
	relabel_rule_free(r);

	/* Valid templates. */
	relabel_rule_free(mkrule("replace", NULL, NULL, "foo${bar}foo", NULL));
	relabel_rule_free(mkrule("replace", NULL, NULL, "_${1}_", NULL));
	relabel_rule_free(mkrule("labelmap", NULL, NULL, NULL, "__param_$1"));
}

static void
test_case_ignores_regex(void **state)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;

	(void)state;
	/* lowercase/uppercase/hashmod do not consult the regex. */
	mklabels(&ls, "a", "ABC", NULL);
	assert_int_equal(apply1(mkrule("lowercase", "a", "x", "b", NULL),
	    &ls, &a), 1);
	assert_labels(&ls, "{a=\"ABC\",b=\"abc\"}");
	labels_free(&ls);
	arena_free(&a);
}

static void
test_fast_paths_agree(void **state)
{
	static const char *values[] = { "", "up", "down", "u", "upx",
	    "up|down", "\xff", "a\nb" };
	static const char *regexes[][2] = {
		/* A literal shape and an equivalent PCRE2 shape. */
		{ "up|down", "(?:up|down)" },
		{ "up", "u[p]" },
		{ "", "(?:)" },
		{ "up|", "up|(?:)" },
		{ "(.*)", "(.*?)" },
		{ ".*", "(?:.*)" },
		{ "up\\|down", "up[|]down" },
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof regexes / sizeof regexes[0]; i++) {
		for (j = 0; j < sizeof values / sizeof values[0]; j++) {
			/* PCRE2 cannot match invalid UTF-8; RE2 can. */
			if (values[j][0] == '\xff' && i >= 4)
				continue;
			if (matches(regexes[i][0], values[j]) !=
			    matches(regexes[i][1], values[j]))
				fail_msg("%s and %s disagree on \"%s\"",
				    regexes[i][0], regexes[i][1], values[j]);
		}
	}
	/* The default regex matches values PCRE2 could not. */
	assert_true(matches("(.*)", "\xff"));
	expect_replace("(.*)", "a\xff", "t", "<$1>",
	    "{a=\"a\xff\",t=\"<a\xff>\"}");
}

/*
 * "(?:RE)" means RE but defeats the literal fast path and the literal
 * prefix/suffix prefilter, so both shapes must agree everywhere.
 */
static void
test_prefilter_agrees(void **state)
{
	static const char *regexes[] = {
		"abc", "^abc$", "^abc", "abc$", "abc$$", "a\\n$", "ab*",
		"ab?c", "a{2}b", "ab{0}c", "ab{1,2}", "a|b", "ab|abc", "a$b",
		"a.*a", "a.*", ".*a", "ab(c|d)e", "(?i)ab", "ab(?i)c",
		"(?i:a)bc", "\\x{e9}+x", "a\\x{e9}*", "a\\d", "\\Qab\\E*",
		"\\Qab\\E", "a(b)c", "a+", "a(?:)b", "^*ab", "ab\\b", "a[b]c",
		"a{,2}", "a\\{", "(?m)ab$", "(?s)ab", "(?U)ab+", "^a|b$",
		"ab$|c", "a^b", "\\Aab\\z", "a\\pLc", "a{2,}?",
	};
	static const char *values[] = {
		"", "a", "aa", "aaa", "ab", "abc", "abcc", "abd", "abce",
		"abde", "ABC", "Abc", "aBc", "aB", "a\n", "ab\n", "abb",
		"b", "acd", "\xc3\xa9x", "\xc3\xa9\xc3\xa9x",
		"a\xc3\xa9\xc3\xa9", "a1", "abab", "ababc", "a{,2}", "a{",
		"c", "axc", "a\xc3\xa9" "c", "aba",
	};
	char *wrapped;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof regexes / sizeof regexes[0]; i++) {
		xasprintf(&wrapped, "(?:%s)", regexes[i]);
		for (j = 0; j < sizeof values / sizeof values[0]; j++) {
			if (matches(regexes[i], values[j]) !=
			    matches(wrapped, values[j]))
				fail_msg("%s and %s disagree on \"%s\"",
				    regexes[i], wrapped, values[j]);
		}
		free(wrapped);
	}
	/* Spot checks that the table means something. */
	assert_true(matches("^abc$", "abc"));
	assert_true(matches("a\n$", "a\n"));
	assert_true(matches("ab{0}c", "ac"));
	assert_false(matches("ab{0}c", "abc"));
	assert_true(matches("ab?c", "ac"));
	assert_true(matches("(?i)ab", "AB"));
	assert_true(matches("ab|abc", "abc"));
}

static void
test_literal_allowlist(void **state)
{
	struct buf re = BUF_INIT, wrapped = BUF_INIT;
	char name[32];
	int i;

	(void)state;
	/* Out of order, with a duplicate and an empty alternative. */
	for (i = 299; i >= 0; i--)
		buf_printf(&re, "metric_%d_total|", i * 7);
	buf_puts(&re, "metric_0_total|up|");
	buf_printf(&wrapped, "(?:%s)", re.data);
	for (i = 0; i < 2100; i++) {
		snprintf(name, sizeof name, "metric_%d_total", i);
		assert_int_equal(matches(re.data, name), i % 7 == 0);
	}
	assert_true(matches(re.data, "up"));
	assert_true(matches(re.data, ""));
	assert_false(matches(re.data, "metric_7"));
	assert_false(matches(re.data, "metric_7_total_x"));
	assert_false(matches(re.data, "u"));
	assert_int_equal(matches(wrapped.data, "metric_14_total"), 1);
	assert_int_equal(matches(wrapped.data, "metric_15_total"), 0);
	buf_free(&re);
	buf_free(&wrapped);
}

static void
test_strings_do_not_point_into_rules(void **state)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;
	struct relabel_rules rs = { NULL, 0 };
	struct relabel_rule *r;
	size_t i;
	char *cause = NULL;

	(void)state;
	mklabels(&ls, "a", "foo", NULL);
	relabel_rules_add(&rs, mkrule(NULL, NULL, NULL, "static", "value"));
	relabel_rules_add(&rs, mkrule(NULL, "a", "f(.*)", "t", "x$1"));
	relabel_rules_add(&rs, mkrule(NULL, "a", "f(.*)", "u", "$1"));
	r = relabel_rule_create();
	r->action = RELABEL_HASHMOD;
	r->modulus = 10;
	set_sources(r, "a");
	set_str(&r->target_label, "h");
	assert_int_equal(relabel_rule_compile(r, &cause), 0);
	relabel_rules_add(&rs, r);
	relabel_rules_add(&rs, mkrule("uppercase", "a", NULL, "up", NULL));
	assert_int_equal(relabel_apply(&rs, &ls, &a), 1);
	/* Free the rules (a reload); the result must stay intact. */
	relabel_rules_free(&rs);
	assert_labels(&ls, "{a=\"foo\",h=\"6\",static=\"value\",t=\"xoo\","
	    "u=\"oo\",up=\"FOO\"}");
	for (i = 0; i < ls.n; i++)
		assert_true(labels_valid_label_name(ls.v[i].name));
	labels_free(&ls);
	arena_free(&a);
}

static void
test_many_rules_reuse_scratch(void **state)
{
	struct labels ls = LABELS_INIT;
	struct arena a = ARENA_INIT;
	struct relabel_rules rs = { NULL, 0 };
	int i;

	(void)state;
	relabel_rules_add(&rs, mkrule("keep", "__name__,job",
	    "(?:up|node_.*);(node|api)", NULL, NULL));
	relabel_rules_add(&rs, mkrule(NULL, "job,instance", "(.*);(.*):\\d+",
	    "host", "$2"));
	relabel_rules_add(&rs, mkrule("labeldrop", NULL, "instance", NULL,
	    NULL));
	for (i = 0; i < 1000; i++) {
		mklabels(&ls, "__name__", i % 2 ? "up" : "node_load1", "job",
		    "node", "instance", "h1.example:9100", NULL);
		assert_int_equal(relabel_apply(&rs, &ls, &a), 1);
		assert_labels(&ls, i % 2 ?
		    "up{host=\"h1.example\",job=\"node\"}" :
		    "node_load1{host=\"h1.example\",job=\"node\"}");
		arena_reset(&a);
	}
	mklabels(&ls, "__name__", "up", "job", "db", NULL);
	assert_int_equal(relabel_apply(&rs, &ls, &a), 0);
	relabel_rules_free(&rs);
	labels_free(&ls);
	arena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_actions),
		cmocka_unit_test(test_replace_defaults),
		cmocka_unit_test(test_replace_expansion),
		cmocka_unit_test(test_replace_edge_cases),
		cmocka_unit_test(test_replace_targets_name),
		cmocka_unit_test(test_keep_drop),
		cmocka_unit_test(test_keepequal_dropequal),
		cmocka_unit_test(test_hashmod),
		cmocka_unit_test(test_labelmap),
		cmocka_unit_test(test_labeldrop_labelkeep),
		cmocka_unit_test(test_lowercase_uppercase),
		cmocka_unit_test(test_anchoring_and_dotall),
		cmocka_unit_test(test_re2_syntax_accepted),
		cmocka_unit_test(test_re2_semantics_differences),
		cmocka_unit_test(test_re2_rejected),
		cmocka_unit_test(test_validation_errors),
		cmocka_unit_test(test_case_ignores_regex),
		cmocka_unit_test(test_fast_paths_agree),
		cmocka_unit_test(test_prefilter_agrees),
		cmocka_unit_test(test_literal_allowlist),
		cmocka_unit_test(test_strings_do_not_point_into_rules),
		cmocka_unit_test(test_many_rules_reuse_scratch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
