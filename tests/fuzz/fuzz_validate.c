/* fuzz_validate.c — the POST /appointments body validator (domain/validate) and the error
 * body it leads to. */
#include <stdlib.h>

#include "domain/validate.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const countries[] = {"PE", "CL", NULL};
	struct appt_request ar;
	struct val_errors errs;
	char *body = NULL;

	if (val_appointment_body((const char *)data, size, countries, 2, &ar, &errs) == RC_INVAL &&
	    val_errors_to_json(&errs, "fuzz", &body) == RC_OK)
		free(body);
	return 0;
}
