/*
 * libyaml events to a tree of struct ynode.
 *
 * The builder keeps a stack of open sequences and mappings; each event
 * either opens one, closes one or adds a scalar to the innermost. Nothing
 * recurses on input depth except copying and freeing, and depth is capped,
 * so a hostile file cannot exhaust the C stack.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define YAML_TREE_LIBYAML
#include "yaml.h"
#include "xmalloc.h"

/* Far above any real config; bounds alias expansion and nesting. */
#define YAML_TREE_MAX_NODES	(4U * 1024 * 1024)
#define YAML_TREE_MAX_DEPTH	128

#define YAML_TAG_PREFIX		"tag:yaml.org,2002:"

/* Builder-only flag on a mapping: a key awaits its value. */
#define YNODE_PENDING		0x80000000U

struct yaml_anchor {
	char		*name;
	struct ynode	*node;
	int		 done;		/* the node is complete */
};

struct yaml_build {
	struct yaml_tree	 *tree;
	struct ynode		**stack;
	size_t			  depth;
	struct yaml_anchor	 *anchors;
	size_t			  nanchors;
	struct ynode		**graveyard;
	size_t			  ngraveyard;
	int			  ndocs;
	char			 *cause;
};

static void	yaml_node_release(struct ynode *);

static void
yaml_errorf(struct yaml_build *yb, unsigned line, unsigned col,
    const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (yb->cause != NULL)
		return;
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	xasprintf(&yb->cause, "%s:%u:%u: %s", yb->tree->file, line, col, msg);
	free(msg);
}

/* The key whose value is being built, for "key: message" errors. */
static const char *
yaml_context(const struct yaml_build *yb)
{
	const struct ynode *top;

	if (yb->depth == 0)
		return "yaml";
	top = yb->stack[yb->depth - 1];
	if (top->type == YNODE_MAP && (top->flags & YNODE_PENDING))
		return top->v[2 * top->n]->value;
	return "yaml";
}

static struct ynode *
yaml_node_new(struct yaml_build *yb, enum ynode_type type, unsigned line,
    unsigned column)
{
	struct ynode *n;

	if (yb->tree->nodes >= YAML_TREE_MAX_NODES) {
		yaml_errorf(yb, line, column, "syntax error: document too "
		    "large (more than %u nodes after alias expansion)",
		    YAML_TREE_MAX_NODES);
		return NULL;
	}
	yb->tree->nodes++;
	n = xcalloc(1, sizeof *n);
	n->type = type;
	n->file = yb->tree->file;
	n->line = line;
	n->column = column;
	return n;
}

static void
yaml_node_release(struct ynode *n)
{
	size_t i, count;

	if (n == NULL)
		return;
	count = n->type == YNODE_MAP ? 2 * n->n : n->n;
	if (n->flags & YNODE_PENDING)
		count++;
	for (i = 0; i < count; i++)
		yaml_node_release(n->v[i]);
	free(n->v);
	free(n->value);
	free(n);
}

static void
yaml_node_push(struct ynode *parent, struct ynode *child)
{
	size_t slot;

	slot = parent->type == YNODE_MAP ? 2 * parent->n : parent->n;
	if (parent->flags & YNODE_PENDING) {
		parent->v[slot + 1] = child;
		parent->n++;
		parent->flags &= ~YNODE_PENDING;
		return;
	}
	if (slot + 2 > parent->cap) {
		parent->cap = parent->cap == 0 ? 8 : parent->cap * 2;
		parent->v = xreallocarray(parent->v, parent->cap,
		    sizeof *parent->v);
	}
	parent->v[slot] = child;
	if (parent->type == YNODE_MAP)
		parent->flags |= YNODE_PENDING;
	else
		parent->n++;
}

/* Keep a detached node alive until the end: anchors may point into it. */
static void
yaml_bury(struct yaml_build *yb, struct ynode *n)
{
	yb->graveyard = xreallocarray(yb->graveyard, yb->ngraveyard + 1,
	    sizeof *yb->graveyard);
	yb->graveyard[yb->ngraveyard++] = n;
}

/*
 * A deep copy of an anchored node for an alias. Positions stay those of
 * the original: that is where the text to fix is.
 */
