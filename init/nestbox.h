/*
 * nestbox: PID 1 of the nestbox appliance.
 *
 * One header for the whole program, prototypes grouped by the file that
 * defines them. Unless a comment says otherwise, functions return 0 on
 * success and -1 with errno set on failure.
 */
#ifndef NESTBOX_H
#define NESTBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#ifndef NESTBOX_VERSION
#define NESTBOX_VERSION "dev"
#endif

#define NB_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define NB_NORETURN	__attribute__((noreturn))

/* log.c: every line is "nestbox: <msg>\n", written with one write(2). */
void	 log_init(int fd);
int	 log_fd(void);
void	 log_info(const char *, ...) NB_PRINTF(1, 2);
void	 log_warn(const char *, ...) NB_PRINTF(1, 2);	/* adds strerror(errno) */
void	 log_warnx(const char *, ...) NB_PRINTF(1, 2);
void	 fatal(const char *, ...) NB_PRINTF(1, 2) NB_NORETURN;
void	 fatalx(const char *, ...) NB_PRINTF(1, 2) NB_NORETURN;

/* util.c */
const char *str_quote(const char *s, char *buf, size_t size);	/* printable, cut at 40 */
char	*read_file(const char *path, size_t max, size_t *len);	/* NUL-terminated, free() it; EFBIG if > max */
ssize_t	 read_head(const char *path, char *buf, size_t size);	/* first size-1 bytes, NUL-terminated */
char	*next_line(char **cursor, char *end);	/* splits in place; NULL at end */
uint64_t now_ms(void);					/* CLOCK_MONOTONIC */
struct text {				/* text_add() appends, text_done() checks once */
	char	*buf;
	size_t	 size, len;
	int	 full;
};
void	 text_init(struct text *, char *buf, size_t size);
void	 text_add(struct text *, const char *fmt, ...) NB_PRINTF(2, 3);
int	 text_done(const struct text *);	/* length; -1, ENOSPC if it did not fit */
int	 write_file(const char *path, const void *data, size_t len, mode_t mode);	/* atomic */
struct sockaddr_un;
int	 unix_addr(struct sockaddr_un *, const char *path);	/* ENAMETOOLONG */
void	 put_le32(uint8_t *p, uint32_t v);			/* little-endian */

/* event.c: one epoll loop; every source is a struct event the caller owns. */
struct event {
	int	  fd;
	void	(*handler)(struct event *, uint32_t events);
	void	 *arg;
};
struct timer {
	struct event	 ev;		/* a timerfd */
	void		(*fire)(struct timer *);
	void		 *arg;
};
int	 event_init(void);
int	 event_add(struct event *, uint32_t events);
int	 event_del(struct event *);
int	 event_once(int timeout_ms);	/* events handled: 0 or 1 */
void	 event_loop(void) NB_NORETURN;
int	 timer_init(struct timer *, void (*fire)(struct timer *), void *arg);
int	 timer_set(struct timer *, uint64_t ms);	/* one shot; 0 disarms */

/* mount.c */
int	 mount_dev(void);		/* devtmpfs on /dev; does not log */
int	 mount_early(void);		/* proc, sys, ...; logs each failure */
int	 mounts_parse(char *text, size_t len, char **dirs, size_t max, size_t *n);
void	 unmount_all(void);

/* cpu.c */
enum cpu_vendor { CPU_OTHER, CPU_INTEL, CPU_AMD };
struct cpu {
	enum cpu_vendor	 vendor;
	char		 vendor_id[16];
	int		 vmx;
	int		 svm;
};
int	 cpu_parse(const char *text, size_t len, struct cpu *);
int	 cpu_read(const char *path, struct cpu *);
const char *cpu_kvm_module(const struct cpu *);	/* NULL: this CPU can not run KVM */

/* modules.c */
#define MODNAME_MAX	56	/* the kernel's MODULE_NAME_LEN, with the NUL */
#define MODDEP_MAX_DEPS	256
#define MODDEP_MAX_DEPTH 32

struct modreq {				/* a line of /etc/nestbox/modules */
	char		 name[MODNAME_MAX];
	const char	*params;	/* the rest of the line, "" if none */
	unsigned	 line;
};
struct modlist {
	struct modreq	*v;
	size_t		 n;
	size_t		 bad;		/* lines skipped; the first few are logged */
};
enum mod_state { MOD_NEW, MOD_LOADED, MOD_FAILED };
struct modentry {			/* a line of modules.dep */
	char		 name[MODNAME_MAX];
	const char	*path;
	const char	**deps;
	size_t		 ndeps;
	enum mod_state	 state;
	int		 error;		/* errno of a failed load */
	int		 mark, visiting;	/* moddep_plan's walk */
};
struct moddep {
	struct modentry	*v;		/* sorted by name */
	size_t		 n;
	const char	**depv;		/* storage for all entries' deps */
	size_t		 bad;
};
struct names {				/* a sorted set of module names */
	char		(*v)[MODNAME_MAX];
	size_t		 n;
};
struct modconf {
	const char	*list;		/* /etc/nestbox/modules */
	const char	*dir;		/* /lib/modules/$(uname -r) */
	const struct cpu *cpu;
	int		(*load)(const char *path, const char *params);
};
struct modstats {
	unsigned	 loaded, builtin, skipped, failed;
};
int	 modname(const char *s, size_t len, char out[MODNAME_MAX]);
int	 modname_path(const char *path, char out[MODNAME_MAX]);
int	 modlist_parse(char *text, size_t len, struct modlist *);
void	 modlist_free(struct modlist *);
int	 moddep_parse(char *text, size_t len, struct moddep *);
struct modentry *moddep_find(const struct moddep *, const char *name);
int	 moddep_plan(struct moddep *, struct modentry *, struct modentry **order,
	    size_t max, size_t *n, const char **culprit);
