/* fuzz_ddb_answer.c — the two readings of a JSON answer must agree (issue 13 took the Query
 * pages and GetItems off json-c): jx_doc_parse and jx_parse accept and refuse the same texts
 * for the same reason, and the doc's tree (jx_doc_to_json) prints as json-c's does. Then the
 * text is read as a Query page (ddb_parse_page): on each item the ddb_doc_* getters must
 * answer as the json-c ddb_get_* ones do, and store_appt_from_doc as store_appt_from_item.
 * A disagreement aborts. */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "app/store_item.h"
#include "aws/ddb_attr.h"
#include "aws/dynamodb.h"
#include "aws/dynamodb_int.h"
#include "base/jx_doc.h"
#include "fuzz.h"

#define MAX_DEPTH 32

static const char *text_of(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						      JSON_C_TO_STRING_NOSLASHESCAPE);
}

static const char *const names[] = {"appointmentId", "insuredId", "scheduleId", "countryISO",
				    "status", "createdAt", "updatedAt", "processedAt",
				    "schedule", "centerId", "date", "S", "N", "M", ""};

static void same(enum rc r1, enum rc r2, const struct errbuf *e1, const struct errbuf *e2)
{
	if (r1 != r2 || strcmp(e1->msg, e2->msg) != 0)
		abort();
}

/* The attribute getters on node item of d and on js, its json-c tree, agree; an M is
 * followed one level down. */
static void same_reads(const struct jx_doc *d, size_t item, struct json_object *js, int depth)
{
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		const char *s1 = NULL, *s2 = NULL;
		size_t l1 = 0, l2 = 0, map = JX_DOC_NONE;
		int64_t i1 = 0, i2 = 0;
		struct json_object *m = NULL;
		struct errbuf e1 = {{0}}, e2 = {{0}};

		if (ddb_doc_type_of(d, item, names[k]) != ddb_type_of(js, names[k]))
			abort();
		same(ddb_doc_get_s_opt(d, item, names[k], &s1, &l1, &e1),
		     ddb_get_s_opt(js, names[k], &s2, &l2, &e2), &e1, &e2);
		if (l1 != l2 || (s1 == NULL) != (s2 == NULL) || (s1 != NULL && memcmp(s1, s2, l1) != 0))
			abort();
		same(ddb_doc_get_int64(d, item, names[k], &i1, &e1),
		     ddb_get_int64(js, names[k], &i2, &e2), &e1, &e2);
		if (i1 != i2)
			abort();
		same(ddb_doc_get_m(d, item, names[k], &map, &e1), ddb_get_m(js, names[k], &m, &e2),
		     &e1, &e2);
		if ((map == JX_DOC_NONE) != (m == NULL))
			abort();
		if (m != NULL && depth == 0)
			same_reads(d, map, m, 1);
	}
}

/* Every item of the page: the getters agree with json-c's, and the appointment read from
 * the doc is the one read from the item's json-c tree. */
static void read_items(struct ddb_page *page)
{
	struct errbuf eb1 = {{0}}, eb2 = {{0}};

	if (ddb_parse_page(page, &eb1) != RC_OK)
		return;
	for (size_t k = 0; k < page->n; k++) {
		size_t it = ddb_page_item(page, k);
		struct json_object *js = NULL;
		struct appointment a, b;
		enum rc r1, r2;

		if (jx_doc_to_json(&page->doc, it, &js) != RC_OK)
			abort();
		same_reads(&page->doc, it, js, 0);
		r1 = store_appt_from_doc(&page->doc, it, &a, &eb1);
		r2 = store_appt_from_item(js, &b, &eb2);
		json_object_put(js);
		if (r1 != r2 || (r1 == RC_OK && memcmp(&a, &b, sizeof(a)) != 0) ||
		    (r1 != RC_OK && strcmp(eb1.msg, eb2.msg) != 0))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct ddb_page page = {0};
	struct json_object *js = NULL, *back = NULL;
	enum jx_perr w1 = JX_PERR_NONE, w2 = JX_PERR_NONE;
	struct errbuf eb1 = {{0}}, eb2 = {{0}};
	enum rc r1 = jx_doc_parse(text, size, FUZZ_MAX_INPUT, MAX_DEPTH, &page.doc, &w1, &eb1);
	enum rc r2 = jx_parse_ex(text, size, FUZZ_MAX_INPUT, MAX_DEPTH, &js, &w2, &eb2);

	/* json-c may refuse what the scanner passed (then r2 says JX_PERR_SYNTAX): not a
	 * text any AWS endpoint sends, and the doc's answer is the stricter scanner's */
	if (r2 == RC_OK || w2 != JX_PERR_SYNTAX || r1 != RC_OK) {
		if (r1 != r2 || w1 != w2 || strcmp(eb1.msg, eb2.msg) != 0)
			abort();
	}
	if (r1 == RC_OK && r2 == RC_OK) {
		if (jx_doc_to_json(&page.doc, 0, &back) != RC_OK)
			abort();
		if ((js == NULL) != (back == NULL) ||
		    (js != NULL && strcmp(text_of(js), text_of(back)) != 0))
			abort();
		read_items(&page);
	}
	json_object_put(back);
	json_object_put(js);
	ddb_page_cleanup(&page);
	return 0;
}
