/*
 * The nestbox-guests declaration: every rule with its exact message (the
 * table below is the source of docs/guests.md's list of errors), valid
 * documents field by field, checks between guests, the network hook, and
 * the example documents in tests/unit/golden/guests/.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

/* The value is copied to the heap without a NUL: the parser must not need one. */
static int
parse(const char *json, struct guest_set *set, struct guest_errors *errs)
{
	size_t	 len = strlen(json);
	char	*buf = malloc(len ? len : 1);
	int	 rv;

	assert_non_null(buf);
	memcpy(buf, json, len);
	rv = guests_parse(buf, len, set, errs);
	free(buf);
	return rv;
}

#define DOC(g)	"{\"version\": 1, \"guests\": [" g "]}"
/* one guest "g" that is valid before the extra fields */
#define ONE(x)	DOC("{\"name\": \"g\", \"memory\": \"1G\", \"disks\": " \
		"[{\"source\": \"state:g.img\"}]" x "}")
#define DISK(x)	DOC("{\"name\": \"g\", \"memory\": \"1G\", \"disks\": [" x "]}")
#define SHA	"\"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\""
#define SRC(x)	DISK("{\"source\": \"" x "\"}")

/* most cases need only a document and its message */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const struct guest_case invalid[] = {
	/* the document */
	{ "{\"version\": 1, \"guests\": [}",
	  "nestbox-guests: not valid JSON (at byte 26)" },
	{ "{\"version\": 1} x",
	  "nestbox-guests: not valid JSON (more after the document at byte 15)" },
	/* what cJSON lets pass and RFC 8259 does not: a NUL (outside a string,
	 * inside one), other control characters, nesting without end */
	{ "{\"version\": 1, \"guests\": []}\0",
	  "nestbox-guests: not valid JSON (a control character at byte 28)", 29 },
	{ "{\"version\": 1,\0 \"guests\": []}",
	  "nestbox-guests: not valid JSON (a control character at byte 14)", 30 },
	{ DOC("{\"name\": \"g\0x\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:g\"}]}"),
	  "nestbox-guests: not valid JSON (a control character in a string at byte 37)", 93 },
	{ "{\"version\": 1,\f\"guests\": []}",
	  "nestbox-guests: not valid JSON (a control character at byte 14)" },
	{ DOC("{\"name\": \"g\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:g\"}],"
	    " \"x\": [[[[[[[[[[[[[[1]]]]]]]]]]]]]]}"),
	  "nestbox-guests: not valid JSON (nested deeper than 16 at byte 108)" },
	{ "[]", "nestbox-guests: not a JSON object ({\"version\": 1, \"guests\": [...]})" },
	{ "{\"guests\": []}", "nestbox-guests: version: missing (this is version 1)" },
	{ "{\"version\": 2, \"guests\": []}",
	  "nestbox-guests: version: this version is not supported (this is version 1)" },
	{ "{\"version\": \"1\", \"guests\": []}",
	  "nestbox-guests: version: a non-number is not supported (this is version 1)" },
	{ "{\"version\": 1}", "nestbox-guests: guests: missing" },
	{ "{\"version\": 1, \"guests\": {\"web\": {}}}",
	  "nestbox-guests: guests: not a list ([{\"name\": ...}, ...])" },
	{ "{\"version\": 1, \"guests\": [], \"guest\": []}",
	  "nestbox-guests: guest: unknown field (version, guests)" },
	{ "{\"version\": 1, \"version\": 1, \"guests\": []}",
	  "nestbox-guests: version: given twice" },
	/* a guest's shape and name */
	{ DOC("[]"), "guest #1: not an object ({\"name\": ...})" },
	{ DOC("{\"memory\": \"1G\"}"), "guest #1: name: missing" },
	{ DOC("{\"name\": 7}"), "guest #1: name: not a string" },
	{ DOC("{\"name\": \"Web\"}"),
	  "guest #1: name: \"Web\" is not a valid name ([a-z][a-z0-9-]{0,62})" },
	{ DOC("{\"name\": \"1web\"}"),
	  "guest #1: name: \"1web\" is not a valid name ([a-z][a-z0-9-]{0,62})" },
	{ DOC("{\"name\": \"web_1\"}"),
	  "guest #1: name: \"web_1\" is not a valid name ([a-z][a-z0-9-]{0,62})" },
	{ DOC("{\"name\": \"a1234567890123456789012345678901234567890123456789012345678901234\"}"),
	  "guest #1: name: \"a123456789012345678901234567890123456789...\" "
	  "is not a valid name ([a-z][a-z0-9-]{0,62})" },
	{ DOC("{\"name\": \"g\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:a\"}]},"
	    "{\"name\": \"g\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:b\"}]}"),
	  "guest #2: name: g is already guest #1's" },
	{ ONE(", \"memroy\": \"1G\""), "guest g: memroy: unknown field" },
	{ ONE(", \"memory\": \"2G\""), "guest g: memory: given twice" },
	/* vcpus, memory */
	{ ONE(", \"vcpus\": \"2\""), "guest g: vcpus: not a number" },
	{ ONE(", \"vcpus\": 0"), "guest g: vcpus: 0 is out of range (1..64)" },
	{ ONE(", \"vcpus\": 65"), "guest g: vcpus: 65 is out of range (1..64)" },
	{ ONE(", \"vcpus\": 1.5"), "guest g: vcpus: 1.5 is out of range (1..64)" },
	{ DOC("{\"name\": \"g\", \"disks\": [{\"source\": \"state:g.img\"}]}"),
	  "guest g: memory: missing (\"1G\")" },
	{ DOC("{\"name\": \"web\", \"memory\": \"12Q\"}"),
	  "guest web: memory: \"12Q\" is not a size (use M, G, MiB, GiB)" },
	{ DOC("{\"name\": \"g\", \"memory\": 1024}"),
	  "guest g: memory: not a string with a unit (\"2G\")" },
	{ DOC("{\"name\": \"g\", \"memory\": \"1.5G\"}"),
	  "guest g: memory: \"1.5G\" is not a size (use M, G, MiB, GiB)" },
	{ DOC("{\"name\": \"g\", \"memory\": \"32M\"}"),
	  "guest g: memory: \"32M\" is less than 64 MiB" },
	{ DOC("{\"name\": \"g\", \"memory\": \"2T\"}"),
	  "guest g: memory: \"2T\" is more than 1 TiB" },
	{ DOC("{\"name\": \"g\", \"memory\": \"100000K\"}"),
	  "guest g: memory: \"100000K\" is not a whole number of MiB" },
	/* disks */
	{ DOC("{\"name\": \"g\", \"memory\": \"1G\"}"),
	  "guest g: disks: missing (at least one disk, or a kernel)" },
	{ DISK(""), "guest g: disks: empty (at least one disk, or a kernel)" },
	{ DOC("{\"name\": \"g\", \"memory\": \"1G\", \"disks\": {}}"),
	  "guest g: disks: not a list" },
	{ DISK("\"state:a\""), "guest g: disks[0]: not an object ({\"source\": ...})" },
	{ DISK("{\"size\": \"1G\"}"), "guest g: disks[0].source: missing" },
	{ DISK("{\"source\": \"state:a\", \"cache\": \"none\"}"),
	  "guest g: disks[0].cache: unknown field" },
	{ DISK("{\"source\": \"state:a\"}, {\"source\": \"state:b\"}, {\"source\": \"state:c\"},"
	    "{\"source\": \"state:d\"}, {\"source\": \"state:e\"}, {\"source\": \"state:f\"},"
	    "{\"source\": \"state:g\"}, {\"source\": \"state:h\"}, {\"source\": \"state:i\"}"),
	  "guest g: disks: more than 8 disks" },
	{ SRC("ftp://example.com/a.img"), "guest g: disks[0].source: \"ftp://example.com/a.img\" "
	  "is not a source (https://, http:// with sha256, gs://, pd:, state:)" },
	{ DISK("{\"source\": 5}"), "guest g: disks[0].source: not a string" },
	{ SRC("https://"), "guest g: disks[0].source: \"https://\" is not a valid https:// URL" },
	{ SRC("https://user:pw@example.com/a.img"), "guest g: disks[0].source: "
	  "\"https://user:pw@example.com/a.img\" is not a valid https:// URL" },
	{ SRC("https://example.com/a b.img"), "guest g: disks[0].source: "
	  "\"https://example.com/a b.img\" is not a valid https:// URL" },
	{ SRC("http://example.com/a.img"),
	  "guest g: disks[0].source: http:// needs a sha256 (or use https://)" },
	{ SRC("gs://my-bucket"),
	  "guest g: disks[0].source: \"gs://my-bucket\" has no object (gs://BUCKET/OBJECT)" },
	{ SRC("gs://My-Bucket/a.img"), "guest g: disks[0].source: \"gs://My-Bucket/a.img\": "
	  "not a valid bucket name (3-63 of a-z 0-9 - _ .)" },
	{ SRC("gs://ab/a.img"), "guest g: disks[0].source: \"gs://ab/a.img\": "
	  "not a valid bucket name (3-63 of a-z 0-9 - _ .)" },
	{ SRC("gs://goog-images/a.img"), "guest g: disks[0].source: "
	  "\"gs://goog-images/a.img\": not a valid bucket name (3-63 of a-z 0-9 - _ .)" },
	{ SRC("gs://bucket/.."),
	  "guest g: disks[0].source: \"gs://bucket/..\": not a valid object name" },
	{ SRC("pd:Data"), "guest g: disks[0].source: \"pd:Data\" is not a valid device "
	  "name (pd:[a-z]([-a-z0-9]{0,61}[a-z0-9])?)" },
	{ SRC("pd:data-"), "guest g: disks[0].source: \"pd:data-\" is not a valid device "
	  "name (pd:[a-z]([-a-z0-9]{0,61}[a-z0-9])?)" },
	{ SRC("state:/etc/shadow"), "guest g: disks[0].source: \"state:/etc/shadow\" "
	  "must be relative to the state partition" },
	{ SRC("state:images/../../etc/shadow"), "guest g: disks[0].source: "
	  "\"state:images/../../etc/shadow\" may not contain . or .." },
	{ SRC("state:a//b"), "guest g: disks[0].source: \"state:a//b\" has an empty path component" },
	{ SRC("state:a,b.img"), "guest g: disks[0].source: \"state:a,b.img\" has a "
	  "character other than A-Z a-z 0-9 . _ + - /" },
	{ DISK("{\"source\": \"https://example.com/a\", \"sha256\": \"abc\"}"),
	  "guest g: disks[0].sha256: \"abc\" is not a sha256 (64 hex digits)" },
	{ DISK("{\"source\": \"pd:data\", " SHA "}"),
	  "guest g: disks[0].sha256: only for downloads (https://, http://, gs://)" },
	{ DISK("{\"source\": \"state:a\", \"format\": \"vmdk\"}"),
	  "guest g: disks[0].format: \"vmdk\" is not a format (raw, qcow2)" },
	{ DISK("{\"source\": \"state:a\", \"overlay\": \"yes\"}"),
	  "guest g: disks[0].overlay: not true or false" },
	{ DISK("{\"source\": \"state:a\", \"size\": \"10X\"}"),
	  "guest g: disks[0].size: \"10X\" is not a size (use M, G, MiB, GiB)" },
	{ DISK("{\"source\": \"state:a\", \"size\": \"100T\"}"),
	  "guest g: disks[0].size: \"100T\" is more than 64 TiB" },
	{ DISK("{\"source\": \"pd:data\", \"size\": \"100G\"}"),
	  "guest g: disks[0].size: a pd: disk grows only with \"overlay\": true" },
	{ DISK("{\"source\": \"pd:data\"}, {\"source\": \"pd:data\", \"overlay\": true}"),
	  "guest g: disks[1].source: pd:data is already disks[0]" },
	/* direct boot */
	{ ONE(", \"kernel\": \"https://example.com/vmlinuz\""),
	  "guest g: kernel: not an object ({\"source\": ...})" },
	{ ONE(", \"kernel\": {\"sha256\": \"00\"}"), "guest g: kernel.source: missing" },
	{ ONE(", \"kernel\": {\"source\": \"state:k\", \"args\": \"\"}"),
	  "guest g: kernel.args: unknown field" },
	{ ONE(", \"kernel\": {\"source\": \"http://example.com/vmlinuz\"}"),
	  "guest g: kernel.source: http:// needs a sha256 (or use https://)" },
	{ ONE(", \"initrd\": {\"source\": \"state:initrd\"}"), "guest g: initrd: needs a kernel" },
	{ ONE(", \"cmdline\": \"console=ttyS0\""), "guest g: cmdline: needs a kernel" },
	{ ONE(", \"kernel\": {\"source\": \"state:k\"}, \"cmdline\": \"a\\nb\""),
	  "guest g: cmdline: a control character at byte 1" },
	/* network */
	{ ONE(", \"mac\": \"52:54:00:12:34\""),
	  "guest g: mac: \"52:54:00:12:34\" is not a MAC address (52:54:00:12:34:56)" },
	{ ONE(", \"mac\": \"52-54-00-12-34-56\""),
	  "guest g: mac: \"52-54-00-12-34-56\" is not a MAC address (52:54:00:12:34:56)" },
	{ ONE(", \"mac\": \"01:00:5e:00:00:01\""),
	  "guest g: mac: 01:00:5e:00:00:01 is a multicast address" },
	{ ONE(", \"mac\": \"00:00:00:00:00:00\""),
	  "guest g: mac: 00:00:00:00:00:00 is not a usable address" },
	{ ONE(", \"ip\": \"192.168.122\""),
	  "guest g: ip: \"192.168.122\" is not an IPv4 address (a.b.c.d)" },
	{ ONE(", \"ip\": \"224.0.0.1\""), "guest g: ip: 224.0.0.1 is not a unicast address" },
	{ ONE(", \"alias-ip\": \"10.128.0.300\""),
	  "guest g: alias-ip: \"10.128.0.300\" is not an IPv4 address (a.b.c.d)" },
	{ ONE(", \"forwards\": {\"port\": 80}"), "guest g: forwards: not a list" },
	{ ONE(", \"forwards\": [80]"), "guest g: forwards[0]: not an object ({\"port\": ...})" },
	{ ONE(", \"forwards\": [{\"proto\": \"icmp\", \"port\": 1}]"),
	  "guest g: forwards[0].proto: \"icmp\" is not a protocol (tcp, udp)" },
	{ ONE(", \"forwards\": [{\"guest-port\": 80}]"), "guest g: forwards[0].port: missing" },
	{ ONE(", \"forwards\": [{\"port\": 70000}]"),
	  "guest g: forwards[0].port: 70000 is out of range (1..65535)" },
	{ ONE(", \"forwards\": [{\"port\": 80, \"guest-port\": 0}]"),
	  "guest g: forwards[0].guest-port: 0 is out of range (1..65535)" },
	{ ONE(", \"forwards\": [{\"port\": 80, \"to\": 8080}]"),
	  "guest g: forwards[0].to: unknown field" },
	{ ONE(", \"forwards\": [{\"port\": 80}, {\"port\": 80, \"guest-port\": 81}]"),
	  "guest g: forwards[1]: tcp port 80 of the L1 is forwarded twice" },
	/* restart, accel */
	{ ONE(", \"restart\": \"sometimes\""),
	  "guest g: restart: \"sometimes\" is not a policy (always, on-failure, never)" },
	{ ONE(", \"accel\": \"hvf\""),
	  "guest g: accel: \"hvf\" is not an accelerator (auto, kvm, tcg)" },
	/* cloud-init */
	{ ONE(", \"cloud-init\": \"#cloud-config\""),
	  "guest g: cloud-init: not an object ({\"user-data\": ...})" },
	{ ONE(", \"cloud-init\": {}"), "guest g: cloud-init: empty (user-data, meta-data)" },
	{ ONE(", \"cloud-init\": {\"vendor-data\": \"\"}"),
	  "guest g: cloud-init.vendor-data: unknown field" },
	{ ONE(", \"cloud-init\": {\"user-data\": [\"#cloud-config\"]}"),
	  "guest g: cloud-init.user-data: not a string" },
	/* qemu-args */
	{ ONE(", \"qemu-args\": \"-device virtio-rng-pci\""),
	  "guest g: qemu-args: not a list of strings" },
	{ ONE(", \"qemu-args\": [\"-drive\", \"file=/etc/shadow\"]"),
	  "guest g: qemu-args[0]: \"-drive\" is not allowed (-device, -smbios, -rtc)" },
	{ ONE(", \"qemu-args\": [\"-device\"]"), "guest g: qemu-args[0]: -device needs a value" },
	{ ONE(", \"qemu-args\": [\"-device\", \"e1000,netdev=x\"]"),
	  "guest g: qemu-args[1]: -device: \"e1000\" is not an allowed model "
	  "(virtio-rng-pci, virtio-balloon-pci, pvpanic, vmcoreinfo)" },
	{ ONE(", \"qemu-args\": [\"-device\", \"virtio-rng-pci,romfile=/etc/shadow\"]"),
	  "guest g: qemu-args[1]: -device: \"romfile\" is not an allowed property" },
	{ ONE(", \"qemu-args\": [\"-smbios\", \"file=/etc/shadow\"]"),
	  "guest g: qemu-args[1]: -smbios: must start with type=0, 1, 2, 3 or 11" },
	{ ONE(", \"qemu-args\": [\"-smbios\", \"type=11,path=/etc/shadow\"]"),
	  "guest g: qemu-args[1]: -smbios: \"path\" is not an allowed property" },
	{ ONE(", \"qemu-args\": [\"-rtc\", \"base=utc,clock=host,\"]"),
	  "guest g: qemu-args[1]: -rtc: a trailing comma" },
	{ ONE(", \"qemu-args\": [\"-device\", 1]"), "guest g: qemu-args[1]: not a string" },
	/* between guests: the later one is reported */
	{ DOC("{\"name\": \"a\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:a\"}],"
	    " \"ip\": \"192.168.122.10\"}, {\"name\": \"b\", \"memory\": \"1G\", \"disks\": "
	    "[{\"source\": \"state:b\"}], \"ip\": \"192.168.122.10\"}"),
	  "guest b: ip: 192.168.122.10 is already guest a's" },
	{ DOC("{\"name\": \"a\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:a\"}],"
	    " \"mac\": \"52:54:00:00:00:01\"}, {\"name\": \"b\", \"memory\": \"1G\", \"disks\": "
	    "[{\"source\": \"state:b\"}], \"mac\": \"52:54:00:00:00:01\"}"),
	  "guest b: mac: 52:54:00:00:00:01 is already guest a's" },
	{ DOC("{\"name\": \"a\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:a\"}],"
	    " \"forwards\": [{\"proto\": \"udp\", \"port\": 53, \"alias-ip\": \"10.1.2.3\"}]},"
	    " {\"name\": \"b\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:b\"}],"
	    " \"forwards\": [{\"proto\": \"udp\", \"port\": 53, \"alias-ip\": \"10.1.2.3\","
	    " \"guest-port\": 5353}]}"),
	  "guest b: forwards[0]: udp 10.1.2.3:53 is already forwarded to guest a" },
	{ DOC("{\"name\": \"a\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:a\"}],"
	    " \"alias-ip\": \"10.1.2.3\"}, {\"name\": \"b\", \"memory\": \"1G\", \"disks\": "
	    "[{\"source\": \"state:b\"}], \"alias-ip\": \"10.1.2.3\"}"),
	  "guest b: alias-ip: 10.1.2.3 is already guest a's" },
	{ DOC("{\"name\": \"a\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:a\"}],"
	    " \"alias-ip\": \"10.1.2.3\"}, {\"name\": \"b\", \"memory\": \"1G\", \"disks\": "
	    "[{\"source\": \"state:b\"}], \"forwards\": [{\"port\": 22, \"alias-ip\": \"10.1.2.3\"}]}"),
	  "guest b: forwards[0].alias-ip: 10.1.2.3 is guest a's alias-ip" },
	{ DOC("{\"name\": \"a\", \"memory\": \"1G\", \"disks\": [{\"source\": \"pd:data\"}]},"
	    " {\"name\": \"b\", \"memory\": \"1G\", \"disks\": [{\"source\": \"pd:data\","
	    " \"overlay\": true}]}"),
	  "guest b: disks[0].source: pd:data is already guest a's disk" },
	/* against what the L1 has: the L2 network, the alias IP ranges */
	{ ONE(", \"ip\": \"10.0.0.5\""),
	  "guest g: ip: 10.0.0.5 is outside the L2 subnet 192.168.122.0/24" },
	{ ONE(", \"ip\": \"192.168.122.1\""), "guest g: ip: 192.168.122.1 is the bridge's address" },
	{ ONE(", \"ip\": \"192.168.122.255\""),
	  "guest g: ip: 192.168.122.255 is the subnet's broadcast address" },
	{ ONE(", \"ip\": \"192.168.122.0\""),
	  "guest g: ip: 192.168.122.0 is the subnet's network address" },
	{ ONE(", \"ip\": \"192.168.122.50\""),
	  "guest g: ip: 192.168.122.50 is outside the L2 subnet 10.77.0.0/24", 0,
	  "{\"subnet\": \"10.77.0.1/24\"}" },
	{ ONE(", \"ip\": \"10.77.0.1\""), "guest g: ip: 10.77.0.1 is the bridge's address", 0,
	  "{\"subnet\": \"10.77.0.1/24\"}" },
	{ ONE(", \"alias-ip\": \"10.128.0.20\""),
	  "guest g: alias-ip: 10.128.0.20 is not in the L1's alias IP ranges (10.128.16.0/28)",
	  0, NULL, "10.128.16.0/28" },
	{ ONE(", \"alias-ip\": \"10.128.16.5\""),
	  "guest g: alias-ip: 10.128.16.5 is not in the L1's alias IP ranges (none)",
	  0, NULL, "" },
	{ ONE(", \"forwards\": [{\"port\": 22}, {\"port\": 53, \"alias-ip\": \"10.128.16.16\"}]"),
	  "guest g: forwards[1].alias-ip: 10.128.16.16 is not in the L1's alias IP ranges "
	  "(10.128.16.0/28, 10.0.0.7/32)", 0, NULL, "10.128.16.0/28,10.0.0.7" },
};
#pragma GCC diagnostic pop

