/* fuzz_http_strict.c — the request-head checks and the %XX decoding of run/http_strict:
 * the input is a request head (request line, then header lines); the decoding must never
 * grow a string or leave a NUL inside it. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "run/http_strict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_head_check c = {0};
	char *text = malloc(size + 1);
	const char *version = NULL;
	char *line;
	bool nul = false;
	size_t before;
	size_t after;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	before = strlen(text);
	after = http_unescape(text, &nul);
	if (after > before || strlen(text) != after)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	/* line one is the request line (its last word the version), the rest are headers */
	for (line = text; line != NULL;) {
		char *next = strchr(line, '\n');
		char *colon;

		if (next != NULL)
			*next++ = '\0';
		if (line == text) {
			version = strrchr(line, ' ');
			version = version != NULL ? version + 1 : NULL;
		} else {
			colon = strchr(line, ':');
			if (colon != NULL)
				*colon++ = '\0';
			http_head_add(&c, line, colon);
		}
		line = next;
	}
	(void)http_defect_code(http_head_verdict(&c, version));
	free(text);
	return 0;
}
