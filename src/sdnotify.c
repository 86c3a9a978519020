/*
 * sd_notify over a plain AF_UNIX datagram socket: the protocol is small
 * and stable, and linking libsystemd for it would drag a large library
 * into a daemon that also runs in containers without systemd.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "sdnotify.h"
#include "xmalloc.h"

int
sdnotify_send(const char *msg, char **cause)
{
	struct sockaddr_un sun;
	const char *path;
	socklen_t sunlen;
	size_t len;
	ssize_t n;
	int fd, saved;

	if (cause != NULL)
		*cause = NULL;
	path = getenv("NOTIFY_SOCKET");
	if (path == NULL || *path == '\0')
		return 0;
	/* systemd >= 254 may also name an AF_VSOCK address (for VMs);
	 * promlet only ever runs under a local manager. */
	if (*path != '/' && *path != '@') {
		if (cause != NULL)
			xasprintf(cause, "unsupported NOTIFY_SOCKET address");
		return -1;
	}
	len = strlen(path);
	if (len >= sizeof sun.sun_path) {
		if (cause != NULL)
			xasprintf(cause, "NOTIFY_SOCKET path too long");
		return -1;
	}

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, len);
	/* An abstract address is exactly as long as its name: no NUL is
	 * counted after it, or it names a different socket. */
	if (*path == '@') {
		sun.sun_path[0] = '\0';
		sunlen = offsetof(struct sockaddr_un, sun_path) + len;
	} else
		sunlen = offsetof(struct sockaddr_un, sun_path) + len + 1;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		if (cause != NULL)
			xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	do
		n = sendto(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
		    (struct sockaddr *)&sun, sunlen);
	while (n == -1 && errno == EINTR);
	saved = errno;
	close(fd);
	if (n == -1) {
		if (cause != NULL)
			xasprintf(cause, "sendto: %s", strerror(saved));
		return -1;
	}
	return 1;
}

static void
sdnotify_log(const char *msg)
{
	char *cause;

	if (sdnotify_send(msg, &cause) == -1) {
		log_warn("service manager notification failed",
		    "socket=%s err=%s", getenv("NOTIFY_SOCKET"), cause);
		free(cause);
	}
}

void
sdnotify_ready(void)
{
	sdnotify_log("READY=1");
}

void
sdnotify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	/* MONOTONIC_USEC lets systemd (Type=notify-reload, >= 253) match
	 * this reload to the SIGHUP it sent; older versions ignore it. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	sdnotify_log(msg);
}

void
sdnotify_stopping(void)
{
	sdnotify_log("STOPPING=1");
}

void
sdnotify_status(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	size_t i;

	/* Cheap no-op outside systemd: do not even format. */
	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	buf_puts(&b, "STATUS=");
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	/* A newline would start a new KEY=value line. */
	for (i = 0; i < b.len; i++) {
		if (b.data[i] == '\n' || b.data[i] == '\r')
			b.data[i] = ' ';
	}
	sdnotify_log(b.data);
	buf_free(&b);
}