const struct guest_case *const guest_cases = invalid;
const size_t guest_ncases = NTESTS(invalid);

size_t
guest_case_len(const struct guest_case *c)
{
	return c->len != 0 ? c->len : strlen(c->doc);
}

/* What the L1 has in case c: the network always (PID 1 checks once it is
 * up, `nestbox check` always), the alias ranges when the case says. */
void
guest_case_env(const struct guest_case *c, struct guest_env *env)
{
	char		 err[256], buf[256], *p, *next;
	const char	*v[GUEST_ALIASES_MAX];
	size_t		 n = 0;

	memset(env, 0, sizeof(*env));
	netconf_default(&env->net);
	env->have_net = 1;
	if (c->network != NULL && netconf_parse(c->network, strlen(c->network),
	    &env->net, err, sizeof(err)) == -1)
		fail_msg("%s: %s", c->network, err);
	if (c->aliases == NULL)
		return;
	snprintf(buf, sizeof(buf), "%s", c->aliases);
	for (p = buf; *p != '\0'; p = next) {
		if ((next = strchr(p, ',')) != NULL)
			*next++ = '\0';
		else
			next = p + strlen(p);
		v[n++] = p;
	}
	assert_int_equal(guest_env_aliases(env, v, n), 0);
}

/* Each invalid document alone: its one message, nothing kept. */
static void
guest_invalid(void **state)
{
	struct guest_set	 set;
	struct guest_errors	 errs;
	size_t			 i;
	int			 rv;

	(void)state;
	for (i = 0; i < NTESTS(invalid); i++) {
		struct guest_env	 env;
		size_t			 len = guest_case_len(&invalid[i]);
		char			*buf = malloc(len);	/* no NUL after it */

		assert_non_null(buf);
		memcpy(buf, invalid[i].doc, len);
		guest_case_env(&invalid[i], &env);
		rv = guests_verdict(buf, len, &env, &set, &errs);
		free(buf);
		if (strncmp(invalid[i].msg, "nestbox-guests: ", 16) == 0) {
			if (rv != -1 || errno != EINVAL || !errs.document)
				fail_msg("#%zu: the document was not rejected: %s", i,
				    invalid[i].doc);
		} else if (rv != 0 || errs.invalid != 1 || errs.document)
			fail_msg("#%zu: rv %d, %zu invalid: %s", i, rv, errs.invalid,
			    invalid[i].doc);
		if (errs.n != 1 || strcmp(errs.v[0], invalid[i].msg) != 0)
			fail_msg("#%zu: %s\n  want: %s\n  got:  %s", i, invalid[i].doc,
			    invalid[i].msg, errs.n > 0 ? errs.v[0] : "(none)");
		/* the guests before the invalid one are kept */
		if (set.n > 1)
			fail_msg("#%zu: %zu guests kept", i, set.n);
		guests_free(&set);
		guest_errors_free(&errs);
	}
	assert_true(NTESTS(invalid) >= 50);
}

