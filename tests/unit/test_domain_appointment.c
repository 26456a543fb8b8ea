/* test_domain_appointment.c — status names, ids, JSON shapes, SNS message. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/appointment.h"
#include "base/jx.h"

#define ID1 "3f1c2a9e-5b7d-4c1e-9a2b-0d4e6f8a1b2c"

START_TEST(test_status)
{
	static const char *const names[] = {"pending", "processed", "completed", "failed",
	                                    "cancelling", "cancelled"};
	enum appt_status st = APPT_PENDING;

	for (int i = 0; i < APPT_STATUS_COUNT; i++) {
		ck_assert_str_eq(appt_status_name((enum appt_status)i), names[i]);
		ck_assert_int_eq(appt_status_parse(names[i], &st), RC_OK);
		ck_assert_int_eq(st, i);
	}
	ck_assert_str_eq(appt_status_name((enum appt_status)99), "unknown");
	st = APPT_FAILED;
	ck_assert_int_eq(appt_status_parse("Pending", &st), RC_INVAL);
	ck_assert_int_eq(appt_status_parse("", &st), RC_INVAL);
	ck_assert_int_eq(appt_status_parse("pending ", &st), RC_INVAL);
	ck_assert_int_eq(appt_status_parse(NULL, &st), RC_INVAL);
	ck_assert_int_eq(st, APPT_FAILED);
}
END_TEST

struct id_case {
	const char *s;
	bool ok;
};

static const struct id_case id_cases[] = {
	{ID1, true},
	{"00000000-0000-4000-8000-000000000000", true},
	{"ffffffff-ffff-4fff-bfff-ffffffffffff", true},
	{"3F1C2A9E-5B7D-4C1E-9A2B-0D4E6F8A1B2C", false}, /* upper case */
	{"3f1c2a9e-5b7d-1c1e-9a2b-0d4e6f8a1b2c", false}, /* version 1 */
	{"3f1c2a9e-5b7d-4c1e-7a2b-0d4e6f8a1b2c", false}, /* variant */
	{"3f1c2a9e5b7d4c1e9a2b0d4e6f8a1b2c", false},
	{"3f1c2a9e-5b7d-4c1e-9a2b-0d4e6f8a1b2", false},
	{"3f1c2a9e-5b7d-4c1e-9a2b-0d4e6f8a1b2cd", false},
	{"3f1c2a9e-5b7d-4c1e-9a2b_0d4e6f8a1b2c", false},
	{"3g1c2a9e-5b7d-4c1e-9a2b-0d4e6f8a1b2c", false},
	{"", false},
	{NULL, false},
};

START_TEST(test_id_valid)
{
	ck_assert_msg(appt_id_valid(id_cases[_i].s) == id_cases[_i].ok, "case %d", _i);
}
END_TEST

static const struct {
	const char *s;
	size_t len;                   /* bytes of s looked at (a NUL may sit inside) */
	enum appt_insured_check want;
	const char *padded;           /* out on success */
	bool stored;                  /* appt_insured_valid(s): exactly five digits */
} insured_cases[] = {
	{"00123", 5, APPT_INSURED_OK, "00123", true},
	{"123", 3, APPT_INSURED_OK, "00123", false},
	{"7", 1, APPT_INSURED_OK, "00007", false},
	{"99999", 5, APPT_INSURED_OK, "99999", true},
	{"", 0, APPT_INSURED_EMPTY, "", false},
	{"123456", 6, APPT_INSURED_TOO_LONG, "", false},
	{"12a45", 5, APPT_INSURED_NOT_DIGITS, "", false},
	{" 1234", 5, APPT_INSURED_NOT_DIGITS, "", false},
	{"12\0" "45", 5, APPT_INSURED_NOT_DIGITS, "", false},
	{"-1234", 5, APPT_INSURED_NOT_DIGITS, "", false},
	{"1234567890x", 11, APPT_INSURED_NOT_DIGITS, "", false},
};

START_TEST(test_insured)
{
	char out[APPT_INSURED_SIZE];

	ck_assert_int_eq(appt_insured_pad(insured_cases[_i].s, insured_cases[_i].len, out),
			 insured_cases[_i].want);
	ck_assert_str_eq(out, insured_cases[_i].padded);
	ck_assert_int_eq(appt_insured_valid(insured_cases[_i].s), insured_cases[_i].stored);
	ck_assert(!appt_insured_valid(NULL));
}
END_TEST

