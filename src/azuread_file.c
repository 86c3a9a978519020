/*
 * Files that hold secrets: client secret files, federated token files,
 * certificates with their key, and Azure Arc key files. All are small,
 * read whole, never logged, and wiped after use.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "azuread.h"
#include "buf.h"
#include "xmalloc.h"

/*
 * Read fd (of a regular file at most max bytes) into a new NUL-terminated
 * buffer. Reads one byte past max so a file that grew after fstat is
 * still caught.
 */
static int
azuread_read_fd(int fd, const char *path, size_t max, char **out,
    size_t *outlen, char **cause)
{
	char *data;
	size_t len = 0;
	ssize_t n;

	data = xmalloc(max + 2);
	for (;;) {
		n = read(fd, data + len, max + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			xasprintf(cause, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			xasprintf(cause, "%s: larger than %zu bytes", path,
			    max);
			goto fail;
		}
	}
	data[len] = '\0';
	*out = data;
	*outlen = len;
	return 0;

fail:
	explicit_bzero(data, max + 2);
	free(data);
	return -1;
}

/* open() a file that must not be a symlink or a special file. */
static int
azuread_open_regular(const char *path, size_t max, struct stat *st,
    char **cause)
{
	int fd;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
	    O_NOCTTY);
	if (fd == -1)
		return -1;
	if (fstat(fd, st) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		xasprintf(cause, "%s: not a regular file", path);
		goto fail;
	}
	if ((uint64_t)st->st_size > max) {
		xasprintf(cause, "%s: larger than %zu bytes", path, max);
		goto fail;
	}
	return fd;

fail:
	close(fd);
	errno = 0;
	return -1;
}

int
azuread_read_secret_file(const char *path, size_t max, int strip,
    char **out, size_t *outlen, int *world_readable, char **cause)
{
	struct stat st;
	char *real = NULL, *data;
	size_t len;
	int fd, rc;

	*cause = NULL;
	fd = azuread_open_regular(path, max, &st, cause);
	if (fd == -1 && *cause == NULL && errno == ELOOP) {
		/*
		 * Kubernetes mounts secrets and projected tokens as symlinks
		 * into a ..data directory it swaps atomically. Resolve once
		 * and open the target itself without following further.
		 */
		if ((real = realpath(path, NULL)) == NULL) {
			xasprintf(cause, "%s: %s", path, strerror(errno));
			return -1;
		}
		fd = azuread_open_regular(real, max, &st, cause);
	}
	if (fd == -1) {
		if (*cause == NULL)
			xasprintf(cause, "%s: %s", path, strerror(errno));
		free(real);
		return -1;
	}
	free(real);
	if (world_readable != NULL)
		*world_readable = (st.st_mode & S_IROTH) != 0;
	rc = azuread_read_fd(fd, path, max, &data, &len, cause);
	close(fd);
	if (rc == -1)
		return -1;
	if (strip) {
		while (len > 0 && (data[len - 1] == '\n' ||
		    data[len - 1] == '\r' || data[len - 1] == ' ' ||
		    data[len - 1] == '\t'))
			data[--len] = '\0';
	}
	if (strlen(data) != len) {
		xasprintf(cause, "%s: contains a NUL byte", path);
		explicit_bzero(data, len);
		free(data);
		return -1;
	}
	*out = data;
	if (outlen != NULL)
		*outlen = len;
	return 0;
}

int
azuread_arc_key_path(const char *challenge, const char *dir, char **path,
    char **cause)
{
	static const char scheme[] = "Basic realm=";
	const char *p, *slash;
	size_t n, dn;

	*path = NULL;
	if (challenge == NULL) {
		*cause = xstrdup("Azure Arc answered 401 without a "
		    "WWW-Authenticate challenge");
		return -1;
	}
	if (strncasecmp(challenge, scheme, sizeof scheme - 1) != 0) {
		*cause = xstrdup("Azure Arc challenge is not \"Basic realm=\"");
		return -1;
	}
	p = challenge + sizeof scheme - 1;
	n = strlen(p);
	if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
		p++;
		n -= 2;
	}
	if (n == 0 || memchr(p, '"', n) != NULL || memchr(p, '=', n) != NULL) {
		*cause = xstrdup("Azure Arc challenge has a malformed realm");
		return -1;
	}
	dn = strlen(dir);
	while (dn > 1 && dir[dn - 1] == '/')
		dn--;
	/* The key must be directly in the agent's token directory. */
	for (slash = p + n; slash > p && slash[-1] != '/'; slash--)
		;
	slash = slash > p ? slash - 1 : NULL;
	if (p[0] != '/' || slash == NULL || (size_t)(slash - p) != dn ||
	    strncmp(p, dir, dn) != 0) {
		xasprintf(cause, "Azure Arc key file %.*s is not in %.*s",
		    (int)(n > PATH_MAX ? PATH_MAX : n), p, (int)dn, dir);
		return -1;
	}
	if (n - (size_t)(slash - p) - 1 <= 4 ||
	    strncmp(p + n - 4, ".key", 4) != 0) {
		xasprintf(cause, "Azure Arc key file %.*s does not end in .key",
		    (int)(n > PATH_MAX ? PATH_MAX : n), p);
		return -1;
	}
	*path = xstrndup(p, n);
	return 0;
}

int
azuread_arc_read_key(const char *path, char **key, char **cause)
{
	struct stat st;
	char *data;
	size_t len, i;
	int fd, rc;

	*cause = NULL;
	fd = azuread_open_regular(path, AZUREAD_ARC_KEY_MAX, &st, cause);
	if (fd == -1) {
		if (*cause != NULL)
			return -1;
		if (errno == EACCES || errno == EPERM) {
			xasprintf(cause, "cannot read Azure Arc key file %s: "
			    "permission denied; the user promlet runs as must "
			    "be in the himds group (usermod -aG himds USER, "
			    "then restart promlet)", path);
		} else
			xasprintf(cause, "cannot read Azure Arc key file "
			    "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = azuread_read_fd(fd, path, AZUREAD_ARC_KEY_MAX, &data, &len, cause);
	close(fd);
	if (rc == -1)
		return -1;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		data[--len] = '\0';
	for (i = 0; i < len; i++) {
		if ((unsigned char)data[i] < ' ' || data[i] == 0x7f)
			break;
	}
	if (len == 0 || i != len) {
		xasprintf(cause, "Azure Arc key file %s is empty or not text",
		    path);
		explicit_bzero(data, len);
		free(data);
		return -1;
	}
	*key = data;
	return 0;
}
