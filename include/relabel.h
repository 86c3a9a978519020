/*
 * relabel_configs, metric_relabel_configs and write_relabel_configs.
 *
 * A rule holds the config as written (defaults filled as Prometheus does:
 * separator ";", regex "(.*)", replacement "$1", action replace) and its
 * compiled regex. Regexes use RE2 syntax, fully anchored, with "." matching
 * newline; constructs RE2 rejects (backreferences, lookaround) are config
 * errors. Compilation uses PCRE2, with JIT when available.
 *
 * relabel_apply() works on a sorted label set in place. New strings it
 * makes (expanded replacements, case changes, target names) are allocated
 * in the arena the caller passes, which must outlive the label set; the
 * result never points into the rules, so rules may be freed (reload)
 * while results live on. Unchanged values stay where they were, and a
 * value may become a slice of another value of the input set.
 *
 * Threads: a compiled rule keeps scratch state (its PCRE2 match data and
 * the buffer joining source values), so one rule list must not be applied
 * from two threads at once. promlet applies rules only on its event-loop
 * thread. Beyond the arena and growth of the label array (and, once, of
 * that buffer), applying rules allocates nothing.
 *
 * See docs/relabel.md for the RE2 subset and the known differences.
 */
#ifndef PROMLET_RELABEL_H
#define PROMLET_RELABEL_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"

struct arena;

enum relabel_action {
	RELABEL_REPLACE = 0,
	RELABEL_KEEP,
	RELABEL_DROP,
	RELABEL_KEEPEQUAL,
	RELABEL_DROPEQUAL,
	RELABEL_HASHMOD,
	RELABEL_LABELMAP,
	RELABEL_LABELDROP,
	RELABEL_LABELKEEP,
	RELABEL_LOWERCASE,
	RELABEL_UPPERCASE,
};

struct relabel_rule {
	char			**source_labels;
	size_t			  nsource;
	char			 *separator;
	char			 *regex;	/* as written, unanchored */
	uint64_t		  modulus;
	char			 *target_label;	/* NULL when not set */
	char			 *replacement;
	enum relabel_action	  action;

	void			 *compiled;	/* private: pcre2 code */
};

struct relabel_rules {
	struct relabel_rule	**v;
	size_t			  n;
};

/* A rule with Prometheus's defaults; the caller sets fields then compiles. */
struct relabel_rule *relabel_rule_create(void);
void		 relabel_rule_free(struct relabel_rule *);
/* Case-insensitive, as Prometheus; -1 when unknown. */
int		 relabel_action_parse(const char *, enum relabel_action *);
const char	*relabel_action_name(enum relabel_action);
/*
 * relabel_action_parse with Prometheus's messages: "relabel action cannot
 * be empty" or "unknown relabel action \"x\"".
 */
int		 relabel_rule_set_action(struct relabel_rule *, const char *,
		    char **cause);
/*
 * Validate and compile; on error *cause is an allocated message with
 * Prometheus's text (regex errors read like Go's "error parsing regexp:
 * ..."). The caller adds file:line:column. May be called again after the
 * fields change. NULL separator/regex/replacement mean "".
 */
int		 relabel_rule_compile(struct relabel_rule *, char **cause);
void		 relabel_rules_add(struct relabel_rules *,
		    struct relabel_rule *);
/* Frees the rules and the array, leaving an empty list. */
void		 relabel_rules_free(struct relabel_rules *);

/*
 * Returns 1 when the series is kept, 0 when dropped (the first dropping
 * rule stops processing; the set is then in an unspecified state). A set
 * that lost __name__ is still "kept": the caller decides.
 */
int		 relabel_apply(const struct relabel_rules *, struct labels *,
		    struct arena *);

#endif