void	 moddep_free(struct moddep *);
int	 names_parse(char *text, size_t len, struct names *);	/* modules.builtin */
int	 names_has(const struct names *, const char *name);
void	 names_free(struct names *);
int	 modules_load(const struct modconf *, struct modstats *);
int	 modules_init(const struct cpu *);	/* the real system; logs the summary */
int	 module_insert(const char *path, const char *params);

/* spawn.c: children are started and reaped here, one way. */
struct child {
	pid_t		 pid;
	void		(*exited)(struct child *, int status);
	struct child	*next;
};
struct cred {				/* who a child runs as */
	uid_t		 uid;
	gid_t		 gid;
	const gid_t	*groups;
	size_t		 ngroups;
};
pid_t	 spawn(char *const argv[], const int fds[3]);
pid_t	 spawn_as(char *const argv[], const int fds[3], const struct cred *);	/* NULL: as PID 1 */
void	 child_watch(struct child *);		/* after setting pid */
int	 child_reap(void);			/* 1: no children left */
const char *exit_reason(int status, char *buf, size_t size);

/* supervise.c: a service is a child that is restarted when it exits. */
enum svc_state { SVC_DOWN, SVC_UP, SVC_BACKOFF };
struct service {
	const char	*name;
	char *const	*argv;
	enum svc_state	 state;
	int		 want_up;
	uint64_t	 started;	/* now_ms() of the last start */
	uint64_t	 delay;		/* current restart delay, ms */
	struct child	 child;
	struct timer	 timer;
};
#define SVC_MIN_DELAY	1000	/* never two starts within a second */
#define SVC_MAX_DELAY	60000
#define SVC_STABLE	10000	/* up this long: the next restart is not a crash loop */
int	 service_init(struct service *, const char *name, char *const argv[]);
void	 service_start(struct service *);
void	 service_stop(struct service *);
uint64_t service_next_delay(uint64_t delay, uint64_t ran);

/* console.c */
int	 console_init(void);
int	 getty_start(void);
int	 shell_start(void);		/* nestbox shell on ttyS1, if it is a UART; logs */

/* input.c */
int	 input_init(void);
int	 input_has_power_key(const unsigned long *keybits, size_t nbits);

/* shutdown.c: a staged shutdown that runs inside the event loop. */
enum shutdown_action { SHUTDOWN_POWEROFF, SHUTDOWN_REBOOT, SHUTDOWN_HALT };
struct shutdown_hook {
	const char	*name;
	/* 0: done now; 1: in progress, call shutdown_hook_done() later */
	int		(*start)(struct shutdown_hook *, enum shutdown_action);
	uint64_t	 timeout;	/* ms before the next hook runs anyway; 0: 10 s */
	struct shutdown_hook *next;
};
struct shutdown_ops {
	int	(*killall)(int sig);
	void	(*finish)(enum shutdown_action);	/* sync, unmount, reboot */
};
int	 shutdown_init(const struct shutdown_ops *);
void	 shutdown_hook_add(struct shutdown_hook *);
void	 shutdown_hook_done(struct shutdown_hook *);
void	 shutdown_request(enum shutdown_action, const char *why);
int	 shutdown_running(void);
void	 shutdown_children_gone(void);

/* netconf.c: the L2 network, libvirt's default unless nestbox-network says. */
#define NETCONF_BRIDGE		"virbr0"
#define NETCONF_MTU_MIN		576
#define NETCONF_MTU_MAX		9000
#define NETCONF_LEASE		3600	/* dnsmasq's and libvirt's default */
#define NETCONF_LEASE_MIN	120	/* dnsmasq's minimum */
#define NETCONF_LEASE_MAX	31536000
#define IP4_STRLEN		16
struct netconf {			/* addresses in host byte order */
	uint32_t	 addr;		/* the bridge's: 192.168.122.1 */
	int		 prefix;	/* 24 */
	uint32_t	 range_start;	/* the DHCP range, inclusive */
	uint32_t	 range_end;
	int		 mtu;		/* 0: eth0's */
	unsigned	 lease;		/* seconds */
};
uint32_t ip4_mask(int prefix);
int	 ip4_parse(const char *s, size_t len, uint32_t *);	/* strict dotted quad */
const char *ip4_str(uint32_t, char *buf);			/* buf: IP4_STRLEN bytes */
void	 netconf_default(struct netconf *);
int	 netconf_parse(const char *json, size_t len, struct netconf *,
	    char *err, size_t errlen);	/* *nc unchanged on error */
int	 netconf_check(const struct netconf *, uint32_t eth0_addr, char *err, size_t errlen);
uint32_t netconf_network(const struct netconf *);
uint32_t netconf_broadcast(const struct netconf *);
int	 netconf_contains(const struct netconf *, uint32_t addr);
int	 netconf_mtu(const struct netconf *, int eth0_mtu);	/* the bridge's */
unsigned netconf_range_size(const struct netconf *);