/* docs/guests.md lists every message of the table, word for word. */
static void
guest_documented(void **state)
{
	char	 path[4096], *slash, *doc;
	size_t	 i, len;

	(void)state;
	snprintf(path, sizeof(path), "%s", __FILE__);
	assert_non_null(slash = strstr(path, "/tests/unit/init/"));
	snprintf(slash, sizeof(path) - (slash - path), "/docs/guests.md");
	if ((doc = read_file(path, 1 << 20, &len)) == NULL)
		fail_msg("%s: %s", path, strerror(errno));
	for (i = 0; i < NTESTS(invalid); i++)
		if (strstr(doc, invalid[i].msg) == NULL)
			fail_msg("docs/guests.md lacks: %s", invalid[i].msg);
	free(doc);
}

static void
guest_fields(void **state)
{
	struct guest_set	 set;
	struct guest_errors	 errs;
	const struct guest	*g;
	char			 m[18], a[IP4_STRLEN];

	(void)state;
	assert_int_equal(parse(DOC("{\"name\": \"web-1\", \"vcpus\": 4, \"memory\": \"1536MiB\","
	    " \"disks\": [{\"source\": \"https://example.com/debian.qcow2\", " SHA ","
	    " \"format\": \"qcow2\", \"overlay\": true, \"size\": \"20G\"},"
	    " {\"source\": \"pd:data-1\"}, {\"source\": \"gs://my.images_1/a/b c.img\"},"
	    " {\"source\": \"state:images/x.raw\", \"overlay\": false},"
	    " {\"source\": \"http://example.com/a\", \"sha256\": "
	    "\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"}],"
	    " \"kernel\": {\"source\": \"state:vmlinuz\"}, \"initrd\": {\"source\": "
	    "\"gs://bkt/initrd\"}, \"cmdline\": \"console=ttyS0 quiet\","
	    " \"mac\": \"52:54:00:AB:cd:EF\", \"ip\": \"192.168.122.10\", \"alias-ip\": "
	    "\"10.128.1.2\", \"forwards\": [{\"port\": 8080, \"guest-port\": 80},"
	    " {\"proto\": \"udp\", \"port\": 53, \"alias-ip\": \"10.128.1.3\"}],"
	    " \"restart\": \"on-failure\", \"accel\": \"tcg\", \"cloud-init\": "
	    "{\"user-data\": \"#cloud-config\\n\", \"meta-data\": \"\"},"
	    " \"qemu-args\": [\"-device\", \"virtio-rng-pci,max-bytes=1024,period=1000\","
	    " \"-smbios\", \"type=1,serial=ab,,c,product=x y\", \"-rtc\", \"base=utc\"]}"),
	    &set, &errs), 0);
	if (errs.n > 0)
		fail_msg("%s", errs.v[0]);
	assert_int_equal(set.n, 1);
	g = &set.v[0];
	assert_string_equal(g->name, "web-1");
	assert_int_equal(g->index, 1);
	assert_int_equal(g->vcpus, 4);
	assert_int_equal(g->memory, 1536ULL << 20);
	assert_int_equal(g->ndisks, 5);
	assert_int_equal(g->disks[0].src.kind, SRC_HTTPS);
	assert_string_equal(g->disks[0].src.ref, "example.com/debian.qcow2");
	assert_int_equal(g->disks[0].format, FMT_QCOW2);
	assert_true(g->disks[0].overlay);
	assert_int_equal(g->disks[0].size, 20ULL << 30);
	assert_int_equal(g->disks[1].src.kind, SRC_PD);
	assert_string_equal(g->disks[1].src.ref, "data-1");
	assert_int_equal(g->disks[1].format, FMT_RAW);
	assert_string_equal(g->disks[1].src.sha256, "");
	assert_int_equal(g->disks[2].src.kind, SRC_GS);
	assert_string_equal(g->disks[2].src.ref, "my.images_1/a/b c.img");
	assert_int_equal(g->disks[3].src.kind, SRC_STATE);
	assert_string_equal(g->disks[3].src.ref, "images/x.raw");
	assert_int_equal(g->disks[4].src.kind, SRC_HTTP);
	assert_string_equal(g->disks[4].src.sha256,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(g->kernel.kind, SRC_STATE);
	assert_int_equal(g->initrd.kind, SRC_GS);
	assert_string_equal(g->cmdline, "console=ttyS0 quiet");
	assert_string_equal(guest_mac_str(g->mac, m), "52:54:00:ab:cd:ef");
	assert_false(g->mac_derived);
	assert_string_equal(ip4_str(g->ip, a), "192.168.122.10");
	assert_string_equal(ip4_str(g->alias_ip, a), "10.128.1.2");
	assert_int_equal(g->nforwards, 2);
	assert_int_equal(g->forwards[0].proto, FWD_TCP);
	assert_int_equal(g->forwards[0].port, 8080);
	assert_int_equal(g->forwards[0].guest_port, 80);
	assert_int_equal(g->forwards[0].alias_ip, 0);
	assert_int_equal(g->forwards[1].proto, FWD_UDP);
	assert_int_equal(g->forwards[1].guest_port, 53);
	assert_string_equal(ip4_str(g->forwards[1].alias_ip, a), "10.128.1.3");
	assert_int_equal(g->restart, RESTART_ON_FAILURE);
	assert_int_equal(g->accel, ACCEL_TCG);
	assert_true(g->cloud_init);
	assert_string_equal(g->user_data, "#cloud-config\n");
	assert_string_equal(g->meta_data, "");
	assert_int_equal(g->nqemu_args, 6);
	assert_string_equal(g->qemu_args[3], "type=1,serial=ab,,c,product=x y");
	assert_non_null(strstr(g->decl, "\"name\":\"web-1\""));
	guests_free(&set);
	guest_errors_free(&errs);

	/* the defaults */
	assert_int_equal(parse(ONE(""), &set, &errs), 0);
	assert_int_equal(set.n, 1);
	g = &set.v[0];
	assert_int_equal(g->vcpus, 1);
	assert_int_equal(g->restart, RESTART_ALWAYS);
	assert_int_equal(g->accel, ACCEL_AUTO);
	assert_true(g->mac_derived);
	assert_int_equal(g->mac[0], 0x52);	/* unicast, locally administered */
	assert_int_equal(g->ip, 0);
	assert_int_equal(g->kernel.kind, SRC_NONE);
	assert_null(g->cmdline);
	assert_false(g->cloud_init);
	guests_free(&set);
	guest_errors_free(&errs);
	/* a kernel alone needs no disk */
	assert_int_equal(parse(DOC("{\"name\": \"k\", \"memory\": \"64M\", \"kernel\": "
	    "{\"source\": \"state:k\"}}"), &set, &errs), 0);
	assert_int_equal(set.n, 1);
	assert_int_equal(set.v[0].ndisks, 0);
	guests_free(&set);
	guest_errors_free(&errs);
}

