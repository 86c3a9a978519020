/*
 * Service manager notifications (the sd_notify protocol) without
 * libsystemd: one datagram per state change to the AF_UNIX socket named by
 * $NOTIFY_SOCKET, so promlet.service can be Type=notify and "systemctl
 * start" / "systemctl reload" return only once promlet is really ready.
 *
 *	NOTIFY_SOCKET=/run/systemd/notify	filesystem socket
 *	NOTIFY_SOCKET=@name			abstract socket ('@' -> '\0')
 *
 *	+---------------------------------------------+
 *	| "READY=1"                                   |  one datagram, no NUL,
 *	| "RELOADING=1\nMONOTONIC_USEC=123456789"     |  lines "KEY=value"
 *	| "STOPPING=1"                                |  separated by '\n'
 *	| "STATUS=free text shown by systemctl status"|
 *	+---------------------------------------------+
 *
 * Without $NOTIFY_SOCKET (not started by systemd, or Type=simple) every
 * call is a cheap no-op. Sends never block: a full queue is logged and
 * dropped, because the event loop must not stall on the service manager.
 */
#ifndef PROMLET_SDNOTIFY_H
#define PROMLET_SDNOTIFY_H

/* Config loaded, WAL replayed, listener bound: after /-/ready turns 200. */
void	sdnotify_ready(void);
/* SIGHUP received; call sdnotify_ready() when the reload has finished
 * (whether or not the new config was accepted). */
void	sdnotify_reloading(void);
/* Shutdown has begun (flushing queues, closing the WAL). */
void	sdnotify_stopping(void);
/* One line for "systemctl status"; newlines are replaced by spaces. */
void	sdnotify_status(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * Send one raw message. Returns 1 when sent, 0 when $NOTIFY_SOCKET is
 * unset or empty, -1 on error with an allocated reason in *cause (may be
 * NULL). The wrappers above use it; tests call it directly.
 */
int	sdnotify_send(const char *, char **);

#endif