START_TEST(test_id_new)
{
	char a[APPT_ID_SIZE];
	char b[APPT_ID_SIZE];

	appt_id_new(a);
	appt_id_new(b);
	ck_assert_uint_eq(strlen(a), APPT_ID_LEN);
	ck_assert(appt_id_valid(a));
	ck_assert(appt_id_valid(b));
	ck_assert_str_ne(a, b);
}
END_TEST

static void make_pending(struct appointment *a)
{
	struct appt_request req = {"00123", 100, "PE"};

	/* 2026-11-25T13:45:26.123Z */
	ck_assert_int_eq(appt_init_pending(a, &req, ID1, 1795614326123LL), RC_OK);
}

START_TEST(test_init_pending)
{
	struct appointment a;
	struct appt_request req = {"00123", 100, "PE"};

	make_pending(&a);
	ck_assert_str_eq(a.appointment_id, ID1);
	ck_assert_str_eq(a.insured_id, "00123");
	ck_assert_int_eq(a.schedule_id, 100);
	ck_assert_str_eq(a.country, "PE");
	ck_assert_int_eq(a.status, APPT_PENDING);
	ck_assert(!a.has_schedule);
	ck_assert_str_eq(a.created_at, "2026-11-25T13:45:26.123Z");
	ck_assert_str_eq(a.updated_at, "2026-11-25T13:45:26.123Z");
	ck_assert_str_eq(a.processed_at, "");
	ck_assert_str_eq(a.completed_at, "");
	ck_assert_str_eq(a.failure_reason, "");
	ck_assert_int_eq(appt_init_pending(&a, &req, "not-a-uuid", 0), RC_INVAL);
	ck_assert_int_eq(appt_init_pending(&a, &req, ID1, TU_MAX_MS + 1), RC_INVAL);
}
END_TEST

START_TEST(test_created_json)
{
	struct appointment a;
	char *text = NULL;

	make_pending(&a);
	ck_assert_int_eq(appt_created_json(&a, &text), RC_OK);
	ck_assert_str_eq(text, "{\"appointmentId\":\"" ID1 "\",\"status\":\"pending\","
	                       "\"message\":\"Appointment scheduling is in process\","
	                       "\"insuredId\":\"00123\",\"scheduleId\":100,\"countryISO\":\"PE\","
	                       "\"createdAt\":\"2026-11-25T13:45:26.123Z\"}");
	free(text);
}
END_TEST

/* The item as the list holds it (appt_item_jobj), checked to be the one-item body
 * (appt_item_json) to the byte. */
static char *item_text(const struct appointment *a)
{
	struct json_object *o = NULL;
	char *text = NULL;
	char *alone = NULL;

	ck_assert_int_eq(appt_item_jobj(a, &o), RC_OK);
	ck_assert_int_eq(jx_to_text(o, &text), RC_OK);
	json_object_put(o);
	ck_assert_int_eq(appt_item_json(a, &alone), RC_OK);
	ck_assert_str_eq(alone, text);
	free(alone);
	return text;
}

/* waitFor: which statuses end which wait, and the names. */
START_TEST(test_wait)
{
	static const char *const names[] = {"completed", "failed", "cancelled", "any-final"};
	static const enum appt_wait waits[] = {APPT_WAIT_COMPLETED, APPT_WAIT_FAILED,
	                                       APPT_WAIT_CANCELLED, APPT_WAIT_ANY_FINAL};
	enum appt_wait w = APPT_WAIT_NONE;

	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(appt_wait_parse(names[i], &w), RC_OK);
		ck_assert_int_eq(w, waits[i]);
	}
	w = APPT_WAIT_FAILED;
	ck_assert_int_eq(appt_wait_parse("", &w), RC_INVAL);
	ck_assert_int_eq(appt_wait_parse(NULL, &w), RC_INVAL);
	ck_assert_int_eq(appt_wait_parse("pending", &w), RC_INVAL);
	ck_assert_int_eq(appt_wait_parse("Failed", &w), RC_INVAL);
	ck_assert_int_eq(w, APPT_WAIT_FAILED);

	ck_assert(!appt_status_is_final(APPT_PENDING));
	ck_assert(!appt_status_is_final(APPT_PROCESSED));
	ck_assert(appt_status_is_final(APPT_COMPLETED));
	ck_assert(appt_status_is_final(APPT_FAILED));
	ck_assert(!appt_status_is_final(APPT_CANCELLING));
	ck_assert(appt_status_is_final(APPT_CANCELLED));
	for (int st = 0; st < APPT_STATUS_COUNT; st++) {
		const char *name = appt_status_name((enum appt_status)st);

		ck_assert(appt_wait_done(APPT_WAIT_NONE, (enum appt_status)st));
		ck_assert(appt_wait_done(APPT_WAIT_ANY_FINAL, (enum appt_status)st) ==
		          appt_status_is_final((enum appt_status)st));
		ck_assert(appt_wait_done(APPT_WAIT_COMPLETED, (enum appt_status)st) ==
		          (strcmp(name, "completed") == 0));
		ck_assert(appt_wait_done(APPT_WAIT_FAILED, (enum appt_status)st) ==
		          (strcmp(name, "failed") == 0));
		ck_assert(appt_wait_done(APPT_WAIT_CANCELLED, (enum appt_status)st) ==
		          (strcmp(name, "cancelled") == 0));
	}
}
END_TEST