static struct ynode *
yaml_node_copy(struct yaml_build *yb, const struct ynode *src)
{
	struct ynode *n;
	size_t i, count;

	if ((n = yaml_node_new(yb, src->type, src->line, src->column)) == NULL)
		return NULL;
	n->flags = src->flags & ~YNODE_PENDING;
	if (src->value != NULL) {
		n->value = xmalloc(src->len + 1);
		memcpy(n->value, src->value, src->len + 1);
		n->len = src->len;
	}
	count = src->type == YNODE_MAP ? 2 * src->n : src->n;
	if (count == 0)
		return n;
	n->cap = count;
	n->v = xreallocarray(NULL, count, sizeof *n->v);
	for (i = 0; i < count; i++) {
		if ((n->v[i] = yaml_node_copy(yb, src->v[i])) == NULL) {
			/* Release exactly what was copied. */
			if (src->type == YNODE_MAP) {
				n->n = i / 2;
				if (i % 2 == 1)
					n->flags |= YNODE_PENDING;
			} else
				n->n = i;
			yaml_node_release(n);
			return NULL;
		}
	}
	n->n = src->n;
	return n;
}

static int
yaml_base64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decode base64 in place; whitespace is ignored as YAML allows. */
static int
yaml_base64_decode(char *s, size_t *len)
{
	size_t i, out = 0, quad = 0, pad = 0;
	unsigned acc = 0;
	int v;

	for (i = 0; i < *len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == '=') {
			pad++;
			acc <<= 6;
			quad++;
		} else {
			if (pad != 0 || (v = yaml_base64_value(c)) == -1)
				return -1;
			acc = (acc << 6) | (unsigned)v;
			quad++;
		}
		if (quad == 4) {
			if (pad > 2)
				return -1;
			s[out++] = (char)(acc >> 16);
			if (pad < 2)
				s[out++] = (char)(acc >> 8);
			if (pad < 1)
				s[out++] = (char)acc;
			acc = 0;
			quad = 0;
			if (pad != 0)
				pad = 3;	/* nothing may follow padding */
		}
	}
	if (quad != 0)
		return -1;
	s[out] = '\0';
	*len = out;
	return 0;
}

static const char *
yaml_tag_name(const yaml_char_t *tag)
{
	const char *t = (const char *)tag;

	if (t == NULL)
		return NULL;
	if (strncmp(t, YAML_TAG_PREFIX, strlen(YAML_TAG_PREFIX)) == 0)
		return t + strlen(YAML_TAG_PREFIX);
	return t;
}

static struct ynode *
yaml_scalar(struct yaml_build *yb, yaml_event_t *ev)
{
	const char *tag = yaml_tag_name(ev->data.scalar.tag);
	const char *val = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct ynode *n;

	n = yaml_node_new(yb, YNODE_SCALAR, (unsigned)ev->start_mark.line + 1,
	    (unsigned)ev->start_mark.column + 1);
	if (n == NULL)
		return NULL;
	n->value = xmalloc(len + 1);
	memcpy(n->value, val, len);
	n->value[len] = '\0';
	n->len = len;
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		n->flags |= YNODE_QUOTED;
	if (tag == NULL) {
		if (!(n->flags & YNODE_QUOTED) && (len == 0 ||
		    strcmp(n->value, "~") == 0 ||
		    strcmp(n->value, "null") == 0 ||
		    strcmp(n->value, "Null") == 0 ||
		    strcmp(n->value, "NULL") == 0))
			n->flags |= YNODE_NULL;
	} else if (strcmp(tag, "!") == 0 || strcmp(tag, "str") == 0)
		n->flags |= YNODE_QUOTED;
	else if (strcmp(tag, "null") == 0)
		n->flags |= YNODE_NULL;
	else if (strcmp(tag, "binary") == 0) {
		if (yaml_base64_decode(n->value, &n->len) == -1) {
			yaml_errorf(yb, n->line, n->column, "%s: !!binary "
			    "value contains invalid base64 data",
			    yaml_context(yb));
			yaml_node_release(n);
			return NULL;
		}
		n->flags |= YNODE_BINARY | YNODE_QUOTED;
	} else if (strcmp(tag, "int") != 0 && strcmp(tag, "float") != 0 &&
	    strcmp(tag, "bool") != 0) {
		yaml_errorf(yb, n->line, n->column,
		    "%s: unsupported YAML tag \"%s\"", yaml_context(yb),
		    (const char *)ev->data.scalar.tag);
		yaml_node_release(n);
		return NULL;
	}
	return n;
}