/* dnsmasq.c: DHCP and DNS for the L2 guests, supervised. */
#define DNSMASQ_BIN		"/usr/sbin/dnsmasq"
#define DNSMASQ_DIR		"/run/nestbox"
#define DNSMASQ_CONF		DNSMASQ_DIR "/dnsmasq.conf"
#define DNSMASQ_HOSTS		DNSMASQ_DIR "/dnsmasq.hosts"
#define DNSMASQ_LEASES		DNSMASQ_DIR "/dnsmasq.leases"
#define DNSMASQ_PID		DNSMASQ_DIR "/dnsmasq.pid"
#define DNSMASQ_DNS		"169.254.169.254"	/* the metadata server's resolver */
struct static_lease {
	const char	*mac;		/* 52:54:00:12:34:56 */
	const char	*ip;		/* inside the subnet */
	const char	*name;		/* a host name, or NULL */
};
int	 dnsmasq_config(const struct netconf *, int mtu, char *buf, size_t size);	/* length */
int	 dnsmasq_hosts(const struct netconf *, const struct static_lease *, size_t n,
	    char *buf, size_t size);	/* length; EINVAL: a malformed lease */
int	 dnsmasq_start(const struct netconf *, int mtu);	/* (re)starts on a new config */
int	 dnsmasq_leases(const struct static_lease *, size_t n);	/* rewrites, SIGHUP */
void	 dnsmasq_stop(void);
pid_t	 dnsmasq_pid(void);		/* 0: not running */

/* firewall.c: the iptables ruleset, generated whole and loaded atomically. */
#define FIREWALL_RESTORE	"/usr/sbin/iptables-restore"
#define FIREWALL_RULES		"/run/nestbox/iptables.rules"
#define FIREWALL_WAN		"eth0"
#define FIREWALL_METADATA	"169.254.0.0/16"	/* 169.254.169.254 and its link-local range */
#define GUEST_UID_BASE		20000	/* a guest's QEMU runs as GUEST_UID_BASE + its slot */
#define GUEST_UID_RANGE		"20000-20063"	/* GUESTS_MAX of them */
enum fwd_proto { FWD_TCP, FWD_UDP, FWD_ALL };
struct forward {
	enum fwd_proto	 proto;		/* FWD_ALL: every port of match_ip (an alias IP) */
	const char	*match_ip;	/* the L1's primary address or an alias IP; NULL: eth0_ip */
	uint16_t	 port;
	const char	*guest_ip;
	uint16_t	 guest_port;	/* 0: port */
};
int	 firewall_rules(const struct netconf *, const struct forward *, size_t n,
	    const char *eth0_ip, char *buf, size_t size);	/* length; EINVAL: a bad forward */
int	 firewall_apply(const struct netconf *, const char *eth0_ip);	/* logs */
int	 firewall_forwards(const struct forward *, size_t n);	/* copies, reapplies */
int	 firewall_loaded(void);		/* 1: the latest ruleset is in place */

/* l2net.c: bridge, dnsmasq and firewall from the network's configuration. */
int	 l2net_init(void);		/* net_on_ready and metadata listeners */
void	 l2net_eth0(const char *ip, int mtu);	/* eth0 is up: apply */
void	 l2net_apply(const char *network_json, size_t len);	/* NULL: unset */
const struct netconf *l2net_conf(void);	/* the network in use; NULL: not up */

/*
 * metadata.c: the GCE metadata client. Every reply is checked here
 * (status, Metadata-Flavor, size, ETag); a transport only moves bytes:
 * metadata_http.c is libcurl in the event loop, the unit tests use a fake.
 */