START_TEST(test_item_shapes)
{
	struct appointment a;
	char *text;

	make_pending(&a);
	text = item_text(&a);
	ck_assert_str_eq(text, "{\"appointmentId\":\"" ID1 "\",\"insuredId\":\"00123\","
	                       "\"countryISO\":\"PE\",\"scheduleId\":100,\"status\":\"pending\","
	                       "\"schedule\":null,\"createdAt\":\"2026-11-25T13:45:26.123Z\","
	                       "\"updatedAt\":\"2026-11-25T13:45:26.123Z\",\"processedAt\":null,"
	                       "\"completedAt\":null,\"cancelledAt\":null}");
	free(text);

	a.status = APPT_COMPLETED;
	a.has_schedule = true;
	a.schedule.schedule_id = 100;
	a.schedule.center_id = 4;
	a.schedule.specialty_id = 3;
	a.schedule.medic_id = 12;
	snprintf(a.schedule.date, sizeof(a.schedule.date), "%s", "2026-12-01T09:30:00.000Z");
	snprintf(a.processed_at, sizeof(a.processed_at), "%s", "2026-11-25T13:45:27.000Z");
	snprintf(a.completed_at, sizeof(a.completed_at), "%s", "2026-11-25T13:45:28.000Z");
	snprintf(a.updated_at, sizeof(a.updated_at), "%s", "2026-11-25T13:45:28.000Z");
	text = item_text(&a);
	ck_assert_str_eq(text, "{\"appointmentId\":\"" ID1 "\",\"insuredId\":\"00123\","
	                       "\"countryISO\":\"PE\",\"scheduleId\":100,\"status\":\"completed\","
	                       "\"schedule\":{\"scheduleId\":100,\"centerId\":4,\"specialtyId\":3,"
	                       "\"medicId\":12,\"date\":\"2026-12-01T09:30:00.000Z\"},"
	                       "\"createdAt\":\"2026-11-25T13:45:26.123Z\","
	                       "\"updatedAt\":\"2026-11-25T13:45:28.000Z\","
	                       "\"processedAt\":\"2026-11-25T13:45:27.000Z\","
	                       "\"completedAt\":\"2026-11-25T13:45:28.000Z\",\"cancelledAt\":null}");
	free(text);

	a.status = APPT_CANCELLED;
	snprintf(a.cancelled_at, sizeof(a.cancelled_at), "%s", "2026-11-25T13:45:29.000Z");
	text = item_text(&a);
	ck_assert_ptr_nonnull(strstr(text, ",\"status\":\"cancelled\","));
	ck_assert_ptr_nonnull(strstr(text, ",\"cancelledAt\":\"2026-11-25T13:45:29.000Z\"}"));
	free(text);

	make_pending(&a);
	a.status = APPT_FAILED;
	snprintf(a.failure_reason, sizeof(a.failure_reason), "%s", "schedule_unavailable");
	text = item_text(&a);
	ck_assert_ptr_nonnull(strstr(text, ",\"status\":\"failed\","));
	ck_assert_ptr_nonnull(strstr(text, ",\"cancelledAt\":null,"
	                                   "\"failureReason\":\"schedule_unavailable\"}"));
	free(text);

	/* failureReason never appears unless failed */
	a.status = APPT_PROCESSED;
	text = item_text(&a);
	ck_assert_ptr_null(strstr(text, "failureReason"));
	free(text);
}
END_TEST

struct page_case {
	size_t n;
	size_t total;
	size_t available;
	int limit;
	int offset;
	bool has_more;
	int64_t total_pages;
	int64_t current_page;
};

