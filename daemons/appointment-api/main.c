/* appointment-api — placeholder until its issue lands. */
#include <stdlib.h>
int main(void)
{
	return EXIT_SUCCESS;
}
