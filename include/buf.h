/*
 * A growable byte buffer. The buffer owns its memory; buf_free() releases
 * it and leaves an empty, reusable buffer. data is always NUL-terminated
 * after any append so it can be handed to string functions.
 */
#ifndef PROMLET_BUF_H
#define PROMLET_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

#define BUF_INIT { NULL, 0, 0 }

void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
void	 buf_reserve(struct buf *, size_t);
void	 buf_append(struct buf *, const void *, size_t);
void	 buf_puts(struct buf *, const char *);
void	 buf_putc(struct buf *, char);
void	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 buf_put_varint(struct buf *, uint64_t);
/*
 * A JSON string literal of n bytes of s. Bytes that are not valid UTF-8
 * become U+FFFD, so text from peers (parse errors quote page bytes) never
 * makes the document invalid.
 */
void	 buf_put_json_string(struct buf *, const char *s, size_t n);
/* Length of the valid UTF-8 sequence at p (n bytes left), or 0. */
size_t	 utf8_seq_len(const unsigned char *p, size_t n);
/* Standard base64 of n bytes, padded. */
void	 buf_put_base64(struct buf *, const void *, size_t n);
char	*buf_steal(struct buf *);

#endif