static void
guest_empty(void **state)
{
	static const char *const docs[] = { "", " \n\t", DOC(""),
	    "{\"guests\": [], \"version\": 1.0}" };
	struct guest_set	 set;
	struct guest_errors	 errs;
	size_t			 i;

	(void)state;
	for (i = 0; i < NTESTS(docs); i++) {
		assert_int_equal(parse(docs[i], &set, &errs), 0);
		assert_int_equal(set.n, 0);
		assert_int_equal(errs.n, 0);
		guests_free(&set);
		guest_errors_free(&errs);
	}
}

/* Invalid guests are skipped, the valid ones kept, in order. */
static void
guest_mixed(void **state)
{
	struct guest_set	 set;
	struct guest_errors	 errs;
	char			 m[18];

	(void)state;
	assert_int_equal(parse(DOC(
	    "{\"name\": \"a\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:a\"}]},"
	    "{\"name\": \"b\", \"memory\": \"12Q\"},"
	    "{\"name\": \"a\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:x\"}]},"
	    "17,"
	    "{\"name\": \"c\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:c\"}]},"
	    "{\"name\": \"b\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:b\"}]}"),
	    &set, &errs), 0);
	assert_int_equal(set.n, 2);
	assert_string_equal(set.v[0].name, "a");
	assert_string_equal(set.v[1].name, "c");
	assert_int_equal(set.v[1].index, 5);
	assert_int_equal(errs.invalid, 4);
	assert_int_equal(errs.n, 4);
	assert_string_equal(errs.v[0], "guest b: memory: \"12Q\" is not a size (use M, G, MiB, GiB)");
	assert_string_equal(errs.v[1], "guest #3: name: a is already guest #1's");
	assert_string_equal(errs.v[2], "guest #4: not an object ({\"name\": ...})");
	/* an invalid guest still holds its name */
	assert_string_equal(errs.v[3], "guest #6: name: b is already guest #2's");
	/* derived MACs differ by name, and stay the same */
	assert_memory_not_equal(set.v[0].mac, set.v[1].mac, 6);
	assert_string_equal(guest_mac_str(set.v[0].mac, m), "52:54:00:0c:29:2c");
	guests_free(&set);
	guest_errors_free(&errs);

	/* a pd used through overlays by two guests is fine; in place, twice, not */
	assert_int_equal(parse(DOC(
	    "{\"name\": \"a\", \"memory\": \"1G\", \"disks\": [{\"source\": \"pd:base\", \"overlay\": true}]},"
	    "{\"name\": \"b\", \"memory\": \"1G\", \"disks\": [{\"source\": \"pd:base\", \"overlay\": true}]}"),
	    &set, &errs), 0);
	assert_int_equal(set.n, 2);
	guests_free(&set);
	guest_errors_free(&errs);
}