static int
yaml_check_collection_tag(struct yaml_build *yb, const yaml_char_t *raw,
    const char *want, const yaml_mark_t *mark)
{
	const char *tag = yaml_tag_name(raw);

	if (tag == NULL || strcmp(tag, "!") == 0 || strcmp(tag, want) == 0)
		return 0;
	yaml_errorf(yb, (unsigned)mark->line + 1, (unsigned)mark->column + 1,
	    "%s: unsupported YAML tag \"%s\"", yaml_context(yb),
	    (const char *)raw);
	return -1;
}

static void
yaml_anchor_add(struct yaml_build *yb, const yaml_char_t *name,
    struct ynode *n, int done)
{
	struct yaml_anchor *a;

	if (name == NULL)
		return;
	yb->anchors = xreallocarray(yb->anchors, yb->nanchors + 1,
	    sizeof *yb->anchors);
	a = &yb->anchors[yb->nanchors++];
	a->name = xstrdup((const char *)name);
	a->node = n;
	a->done = done;
}

static void
yaml_anchor_done(struct yaml_build *yb, const struct ynode *n)
{
	size_t i;

	for (i = yb->nanchors; i > 0; i--) {
		if (yb->anchors[i - 1].node == n) {
			yb->anchors[i - 1].done = 1;
			return;
		}
	}
}

static struct ynode *
yaml_alias(struct yaml_build *yb, yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	unsigned line = (unsigned)ev->start_mark.line + 1;
	unsigned col = (unsigned)ev->start_mark.column + 1;
	size_t i;

	for (i = yb->nanchors; i > 0; i--) {
		struct yaml_anchor *a = &yb->anchors[i - 1];
		if (strcmp(a->name, name) != 0)
			continue;
		if (!a->done) {
			yaml_errorf(yb, line, col, "syntax error: alias *%s "
			    "refers to a node that contains it", name);
			return NULL;
		}
		return yaml_node_copy(yb, a->node);
	}
	yaml_errorf(yb, line, col, "syntax error: unknown anchor *%s", name);
	return NULL;
}

static int
yaml_is_merge_key(const struct ynode *k)
{
	return k->type == YNODE_SCALAR && !(k->flags & YNODE_QUOTED) &&
	    strcmp(k->value, "<<") == 0;
}

static int
yaml_key_cmp(const struct ynode *a, const struct ynode *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c;

	if ((c = memcmp(a->value, b->value, n)) != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static int
yaml_key_sort_cmp(const void *pa, const void *pb)
{
	const struct ynode *const *a = pa, *const *b = pb;

	return yaml_key_cmp(*a, *b);
}

static int
yaml_before(const struct ynode *a, const struct ynode *b)
{
	return a->line < b->line || (a->line == b->line &&
	    a->column < b->column);
}

/* Reject duplicate explicit keys, reporting the later occurrence. */
static int
yaml_map_check_dups(struct yaml_build *yb, const struct ynode *m)
{
	const struct ynode **keys, *a, *b;
	size_t i, nkeys = 0;
	int rc = 0;

	keys = xreallocarray(NULL, m->n + 1, sizeof *keys);
	for (i = 0; i < m->n; i++) {
		if (!yaml_is_merge_key(YNODE_KEY(m, i)))
			keys[nkeys++] = YNODE_KEY(m, i);
	}
	qsort(keys, nkeys, sizeof *keys, yaml_key_sort_cmp);
	for (i = 1; i < nkeys; i++) {
		if (yaml_key_cmp(keys[i - 1], keys[i]) != 0)
			continue;
		a = keys[i - 1];
		b = keys[i];
		if (yaml_before(b, a)) {
			a = keys[i];
			b = keys[i - 1];
		}
		yaml_errorf(yb, b->line, b->column, "%s: duplicate key "
		    "(already set at line %u)", b->value, a->line);
		rc = -1;
		break;
	}
	free(keys);
	return rc;
}

static int
yaml_map_has(const struct ynode *m, const struct ynode *key)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (yaml_key_cmp(YNODE_KEY(m, i), key) == 0)
			return 1;
	}
	return 0;
}