#define MD_BASE		"http://169.254.169.254/computeMetadata/v1/"
#define MD_VALUE_MAX	(256 * 1024)	/* GCE's limit for one value */
#define MD_DOC_MAX	(512 * 1024)	/* and for all of one resource's */
#define MD_CONNECT_MS	2000
#define MD_TIMEOUT_MS	10000		/* a plain GET, all of it */
#define MD_WATCH_SEC	60		/* timeout_sec of the watch; the client waits 10 s more */
#define MD_BACKOFF_MIN	100		/* ms, doubling per failed attempt ... */
#define MD_BACKOFF_MAX	10000		/* ... up to this; jitter takes up to half off */
#define MD_ETAG_MAX	64
#define MD_ERR_MAX	160
#define MD_KEY_MAX	127
#define MD_LISTENERS	8
enum md_result {
	MD_OK,			/* 200 with Metadata-Flavor: Google */
	MD_UNSET,		/* 404: the key is not set */
	MD_RETRY,		/* 5xx, 429, no reply: retried with backoff */
	MD_FAIL,		/* 403, other statuses, no flavor, too big: reported */
};
struct md_reply {			/* what the transport got */
	long		 status;	/* HTTP status; 0: no reply at all */
	int		 flavor;	/* "Metadata-Flavor: Google" was in it */
	int		 toobig;	/* the body went over the request's max */
	char		 etag[MD_ETAG_MAX];
	const char	*body;		/* NUL-terminated, the transport's */
	size_t		 len;
	char		 error[MD_ERR_MAX];	/* the transport's, when status is 0 */
};
struct md_req {
	const char	*name;		/* for the log: "hostname" */
	char		 path[512];	/* under MD_BASE, with the query */
	const char	*put;		/* the body of a PUT; NULL: GET */
	size_t		 max;		/* longest body accepted */
	uint64_t	 timeout;	/* ms, the whole request */
	int		 once;		/* MD_RETRY goes to done() too, no retry */
	void		(*done)(struct md_req *, enum md_result, const struct md_reply *);
	void		*arg;
	/* the client's */
	int		 busy;		/* in flight */
	int		 waiting;	/* for the retry timer */
	unsigned	 attempt;	/* failed attempts in a row */
	int		 failed;	/* done() found the reply wanting */
	uint64_t	 started;	/* now_ms() of the last attempt */
	char		 lasterr[MD_ERR_MAX];	/* logged once */
	struct timer	 retry;
	int		 timer_ok;
};
struct md_ops {				/* what the client does to the world */
	int	(*start)(struct md_req *);	/* send; metadata_reply() later */
	int	(*sethostname)(const char *);	/* hostname_set; NULL: nothing */
	int	(*aliases)(const char *const cidrs[], size_t n);	/* net_alias_routes */
};
struct attr {
	char		*key;
	char		*value;		/* strings as they are, other JSON as text */
};
struct attrs {				/* instance/ or project/attributes/ */
	struct attr	*v;
	size_t		 n;
	size_t		 bad;		/* members skipped: bad key or value */
};
struct md_stats {
	const char	*watch;		/* "idle", "reading", "watching", "retrying" */
	char		 etag[MD_ETAG_MAX];	/* of the attributes we have: "NONE" */
	char		 error[MD_ERR_MAX];	/* the last one, "" if none */
	unsigned long	 requests, errors, changes;
	uint64_t	 first_reply;	/* now_ms() of the first reply; 0: none yet */
	int		 preemptible;	/* -1: not known */
	char		 hostname[64];
};
extern const struct md_ops md_http;	/* metadata_http.c */
enum md_result md_classify(const struct md_reply *, char *why, size_t size);
uint64_t md_backoff(unsigned attempt, uint32_t rnd);	/* ms before the next try */
int	 md_key_valid(const char *);
int	 md_etag_valid(const char *);
int	 hostname_parse(const char *reply, size_t len, char name[64]);	/* EINVAL */
int	 hostname_set(const char *);	/* sethostname(2), /etc/hostname; logs */
int	 attrs_parse(const char *json, size_t len, struct attrs *);	/* EINVAL: not an object */
const char *attrs_get(const struct attrs *, const char *key);		/* NULL: unset */
void	 attrs_free(struct attrs *);
int	 aliases_parse(const char *json, size_t len, char (*v)[19], size_t max, size_t *n);
int	 metadata_init(const struct md_ops *);	/* resets everything */
void	 metadata_start(void);		/* the network is up: read and watch; again: retry now */
int	 md_request(struct md_req *);	/* EBUSY: this one is in flight */
void	 metadata_reply(struct md_req *, const struct md_reply *);	/* the transport's answer */
void	 metadata_on_attributes(void (*)(const struct attrs *instance));
const char *metadata_attr(const char *key);	/* instance, else project; NULL: unset */
const struct attrs *metadata_attrs(int project);
const struct md_stats *metadata_stats(void);
int	 metadata_aliases(char (**v)[19], size_t *n);	/* alias IP ranges of nic0 */
const char *libraries_version(void);	/* metadata_http.c: "libcurl/... cJSON/..." */

/*
 * status.c: /run/nestbox/status.json, rewritten (atomically) soon after a
 * status_changed(); a summary as the guest attribute nestbox/status when
 * enable-guest-attributes is TRUE, at most 10 writes a minute.
 */
#define STATUS_PATH	"/run/nestbox/status.json"
#define STATUS_GA_PATH	"instance/guest-attributes/nestbox/status"
#define STATUS_GA_BURST	3
#define STATUS_GA_EVERY	6000		/* ms per write, on average: 10 a minute */
struct cJSON;
struct status_section {		/* a subsystem's part of the status */
	const char	*name;
	/* adds its fields to obj; brief: only what changes rarely (no counters) */
	void		(*render)(struct cJSON *obj, int brief);
	struct status_section *next;
};
struct status_conf {
	const char	*path;		/* NULL: STATUS_PATH */
	const char	*(*kvm)(void);	/* kvm.c's kvm_status(); NULL: "unknown" */
	const char	*ifname;	/* NULL: "eth0" */
};
struct bucket {				/* a token bucket, as GCRA: integers only */
	uint64_t	 every;		/* ms per token */
	unsigned	 burst;
	uint64_t	 tat;		/* the theoretical arrival time */
};
uint64_t bucket_take(struct bucket *, uint64_t now);	/* 0: taken; else ms to wait */
int	 route_gateway(const char *text, const char *ifname, uint32_t *gw);	/* /proc/net/route */
int	 proc_status_kib(const char *text, const char *field, unsigned long *kib);	/* /proc/PID/status */
int	 status_init(const struct status_conf *);	/* NULL: off */
void	 status_section_add(struct status_section *);
char	*status_render(int brief);	/* JSON, free() it; NULL: ENOMEM */
int	 status_write(void);		/* now */
void	 status_changed(void);		/* soon, once for many calls */