static const struct page_case page_cases[] = {
	{0, 0, 0, 20, 0, false, 0, 1},
	{3, 3, 3, 20, 0, false, 1, 1},
	{2, 5, 9, 2, 0, true, 3, 1},
	{2, 5, 9, 2, 2, true, 3, 2},
	{1, 5, 9, 2, 4, false, 3, 3},
	{0, 5, 9, 2, 6, false, 3, 4},
	{1, 100, 100, 1, 99, false, 100, 100},
	{2, 100, 100, 100, 50, false, 1, 1},
	{2, 101, 101, 100, 99, false, 2, 1},
};

static int64_t get_i(struct json_object *o, const char *k)
{
	int64_t v = -1;

	ck_assert_int_eq(jx_get_int64(o, k, &v, NULL), RC_OK);
	return v;
}

static bool get_b(struct json_object *o, const char *k)
{
	bool v = false;

	ck_assert_int_eq(jx_get_bool(o, k, &v, NULL), RC_OK);
	return v;
}

#define TP1 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TP2 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/* The request ids an item keeps (SPEC §7): copied when valid, dropped otherwise; a message
 * takes the POST's or, for a cancel, the DELETE's; and no answer of the API shows them. */
START_TEST(test_trace)
{
	struct appointment a;
	struct appt_trace t;
	struct appt_page pg = {.total = 1, .total_available = 1, .limit = 20};
	char long_id[APPT_REQID_SIZE + 1];
	char *text = NULL;

	appt_trace_set(&t, "req-1", TP1);
	ck_assert_str_eq(t.request_id, "req-1");
	ck_assert_str_eq(t.traceparent, TP1);
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	appt_trace_set(&t, long_id, "00-nope");
	ck_assert_str_eq(t.request_id, "");
	ck_assert_str_eq(t.traceparent, "");
	appt_trace_set(&t, "has space", NULL);
	ck_assert_str_eq(t.request_id, "");
	appt_trace_set(&t, NULL, TP2);
	ck_assert_str_eq(t.request_id, "");
	ck_assert_str_eq(t.traceparent, TP2);

	make_pending(&a);
	ck_assert_str_eq(a.trace.request_id, "");
	ck_assert_str_eq(a.cancel_trace.request_id, "");
	/* an item from before the ids were kept: none, for either kind */
	ck_assert_str_eq(appt_trace_for(&a, APPT_MSG_CREATE)->request_id, "");
	ck_assert_str_eq(appt_trace_for(&a, APPT_MSG_CANCEL)->request_id, "");
	appt_trace_set(&a.trace, "post-1", TP1);
	/* a cancel from before: the POST's */
	ck_assert_ptr_eq(appt_trace_for(&a, APPT_MSG_CANCEL), &a.trace);
	appt_trace_set(&a.cancel_trace, "delete-1", TP2);
	ck_assert_ptr_eq(appt_trace_for(&a, APPT_MSG_CREATE), &a.trace);
	ck_assert_ptr_eq(appt_trace_for(&a, APPT_MSG_CANCEL), &a.cancel_trace);

	/* internal: not in the 201 body, the item, or the list */
	a.status = APPT_CANCELLING;
	text = item_text(&a);
	ck_assert_ptr_null(strstr(text, "post-1"));
	ck_assert_ptr_null(strstr(text, "delete-1"));
	ck_assert_ptr_null(strstr(text, "00-"));
	free(text);
	ck_assert_int_eq(appt_created_json(&a, &text), RC_OK);
	ck_assert_ptr_null(strstr(text, "post-1"));
	ck_assert_ptr_null(strstr(text, "00-"));
	free(text);
	ck_assert_int_eq(appt_list_json(&a, 1, &pg, &text), RC_OK);
	ck_assert_ptr_null(strstr(text, "post-1"));
	ck_assert_ptr_null(strstr(text, "delete-1"));
	ck_assert_ptr_null(strstr(text, "requestId"));
	free(text);
}
END_TEST

