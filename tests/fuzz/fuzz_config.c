/*
 * libFuzzer target for the config loader (yaml.c + config.c): any bytes
 * either load or fail with a "name:line:column: message" cause, never
 * crash, leak or hang. A config that loads must dump, and the dump (with
 * secrets replaced) must be stable: loading it again and dumping gives the
 * same text, so /api/v1/status/config never shows two faces of one config.
 * The duration and size parsers the loader uses get the raw bytes too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "fuzz.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Large inputs only slow the fuzzer down; real configs are small. */
#define FUZZ_CONFIG_MAX	(64 * 1024)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* The loader warns about odd but valid configs; keep runs quiet. */
	log_setup(LOG_ERROR, LOG_FORMAT_LOGFMT);
	return 0;
}

static void
fuzz_config_cause(const char *cause)
{
	FUZZ_CHECK(cause != NULL && cause[0] != '\0');
	/*
	 * Every error names where it happened: "name:line:column: ...", the
	 * name being fuzz.yml or a file its scrape_config_files matched.
	 */
	FUZZ_CHECK(cause[0] != ':' && strchr(cause, ':') != NULL);
}

static void
fuzz_config_dump_stable(const struct config *cf)
{
	struct buf first = BUF_INIT, second = BUF_INIT;
	struct config *again;
	char *cause = NULL;
	size_t i;

	config_dump(cf, &first);
	for (i = 0; i < cf->nscrape; i++)
		(void)config_scrape_hash(&cf->scrape[i]);
	for (i = 0; i < cf->nremote_write; i++)
		(void)config_remote_write_hash(&cf->remote_write[i]);

	/*
	 * The dump shows values after "$$" -> "$" expansion, so a dump with
	 * a "$" is not a config that loads to the same thing again.
	 */
	if (first.len == 0 || memchr(first.data, '$', first.len) != NULL)
		goto out;
	again = config_load_string("dump.yml", first.data, first.len,
	    &cause);
	if (again != NULL) {
		config_dump(again, &second);
		FUZZ_CHECK(first.len == second.len &&
		    (first.len == 0 || memcmp(first.data, second.data,
		    first.len) == 0));
		config_free(again);
	}
out:
	free(cause);
	buf_free(&first);
	buf_free(&second);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cf;
	char *copy, *cause = NULL;
	int64_t ms;
	uint64_t bytes;

	if (size > FUZZ_CONFIG_MAX)
		return 0;
	/* An exact-size copy (the loader takes a length), then a C string
	 * for the scalar parsers. */
	copy = malloc(size == 0 ? 1 : size);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	cf = config_load_string("fuzz.yml", copy, size, &cause);
	if (cf == NULL)
		fuzz_config_cause(cause);
	else {
		FUZZ_CHECK(cause == NULL);
		fuzz_config_dump_stable(cf);
		config_free(cf);
	}
	free(cause);
	free(copy);

	if (size < 64) {
		copy = malloc(size + 1);
		if (copy == NULL)
			return 0;
		memcpy(copy, data, size);
		copy[size] = '\0';
		if (config_parse_duration(copy, &ms) == 0)
			FUZZ_CHECK(ms >= 0);
		(void)config_parse_size(copy, &bytes);
		free(copy);
	}
	return 0;
}