/* kvm.c: /dev/kvm for the L2 guests, or why not. */
const char *kvm_diagnose(const struct cpu *, int open_errno, int api, char *buf, size_t size);
int	 kvm_check(const struct cpu *, const char *path);	/* 1: usable; logs */
int	 kvm_init(const struct cpu *);		/* kvm_check of /dev/kvm */
int	 kvm_available(void);
const char *kvm_status(void);			/* "ok", or the reason */

/* netlink.c: rtnetlink. nlmsg_* build a request into buf (EMSGSIZE if it
 * does not fit), nl_* send it and wait for the kernel's answer. */
struct nlmsghdr;
struct rtattr;
struct nl_link {
	int		 index;		/* 0: none */
	int		 up;
	unsigned	 mtu;
	unsigned	 master;
};
struct nl_ifaddr {
	struct in_addr	 addr;
	int		 prefix;
};
struct nl_addrs {			/* nl_parse_addr's state */
	int		 index;
	struct nl_ifaddr *v;
	size_t		 max, n;
};
struct nl_route {
	struct in_addr	 dst;
	int		 prefix;
	struct in_addr	 gw;		/* 0.0.0.0: none (on-link) */
	int		 oif;		/* 0: none */
	unsigned char	 table, type, scope, protocol;	/* 0: main, unicast, by gw, boot */
};
struct nlmsghdr *nl_msg_init(void *buf, size_t size, uint16_t type, uint16_t flags,
	    size_t hdrlen);
void	*nl_msg_data(struct nlmsghdr *);
int	 nl_attr_put(struct nlmsghdr *, size_t size, uint16_t type, const void *, size_t);
int	 nl_attr_put_u32(struct nlmsghdr *, size_t size, uint16_t type, uint32_t);
int	 nl_attr_put_str(struct nlmsghdr *, size_t size, uint16_t type, const char *);
struct rtattr *nl_nest_start(struct nlmsghdr *, size_t size, uint16_t type);
int	 nl_nest_end(struct nlmsghdr *, struct rtattr *);
int	 nlmsg_getlink(void *buf, size_t size, const char *name);
int	 nlmsg_setlink(void *buf, size_t size, int index, int up, unsigned mtu, int master);
int	 nlmsg_newlink(void *buf, size_t size, const char *name, const char *kind,
	    const char *peer);			/* peer: a veth's other end */
int	 nlmsg_addr(void *buf, size_t size, int cmd, int index, struct in_addr, int prefix);
int	 nlmsg_getaddr(void *buf, size_t size);
int	 nlmsg_route(void *buf, size_t size, int cmd, const struct nl_route *);
int	 nl_attrs_parse(const struct nlmsghdr *, size_t hdrlen, const struct rtattr *tb[],
	    size_t max);
int	 nl_reply_parse(const void *buf, size_t len, uint32_t seq,
	    int (*cb)(const struct nlmsghdr *, void *), void *arg);	/* 1 done, 0 more */
int	 nl_parse_link(const struct nlmsghdr *, void *nl_link);
int	 nl_parse_addr(const struct nlmsghdr *, void *nl_addrs);
int	 nl_talk(void *msg, int (*cb)(const struct nlmsghdr *, void *), void *arg);
void	 nl_close(void);
int	 nl_link_get(const char *name, struct nl_link *);	/* ENODEV: no such link */
int	 nl_link_set(int index, int up, unsigned mtu, int master);	/* -1, 0, -1: as is */
int	 nl_link_add(const char *name, const char *kind, const char *peer);
int	 nl_addr(int cmd, int index, struct in_addr, int prefix);	/* RTM_NEWADDR replaces */
int	 nl_addr_list(int index, struct nl_ifaddr *, size_t max, size_t *n);
int	 nl_route(int cmd, const struct nl_route *);	/* RTM_NEWROUTE replaces */

/* dhcp.c: udhcpc's script (the init binary as dhcp-hook) and the lease. */
#define NET_RUN_DIR		"/run/nestbox"
#define NET_LEASE_FILE		NET_RUN_DIR "/lease"
#define NET_HOOK		"/usr/libexec/nestbox/dhcp-hook"
#define LEASE_ROUTES_MAX	16
#define LEASE_SERVERS_MAX	3
#define LEASE_SEARCH_MAX	6
#define LEASE_NAME_MAX		254	/* a domain name and its NUL */
#define LEASE_VALUE_MAX		1024
#define LEASE_MTU_MIN		576	/* IPv4's minimum; GCE allows 1300-8896 */
#define LEASE_MTU_MAX		9000
struct lease_route {
	struct in_addr	 dst, gw;	/* gw 0.0.0.0: on-link */
	int		 prefix;
};
struct lease {				/* addresses in network byte order */
	char		 ifname[16];
	struct in_addr	 ip, router, serverid;
	int		 prefix;
	struct lease_route routes[LEASE_ROUTES_MAX];	/* option 121, in order */
	size_t		 nroutes;
	unsigned	 mtu;		/* 0: none */
	long		 mtu_refused;	/* an MTU out of range, ignored */
	struct in_addr	 dns[LEASE_SERVERS_MAX], ntp[LEASE_SERVERS_MAX];
	size_t		 ndns, nntp;
	char		 search[LEASE_SEARCH_MAX][LEASE_NAME_MAX];
	size_t		 nsearch;
	char		 domain[LEASE_NAME_MAX];
	char		 hostname[LEASE_NAME_MAX];
	int		 hostname_refused;	/* it named the metadata server */
	uint32_t	 lease;		/* seconds */
};
int	 ifaddr_parse(const char *s, size_t len, struct in_addr *, int *prefix);
int	 cidr_parse(const char *s, size_t len, struct in_addr *, int *prefix);	/* no host bits */
int	 dhcp_lease_parse(const char *const envp[], struct lease *, char *err, size_t errsize);
size_t	 lease_routes(const struct lease *, struct lease_route *, size_t max);
struct in_addr lease_gateway(const struct lease *);
int	 lease_format(const struct lease *, char *buf, size_t size);	/* length */
int	 resolv_format(const struct lease *, char *buf, size_t size);
int	 hosts_format(const struct lease *, char *buf, size_t size);
int	 lease_read(const char *path, struct lease *, char *err, size_t errsize);
int	 dhcp_hook_main(int argc, char *argv[]);	/* exit status */