START_TEST(test_list_pagination)
{
	const struct page_case *c = &page_cases[_i];
	struct appointment items[3];
	struct appt_page pg = {.total = c->total, .total_available = c->available,
			       .limit = c->limit, .offset = c->offset, .more = c->has_more};
	struct json_object *o = NULL;
	struct json_object *p = NULL;
	struct json_object *arr = NULL;
	char *text = NULL;

	for (size_t i = 0; i < 3; i++)
		make_pending(&items[i]);
	ck_assert_int_eq(appt_list_json(items, c->n, &pg, &text), RC_OK);
	ck_assert_int_eq(jx_parse(text, strlen(text), 1 << 20, 8, &o, NULL), RC_OK);
	ck_assert(json_object_object_get_ex(o, "appointments", &arr));
	ck_assert_uint_eq(json_object_array_length(arr), c->n);
	ck_assert_int_eq(get_i(o, "total"), (int64_t)c->total);
	ck_assert_int_eq(jx_get_obj(o, "pagination", &p, NULL), RC_OK);
	ck_assert_int_eq(get_i(p, "count"), (int64_t)c->n);
	ck_assert_int_eq(get_i(p, "total"), (int64_t)c->total);
	ck_assert_int_eq(get_i(p, "limit"), c->limit);
	ck_assert_int_eq(get_i(p, "offset"), c->offset);
	ck_assert_int_eq(get_b(p, "hasMore"), c->has_more);
	ck_assert_int_eq(get_i(p, "totalPages"), c->total_pages);
	ck_assert_int_eq(get_i(p, "currentPage"), c->current_page);
	ck_assert_int_eq(jx_get_obj(o, "meta", &p, NULL), RC_OK);
	ck_assert_int_eq(get_i(p, "totalAvailable"), (int64_t)c->available);
	ck_assert_int_eq(get_i(p, "totalFiltered"), (int64_t)c->total);
	ck_assert(!get_b(p, "filterApplied"));
	json_object_put(o);
	free(text);
}
END_TEST

START_TEST(test_list_exact)
{
	struct appt_page pg = {.total_available = 4, .limit = 20, .status = "failed",
			       .start_date = "2026-01-01T00:00:00.000Z"};
	struct appt_page bad = {0};
	char *text = NULL;

	ck_assert_int_eq(appt_list_json(NULL, 0, &pg, &text), RC_OK);
	ck_assert_str_eq(text, "{\"appointments\":[],\"total\":0,"
	                       "\"pagination\":{\"count\":0,\"total\":0,\"limit\":20,\"offset\":0,"
	                       "\"hasMore\":false,\"totalPages\":0,\"currentPage\":1,"
	                       "\"nextCursor\":null},"
	                       "\"filters\":{\"status\":\"failed\","
	                       "\"startDate\":\"2026-01-01T00:00:00.000Z\",\"endDate\":null},"
	                       "\"meta\":{\"totalAvailable\":4,\"totalFiltered\":0,"
	                       "\"filterApplied\":true}}");
	free(text);
	ck_assert_int_eq(appt_list_json(NULL, 0, &bad, &text), RC_INVAL);
	ck_assert_ptr_null(text);
	bad.limit = 1;
	bad.offset = -1;
	ck_assert_int_eq(appt_list_json(NULL, 0, &bad, &text), RC_INVAL);
	/* the next page's cursor, when there is one */
	pg = (struct appt_page){.total = 3, .total_available = 3, .limit = 1, .more = true,
				.next_cursor = "1.1767261200000.abc"};
	ck_assert_int_eq(appt_list_json(NULL, 0, &pg, &text), RC_OK);
	ck_assert_ptr_nonnull(strstr(text, "\"hasMore\":true,\"totalPages\":3,\"currentPage\":1,"
					   "\"nextCursor\":\"1.1767261200000.abc\"}"));
	free(text);
}
END_TEST

/* The list body as the json-c tree of the same shape prints it (how appt_list_json made it
 * before it wrote the text itself): the oracle of test_list_same_as_tree. */
