/* fuzz_eventbridge.c — the EventBridge envelope the completion daemon reads from its
 * queue (app/events: events_parse_processed). */
#include "app/events.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct events_processed ev;
	struct errbuf eb = {{0}};

	if (events_parse_processed((const char *)data, size, &ev, &eb) == RC_OK &&
	    ev.appointment_id[0] == '\0')
		__builtin_trap(); /* RC_OK promises a UUID */
	return 0;
}
