/* driver.c — a standalone driver for the fuzz targets where libFuzzer is not used (gcc,
 * the unit suite): runs every file of the corpus directories once, then mutates them
 * (bit flips, interesting bytes, inserted tokens, cut and repeated runs) until the time
 * or the run count is spent. Deterministic for a given -seed, so a failing run is
 * reproduced with the same -seed and -runs. Under ASan/UBSan a defect aborts the run.
 * Usage: fuzz_<target> [-seconds=N] [-runs=N] [-seed=N] DIR|FILE... */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fuzz.h"

#define MAX_SEEDS 256 /* corpus files kept for mutation */

struct seed {
	unsigned char *data;
	size_t len;
};

static struct seed seeds[MAX_SEEDS];
static size_t n_seeds;
static unsigned long long rng_state;

static unsigned long long next_rand(void)
{
	/* xorshift64*: small, fast, enough for choosing mutations */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void add_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	size_t n;

	if (f == NULL || n_seeds >= MAX_SEEDS) {
		if (f != NULL)
			fclose(f);
		return;
	}
	buf = malloc(FUZZ_MAX_INPUT);
	if (buf == NULL) {
		fclose(f);
		return;
	}
	n = fread(buf, 1, FUZZ_MAX_INPUT, f);
	fclose(f);
	seeds[n_seeds].data = buf;
	seeds[n_seeds].len = n;
	n_seeds++;
}

static void add_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char full[4096];

	if (stat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		add_file(path);
		return;
	}
	d = opendir(path);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
		add_file(full);
	}
	closedir(d);
}

/* Tokens of the formats the targets parse, spliced in whole. */
static const char *const tokens[] = {
	"\"", "\\", "{", "}", "[", "]", ":", ",", "\\u0000", "\\u0049", "\\ud800", "%00", "%",
	"%zz", "&", "=", "?", "\r\n", "\n", " ", "insuredId", "scheduleId", "countryISO",
	"Message", "Type", "Notification", "Content-Length", "Transfer-Encoding", "Host",
	"HTTP/1.1", "1e308", "-0", "9223372036854775808", "\xc3\xa9", "\xff", "\xed\xa0\x80",
	"null", "true", "limit", "offset", "status", "startDate", "2026-02-30T00:00:00Z",
};

static size_t mutate(unsigned char *buf, size_t len, size_t cap)
{
	int rounds = 1 + (int)(next_rand() % 4);

	for (int r = 0; r < rounds; r++) {
		size_t pos = len > 0 ? (size_t)(next_rand() % len) : 0;

		switch (next_rand() % 6) {
		case 0: /* flip a bit */
			if (len > 0)
				buf[pos] ^= (unsigned char)(1u << (next_rand() % 8));
			break;
		case 1: /* an interesting byte */
			if (len > 0) {
				static const unsigned char b[] = {0, 0x7f, 0x80, 0xff, '"', '\\', '0', '9'};

				buf[pos] = b[next_rand() % sizeof(b)];
			}
			break;
		case 2: { /* insert a token */
			const char *t = tokens[next_rand() % (sizeof(tokens) / sizeof(tokens[0]))];
			size_t tl = strlen(t);

			if (len + tl <= cap) {
				memmove(buf + pos + tl, buf + pos, len - pos);
				memcpy(buf + pos, t, tl);
				len += tl;
			}
			break;
		}
		case 3: { /* delete a run */
			size_t n = len > pos ? 1 + (size_t)(next_rand() % (len - pos)) : 0;

			if (n > 16)
				n = 16;
			memmove(buf + pos, buf + pos + n, len - pos - n);
			len -= n;
			break;
		}
		case 4: { /* repeat a run */
			size_t n = len > pos ? 1 + (size_t)(next_rand() % (len - pos)) : 0;

			if (n > 64)
				n = 64;
			if (len + n <= cap) {
				memmove(buf + pos + n, buf + pos, len - pos);
				len += n;
			}
			break;
		}
		default: /* cut the end */
			len = pos;
			break;
		}
	}
	return len;
}

int main(int argc, char **argv)
{
	double seconds = 5;
	unsigned long long runs = 0;
	unsigned long long seed = 1;
	unsigned long long execs = 0;
	unsigned char *buf = malloc(FUZZ_MAX_INPUT);
	struct timespec t0;
	struct timespec now;

	if (buf == NULL)
		return 2;
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "-seconds=", 9) == 0)
			seconds = strtod(argv[i] + 9, NULL);
		else if (strncmp(argv[i], "-runs=", 6) == 0)
			runs = strtoull(argv[i] + 6, NULL, 10);
		else if (strncmp(argv[i], "-seed=", 6) == 0)
			seed = strtoull(argv[i] + 6, NULL, 10);
		else
			add_path(argv[i]);
	}
	rng_state = seed != 0 ? seed : 1;
	if (n_seeds == 0) {
		seeds[0].data = calloc(1, 1);
		seeds[0].len = 0;
		n_seeds = seeds[0].data != NULL ? 1 : 0;
	}
	for (size_t i = 0; i < n_seeds; i++, execs++)
		(void)LLVMFuzzerTestOneInput(seeds[i].data, seeds[i].len);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;; execs++) {
		const struct seed *s;
		size_t len;

		if (runs > 0 && execs >= runs)
			break;
		if ((execs & 255) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >=
			    seconds)
				break;
		}
		s = &seeds[next_rand() % n_seeds];
		memcpy(buf, s->data, s->len);
		len = mutate(buf, s->len, FUZZ_MAX_INPUT);
		(void)LLVMFuzzerTestOneInput(buf, len);
	}
	printf("%llu inputs, %zu seeds, seed %llu: no defect\n", execs, n_seeds, seed);
	for (size_t i = 0; i < n_seeds; i++)
		free(seeds[i].data);
	free(buf);
	return 0;
}