static char *list_by_tree(const struct appointment *items, size_t n, const struct appt_page *pg)
{
	struct json_object *arr = json_object_new_array();
	struct json_object *pagination = NULL;
	struct json_object *o = NULL;
	char *text = NULL;

	for (size_t i = 0; i < n; i++) {
		struct json_object *it = NULL;

		ck_assert_int_eq(appt_item_jobj(&items[i], &it), RC_OK);
		ck_assert_int_eq(jx_append(arr, it), RC_OK);
	}
	ck_assert_int_eq(appt_pagination_jobj(n, pg, &pagination), RC_OK);
	{
		const struct jx_member filters[] = {
			{.key = "status", .type = JX_STR, .s = pg->status},
			{.key = "startDate", .type = JX_STR, .s = pg->start_date},
			{.key = "endDate", .type = JX_STR, .s = pg->end_date},
		};
		const struct jx_member meta[] = {
			{.key = "totalAvailable", .type = JX_INT, .i = (int64_t)pg->total_available},
			{.key = "totalFiltered", .type = JX_INT, .i = (int64_t)pg->total},
			{.key = "filterApplied", .type = JX_BOOL,
			 .b = pg->status != NULL || pg->start_date != NULL || pg->end_date != NULL},
		};
		const struct jx_member m[] = {
			{.key = "appointments", .type = JX_VAL, .v = arr},
			{.key = "total", .type = JX_INT, .i = (int64_t)pg->total},
			{.key = "pagination", .type = JX_VAL, .v = pagination},
			{.key = "filters", .type = JX_OBJ, .sub = filters, .nsub = JX_COUNT(filters)},
			{.key = "meta", .type = JX_OBJ, .sub = meta, .nsub = JX_COUNT(meta)},
		};

		ck_assert_int_eq(jx_build(m, JX_COUNT(m), &o), RC_OK);
	}
	ck_assert_int_eq(jx_to_text(o, &text), RC_OK);
	json_object_put(o);
	json_object_put(pagination);
	json_object_put(arr);
	return text;
}

/* The written list body is the tree's to the byte: items of every status, with and without
 * a schedule, a failureReason that needs every kind of escape, filters and a cursor. */
START_TEST(test_list_same_as_tree)
{
	struct appointment items[6];
	struct appt_page pages[] = {
		{.total = 6, .total_available = 6, .limit = 20},
		{.total = 61, .total_available = 99, .limit = 6, .offset = 12, .more = true,
		 .next_cursor = "18.1767261200000.abc", .status = "failed",
		 .start_date = "2026-01-01T00:00:00.000Z", .end_date = "2027-01-01T00:00:00.000Z"},
	};
	const char *written = NULL;

	for (size_t i = 0; i < 6; i++)
		make_pending(&items[i]);
	items[1].status = APPT_PROCESSED;
	items[1].has_schedule = true;
	items[1].schedule = (struct appt_schedule){100, 4, 7, 12, "2026-12-01T09:30:00.000Z"};
	snprintf(items[1].processed_at, sizeof(items[1].processed_at), "%s",
		 "2026-11-25T13:45:27.000Z");
	items[2] = items[1];
	items[2].status = APPT_COMPLETED;
	snprintf(items[2].completed_at, sizeof(items[2].completed_at), "%s",
		 "2026-11-25T13:45:28.000Z");
	items[3].status = APPT_FAILED;
	snprintf(items[3].failure_reason, sizeof(items[3].failure_reason), "%s",
		 "a\"b\\c/d\n\r\t\b\f\x01\x1f\x7f\xc3\xa9");
	items[4].status = APPT_CANCELLED;
	snprintf(items[4].cancelled_at, sizeof(items[4].cancelled_at), "%s",
		 "2026-11-25T13:45:29.000Z");
	items[5].status = APPT_FAILED; /* an empty failureReason */
	for (size_t k = 0; k < sizeof(pages) / sizeof(pages[0]); k++) {
		for (size_t n = 0; n <= 6; n++) {
			char *text = NULL;
			char *tree = list_by_tree(items, n, &pages[k]);

			ck_assert_int_eq(appt_list_json(items, n, &pages[k], &text), RC_OK);
			ck_assert_str_eq(text, tree);
			written = strstr(text, "\\u0001");
			ck_assert(n < 4 || written != NULL);
			free(text);
			free(tree);
		}
	}
}
END_TEST

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

