/* A target's metric metadata, compared and kept page by page. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "rw_encode.h"
#include "scrape_meta.h"
#include "xmalloc.h"

/* Length of the encoded entry at p (tag, varint length, message). */
static size_t
scrape_meta_entry_len(const unsigned char *p, size_t avail)
{
	uint64_t len = 0;
	size_t i;
	unsigned shift = 0;

	for (i = 1; i < avail && i < 11; i++) {
		len |= (uint64_t)(p[i] & 0x7f) << shift;
		if ((p[i] & 0x80) == 0)
			return i + 1 + (size_t)len;
		shift += 7;
	}
	/* Only this module's own encodings are read. */
	fatalx("metadata entry with a bad length", NULL);
}

void
scrape_meta_free(struct scrape_meta *m)
{
	if (m == NULL)
		return;
	buf_free(&m->enc);
}

void
scrape_meta_read_free(struct scrape_meta_read *r)
{
	buf_free(&r->fresh);
	buf_free(&r->entry);
	buf_free(&r->scratch);
}

void
scrape_meta_begin(struct scrape_meta_read *r, struct scrape_meta *m)
{
	r->m = m;
	r->off = 0;
	r->diverged = 0;
	r->pending = 0;
	buf_reset(&r->fresh);
}

/* Encode the family read so far and compare it with the last page's. */
static void
scrape_meta_close(struct scrape_meta_read *r)
{
	struct buf *enc = &r->m->enc;

	if (!r->pending)
		return;
	r->pending = 0;
	buf_reset(&r->entry);
	rw_encode_metadata(&r->entry, (int)r->type, r->family, r->help,
	    r->unit);
	if (!r->diverged) {
		if (r->off + r->entry.len <= enc->len && memcmp(enc->data +
		    r->off, r->entry.data, r->entry.len) == 0) {
			r->off += r->entry.len;
			return;
		}
		r->diverged = 1;
		buf_append(&r->fresh, enc->data, r->off);
	}
	buf_append(&r->fresh, r->entry.data, r->entry.len);
}

/* Start the family's entry, closing another family's first. */
static void
scrape_meta_family(struct scrape_meta_read *r, struct lstr family)
{
	if (r->pending && r->family.len == family.len &&
	    memcmp(r->family.p, family.p, family.len) == 0)
		return;
	scrape_meta_close(r);
	r->pending = 1;
	r->family = family;
	r->help = r->unit = (struct lstr){ "", 0 };
	r->type = METRIC_TYPE_UNKNOWN;
}

void
scrape_meta_line(struct scrape_meta_read *r, const struct textparse *p,
    enum textparse_entry kind)
{
	switch (kind) {
	case TEXTPARSE_HELP:
		scrape_meta_family(r, textparse_family(p));
		r->help = textparse_help(p, &r->scratch);
		break;
	case TEXTPARSE_TYPE:
		scrape_meta_family(r, textparse_family(p));
		r->type = textparse_type(p);
		break;
	case TEXTPARSE_UNIT:
		scrape_meta_family(r, textparse_family(p));
		r->unit = textparse_text(p);
		break;
	default:
		break;
	}
}

void
scrape_meta_end(struct scrape_meta_read *r)
{
	struct buf t;

	scrape_meta_close(r);
	if (!r->diverged) {
		/* The page had fewer families: the last ones went. */
		if (r->off < r->m->enc.len)
			r->m->enc.len = r->off;
	} else {
		/* Swap, so the old buffer is the next page's scratch. */
		t = r->m->enc;
		r->m->enc = r->fresh;
		r->fresh = t;
	}
	buf_reset(&r->fresh);
	r->m = NULL;
}

void
scrape_meta_abort(struct scrape_meta_read *r)
{
	r->pending = 0;
	buf_reset(&r->fresh);
	r->m = NULL;
}

size_t
scrape_meta_count(const struct scrape_meta *m)
{
	const unsigned char *p = (const unsigned char *)m->enc.data;
	size_t off = 0, n = 0;

	while (off < m->enc.len) {
		off += scrape_meta_entry_len(p + off, m->enc.len - off);
		n++;
	}
	return n;
}

static int
scrape_meta_cmp(const void *a, const void *b)
{
	const struct lstr *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

size_t
scrape_meta_unique(const struct scrape_meta * const *lists, size_t n,
    struct lstr **out, size_t *cap)
{
	const unsigned char *p;
	size_t i, off, len, k = 0, u;

	for (i = 0; i < n; i++) {
		p = (const unsigned char *)lists[i]->enc.data;
		for (off = 0; off < lists[i]->enc.len; off += len) {
			len = scrape_meta_entry_len(p + off,
			    lists[i]->enc.len - off);
			if (k == *cap) {
				*cap = *cap == 0 ? 256 : *cap * 2;
				*out = xreallocarray(*out, *cap, sizeof **out);
			}
			(*out)[k].p = (const char *)p + off;
			(*out)[k].len = len;
			k++;
		}
	}
	if (k == 0)
		return 0;
	qsort(*out, k, sizeof **out, scrape_meta_cmp);
	for (i = 1, u = 1; i < k; i++) {
		if (scrape_meta_cmp(&(*out)[i], &(*out)[u - 1]) != 0)
			(*out)[u++] = (*out)[i];
	}
	return u;
}
