/*
 * A YAML document as a small tree, built from libyaml's event stream.
 *
 * Every node carries the file name and the 1-based line and column where it
 * starts, so the config stage can say exactly where a value is wrong. The
 * tree is plain data: scalars are NUL-terminated byte strings (YAML types
 * are resolved by the consumer, which knows what it expects), sequences and
 * mappings are arrays of child pointers. A mapping holds its pairs
 * flattened, key then value:
 *
 *	v[0] key 0   v[1] value 0   v[2] key 1   v[3] value 1 ...
 *	n = number of pairs
 *
 * Loading is strict: mapping keys must be scalars and unique, a stream
 * holds at most one document, tags other than the YAML core ones are
 * errors. Anchors and aliases are supported by copying the anchored node
 * (bounded by a node budget, so an "alias bomb" fails instead of eating
 * memory); "<<" merge keys work as in YAML 1.1, explicit keys win. A
 * "!!binary" scalar is decoded from base64 and flagged.
 *
 * This header has the same name as libyaml's; only src/yaml.c needs
 * libyaml itself and gets it with YAML_TREE_LIBYAML defined.
 */
#ifndef PROMLET_YAML_H
#define PROMLET_YAML_H

#include <stddef.h>

enum ynode_type {
	YNODE_SCALAR = 0,
	YNODE_SEQ,
	YNODE_MAP,
};

/* Scalar flags. */
#define YNODE_QUOTED	0x1	/* quoted, block or !!str: always a string */
#define YNODE_NULL	0x2	/* plain "", "~", "null" or !!null */
#define YNODE_BINARY	0x4	/* decoded from !!binary */

struct ynode {
	enum ynode_type	  type;
	unsigned	  flags;
	unsigned	  line;		/* 1-based */
	unsigned	  column;	/* 1-based */
	const char	 *file;		/* owned by the tree */
	char		 *value;	/* scalar bytes, NUL-terminated */
	size_t		  len;
	struct ynode	**v;		/* children, see above */
	size_t		  n;		/* items, or pairs for a mapping */
	size_t		  cap;
};

#define YNODE_KEY(m, i)	((m)->v[2 * (i)])
#define YNODE_VAL(m, i)	((m)->v[2 * (i) + 1])

struct yaml_tree {
	char		*file;
	struct ynode	*root;		/* NULL for an empty document */
	size_t		 nodes;
};

/*
 * Parse buf (len bytes) as one YAML document. name is used in error
 * messages and node positions. Returns NULL and "name:line:col: message"
 * in *cause on error.
 */
struct yaml_tree	*yaml_tree_load(const char *name, const char *buf,
			    size_t len, char **cause);
void			 yaml_tree_free(struct yaml_tree *);
/* The value for key in a mapping, or NULL. */
struct ynode		*yaml_tree_map_get(const struct ynode *, const char *);
/* "a scalar", "a sequence", "a mapping": for "expected X, got Y". */
const char		*yaml_tree_kind(const struct ynode *);

#ifdef YAML_TREE_LIBYAML
#include_next <yaml.h>
#endif

#endif