START_TEST(test_msg_roundtrip)
{
	struct appointment a;
	struct appt_message m;
	struct appt_message back;
	struct errbuf eb = {{0}};
	char *text = NULL;

	make_pending(&a);
	ck_assert_int_eq(appt_msg_init(&m, &a, 1795614326500LL, "req-1", TP), RC_OK);
	ck_assert_int_eq(appt_msg_encode(&m, &text), RC_OK);
	ck_assert_str_eq(text, "{\"appointmentId\":\"" ID1 "\",\"countryISO\":\"PE\","
	                       "\"eventType\":\"AppointmentCreated\",\"insuredId\":\"00123\","
	                       "\"scheduleId\":100,\"timestamp\":\"2026-11-25T13:45:26.500Z\","
	                       "\"requestId\":\"req-1\",\"traceparent\":\"" TP "\"}");
	ck_assert_int_eq(appt_msg_decode(text, strlen(text), &back, &eb), RC_OK);
	ck_assert_int_eq(memcmp(&m, &back, sizeof(m)), 0);
	free(text);

	/* Without the optional fields, and with bad ones dropped. */
	ck_assert_int_eq(appt_msg_init(&m, &a, 0, "bad id with spaces", "01-xyz"), RC_OK);
	ck_assert_str_eq(m.request_id, "");
	ck_assert_str_eq(m.traceparent, "");
	ck_assert_int_eq(m.kind, APPT_MSG_CREATE);
	ck_assert_int_eq(appt_msg_encode(&m, &text), RC_OK);
	ck_assert_ptr_null(strstr(text, "\"type\""));
	ck_assert_ptr_null(strstr(text, "requestId"));
	ck_assert_ptr_null(strstr(text, "traceparent"));
	ck_assert_int_eq(appt_msg_decode(text, strlen(text), &back, &eb), RC_OK);
	ck_assert_int_eq(memcmp(&m, &back, sizeof(m)), 0);
	free(text);
	ck_assert_int_eq(appt_msg_init(&m, &a, TU_MAX_MS + 1, NULL, NULL), RC_INVAL);

	/* a cancelling (or cancelled) appointment's message is its cancel */
	for (int st = APPT_CANCELLING; st <= APPT_CANCELLED; st++) {
		a.status = (enum appt_status)st;
		ck_assert_int_eq(appt_msg_init(&m, &a, 1795614326500LL, NULL, NULL), RC_OK);
		ck_assert_int_eq(m.kind, APPT_MSG_CANCEL);
		ck_assert_int_eq(appt_msg_encode(&m, &text), RC_OK);
		ck_assert_str_eq(text, "{\"appointmentId\":\"" ID1 "\",\"countryISO\":\"PE\","
		                       "\"eventType\":\"AppointmentCancelled\",\"type\":\"cancel\","
		                       "\"insuredId\":\"00123\",\"scheduleId\":100,"
		                       "\"timestamp\":\"2026-11-25T13:45:26.500Z\"}");
		ck_assert_int_eq(appt_msg_decode(text, strlen(text), &back, &eb), RC_OK);
		ck_assert_int_eq(memcmp(&m, &back, sizeof(m)), 0);
		free(text);
	}
}
END_TEST

#define MSG_HEAD "{\"appointmentId\":\"" ID1 "\",\"countryISO\":\"PE\","
#define MSG_TAIL "\"timestamp\":\"2026-11-25T13:45:26.500Z\"}"

struct msg_case {
	const char *text;
	bool ok;
	const char *msg; /* expected eb text (prefix) on failure */
};

static const struct msg_case msg_cases[] = {
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"insuredId\":\"00123\",\"scheduleId\":1e2,"
	 MSG_TAIL, true, NULL},
	/* extra members ignored; bad optional ones dropped */
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"insuredId\":\"00123\",\"scheduleId\":100,"
	 "\"requestId\":123,\"traceparent\":null,\"extra\":{\"x\":1}," MSG_TAIL, true, NULL},
	/* timestamp with an offset is normalised */
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"insuredId\":\"00123\",\"scheduleId\":100,"
	 "\"timestamp\":\"2026-11-25T08:45:26.5-05:00\"}", true, NULL},
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"type\":\"create\",\"insuredId\":\"00123\","
	 "\"scheduleId\":100," MSG_TAIL, true, NULL},
	{MSG_HEAD "\"eventType\":\"AppointmentUpdated\",\"insuredId\":\"00123\",\"scheduleId\":100,"
	 MSG_TAIL, false, "eventType is not AppointmentCreated or AppointmentCancelled"},
	/* "type" must agree with eventType */
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"type\":\"cancel\",\"insuredId\":\"00123\","
	 "\"scheduleId\":100," MSG_TAIL, false, "type does not agree with eventType AppointmentCreated"},
	{MSG_HEAD "\"eventType\":\"AppointmentCancelled\",\"type\":\"create\",\"insuredId\":\"00123\","
	 "\"scheduleId\":100," MSG_TAIL, false,
	 "type does not agree with eventType AppointmentCancelled"},
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"type\":7,\"insuredId\":\"00123\","
	 "\"scheduleId\":100," MSG_TAIL, false, "'type' is not a string"},
	{MSG_HEAD "\"insuredId\":\"00123\",\"scheduleId\":100," MSG_TAIL, false,
	 "message has no eventType"},
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"insuredId\":\"123\",\"scheduleId\":100,"
	 MSG_TAIL, false, "insuredId is not 5 digits"},
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"insuredId\":123,\"scheduleId\":100,"
	 MSG_TAIL, false, "'insuredId' is not a string"},
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"insuredId\":\"00123\",\"scheduleId\":0,"
	 MSG_TAIL, false, "scheduleId must be >= 1"},
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"insuredId\":\"00123\",\"scheduleId\":1.5,"
	 MSG_TAIL, false, "'scheduleId' is not an integer"},
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"insuredId\":\"00123\"," MSG_TAIL, false,
	 "message has no scheduleId"},
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"insuredId\":\"00123\",\"scheduleId\":100,"
	 "\"timestamp\":\"yesterday\"}", false, "timestamp: "},
	{"{\"appointmentId\":\"nope\",\"countryISO\":\"PE\",\"eventType\":\"AppointmentCreated\","
	 "\"insuredId\":\"00123\",\"scheduleId\":100," MSG_TAIL, false,
	 "appointmentId is not a lower-case UUID v4"},
	{"{\"appointmentId\":\"" ID1 "\",\"countryISO\":\"pe\",\"eventType\":\"AppointmentCreated\","
	 "\"insuredId\":\"00123\",\"scheduleId\":100," MSG_TAIL, false,
	 "countryISO is not two upper-case letters"},
	{MSG_HEAD "\"eventType\":\"AppointmentCreated\",\"insuredId\":\"00123\",\"insuredId\":\"00124\","
	 "\"scheduleId\":100," MSG_TAIL, false, "message has a duplicate key 'insuredId'"},
	{"[1]", false, "message is not a JSON object"},
	{"{\"a\":", false, "invalid JSON"},
	{"", false, "JSON text is empty"},
};

