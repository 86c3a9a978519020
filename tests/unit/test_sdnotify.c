/*
 * Unit tests for sdnotify: a real AF_UNIX datagram socket plays the
 * service manager, bound where $NOTIFY_SOCKET points.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sdnotify.h"

struct sdnotify_test {
	char	dir[64];
	char	path[128];
	int	fd;
};

static int
sdnotify_test_bind(struct sdnotify_test *t, const char *env)
{
	struct sockaddr_un sun;
	socklen_t len;

	t->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->fd == -1)
		return -1;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	strncpy(sun.sun_path, env, sizeof sun.sun_path - 1);
	if (env[0] == '@') {
		sun.sun_path[0] = '\0';
		len = offsetof(struct sockaddr_un, sun_path) + strlen(env);
	} else
		len = sizeof sun;
	if (bind(t->fd, (struct sockaddr *)&sun, len) == -1)
		return -1;
	return setenv("NOTIFY_SOCKET", env, 1);
}

static int
setup_path(void **state)
{
	struct sdnotify_test *t;

	t = calloc(1, sizeof *t);
	if (t == NULL)
		return -1;
	t->fd = -1;
	snprintf(t->dir, sizeof t->dir, "/tmp/promlet-sdnotify.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->path, sizeof t->path, "%s/notify", t->dir);
	*state = t;
	return sdnotify_test_bind(t, t->path);
}

static int
setup_abstract(void **state)
{
	struct sdnotify_test *t;

	t = calloc(1, sizeof *t);
	if (t == NULL)
		return -1;
	t->fd = -1;
	snprintf(t->path, sizeof t->path, "@promlet-sdnotify-%ld-%ld",
	    (long)getpid(), (long)time(NULL));
	*state = t;
	return sdnotify_test_bind(t, t->path);
}

static int
teardown(void **state)
{
	struct sdnotify_test *t = *state;

	unsetenv("NOTIFY_SOCKET");
	if (t == NULL)
		return 0;
	if (t->fd != -1)
		close(t->fd);
	if (t->dir[0] != '\0') {
		unlink(t->path);
		rmdir(t->dir);
	}
	free(t);
	return 0;
}

/* Receive one datagram (waiting at most a second) as a string. */
static void
sdnotify_test_recv(struct sdnotify_test *t, char *out, size_t size)
{
	struct pollfd pfd = { t->fd, POLLIN, 0 };
	ssize_t n;

	assert_int_equal(poll(&pfd, 1, 1000), 1);
	n = recv(t->fd, out, size - 1, MSG_DONTWAIT);
	assert_true(n >= 0);
	out[n] = '\0';
}

static void
sdnotify_test_nothing_queued(struct sdnotify_test *t)
{
	char c;

	assert_int_equal(recv(t->fd, &c, 1, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
test_ready_path(void **state)
{
	struct sdnotify_test *t = *state;
	char msg[256];

	sdnotify_ready();
	sdnotify_test_recv(t, msg, sizeof msg);
	assert_string_equal(msg, "READY=1");
	sdnotify_stopping();
	sdnotify_test_recv(t, msg, sizeof msg);
	assert_string_equal(msg, "STOPPING=1");
	sdnotify_test_nothing_queued(t);
}

static void
test_ready_abstract(void **state)
{
	struct sdnotify_test *t = *state;
	char msg[256];

	assert_int_equal(sdnotify_send("READY=1", NULL), 1);
	sdnotify_test_recv(t, msg, sizeof msg);
	assert_string_equal(msg, "READY=1");
}

static void
test_reloading_has_monotonic_usec(void **state)
{
	struct sdnotify_test *t = *state;
	struct timespec before, after;
	unsigned long long lo, hi, usec;
	char msg[256], *end;
	const char *prefix = "RELOADING=1\nMONOTONIC_USEC=";

	clock_gettime(CLOCK_MONOTONIC, &before);
	sdnotify_reloading();
	clock_gettime(CLOCK_MONOTONIC, &after);
	sdnotify_test_recv(t, msg, sizeof msg);
	assert_int_equal(strncmp(msg, prefix, strlen(prefix)), 0);
	usec = strtoull(msg + strlen(prefix), &end, 10);
	assert_int_equal(*end, '\0');
	lo = (unsigned long long)before.tv_sec * 1000000ULL +
	    (unsigned long long)before.tv_nsec / 1000ULL;
	hi = (unsigned long long)after.tv_sec * 1000000ULL +
	    (unsigned long long)after.tv_nsec / 1000ULL;
	assert_true(usec >= lo && usec <= hi);
}

static void
test_status_is_one_line(void **state)
{
	struct sdnotify_test *t = *state;
	char msg[256];

	sdnotify_status("targets=%d\nREADY=1", 3);
	sdnotify_test_recv(t, msg, sizeof msg);
	/* The embedded newline must not smuggle in a READY=1 line. */
	assert_string_equal(msg, "STATUS=targets=3 READY=1");
}

static void
test_no_socket_is_noop(void **state)
{
	char *cause = (char *)"untouched";

	(void)state;
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(sdnotify_send("READY=1", &cause), 0);
	assert_null(cause);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(sdnotify_send("READY=1", NULL), 0);
	sdnotify_ready();	/* must not crash or log */
	unsetenv("NOTIFY_SOCKET");
}

static void
test_errors(void **state)
{
	char *cause, longpath[200];

	(void)state;
	setenv("NOTIFY_SOCKET", "relative/socket", 1);
	assert_int_equal(sdnotify_send("READY=1", &cause), -1);
	assert_non_null(cause);
	free(cause);

	memset(longpath, 'a', sizeof longpath - 1);
	longpath[0] = '/';
	longpath[sizeof longpath - 1] = '\0';
	setenv("NOTIFY_SOCKET", longpath, 1);
	assert_int_equal(sdnotify_send("READY=1", &cause), -1);
	assert_non_null(strstr(cause, "too long"));
	free(cause);

	/* Nobody listening there: an error, never a hang. */
	setenv("NOTIFY_SOCKET", "/nonexistent/promlet/notify", 1);
	assert_int_equal(sdnotify_send("READY=1", &cause), -1);
	assert_non_null(strstr(cause, "sendto"));
	free(cause);
	sdnotify_ready();	/* logs a warning, returns */
	unsetenv("NOTIFY_SOCKET");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ready_path, setup_path,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ready_abstract,
		    setup_abstract, teardown),
		cmocka_unit_test_setup_teardown(
		    test_reloading_has_monotonic_usec, setup_path, teardown),
		cmocka_unit_test_setup_teardown(test_status_is_one_line,
		    setup_path, teardown),
		cmocka_unit_test(test_no_socket_is_noop),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
