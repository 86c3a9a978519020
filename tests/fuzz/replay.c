/*
 * Replays a fuzz target's inputs without libFuzzer, so the normal build
 * (any compiler, with the sanitizers of --enable-sanitizers) runs them in
 * `make check`: every file in tests/fuzz/regressions/FUZZ_NAME/ (inputs
 * that once crashed) and tests/fuzz/corpus/FUZZ_NAME/ (hand-made seeds
 * where no conformance data fits), then the conformance seeds the target
 * lists in tests/fuzz/FUZZ_NAME.seeds (or, with no such file, the default
 * seeds of tests/fuzz/run that are files). A violated invariant aborts,
 * which fails the test.
 *
 *	replay_X		the regressions and seeds
 *	replay_X FILE|DIR...	just these
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#ifndef FUZZ_NAME
#error FUZZ_NAME must name the fuzz target
#endif

static size_t	replay_count;

static int
replay_file(const char *path)
{
	struct stat sb;
	uint8_t *data;
	size_t n = 0;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &sb) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	/* Exact size, so reads past the end are caught by ASan. */
	data = malloc(sb.st_size == 0 ? 1 : (size_t)sb.st_size);
	if (data == NULL) {
		fclose(f);
		return -1;
	}
	if (sb.st_size != 0)
		n = fread(data, 1, (size_t)sb.st_size, f);
	fclose(f);
	if (getenv("REPLAY_VERBOSE") != NULL)
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
	LLVMFuzzerTestOneInput(data, n);
	free(data);
	replay_count++;
	return 0;
}

static int
replay_path(const char *path)
{
	char sub[4096];
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int rc = 0;

	if (stat(path, &sb) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode))
		return replay_file(path);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
		if (replay_path(sub) != 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

static void
replay_glob(const char *conf, const char *pat)
{
	char full[4096];
	glob_t g;
	size_t i;

	snprintf(full, sizeof full, "%s/%s", conf, pat);
	if (glob(full, 0, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++)
		(void)replay_path(g.gl_pathv[i]);
	globfree(&g);
}

/* The conformance seeds tests/fuzz/run would give this target. */
static void
replay_seeds(void)
{
	const char *conf = TOP_SRCDIR "/../shared/conformance";
	char line[1024], *nl;
	struct stat sb;
	FILE *f;

	if (stat(conf, &sb) != 0)
		return;
	f = fopen(TOP_SRCDIR "/tests/fuzz/" FUZZ_NAME ".seeds", "r");
	if (f == NULL) {
		replay_glob(conf, "pages/*");
		replay_glob(conf, "openmetrics/parsers/*/metrics");
		return;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		replay_glob(conf, line);
	}
	fclose(f);
}

int
main(int argc, char **argv)
{
	struct stat sb;
	const char *reg = TOP_SRCDIR "/tests/fuzz/regressions/" FUZZ_NAME;
	const char *corpus = TOP_SRCDIR "/tests/fuzz/corpus/" FUZZ_NAME;
	int i, rc = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			if (replay_path(argv[i]) != 0)
				rc = 1;
	} else {
		if (stat(reg, &sb) == 0 && replay_path(reg) != 0)
			rc = 1;
		if (stat(corpus, &sb) == 0 && replay_path(corpus) != 0)
			rc = 1;
		replay_seeds();
	}
	printf("%s: %zu inputs replayed, no invariant violated\n", FUZZ_NAME,
	    replay_count);
	return rc;
}