static void
guest_sizes(void **state)
{
	static const struct {
		const char	*s;
		uint64_t	 v;
	} good[] = {
		{ "512M", 512ULL << 20 }, { "512MiB", 512ULL << 20 }, { "2G", 2ULL << 30 },
		{ "2GiB", 2ULL << 30 }, { "1T", 1ULL << 40 }, { "1024K", 1ULL << 20 },
		{ "0M", 0 }, { "16383T", 16383ULL << 40 },
	};
	static const char *const bad[] = {
		"", "M", "12", "12Q", "1.5G", "-1G", " 1G", "1G ", "1GB", "1g", "1Gi",
		"999999999999999G", "16777216T", "1234567890123456K",
	};
	uint64_t	 v;
	size_t		 i;

	(void)state;
	for (i = 0; i < NTESTS(good); i++) {
		if (guest_size_parse(good[i].s, &v) != 0)
			fail_msg("refused \"%s\"", good[i].s);
		assert_int_equal(v, good[i].v);
	}
	for (i = 0; i < NTESTS(bad); i++)
		if (guest_size_parse(bad[i], &v) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void
guest_qemu_args(void **state)
{
	static const char *const ok[][2] = {
		{ "-device", "virtio-rng-pci" },
		{ "-device", "virtio-balloon-pci,id=balloon0,free-page-reporting=on" },
		{ "-device", "pvpanic,events=3" },
		{ "-device", "vmcoreinfo" },
		{ "-smbios", "type=0,vendor=nestbox" },
		{ "-smbios", "type=11,value=io.systemd.credential:a=b,,c" },
		{ "-rtc", "base=2006-06-17T16:01:21,clock=vm,driftfix=slew" },
	};
	static const char *const no[][2] = {
		{ "-chardev", "socket,path=/x" }, { "-netdev", "user,id=n" },
		{ "-object", "memory-backend-file,mem-path=/x" }, { "-plugin", "x.so" },
		{ "-monitor", "stdio" }, { "-qmp", "tcp::4444" }, { "-runas", "root" },
		{ "-sandbox", "off" }, { "-global", "virtio-net-pci.romfile=/x" },
		{ "-drive", "file=/x" }, { "-kernel", "/x" }, { "--device", "vmcoreinfo" },
		{ "-device", "virtio-rng-pci,rng=x" }, { "-device", "virtio-net-pci" },
		{ "-device", "vmcoreinfo,addr=1 2" }, { "-device", "virtio-rng-pci,id" },
		{ "-device", "virtio-rng-pci,id=" }, { "-device", "virtio-rng-pci," },
		{ "-smbios", "type=1,file=/x" }, { "-smbios", "type=4" },
		{ "-smbios", "type=17,serial=x" }, { "-smbios", "file=/x" },
		{ "-smbios", "type=1,serial=\x01" }, { "-rtc", "base=utc,clock=host,x=y" },
	};
	char	 why[256];
	size_t	 i;

	(void)state;
	for (i = 0; i < NTESTS(ok); i++)
		if (guest_qemu_arg_ok(ok[i][0], ok[i][1], why, sizeof(why)) != 0)
			fail_msg("refused %s %s: %s", ok[i][0], ok[i][1], why);
	for (i = 0; i < NTESTS(no); i++)
		if (guest_qemu_arg_ok(no[i][0], no[i][1], why, sizeof(why)) != -1)
			fail_msg("allowed %s %s", no[i][0], no[i][1]);
}

static void
guest_net(void **state)
{
	struct guest_set	 set;
	struct guest_errors	 errs;
	struct guest_env	 env;
	const char		*ranges[] = { "10.128.16.0/28" };

	(void)state;
	memset(&env, 0, sizeof(env));
	netconf_default(&env.net);
	env.have_net = 1;
	assert_int_equal(parse(DOC(
	    "{\"name\": \"a\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:a\"}], \"ip\": \"10.0.0.5\"},"
	    "{\"name\": \"b\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:b\"}], \"ip\": \"192.168.122.5\"},"
	    "{\"name\": \"c\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:c\"}], \"ip\": \"192.168.122.1\"},"
	    "{\"name\": \"d\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:d\"}], \"ip\": \"192.168.122.255\"},"
	    "{\"name\": \"e\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:e\"}], \"alias-ip\": \"10.128.0.9\"}"),
	    &set, &errs), 0);
	assert_int_equal(set.n, 5);
	/* the alias ranges not known: alias IPs go unchecked */
	assert_int_equal(guests_check_net(&set, &env, &errs), 3);
	assert_int_equal(set.n, 2);
	assert_string_equal(set.v[0].name, "b");
	assert_string_equal(set.v[1].name, "e");
	assert_int_equal(errs.invalid, 3);
	assert_string_equal(errs.v[0], "guest a: ip: 10.0.0.5 is outside the L2 subnet 192.168.122.0/24");
	assert_string_equal(errs.v[1], "guest c: ip: 192.168.122.1 is the bridge's address");
	assert_string_equal(errs.v[2], "guest d: ip: 192.168.122.255 is the subnet's broadcast address");
	/* known: e's is outside them */
	assert_int_equal(guest_env_aliases(&env, ranges, 1), 0);
	assert_int_equal(guests_check_net(&set, &env, &errs), 1);
	assert_int_equal(set.n, 1);
	assert_string_equal(errs.v[3], "guest e: alias-ip: 10.128.0.9 is not in the L1's "
	    "alias IP ranges (10.128.16.0/28)");
	guests_free(&set);
	guest_errors_free(&errs);
}

/* The ranges as metadata gives them or a user types them; and comparing. */
static void
guest_env(void **state)
{
	struct guest_env	 a, b;
	const char		*ok[] = { "10.128.16.5/28", "10.0.0.7", "0.0.0.0/0" };
	const char		*bad[] = { "10.128.16.0/33", "10.128.16.0/", "10.128.16/28",
				    "10.128.16.0/2x", "10.128.16.0/-1", "10.128.16.0/024", "" };
	const char		*many[GUEST_ALIASES_MAX + 1];
	size_t			 i;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	assert_true(guest_env_equal(&a, &b));
	assert_int_equal(guest_env_aliases(&a, ok, 3), 0);
	assert_int_equal(a.naliases, 3);
	assert_int_equal(a.alias[0], 0x0a801000);	/* the network of the range */
	assert_int_equal(a.alias_prefix[0], 28);
	assert_int_equal(a.alias_prefix[1], 32);
	assert_int_equal(a.alias[2], 0);
	assert_false(guest_env_equal(&a, &b));
	for (i = 0; i < NTESTS(bad); i++) {
		b = a;
		if (guest_env_aliases(&b, &bad[i], 1) != -1 || errno != EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_true(guest_env_equal(&a, &b));	/* unchanged */
	}
	for (i = 0; i < NTESTS(many); i++)
		many[i] = "10.0.0.1";
	assert_int_equal(guest_env_aliases(&b, many, NTESTS(many)), -1);
	assert_int_equal(errno, E2BIG);
	/* none known differs from none at all */
	memset(&b, 0, sizeof(b));
	assert_int_equal(guest_env_aliases(&b, NULL, 0), 0);
	memset(&a, 0, sizeof(a));
	assert_false(guest_env_equal(&a, &b));
	/* the network */
	a = b;
	netconf_default(&b.net);
	b.have_net = 1;
	assert_false(guest_env_equal(&a, &b));
	a = b;
	assert_true(guest_env_equal(&a, &b));
	b.net.prefix = 16;
	assert_false(guest_env_equal(&a, &b));
}

/* Addresses a guest may not claim on the L1's side, each error naming its field. */
static void
guest_net_claims(void **state)
{
	struct guest_set	 set;
	struct guest_errors	 errs;
	struct guest_env	 env;

	(void)state;
	memset(&env, 0, sizeof(env));
	netconf_default(&env.net);
	env.have_net = 1;
	assert_int_equal(parse(DOC(
	    "{\"name\": \"a\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:a\"}], \"alias-ip\": \"169.254.169.254\"},"
	    "{\"name\": \"c\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:c\"}], \"alias-ip\": \"192.168.122.77\"},"
	    "{\"name\": \"d\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:d\"}], "
	    "\"forwards\": [{\"port\": 22}, {\"port\": 80, \"alias-ip\": \"169.254.1.1\"}]},"
	    "{\"name\": \"e\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:e\"}], "
	    "\"forwards\": [{\"port\": 8080, \"alias-ip\": \"10.128.0.6\"}], \"alias-ip\": \"10.128.1.7\"}"),
	    &set, &errs), 0);
	assert_int_equal(set.n, 4);
	assert_int_equal((env.l1 = 0x0a800006, guests_check_net(&set, &env, &errs)), 3);
	assert_int_equal(set.n, 1);
	/* a forward may use the L1's own address: that is a port of it */
	assert_string_equal(set.v[0].name, "e");
	assert_string_equal(errs.v[0], "guest a: alias-ip: 169.254.169.254 is in "
	    "169.254.0.0/16 (the metadata server's)");
	assert_string_equal(errs.v[1], "guest c: alias-ip: 192.168.122.77 is in the L2 subnet");
	assert_string_equal(errs.v[2], "guest d: forwards[1].alias-ip: 169.254.1.1 is in "
	    "169.254.0.0/16 (the metadata server's)");
	guests_free(&set);
	guest_errors_free(&errs);
	/* a whole alias IP that is the L1's own address */
	assert_int_equal(parse(DOC(
	    "{\"name\": \"b\", \"memory\": \"1G\", \"disks\": [{\"source\": \"state:b\"}], \"alias-ip\": \"10.128.0.6\"}"),
	    &set, &errs), 0);
	assert_int_equal((env.l1 = 0, guests_check_net(&set, &env, &errs)), 0);	/* not known yet */
	assert_int_equal((env.l1 = 0x0a800006, guests_check_net(&set, &env, &errs)), 1);
	assert_string_equal(errs.v[0], "guest b: alias-ip: 10.128.0.6 is the L1's own address");
	guests_free(&set);
	guest_errors_free(&errs);
}

/* field (a prefix that ends in the key) with a string of max bytes, then max + 1 */
static void
text_check(size_t max, const char *field, const char *msg)
{
	struct guest_set	 set;
	struct guest_errors	 errs;
	char			*doc, *x;
	int			 extra;

	assert_non_null(x = malloc(max + 2));
	assert_non_null(doc = malloc(max + 512));
	for (extra = 0; extra < 2; extra++) {
		memset(x, 'x', max + extra);
		x[max + extra] = '\0';
		snprintf(doc, max + 512, "{\"version\": 1, \"guests\": [{\"name\": \"g\", "
		    "\"memory\": \"1G\", \"disks\": [{\"source\": \"state:g\"}], %s: "
		    "\"%s\"%s}]}", field, x, strstr(field, "cloud-init") != NULL ? "}" : "");
		assert_int_equal(parse(doc, &set, &errs), 0);
		assert_int_equal(set.n, extra ? 0 : 1);
		if (extra)
			assert_string_equal(errs.v[0], msg);
		guests_free(&set);
		guest_errors_free(&errs);
	}
	free(x);
	free(doc);
}

static void
guest_limits(void **state)
{
	struct guest_set	 set;
	struct guest_errors	 errs;
	char			*doc, *p;
	size_t			 i;

	(void)state;
	/* 256 KiB + 1: rejected whole, before any JSON */
	assert_non_null(doc = malloc(GUESTS_DOC_MAX + 2));
	memset(doc, ' ', GUESTS_DOC_MAX + 1);
	doc[GUESTS_DOC_MAX + 1] = '\0';
	assert_int_equal(guests_parse(doc, GUESTS_DOC_MAX + 1, &set, &errs), -1);
	assert_string_equal(errs.v[0], "nestbox-guests: larger than 262144 bytes");
	guest_errors_free(&errs);
	/* 65 guests */
	p = doc + sprintf(doc, "{\"version\": 1, \"guests\": [");
	for (i = 0; i < GUESTS_MAX + 1; i++)
		p += sprintf(p, "%s{}", i ? "," : "");
	strcpy(p, "]}");
	assert_int_equal(parse(doc, &set, &errs), -1);
	assert_string_equal(errs.v[0], "nestbox-guests: guests: more than 64 guests");
	guest_errors_free(&errs);
	/* 64 valid guests, each with its own forward and ip */
	p = doc + sprintf(doc, "{\"version\": 1, \"guests\": [");
	for (i = 0; i < GUESTS_MAX; i++)
		p += sprintf(p, "%s{\"name\": \"g%zu\", \"memory\": \"64M\", \"disks\": "
		    "[{\"source\": \"state:g%zu\"}], \"ip\": \"192.168.122.%zu\", "
		    "\"forwards\": [{\"port\": %zu}]}", i ? "," : "", i, i, i + 10, i + 2000);
	strcpy(p, "]}");
	assert_int_equal(parse(doc, &set, &errs), 0);
	assert_int_equal(set.n, GUESTS_MAX);
	assert_int_equal(errs.n, 0);
	guests_free(&set);
	guest_errors_free(&errs);
	/* the longest cmdline, user-data and meta-data; one byte more each */
	free(doc);
	text_check(GUEST_CMDLINE_MAX, "\"kernel\": {\"source\": \"state:k\"}, \"cmdline\"",
	    "guest g: cmdline: longer than 4096 bytes");
	text_check(GUEST_USERDATA_MAX, "\"cloud-init\": {\"user-data\"",
	    "guest g: cloud-init.user-data: longer than 65536 bytes");
	text_check(GUEST_METADATA_MAX, "\"cloud-init\": {\"meta-data\"",
	    "guest g: cloud-init.meta-data: longer than 16384 bytes");
}

/* The example documents: tests/unit/golden/guests/NAME.json -> NAME.out */
static void
guest_golden(void **state)
{
	static const char *const names[] = { "valid", "mixed", "cloud-init", "broken" };
	struct guest_set	 set;
	struct guest_errors	 errs;
	char			 path[4096], out[8192], m[18], *slash, *text;
	struct text		 t;
	size_t			 i, j, len;

	(void)state;
	for (i = 0; i < NTESTS(names); i++) {
		snprintf(path, sizeof(path), "%s", __FILE__);
		assert_non_null(slash = strrchr(path, '/'));
		snprintf(slash, sizeof(path) - (slash - path), "/../golden/guests/%s.json",
		    names[i]);
		if ((text = read_file(path, GUESTS_DOC_MAX + 1, &len)) == NULL)
			fail_msg("%s: %s", path, strerror(errno));
		guests_parse(text, len, &set, &errs);
		free(text);
		text_init(&t, out, sizeof(out));
		for (j = 0; j < set.n; j++)
			text_add(&t, "ok %s: %u vcpus, %llu MiB, %zu disks, mac %s, "
			    "restart %s, accel %s\n", set.v[j].name, set.v[j].vcpus,
			    (unsigned long long)(set.v[j].memory >> 20), set.v[j].ndisks,
			    guest_mac_str(set.v[j].mac, m), restart_str(set.v[j].restart),
			    accel_str(set.v[j].accel));
		for (j = 0; j < errs.n; j++)
			text_add(&t, "error %s\n", errs.v[j]);
		assert_true(text_done(&t) >= 0);
		snprintf(path, sizeof(path), "guests/%s.out", names[i]);
		golden(path, out);
		guests_free(&set);
		guest_errors_free(&errs);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(guest_invalid),
	cmocka_unit_test(guest_documented),
	cmocka_unit_test(guest_fields),
	cmocka_unit_test(guest_empty),
	cmocka_unit_test(guest_mixed),
	cmocka_unit_test(guest_sizes),
	cmocka_unit_test(guest_qemu_args),
	cmocka_unit_test(guest_net),
	cmocka_unit_test(guest_env),
	cmocka_unit_test(guest_net_claims),
	cmocka_unit_test(guest_limits),
	cmocka_unit_test(guest_golden),
};

const struct suite guest_suite = { tests, NTESTS(tests) };
