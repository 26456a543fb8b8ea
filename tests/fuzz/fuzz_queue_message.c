/* fuzz_queue_message.c — what a worker does with an SQS body: unwrap the SNS envelope
 * (app/events), decode the appointment message (domain/appointment), and the masked body
 * of the Processing Error event a bad one becomes. */
#include <stdlib.h>

#include "app/events.h"
#include "domain/appointment.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errbuf eb = {{0}};
	struct appt_message m;
	const char *msg = NULL;
	size_t msg_len = 0;
	char *owned = NULL;
	char *masked;

	if (events_unwrap_sns((const char *)data, size, &msg, &msg_len, &owned, &eb) == RC_OK &&
	    appt_msg_decode(msg, msg_len, &m, &eb) == RC_OK)
		eb.msg[0] = '\0'; /* any answer will do: the run is about memory and UB */
	free(owned);
	masked = events_mask_body((const char *)data, size, 4096);
	free(masked);
	return 0;
}
