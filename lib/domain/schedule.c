/* schedule.c — the GET /schedules body: the slots, then the pagination object the
 * appointment list has (appt_pagination_jobj), so a client reads both pages alike. */
#include "domain/schedule.h"

#include <json-c/json.h>

#include "base/jx.h"

static enum rc slot_jobj(const struct sched_slot *s, struct json_object **out)
{
	const struct jx_member m[] = {
		{.key = "scheduleId", .type = JX_INT, .i = s->schedule_id},
		{.key = "countryISO", .type = JX_STR, .s = s->country},
		{.key = "centerId", .type = JX_INT, .i = s->center_id},
		{.key = "specialtyId", .type = JX_INT, .i = s->specialty_id},
		{.key = "medicId", .type = JX_INT, .i = s->medic_id},
		{.key = "date", .type = JX_STR, .s = s->date},
	};

	return jx_build(m, JX_COUNT(m), out);
}

enum rc sched_list_json(const struct sched_slot *items, size_t n, const struct appt_page *pg,
                        char **out)
{
	struct appt_page p = *pg;
	struct json_object *o = NULL;
	struct json_object *arr = NULL;
	struct json_object *sub = NULL;
	enum rc rc = RC_OK;

	*out = NULL;
	if (pg->limit < 1 || pg->offset < 0)
		return RC_INVAL;
	p.next_cursor = NULL;
	o = json_object_new_object();
	arr = json_object_new_array_ext((int)(n < 128 ? n : 128));
	if (o == NULL || arr == NULL) {
		rc = RC_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && rc == RC_OK; i++) {
		rc = slot_jobj(&items[i], &sub);
		if (rc == RC_OK)
			rc = jx_append(arr, sub);
		sub = NULL;
	}
	if (rc == RC_OK) {
		rc = jx_add_obj(o, "schedules", arr);
		arr = NULL;
	}
	if (rc == RC_OK)
		rc = appt_pagination_jobj(n, &p, &sub);
	if (rc == RC_OK) {
		rc = jx_add_obj(o, "pagination", sub);
		sub = NULL;
	}
	if (rc == RC_OK)
		rc = jx_to_text(o, out);
out:
	json_object_put(arr);
	json_object_put(o);
	return rc;
}
