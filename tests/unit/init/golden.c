/*
 * Golden files: a generator's output is compared with
 * tests/unit/golden/NAME, byte for byte. NESTBOX_UPDATE_GOLDEN=1 writes the
 * files instead (then review the diff like any other change).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

void
golden(const char *name, const char *text)
{
	char	 path[4096], *want, *slash;
	size_t	 len;
	FILE	*f;

	/* __FILE__ is tests/unit/init/golden.c, absolute (the Makefile's TESTDIR) */
	snprintf(path, sizeof(path), "%s", __FILE__);
	assert_non_null(slash = strrchr(path, '/'));
	*slash = '\0';
	assert_non_null(slash = strrchr(path, '/'));
	snprintf(slash, sizeof(path) - (slash - path), "/golden/%s", name);
	if (getenv("NESTBOX_UPDATE_GOLDEN") != NULL) {
		assert_non_null(f = fopen(path, "w"));
		assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
		assert_int_equal(fclose(f), 0);
		return;
	}
	if ((want = read_file(path, 1 << 20, &len)) == NULL)
		fail_msg("%s: missing (NESTBOX_UPDATE_GOLDEN=1 writes it)", path);
	if (strcmp(want, text) != 0) {
		print_error("--- %s\n+++ generated\n%s", path, text);
		free(want);
		fail_msg("%s: the output differs (above)", name);
	}
	free(want);
}
