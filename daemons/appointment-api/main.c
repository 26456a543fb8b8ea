/* appointment-api — the HTTP front daemon (SPEC §3). main() only wires the API's parts
 * (api.c) to the one daemon lifecycle (run/lifecycle): arguments, configuration, signals,
 * reload, watchdog and drain are the same code as the queue daemons'. */
#include "api.h"

static const struct lifecycle_app api_app = {
	.service = "appointment-api",
	.setup = api_setup,
	.start = api_start,
	.reload = api_reload,
	.tick = api_tick,
	.lame_duck = api_lame_duck,
	.drain_ms = api_drain_ms,
	.quiesce = api_quiesce,
	.drain = api_drain,
	.in_flight = api_in_flight,
	.readers_next = api_readers_next,
	.readers_oldest = api_readers_oldest,
	.teardown = api_teardown,
};

int main(int argc, char **argv)
{
	return lifecycle_main(argc, argv, &api_app);
}
