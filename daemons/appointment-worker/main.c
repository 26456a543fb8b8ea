/* appointment-worker — consumes one country's queue (SPEC §4, §5); the instance
 * name of appointment-worker@pe.service arrives as --country pe. */
#include "worker.h"

int main(int argc, char **argv)
{
	return qdaemon_main(argc, argv, &worker_app);
}
