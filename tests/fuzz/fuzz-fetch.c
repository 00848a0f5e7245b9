/* Fuzz what a guest's sources read from outside: the vendor-specific area
 * of an NVMe disk's Identify Namespace (pd_nvme_name, the input as the
 * whole buffer, no NUL after it) and a gs:// reference from metadata
 * (gcs_url). A name found is a GCE device name's characters; a URL made
 * has the object as one segment, every other byte percent-encoded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "sys/sys.h"
#include "md/md.h"
#include "net/net.h"
#include "ctl/ctl.h"
#include "guest/guest.h"
#include "tools/tools.h"
#include "guest/guest-internal.h"
#include "fuzz.h"

static void
check_url(const char *ref)
{
	static const char api[] = "https://api/b/";
	char		 url[4096];
	const char	*p, *o;

	if (gcs_url(ref, api, url, sizeof(url)) == -1)
		return;
	if (strncmp(url, api, sizeof(api) - 1) != 0 ||
	    (o = strstr(url + sizeof(api) - 1, "/o/")) == NULL ||
	    strlen(o) < 13 || strcmp(url + strlen(url) - 10, "?alt=media") != 0)
		abort();
	for (p = o + 3; p < url + strlen(url) - 10; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~%", *p) != NULL))
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 name[64];
	char	*s;
	size_t	 i;

	if ((s = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	if (pd_nvme_name(s, size, name, sizeof(name)) == 0) {
		if (name[0] == '\0')
			abort();
		for (i = 0; name[i] != '\0'; i++)
			if (!((name[i] >= 'A' && name[i] <= 'Z') ||
			    (name[i] >= 'a' && name[i] <= 'z') ||
			    (name[i] >= '0' && name[i] <= '9') || name[i] == '-' ||
			    name[i] == '_'))
				abort();
	}
	free(s);

	if ((s = fuzz_copy(data, size)) == NULL)
		return 0;
	check_url(s);
	free(s);
	return 0;
}
