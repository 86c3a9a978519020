/*
 * An HTTP/1.x response reader, fed the bytes of one response as they
 * arrive. It is the pure half of the scrape client's own HTTP/1.1 path
 * (http.c): no sockets, no loop, so every split of a response can be
 * tested and fuzzed.
 *
 *	status line    HTTP/1.1 200 OK\r\n           (1xx: skipped whole)
 *	header lines   Name: value\r\n ...  \r\n      (at most 64 KiB)
 *	body, one of   Content-Length: n    n bytes
 *	               Transfer-Encoding:   hex-size\r\n data\r\n ... 0\r\n
 *	                 chunked            trailers\r\n
 *	               neither              bytes until the peer closes
 *	decoded by     Content-Encoding: gzip (one or more members) or none
 *
 * The decoded body is appended to the caller's buffer and counted against
 * max_body as it is decoded, so a gzip bomb stops at the limit.
 */
#ifndef PROMLET_HTTP1_H
#define PROMLET_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define HTTP1_MORE	0	/* needs more bytes */
#define HTTP1_DONE	1	/* response complete */
#define HTTP1_ERROR	(-1)	/* see error; the connection is unusable */

/* Longest status line plus header section accepted. */
#define HTTP1_HEAD_MAX	(64 * 1024)

struct http1_response {
	/* Results, valid once set. */
	long		 status;
	char		*content_type;	/* owned; NULL when absent */
	char		*retry_after;	/* owned; NULL when absent */
	int		 keep_alive;	/* the connection may carry another */
	int		 too_large;	/* decoded body passed max_body */
	const char	*error;		/* static text, on HTTP1_ERROR */
	struct buf	*body;		/* the caller's */
	uint64_t	 max_body;	/* 0 = unlimited */
	size_t		 length_hint;	/* Content-Length, 0 if unknown */

	/* Reader state. */
	int		 state;
	int		 minor;		/* HTTP/1.minor */
	int		 chunked;
	int		 gzip;
	int		 conn_close;
	int		 conn_keep;
	int64_t		 content_length; /* -1 = none */
	uint64_t	 left;		/* of the body or the current chunk */
	size_t		 head_len;
	struct buf	 line;		/* a partial line */
	void		*z;		/* z_stream while gzip */
	int		 z_end;		/* the last member ended */
	char		 errbuf[96];
};

void	http1_response_init(struct http1_response *, struct buf *body,
	    uint64_t max_body);
void	http1_response_clean(struct http1_response *);
/*
 * Feed n bytes; *used is how many were consumed. Bytes after the end of
 * the response are left unconsumed (the caller closes the connection).
 */
int	http1_response_feed(struct http1_response *, const char *, size_t n,
	    size_t *used);
/* The peer closed the connection: ends a body that runs until close. */
int	http1_response_eof(struct http1_response *);
/* Bytes of the response consumed so far (0: nothing arrived). */
int	http1_response_started(const struct http1_response *);

#endif