/* net.c: eth0 in PID 1: udhcpc and ntpd supervised, the lease watched. */
int	 net_init(void);
int	 net_on_ready(void (*)(void));	/* runs once, at the first lease */
const struct lease *net_lease(void);	/* NULL: no lease */
int	 net_alias_routes(const char *const cidrs[], size_t n);	/* replaces the set */

/* bridge.c */
int	 bridge_setup(const char *name, const char *cidr, int mtu);	/* logs */
int	 ip_forward_enable(void);

/*
 * guest.c: the nestbox-guests declaration (docs/guests.md), parsed and
 * checked without side effects. An invalid guest is reported ("guest NAME:
 * FIELD: reason") and left out; the valid ones are kept. A document-level
 * error ("nestbox-guests: ...") rejects the whole document.
 */
#define GUESTS_VERSION		1
#define GUESTS_DOC_MAX		(256 * 1024)
#define GUESTS_MAX		64
#define GUEST_NAME_MAX		64	/* [a-z][a-z0-9-]{0,62} and the NUL */
#define GUEST_VCPUS_MAX		64
#define GUEST_MEM_MIN		(64ULL << 20)
#define GUEST_MEM_MAX		(1ULL << 40)
#define GUEST_DISKS_MAX		8
#define GUEST_DISK_SIZE_MAX	(64ULL << 40)
#define GUEST_FORWARDS_MAX	32
#define GUEST_QEMU_ARGS_MAX	32
#define GUEST_QEMU_ARG_LEN	256
#define GUEST_SOURCE_MAX	2048
#define GUEST_CMDLINE_MAX	4096
#define GUEST_USERDATA_MAX	(64 * 1024)
#define GUEST_METADATA_MAX	(16 * 1024)
#define GUEST_ERR_MAX		320
enum source_kind { SRC_NONE, SRC_HTTPS, SRC_HTTP, SRC_GS, SRC_PD, SRC_STATE };
enum disk_format { FMT_RAW, FMT_QCOW2 };
enum restart_policy { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };
enum accel_mode { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG };
struct guest_source {
	enum source_kind kind;		/* SRC_NONE: not given */
	char		*uri;		/* as declared, heap */
	const char	*ref;		/* into uri, past "gs://", "pd:", "state:" */
	char		 sha256[65];	/* lower case; "" if not given */
};
struct guest_disk {
	struct guest_source src;
	enum disk_format format;
	int		 overlay;	/* a qcow2 overlay on the state partition */
	uint64_t	 size;		/* bytes; 0: as it is */
};
struct guest_forward {
	enum fwd_proto	 proto;		/* FWD_TCP or FWD_UDP */
	uint32_t	 alias_ip;	/* host order; 0: the L1's primary address */
	uint16_t	 port, guest_port;
};
struct guest {
	char		 name[GUEST_NAME_MAX];
	unsigned	 index;		/* 1-based, in the document */
	unsigned	 vcpus;
	uint64_t	 memory;	/* bytes, a whole number of MiB */
	struct guest_disk disks[GUEST_DISKS_MAX];
	size_t		 ndisks;
	struct guest_source kernel, initrd;
	char		*cmdline;	/* NULL: none */
	uint8_t		 mac[6];
	int		 mac_derived;	/* from the name, not declared */
	uint32_t	 ip;		/* host order; 0: by DHCP */
	uint32_t	 alias_ip;	/* host order; 0: none */
	struct guest_forward forwards[GUEST_FORWARDS_MAX];
	size_t		 nforwards;
	enum restart_policy restart;
	enum accel_mode	 accel;
	int		 cloud_init;
	char		*user_data, *meta_data;	/* NULL: not given */
	char		*qemu_args[GUEST_QEMU_ARGS_MAX];
	size_t		 nqemu_args;
	char		*decl;		/* the guest's JSON, compact: equal means unchanged */
};
struct guest_set {
	struct guest	*v;
	size_t		 n;
};
struct guest_errors {
	char		**v;		/* messages, heap */
	size_t		 n;
	size_t		 invalid;	/* guests left out */
	int		 document;	/* the whole document was rejected */
};
int	 guests_parse(const char *json, size_t len, struct guest_set *,
	    struct guest_errors *);	/* -1: EINVAL (document) or ENOMEM */
int	 guests_check_net(struct guest_set *, const struct netconf *,
	    struct guest_errors *);	/* drops guests whose ip does not fit; count */
