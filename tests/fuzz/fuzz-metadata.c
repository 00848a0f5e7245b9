/* Fuzz what the metadata client reads from the network: the attributes
 * document, the alias IP list, the host name, ETags and keys, and the watch
 * itself, driven through a fake transport: the input's first line is the
 * reply's ETag, the rest its body. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "sys/sys.h"
#include "md/md.h"
#include "md/md-internal.h"
#include "net/net.h"
#include "ctl/ctl.h"
#include "guest/guest.h"
#include "tools/tools.h"
#include "fuzz.h"


static struct md_req	*watch;

static int
fake_start(struct md_req *req)
{
	if (strncmp(req->path, "instance/attributes/", 20) == 0)
		watch = req;
	return 0;
}

static const struct md_ops fake = { fake_start, NULL, NULL, NULL };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 ready;
	struct attrs	 a;
	struct md_reply	 r;
	char		 v[8][19], name[64], *s, *nl;
	size_t		 n;

	if (!ready) {
		log_init(open("/dev/null", O_WRONLY | O_CLOEXEC));
		event_init();		/* the retry timers */
		metadata_init(&fake);
		metadata_start();
		ready = 1;
	}
	if ((s = fuzz_copy(data, size)) == NULL)
		return 0;
	if (attrs_parse(s, size, &a) == 0) {
		attrs_get(&a, "nestbox-guests");
		attrs_free(&a);
	}
	aliases_parse(s, size, v, 8, &n);
	hostname_parse(s, size, name);
	md_key_valid(s);
	md_etag_valid(s);

	/* the watch: ETag on the first line, the document after it */
	memset(&r, 0, sizeof(r));
	r.status = 200;
	r.flavor = 1;
	r.body = s;
	r.len = size;
	if ((nl = memchr(s, '\n', size)) != NULL && (size_t)(nl - s) < sizeof(r.etag)) {
		memcpy(r.etag, s, nl - s);
		r.etag[nl - s] = '\0';
		r.body = nl + 1;
		r.len = size - (nl + 1 - s);
	}
	if (watch != NULL && watch->waiting)
		md_request(watch);	/* the retry, without waiting for it */
	if (watch != NULL && watch->busy) {
		watch->started = 0;	/* never "too quick": no backoff timer */
		metadata_reply(watch, &r);
		metadata_attr("nestbox-guests");
	}
	free(s);
	return 0;
}