START_TEST(test_msg_decode)
{
	const struct msg_case *c = &msg_cases[_i];
	struct appt_message m;
	struct errbuf eb = {{0}};
	enum rc rc = appt_msg_decode(c->text, strlen(c->text), &m, &eb);

	if (c->ok) {
		ck_assert_msg(rc == RC_OK, "case %d: %s", _i, eb.msg);
		ck_assert_str_eq(m.appointment_id, ID1);
		ck_assert_str_eq(m.country, "PE");
		ck_assert_str_eq(m.insured_id, "00123");
		ck_assert_int_eq(m.schedule_id, 100);
		ck_assert_str_eq(m.timestamp, "2026-11-25T13:45:26.500Z");
		ck_assert_str_eq(m.request_id, "");
		ck_assert_str_eq(m.traceparent, "");
	} else {
		ck_assert_msg(rc == RC_INVAL, "case %d accepted", _i);
		ck_assert_msg(strncmp(eb.msg, c->msg, strlen(c->msg)) == 0, "case %d: '%s'", _i, eb.msg);
		ck_assert_str_eq(m.appointment_id, "");
	}
}
END_TEST

START_TEST(test_msg_too_big)
{
	char *big = malloc(APPT_MSG_MAX + 2);
	struct appt_message m;
	struct errbuf eb = {{0}};

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', APPT_MSG_MAX + 1);
	big[0] = '{';
	big[APPT_MSG_MAX] = '}';
	big[APPT_MSG_MAX + 1] = '\0';
	ck_assert_int_eq(appt_msg_decode(big, APPT_MSG_MAX + 1, &m, &eb), RC_INVAL);
	ck_assert_str_eq(eb.msg, "JSON text is 4097 bytes, over the limit of 4096");
	free(big);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("domain_appointment");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_status);
	tcase_add_loop_test(tc, test_id_valid, 0, sizeof(id_cases) / sizeof(id_cases[0]));
	tcase_add_test(tc, test_id_new);
	tcase_add_loop_test(tc, test_insured, 0, sizeof(insured_cases) / sizeof(insured_cases[0]));
	tcase_add_test(tc, test_init_pending);
	tcase_add_test(tc, test_created_json);
	tcase_add_test(tc, test_item_shapes);
	tcase_add_test(tc, test_wait);
	tcase_add_test(tc, test_trace);
	tcase_add_loop_test(tc, test_list_pagination, 0, sizeof(page_cases) / sizeof(page_cases[0]));
	tcase_add_test(tc, test_list_exact);
	tcase_add_test(tc, test_list_same_as_tree);
	tcase_add_test(tc, test_msg_roundtrip);
	tcase_add_loop_test(tc, test_msg_decode, 0, sizeof(msg_cases) / sizeof(msg_cases[0]));
	tcase_add_test(tc, test_msg_too_big);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
