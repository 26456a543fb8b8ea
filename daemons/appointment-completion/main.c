/* appointment-completion — consumes the completion queue (SPEC §4, §5). */
#include "completion.h"

int main(int argc, char **argv)
{
	return qdaemon_main(argc, argv, &completion_app);
}
