/* jx_doc.h — a parsed JSON text as one flat array of nodes, without a json-c tree: the
 * same strict scan as jx_parse (base/jx.h: RFC 8259, UTF-8, depth, no NUL in keys) records
 * each value as it goes, strings decoded into one buffer. Two allocations that grow, where
 * json-c makes several per value (an object and its hash table per {"S": ...} of a DynamoDB
 * item): the read side of the hot AWS answers (a Query page, a GetItem) uses it.
 *
 * Layout: node 0 is the root; the children of a container follow it in order, each
 * followed by its own subtree, so the first child of node i is i + 1 and the sibling after
 * node c is nodes[c].end:
 *
 *	for (size_t c = i + 1, k = 0; k < d->nodes[i].n; k++, c = d->nodes[c].end)
 */
#ifndef APPT_JX_DOC_H
#define APPT_JX_DOC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/jx.h"
#include "base/rc.h"

#define JX_DOC_NONE ((size_t)-1) /* "no such node" */

enum jx_kind {
	JX_K_NULL,
	JX_K_FALSE,
	JX_K_TRUE,
	JX_K_NUM, /* its text as written (RFC 8259 number syntax) */
	JX_K_STR, /* decoded UTF-8; may hold \u0000 (len is authoritative) */
	JX_K_ARR,
	JX_K_OBJ,
};

/* One value. Offsets are into jx_doc.strs, where every text is NUL-terminated. uint32_t is
 * enough: a text is at most JX_TEXT_HARD_MAX bytes, so its nodes and decoded strings too. */
struct jx_node {
	uint32_t key;     /* a member of an object: its decoded key; else UINT32_MAX */
	uint32_t key_len;
	uint32_t val;     /* JX_K_STR, JX_K_NUM: the decoded string / the number's text */
	uint32_t val_len;
	uint32_t n;       /* JX_K_ARR, JX_K_OBJ: children */
	uint32_t end;     /* one past the last node of this subtree: the next sibling */
	uint8_t kind;     /* enum jx_kind */
};

/* Embedded value: zero it before jx_doc_parse; jx_doc_free releases it. */
struct jx_doc {
	struct jx_node *nodes; /* owned; n used of cap */
	size_t n, cap;
	struct buf strs;       /* keys, strings and number texts, each NUL-terminated */
};

/* Parses text[0..len) as jx_parse_ex does (same limits, same failures and messages, *why
 * may be NULL) into *d, which is freed first. On failure *d is empty. RC_INVAL, RC_NOMEM. */
enum rc jx_doc_parse(const char *text, size_t len, size_t max_len, int max_depth,
		     struct jx_doc *d, enum jx_perr *why, struct errbuf *eb) MUSTCHECK;
/* Releases the nodes and strings; *d is empty and reusable. Accepts NULL. */
void jx_doc_free(struct jx_doc *d);

/* The kind of node i (JX_K_NULL for JX_DOC_NONE). */
enum jx_kind jx_doc_kind(const struct jx_doc *d, size_t i);
/* The member of object obj named key (the last one, as json-c keeps a repeated key), or
 * JX_DOC_NONE (also when obj is not an object). */
size_t jx_doc_member(const struct jx_doc *d, size_t obj, const char *key);
/* The k-th child of container i (O(k)), or JX_DOC_NONE. */
size_t jx_doc_child(const struct jx_doc *d, size_t i, size_t k);
/* The text of a JX_K_STR or JX_K_NUM node (NUL-terminated; *len may be NULL), else NULL. */
const char *jx_doc_text(const struct jx_doc *d, size_t i, size_t *len);
/* The key of node i when it is an object member, else NULL. */
const char *jx_doc_key(const struct jx_doc *d, size_t i);

/* The subtree of node i as a new json-c value (the caller owns it; JSON null is NULL with
 * RC_OK), equal to what jx_parse makes of the same text. RC_NOMEM, RC_INVAL for a bad i. */
enum rc jx_doc_to_json(const struct jx_doc *d, size_t i, struct json_object **out) MUSTCHECK;

#endif