/*
 * Finish a mapping: reject duplicate keys among the explicit ones, then
 * apply "<<" merges. Keys from merged mappings only fill gaps, and in a
 * list of merged mappings the earlier one wins (YAML 1.1). Merged pairs
 * are copied; the merge sources are buried, not freed, because an anchor
 * may still refer to them.
 */
static int
yaml_map_finish(struct yaml_build *yb, struct ynode *m)
{
	const struct ynode **srcs = NULL, *src;
	struct ynode *k, *val, *ck, *cv;
	size_t i, j, out = 0, nsrcs = 0;
	int rc = -1;

	if (yaml_map_check_dups(yb, m) == -1)
		return -1;
	for (i = 0; i < m->n; i++) {
		k = YNODE_KEY(m, i);
		val = YNODE_VAL(m, i);
		if (!yaml_is_merge_key(k)) {
			YNODE_KEY(m, out) = k;
			YNODE_VAL(m, out) = val;
			out++;
			continue;
		}
		yaml_bury(yb, k);
		yaml_bury(yb, val);
		if (val->type == YNODE_MAP) {
			srcs = xreallocarray(srcs, nsrcs + 1, sizeof *srcs);
			srcs[nsrcs++] = val;
			continue;
		}
		for (j = 0; val->type == YNODE_SEQ && j < val->n; j++) {
			if (val->v[j]->type != YNODE_MAP)
				break;
		}
		if (val->type != YNODE_SEQ || j != val->n) {
			yaml_errorf(yb, val->line, val->column, "<<: merge "
			    "value must be a mapping or a list of mappings");
			for (i++; i < m->n; i++) {
				YNODE_KEY(m, out) = YNODE_KEY(m, i);
				YNODE_VAL(m, out) = YNODE_VAL(m, i);
				out++;
			}
			m->n = out;
			goto out;
		}
		srcs = xreallocarray(srcs, nsrcs + val->n, sizeof *srcs);
		for (j = 0; j < val->n; j++)
			srcs[nsrcs++] = val->v[j];
	}
	m->n = out;

	for (j = 0; j < nsrcs; j++) {
		src = srcs[j];
		for (i = 0; i < src->n; i++) {
			if (yaml_map_has(m, YNODE_KEY(src, i)))
				continue;
			ck = yaml_node_copy(yb, YNODE_KEY(src, i));
			if (ck == NULL)
				goto out;
			cv = yaml_node_copy(yb, YNODE_VAL(src, i));
			if (cv == NULL) {
				yaml_node_release(ck);
				goto out;
			}
			yaml_node_push(m, ck);
			yaml_node_push(m, cv);
		}
	}
	rc = 0;
out:
	free(srcs);
	return rc;
}

/* Attach a finished node to the innermost open collection (or root). */
static int
yaml_attach(struct yaml_build *yb, struct ynode *n)
{
	struct ynode *parent;

	if (yb->depth == 0) {
		yb->tree->root = n;
		return 0;
	}
	parent = yb->stack[yb->depth - 1];
	if (parent->type == YNODE_MAP && !(parent->flags & YNODE_PENDING) &&
	    n->type != YNODE_SCALAR) {
		yaml_errorf(yb, n->line, n->column,
		    "syntax error: mapping keys must be scalars");
		yaml_node_release(n);
		return -1;
	}
	yaml_node_push(parent, n);
	return 0;
}