void	 guests_free(struct guest_set *);
void	 guest_clear(struct guest *);		/* frees its parts, zeroes it */
void	 guest_errors_free(struct guest_errors *);
int	 guest_size_parse(const char *s, uint64_t *bytes);	/* "512M", "2GiB" */
int	 guest_qemu_arg_ok(const char *opt, const char *val, char *why, size_t size);
const char *guest_mac_str(const uint8_t mac[6], char buf[18]);
const char *restart_str(enum restart_policy);
const char *accel_str(enum accel_mode);
int	 guests_check_main(int argc, char *argv[]);	/* nestbox check FILE */

/*
 * qemu.c: a guest's QEMU command line, built without side effects into the
 * caller's buffers. The paths come from struct qemu_env: the supervisor
 * resolves sources (downloads, overlays, persistent disks) before it.
 */
#define QEMU_BIN		"/usr/bin/qemu-system-x86_64"
#define QEMU_FIRMWARE		"/usr/share/qemu"
#define QEMU_ARGV_MAX		160
#define QEMU_BUF_MAX		(16 * 1024)
struct qemu_env {
	const char	*bin;		/* NULL: QEMU_BIN */
	const char	*run_dir;	/* the guest's sockets: qmp.sock, console.sock */
	const char	*console_log;	/* the serial console's log file */
	const char	*firmware;	/* NULL: QEMU_FIRMWARE */
	const char	*tap;		/* the tap on virbr0 */
	int		 kvm;		/* /dev/kvm is usable */
	int		 vhost;		/* /dev/vhost-net exists */
	int		 direct_io;	/* the state partition takes O_DIRECT */
	const char	*disk[GUEST_DISKS_MAX];	/* per disk: the file QEMU opens */
	const char	*kernel, *initrd;	/* direct boot, when the guest has it */
	const char	*seed;		/* the NoCloud seed image; NULL: none */
};
int	 qemu_argv(const struct guest *, const struct qemu_env *, char *buf,
	    size_t size, char **argv, size_t maxargv);	/* argc; ENOSPC, EINVAL */
int	 qemu_uses_kvm(const struct guest *, const struct qemu_env *);

/*
 * qmp.c: QEMU's machine protocol. qmp_parse reads one reply line (pure,
 * fuzzed); struct qmp is a client in the event loop: it connects to a
 * guest's qmp.sock, negotiates capabilities and sends commands, reporting
 * events and the connection's end to its owner.
 */
#define QMP_LINE_MAX		(64 * 1024)
enum qmp_kind { QMP_GREETING, QMP_RETURN, QMP_ERROR, QMP_EVENT };
struct qmp_msg {
	enum qmp_kind	 kind;
	char		 event[64];	/* QMP_EVENT: "SHUTDOWN", "POWERDOWN", ... */
	char		 error[160];	/* QMP_ERROR: class and desc */
	long		 id;		/* our "id" echoed back; -1: none */
	int		 guest;		/* SHUTDOWN: "guest": true */
};
struct qmp {
	struct event	 ev;
	int		 ready;		/* capabilities negotiated */
	char		 in[QMP_LINE_MAX];
	size_t		 inlen;
	char		 out[1024];	/* commands waiting for the connection */
	size_t		 outlen;
	long		 next_id;
	void		(*on_msg)(struct qmp *, const struct qmp_msg *);	/* NULL: none */
	void		(*on_close)(struct qmp *);	/* EOF or error; fd closed */
	void		 *arg;
};
int	 qmp_parse(const char *line, size_t len, struct qmp_msg *);	/* EINVAL */
int	 qmp_open(struct qmp *, const char *path);	/* ENOENT, ECONNREFUSED: not yet */
int	 qmp_command(struct qmp *, const char *execute);	/* id, queued until ready */
void	 qmp_close(struct qmp *);			/* no on_close */

/*
 * store.c: the state partition (ext4, label nestbox-state): found on the
 * boot disk, checked with e2fsck, grown to the end of the disk on the first
 * boot (MBR entry, BLKPG, resize2fs), mounted at STATE_DIR. Without it,
 * STATE_DIR is a tmpfs and the status says so.
 */
#define STATE_DIR		"/var/lib/nestbox"
#define STATE_LABEL		"nestbox-state"
#define STATE_IMAGES		STATE_DIR "/images"	/* downloads, by sha256 */
#define STATE_GUESTS		STATE_DIR "/guests"	/* NAME/: overlays, seed, console.log */
struct mbr_part {
	uint8_t		 type;
	uint32_t	 start, sectors;	/* in 512-byte sectors */
};
int	 mbr_parse(const uint8_t mbr[512], struct mbr_part parts[4]);	/* EINVAL: no 55AA */
int	 mbr_grow(uint8_t mbr[512], int index, uint64_t disk_sectors);	/* 1: grown, 0: already */
int	 ext4_label(const uint8_t sb[1024], char label[17]);		/* EINVAL: not ext2/3/4 */
int	 store_init(void);		/* 1: persistent, 0: tmpfs; logs */
int	 store_persistent(void);
int	 store_free_mib(uint64_t *mib);		/* statvfs of STATE_DIR */

/*
 * seed.c: a cloud-init NoCloud seed, an ISO 9660 image labelled "cidata"
 * holding user-data, meta-data (and network-config when given). Pure.
 */
