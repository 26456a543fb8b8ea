/* fuzz_list_query.c — the query parsers of GET /appointments/{insuredId} (domain/validate),
 * GET /schedules (domain/validate_schedules) and GET /appointments/{insuredId}/{appointmentId}
 * (domain/validate_item, its path too, on the same segment), on the same parameters: the
 * input is "insuredId?k=v&k=v..." as the HTTP layer would hand it over, decoded by
 * run/http_strict's unescape like libmicrohttpd's callback does. */
#include <stdlib.h>
#include <string.h>

#include "domain/validate.h"
#include "domain/validate_item.h"
#include "domain/validate_schedules.h"
#include "fuzz.h"
#include "run/http.h"
#include "run/http_strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct val_kv params[HTTP_MAX_QUERY];
	struct val_list_query q;
	struct val_schedule_query sq;
	struct val_item_query iq;
	char id[APPT_ID_SIZE];
	static const char *const countries[] = {"PE", "CL"};
	struct val_errors errs;
	char insured[APPT_INSURED_SIZE];
	char *text = malloc(size + 1);
	char *query;
	char *p;
	size_t n = 0;
	bool nul = false;
	enum rc rc;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	query = strchr(text, '?');
	if (query != NULL)
		*query++ = '\0';
	(void)http_unescape(text, &nul);
	val_errors_init(&errs);
	rc = val_insured_id(text, insured, &errs);
	for (p = query; p != NULL && n < HTTP_MAX_QUERY;) {
		char *next = strchr(p, '&');
		char *eq;

		if (next != NULL)
			*next++ = '\0';
		eq = strchr(p, '=');
		if (eq != NULL) {
			*eq++ = '\0';
			(void)http_unescape(eq, &nul);
		}
		(void)http_unescape(p, &nul);
		params[n].key = p;
		params[n].value = eq;
		n++;
		p = next;
	}
	rc = val_list_query(params, n, &q, &errs);
	val_errors_init(&errs);
	rc = val_schedule_query(params, n, countries, 2, 1796364000000LL, &sq, &errs);
	val_errors_init(&errs);
	rc = val_item_path(text, text, insured, id, &errs);
	rc = val_item_query(params, n, &iq, &errs);
	(void)rc; /* any answer will do: the run is about memory and UB */
	free(text);
	return 0;
}