static int
yaml_event(struct yaml_build *yb, yaml_event_t *ev)
{
	struct ynode *n;
	unsigned line = (unsigned)ev->start_mark.line + 1;
	unsigned col = (unsigned)ev->start_mark.column + 1;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++yb->ndocs > 1) {
			yaml_errorf(yb, line, col, "syntax error: more than "
			    "one YAML document in the file");
			return -1;
		}
		return 0;
	case YAML_SCALAR_EVENT:
		if ((n = yaml_scalar(yb, ev)) == NULL)
			return -1;
		yaml_anchor_add(yb, ev->data.scalar.anchor, n, 1);
		return yaml_attach(yb, n);
	case YAML_ALIAS_EVENT:
		if ((n = yaml_alias(yb, ev)) == NULL)
			return -1;
		return yaml_attach(yb, n);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (ev->type == YAML_SEQUENCE_START_EVENT) {
			if (yaml_check_collection_tag(yb,
			    ev->data.sequence_start.tag, "seq",
			    &ev->start_mark) == -1)
				return -1;
		} else if (yaml_check_collection_tag(yb,
		    ev->data.mapping_start.tag, "map", &ev->start_mark) == -1)
			return -1;
		if (yb->depth >= YAML_TREE_MAX_DEPTH) {
			yaml_errorf(yb, line, col, "syntax error: nesting "
			    "deeper than %d levels", YAML_TREE_MAX_DEPTH);
			return -1;
		}
		if (yb->depth > 0 &&
		    yb->stack[yb->depth - 1]->type == YNODE_MAP &&
		    !(yb->stack[yb->depth - 1]->flags & YNODE_PENDING)) {
			yaml_errorf(yb, line, col,
			    "syntax error: mapping keys must be scalars");
			return -1;
		}
		n = yaml_node_new(yb, ev->type == YAML_SEQUENCE_START_EVENT ?
		    YNODE_SEQ : YNODE_MAP, line, col);
		if (n == NULL)
			return -1;
		yaml_anchor_add(yb, ev->type == YAML_SEQUENCE_START_EVENT ?
		    ev->data.sequence_start.anchor :
		    ev->data.mapping_start.anchor, n, 0);
		/*
		 * Attach first, so an error anywhere below frees it with
		 * the tree.
		 */
		if (yaml_attach(yb, n) == -1)
			return -1;
		yb->stack[yb->depth++] = n;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		n = yb->stack[--yb->depth];
		if (n->type == YNODE_MAP && yaml_map_finish(yb, n) == -1)
			return -1;
		yaml_anchor_done(yb, n);
		return 0;
	default:
		return 0;
	}
}

struct yaml_tree *
yaml_tree_load(const char *name, const char *buf, size_t len, char **cause)
{
	struct yaml_build yb;
	struct yaml_tree *tree;
	yaml_parser_t parser;
	yaml_event_t ev;
	size_t i;
	int done = 0;

	tree = xcalloc(1, sizeof *tree);
	tree->file = xstrdup(name);
	memset(&yb, 0, sizeof yb);
	yb.tree = tree;
	yb.stack = xreallocarray(NULL, YAML_TREE_MAX_DEPTH, sizeof *yb.stack);

	if (!yaml_parser_initialize(&parser)) {
		xasprintf(&yb.cause, "%s: cannot initialize YAML parser",
		    name);
		goto out;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf,
	    len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			const char *ctx = parser.context;
			yaml_errorf(&yb, (unsigned)parser.problem_mark.line + 1,
			    (unsigned)parser.problem_mark.column + 1,
			    "syntax error: %s%s%s",
			    parser.problem != NULL ? parser.problem :
			    "invalid YAML", ctx != NULL ? " " : "",
			    ctx != NULL ? ctx : "");
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		if (yaml_event(&yb, &ev) == -1)
			done = 1;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
out:
	if (yb.cause != NULL) {
		/* Open collections hang off the root: this frees them too. */
		*cause = yb.cause;
		yaml_tree_free(tree);
		tree = NULL;
	}
	for (i = 0; i < yb.nanchors; i++)
		free(yb.anchors[i].name);
	free(yb.anchors);
	for (i = 0; i < yb.ngraveyard; i++)
		yaml_node_release(yb.graveyard[i]);
	free(yb.graveyard);
	free(yb.stack);
	return tree;
}

void
yaml_tree_free(struct yaml_tree *tree)
{
	if (tree == NULL)
		return;
	yaml_node_release(tree->root);
	free(tree->file);
	free(tree);
}

struct ynode *
yaml_tree_map_get(const struct ynode *m, const char *key)
{
	size_t i, len = strlen(key);

	if (m == NULL || m->type != YNODE_MAP)
		return NULL;
	for (i = 0; i < m->n; i++) {
		const struct ynode *k = YNODE_KEY(m, i);
		if (k->len == len && memcmp(k->value, key, len) == 0)
			return YNODE_VAL(m, i);
	}
	return NULL;
}

const char *
yaml_tree_kind(const struct ynode *n)
{
	if (n == NULL)
		return "nothing";
	switch (n->type) {
	case YNODE_SCALAR:
		return (n->flags & YNODE_NULL) ? "null" : "a scalar";
	case YNODE_SEQ:
		return "a sequence";
	case YNODE_MAP:
		return "a mapping";
	}
	return "?";
}