int	 seed_iso(const char *user_data, const char *meta_data, const char *network_config,
	    uint8_t **out, size_t *len);		/* malloc'd; ENOMEM, EFBIG */

/*
 * fetch.c: a guest's sources made into local files. Downloads run as a
 * child process, `nestbox-fetch` (the init binary under that name), as an
 * unprivileged user: libcurl writes NAME.part, the sha256 is checked, then
 * rename(2); an interrupted download resumes with a Range request. The
 * child's exit status says how it ended, its stderr (progress, errors)
 * goes to the log.
 */
#define FETCH_BIN		"/usr/libexec/nestbox/nestbox-fetch"
#define FETCH_UID		900	/* user nestbox-fetch */
#define GCS_API			"https://storage.googleapis.com/storage/v1/b/"
#define MD_TOKEN_PATH		"instance/service-accounts/default/token"
enum fetch_status {		/* nestbox-fetch's exit status */
	FETCH_OK = 0,
	FETCH_ERROR = 1,	/* transport, HTTP status; retried later */
	FETCH_MISMATCH = 2,	/* the sha256 differs: not retried */
	FETCH_NOSPACE = 3,	/* the state partition is full */
	FETCH_USAGE = 64,
};
int	 fetch_cache_path(const struct guest_source *, char *buf, size_t size);	/* under STATE_IMAGES */
int	 gcs_url(const char *ref, const char *api, char *buf, size_t size);	/* "bucket/object" */
int	 pd_find(const char *sysblock, const char *devname, char *buf, size_t size);	/* /dev/sdb; ENOENT */
int	 pd_nvme_name(const void *id, size_t len, char *name, size_t size);	/* Identify Namespace */
int	 fetch_main(int argc, char *argv[]);	/* nestbox-fetch SOURCE DEST [SHA256] */

/*
 * vm.c: the guests at run time. Each declared guest has a state machine;
 * every metadata change computes a plan against what runs and applies it.
 */
enum vm_state {
	VM_PENDING,		/* declared, not yet worked on */
	VM_FETCHING,		/* sources being downloaded */
	VM_STARTING,		/* QEMU exec'd, QMP not yet up */
	VM_RUNNING,
	VM_STOPPING,		/* system_powerdown sent, waiting */
	VM_STOPPED,		/* by policy, by `nestbox stop`, or exited cleanly */
	VM_FAILED,		/* a permanent error: bad source, sha256 mismatch */
	VM_BACKOFF,		/* exited; restarting after a delay */
};
enum plan_op { PLAN_KEEP, PLAN_START, PLAN_STOP, PLAN_RESTART };
struct plan_item {
	enum plan_op	 op;
	const char	*name;
};
struct vm_have {			/* what runs now, for the plan */
	const char	*name;
	const char	*decl;
};
const char *vm_state_str(enum vm_state);
const char *plan_op_str(enum plan_op);
size_t	 vm_plan(const struct vm_have *, size_t nhave, const struct guest_set *want,
	    struct plan_item *out, size_t max);	/* the number of items */
/* the supervisor's step: the next state after an exit, for the policy */
enum vm_state vm_after_exit(enum restart_policy, int status, int wanted_stop);
/* /proc/PID/smaps: the RSS of a QEMU beyond its guest's RAM (the largest
 * mapping of at least guest_kib, left out); EINVAL: no mapping parsed */
int	 smaps_beyond_guest(const char *smaps, unsigned long guest_kib, unsigned long *kib);
int	 vm_init(void);			/* metadata listener, shutdown hook, status */

/*
 * control.c: /run/nestbox/control.sock, the `nestbox` command's way in.
 * One request line per connection ("status NAME\n"), the reply is text,
 * then the server closes; "console NAME" turns the connection into a relay.
 */
#define CONTROL_SOCK		"/run/nestbox/control.sock"
#define CONTROL_LINE_MAX	256
struct control_ops {			/* what the server asks of the guests (vm.c) */
	char	*(*status)(const char *name);	/* JSON text, free() it; NULL name: all */
	char	*(*list)(void);			/* a table, a line per guest; free() it */
	int	 (*action)(const char *name, const char *verb);	/* ENOENT, EINVAL */
	int	 (*log_path)(const char *name, char *buf, size_t size);
	int	 (*console_attach)(const char *name,
		    void (*fn)(void *, const char *, size_t), void *arg);	/* fn(arg, NULL, 0): gone */
	void	 (*console_detach)(const char *name, void *arg);
	int	 (*console_write)(const char *name, const void *buf, size_t len);
	void	 (*reload)(void);
};
extern const struct control_ops vm_control_ops;	/* vm.c */
extern int control_timeout_ms;	/* for the request line: 5000; the unit tests shorten it */
int	 control_parse(char *line, size_t len, const char **verb, const char **name,
	    char *err, size_t errlen);	/* splits in place; EINVAL */
int	 control_init(const struct control_ops *, const char *path);	/* NULL: CONTROL_SOCK */
enum shell_cmd { SHELL_EMPTY, SHELL_HELP, SHELL_EXIT, SHELL_REQUEST, SHELL_ERROR };
enum shell_cmd shell_line(const char *line, char *req, size_t size,
	    char *err, size_t errlen);	/* a line typed at `nestbox shell` */
int	 control_main(int argc, char *argv[]);	/* the nestbox command */

#endif /* NESTBOX_H */
