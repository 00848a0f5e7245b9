# nestbox-fetch (init/tools/nestbox-fetch.c): the image's init binary under that name,
# the child PID 1 runs to download a guest's image. It is static, so it runs
# here, against a small HTTP server on 127.0.0.1 that answers Range requests
# (and, on some paths, answers them wrongly) and logs every request.
load helpers

INIT=$OUT/init/init

# The test server: python3 SERVER ROOT PORTFILE LOG [ADDR PORT]. It also plays
# the metadata server (the token) and the GCS JSON API for the gs:// tests.
write_server() {
	cat >"$1" <<'EOF'
import hashlib, http.server, json, os, re, sys, urllib.parse

root, portfile, logfile = sys.argv[1:4]
addr = sys.argv[4] if len(sys.argv) > 4 else '127.0.0.1'
port = int(sys.argv[5]) if len(sys.argv) > 5 else 0
TOKEN = 'tok-SECRET-7b3f'

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body=b'', headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def serve(self, path, ranges=True, wrong_range=False, truncate=False, nolength=False):
        try:
            with open(os.path.join(root, path.lstrip('/')), 'rb') as f:
                data = f.read()
        except OSError:
            return self.reply(404, b'not found\n')
        n = len(data)
        etag = '"%s"' % hashlib.sha256(data).hexdigest()[:16]
        r = self.headers.get('Range') if ranges else None
        ir = self.headers.get('If-Range')
        if r and ir is not None and ir != etag:
            r = None            # changed since: the whole file (RFC 9110 13.1.5)
        m = re.fullmatch(r'bytes=(\d+)-', r or '')
        if wrong_range and r:
            return self.reply(206, data, [('Content-Range', 'bytes 0-%d/%d' % (n - 1, n))])
        if m and int(m.group(1)) >= n:
            return self.reply(416, b'', [('Content-Range', 'bytes */%d' % n)])
        if m:
            s = int(m.group(1))
            return self.reply(206, data[s:], [('Content-Range', 'bytes %d-%d/%d' % (s, n - 1, n))])
        if nolength:            # no size said: the end is the connection's
            self.send_response(200)
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            return
        if truncate:
            self.send_response(200)
            self.send_header('ETag', etag)
            self.send_header('Content-Length', str(n))
            self.end_headers()
            self.wfile.write(data[:n // 3])
            self.wfile.flush()
            self.close_connection = True
            return
        return self.reply(200, data)

    def do_GET(self):
        with open(logfile, 'a') as f:
            f.write('GET %s range=%s auth=%s flavor=%s%s\n' % (self.path,
                    self.headers.get('Range', '-'), self.headers.get('Authorization', '-'),
                    self.headers.get('Metadata-Flavor', '-'),
                    ' if-range=' + self.headers['If-Range'] if 'If-Range' in self.headers else ''))
        path, _, query = self.path.partition('?')
        if path == '/computeMetadata/v1/instance/service-accounts/default/token':
            if self.headers.get('Metadata-Flavor') != 'Google':
                return self.reply(403, b'Missing Metadata-Flavor:Google header.\n')
            body = json.dumps({'access_token': TOKEN, 'expires_in': 3599,
                               'token_type': 'Bearer'}).encode()
            flavor = [] if os.environ.get('NOFLAVOR') else [('Metadata-Flavor', 'Google')]
            return self.reply(200, body, flavor + [('Content-Type', 'application/json')])
        m = re.fullmatch(r'/storage/v1/b/([^/]+)/o/([^/]+)', path)
        if m:
            if self.headers.get('Authorization') != 'Bearer ' + TOKEN:
                return self.reply(401, b'no token\n')
            if query != 'alt=media':
                return self.reply(400, b'not alt=media\n')
            return self.serve(m.group(1) + '/' + urllib.parse.unquote(m.group(2)))
        if path == '/loop':
            return self.reply(302, b'', [('Location', '/loop')])
        for prefix, kw in (('/norange/', {'ranges': False}),
                           ('/badrange/', {'wrong_range': True}),
                           ('/trunc/', {'truncate': True}),
                           ('/nolength/', {'nolength': True})):
            if path.startswith(prefix):
                return self.serve(path[len(prefix):], **kw)
        if path.startswith('/redirect/'):
            return self.reply(302, b'', [('Location', path[len('/redirect'):])])
        return self.serve(path)

server = http.server.ThreadingHTTPServer((addr, port), Handler)
with open(portfile + '.tmp', 'w') as f:
    f.write(str(server.server_address[1]))
os.rename(portfile + '.tmp', portfile)
server.serve_forever()
EOF
}

# wait_port FILE: the port the server wrote, once it listens
wait_port() {
	local i
	for i in $(seq 50); do
		[ -s "$1" ] && { cat "$1"; return 0; }
		sleep 0.1
	done
	return 1
}

setup_file() {
	[ -x "$INIT" ] || return 0
	command -v python3 >/dev/null || return 0
	local d=$BATS_FILE_TMPDIR
	mkdir -p "$d/www" "$d/bin"
	ln -s "$INIT" "$d/bin/nestbox-fetch"
	head -c 307200 /dev/urandom >"$d/www/img.bin"	# 300 KiB
	write_server "$d/server.py"
	python3 "$d/server.py" "$d/www" "$d/port" "$d/requests.log" 3>&- &
	echo $! >"$d/server.pid"
	wait_port "$d/port" >/dev/null
}

teardown_file() {
	[ -s "$BATS_FILE_TMPDIR/server.pid" ] && kill "$(cat "$BATS_FILE_TMPDIR/server.pid")" 2>/dev/null
	return 0
}

setup() {
	[ -x "$INIT" ] || skip "no $INIT: run make init"
	command -v python3 >/dev/null || skip "no python3"
	[ -s "$BATS_FILE_TMPDIR/port" ] || skip "the test server did not start"
	FETCH=$BATS_FILE_TMPDIR/bin/nestbox-fetch
	URL=http://127.0.0.1:$(cat "$BATS_FILE_TMPDIR/port")
	IMG=$BATS_FILE_TMPDIR/www/img.bin
	SHA=$(sha256sum "$IMG" | cut -d' ' -f1)
	BAD=0000000000000000000000000000000000000000000000000000000000000000
	LOG=$BATS_FILE_TMPDIR/requests.log
	: >"$LOG"
	D=$BATS_TEST_TMPDIR/images
	mkdir -p "$D"
}

teardown() {
	mountpoint -q "$BATS_TEST_TMPDIR/images" 2>/dev/null && umount "$BATS_TEST_TMPDIR/images"
	return 0
}

# every line of the output is the program's, with its prefix
assert_prefixed() {
	local l
	while IFS= read -r l; do
		[[ $l == "nestbox-fetch: "* ]] || fail "not prefixed: $l"
	done <<<"$output"
}

@test "a download: DEST is the file, no DEST.part is left, progress and the sha256 on stderr" {
	run "$FETCH" "$URL/img.bin" "$D/img"
	assert_success
	cmp "$IMG" "$D/img"
	[ ! -e "$D/img.part" ]
	assert_line --regexp "^nestbox-fetch: $URL/img.bin: 300 KiB of 300 KiB \(100%\), [0-9]+ [KM]?i?B/s$"
	assert_line "nestbox-fetch: $URL/img.bin: done, sha256 $SHA"
	assert_prefixed
	[ "$(stat -c %a "$D/img")" = 644 ]
}

@test "the declared sha256 (in either case): exit 0" {
	run "$FETCH" "$URL/img.bin" "$D/img" "${SHA^^}"
	assert_success
	cmp "$IMG" "$D/img"
}

@test "a sha256 mismatch: exit 2, both hashes named, no DEST and no DEST.part" {
	run "$FETCH" "$URL/img.bin" "$D/img" "$BAD"
	assert_failure 2
	assert_line "nestbox-fetch: $URL/img.bin: sha256 mismatch: expected $BAD, got $SHA"
	[ ! -e "$D/img" ]
	[ ! -e "$D/img.part" ]
}

@test "DEST.part with the first half: completed with a Range request" {
	head -c 153600 "$IMG" >"$D/img.part"
	run "$FETCH" "$URL/img.bin" "$D/img" "$SHA"
	assert_success
	assert_line "nestbox-fetch: $URL/img.bin: resuming at 150 KiB"
	cmp "$IMG" "$D/img"
	[ ! -e "$D/img.part" ]
	run cat "$LOG"
	assert_output "GET /img.bin range=bytes=153600- auth=- flavor=-"
}

@test "an interrupted download leaves DEST.part, exit 1; the next run resumes it" {
	run "$FETCH" "$URL/trunc/img.bin" "$D/img" "$SHA"
	assert_failure 1
	assert_output --partial "nestbox-fetch: $URL/trunc/img.bin: "
	[ ! -e "$D/img" ]
	size=$(stat -c %s "$D/img.part")
	[ "$size" -eq 102400 ]
	run "$FETCH" "$URL/img.bin" "$D/img" "$SHA"
	assert_success
	cmp "$IMG" "$D/img"
	# with the first reply's ETag: the same file, or all of it again
	grep -qx "GET /img.bin range=bytes=$size- auth=- flavor=- if-range=\"[0-9a-f]*\"" "$LOG"
}

@test "a server that ignores the range: DEST.part is started over, not appended to" {
	head -c 100000 /dev/zero >"$D/img.part"
	run "$FETCH" "$URL/norange/img.bin" "$D/img" "$SHA"
	assert_success
	assert_line "nestbox-fetch: $URL/norange/img.bin: the server sent the whole file, not the rest: starting over"
	cmp "$IMG" "$D/img"
	# without a sha256 to catch it, too
	head -c 100000 /dev/zero >"$D/other.part"
	run "$FETCH" "$URL/norange/img.bin" "$D/other"
	assert_success
	cmp "$IMG" "$D/other"
}

@test "a 206 from another offset than asked: started over without a range" {
	head -c 1000 "$IMG" >"$D/img.part"
	run "$FETCH" "$URL/badrange/img.bin" "$D/img"
	assert_success
	assert_output --partial "another range than the one asked for: starting over"
	cmp "$IMG" "$D/img"
	run cat "$LOG"
	assert_line "GET /badrange/img.bin range=bytes=1000- auth=- flavor=-"
	assert_line "GET /badrange/img.bin range=- auth=- flavor=-"
}

@test "DEST.part already whole: the 416 finishes it, nothing is downloaded again" {
	cp "$IMG" "$D/img.part"
	run "$FETCH" "$URL/img.bin" "$D/img" "$SHA"
	assert_success
	cmp "$IMG" "$D/img"
	run cat "$LOG"
	assert_output "GET /img.bin range=bytes=307200- auth=- flavor=-"
}

@test "DEST.part longer than the file: started over" {
	cat "$IMG" "$IMG" >"$D/img.part"
	run "$FETCH" "$URL/img.bin" "$D/img" "$SHA"
	assert_success
	assert_output --partial "does not fit the file: starting over"
	cmp "$IMG" "$D/img"
}

@test "HTTP 404: exit 1, the status in the message, nothing left behind" {
	run "$FETCH" "$URL/missing.img" "$D/img"
	assert_failure 1
	assert_output "nestbox-fetch: $URL/missing.img: HTTP 404 Not Found"
	[ ! -e "$D/img" ]
	[ ! -e "$D/img.part" ]
}

@test "redirects are followed, up to 5" {
	run "$FETCH" "$URL/redirect/img.bin" "$D/img" "$SHA"
	assert_success
	cmp "$IMG" "$D/img"
	run "$FETCH" "$URL/loop" "$D/loop"
	assert_failure 1
	assert_output --partial "nestbox-fetch: $URL/loop: Maximum (5) redirects followed"
	[ "$(grep -c 'GET /loop ' "$LOG")" -eq 6 ]
}

@test "no server: exit 1 with libcurl's reason" {
	run "$FETCH" "http://127.0.0.1:1/img.bin" "$D/img"
	assert_failure 1
	assert_output --partial "nestbox-fetch: http://127.0.0.1:1/img.bin: Failed to connect"
}

@test "a URL's query stays out of the log (a signed URL's credential)" {
	run "$FETCH" "$URL/img.bin?X-Goog-Signature=s3cr3t&x=1" "$D/img" "$SHA"
	assert_success
	refute_output --partial s3cr3t
	assert_line "nestbox-fetch: $URL/img.bin?...: done, sha256 $SHA"
	grep -q 'X-Goog-Signature=s3cr3t' "$LOG"
}

@test "the source on stdin (-), as PID 1 passes it: not in argv, its query not in the log" {
	run "$FETCH" - "$D/img" "$SHA" <<<"$URL/img.bin?X-Goog-Signature=s3cr3t"
	assert_success
	cmp "$IMG" "$D/img"
	refute_output --partial s3cr3t
	assert_line "nestbox-fetch: $URL/img.bin?...: done, sha256 $SHA"
	run "$FETCH" - "$D/img2" </dev/null
	assert_failure 64
}

@test "libcurl's sockets are close-on-exec" {
	command -v strace >/dev/null || skip "no strace"
	run strace -f -e trace=socket "$FETCH" "$URL/img.bin" "$D/img" "$SHA"
	assert_success
	assert_line --regexp '^socket\(AF_INET, SOCK_STREAM\|SOCK_CLOEXEC'
	refute_line --regexp '^socket\(AF_INET, SOCK_STREAM, '
}

# qcow2 images made with the image's own qemu-img: one clean, and one for
# each way an image header names another file.
qemu_img_setup() {
	QEMU_IMG=$OUT/pkg/qemu/rootfs/usr/bin/qemu-img
	[ -x "$QEMU_IMG" ] || skip "no $QEMU_IMG: run make"
	W=$BATS_FILE_TMPDIR/www
	secret=$BATS_TEST_TMPDIR/secret
	echo "token-abc" >"$secret"
	rm -f "$W"/*.qcow2
	"$QEMU_IMG" create -q -f qcow2 "$W/clean.qcow2" 10G
	"$QEMU_IMG" create -q -f qcow2 -u -F raw -b "$secret" "$W/backing.qcow2" 1G
	"$QEMU_IMG" create -q -f qcow2 -u -F raw -b "json:{\"driver\":\"file\",\"filename\":\"$secret\"}" \
	    "$W/json.qcow2" 1G
	"$QEMU_IMG" create -q -f qcow2 -u -F raw -b nbd://127.0.0.1:1/x "$W/nbd.qcow2" 1G
	"$QEMU_IMG" create -q -f qcow2 -o data_file="$BATS_TEST_TMPDIR/data.raw" "$W/data.qcow2" 1G
}

@test "images are data: a qcow2 naming a backing file, a json: or nbd: one, a data file is refused (exit 4, no DEST.part)" {
	qemu_img_setup
	for img in backing json nbd data; do
		run "$FETCH" --qemu-img "$QEMU_IMG" "$URL/$img.qcow2" "$D/$img"
		assert_failure 4
		assert_output --partial "nestbox-fetch: $URL/$img.qcow2: refused: it names"
		[ ! -e "$D/$img" ]
		[ ! -e "$D/$img.part" ]
	done
	run "$FETCH" --qemu-img "$QEMU_IMG" "$URL/clean.qcow2" "$D/clean"
	assert_success
	cmp "$W/clean.qcow2" "$D/clean"
	# raw bytes are not looked at; qemu-img that does not run is no refusal
	run "$FETCH" --qemu-img /nonexistent "$URL/img.bin" "$D/img"
	assert_success
	run "$FETCH" --qemu-img /nonexistent "$URL/backing.qcow2" "$D/b2"
	assert_failure 1
	[ ! -e "$D/b2" ]
}

@test "a directory it can not write: exit 1, DEST.part named" {
	if [ "$(id -u)" -eq 0 ]; then
		mount -t tmpfs -o ro,size=1m nestbox-test "$D" || skip "can not mount a tmpfs"
	else
		chmod 555 "$D"
	fi
	run "$FETCH" "$URL/img.bin" "$D/img" "$SHA"
	assert_failure 1
	assert_output --regexp "^nestbox-fetch: $D/img.part: (Read-only file system|Permission denied)$"
	[ "$(grep -c . "$LOG")" -eq 0 ]
}

@test "a file larger than the free space (less a reserve): exit 3 before a byte is written" {
	[ "$(id -u)" -eq 0 ] || skip "needs root (a small tmpfs)"
	mount -t tmpfs -o size=256k nestbox-test "$D" || skip "can not mount a tmpfs"
	run "$FETCH" "$URL/img.bin" "$D/img" "$SHA"
	assert_failure 3
	assert_output --regexp "nestbox-fetch: $URL/img.bin: 300 KiB more would leave [0-9]+ KiB free on the state partition: not started"
	[ ! -e "$D/img" ]
	[ ! -e "$D/img.part" ]
}

@test "a full state partition mid-way (no size said): exit 3, DEST.part kept for later" {
	[ "$(id -u)" -eq 0 ] || skip "needs root (a small tmpfs)"
	mount -t tmpfs -o size=64k nestbox-test "$D" || skip "can not mount a tmpfs"
	run "$FETCH" "$URL/nolength/img.bin" "$D/img" "$SHA"
	assert_failure 3
	assert_output --partial "nestbox-fetch: $D/img.part: state partition full (No space left on device)"
	[ ! -e "$D/img" ]
	[ -s "$D/img.part" ]
}

@test "max-size: a larger file is refused (exit 5), nothing left behind" {
	run "$FETCH" --max-size 1000 "$URL/img.bin" "$D/img"
	assert_failure 5
	assert_line "nestbox-fetch: $URL/img.bin: refused: larger than its max-size (1000 bytes)"
	[ ! -e "$D/img" ]
	[ ! -e "$D/img.part" ]
	# a server that says no size is cut where it passes the bound
	run "$FETCH" --max-size 1000 "$URL/nolength/img.bin" "$D/img"
	assert_failure 5
	[ ! -e "$D/img.part" ]
	run "$FETCH" --max-size 307200 "$URL/img.bin" "$D/img" "$SHA"
	assert_success
}

@test "a resume asks If-Range with the first reply's ETag: a file changed in between is fetched anew, not spliced" {
	local w=$BATS_FILE_TMPDIR/www
	cp "$IMG" "$w/changing.bin"
	run "$FETCH" "$URL/trunc/changing.bin" "$D/img"
	assert_failure 1
	[ -s "$D/img.part.v" ]
	etag=$(cat "$D/img.part.v")
	# the file changes on the server
	head -c 307200 /dev/urandom >"$w/changing.bin"
	new=$(sha256sum "$w/changing.bin" | cut -d' ' -f1)
	run "$FETCH" "$URL/changing.bin" "$D/img" "$new"
	assert_success
	assert_line "nestbox-fetch: $URL/changing.bin: the server sent the whole file, not the rest: starting over"
	cmp "$w/changing.bin" "$D/img"
	[ ! -e "$D/img.part.v" ]
	grep -qx "GET /changing.bin range=bytes=102400- auth=- flavor=- if-range=$etag" "$LOG"
	rm -f "$w/changing.bin"
}

@test "usage errors: exit 64" {
	run "$FETCH"
	assert_failure 64
	assert_output --partial "usage: nestbox-fetch [--max-size BYTES] [--gcs-api URL] [--qemu-img PATH] SOURCE|- DEST [SHA256]"
	run "$FETCH" "$URL/img.bin"
	assert_failure 64
	run "$FETCH" "$URL/img.bin" "$D/img" abc
	assert_failure 64
	assert_line "nestbox-fetch: abc: not a sha256 (64 hex digits)"
	run "$FETCH" "ftp://127.0.0.1/img.bin" "$D/img"
	assert_failure 64
	run "$FETCH" "gs://Bad_Bucket/img.bin" "$D/img"
	assert_failure 64
	assert_line "nestbox-fetch: gs://Bad_Bucket/img.bin: not gs://BUCKET/OBJECT"
	run "$FETCH" "gs://bucket/" "$D/img"
	assert_failure 64
	run "$FETCH" "$URL/img.bin" "" "$SHA"
	assert_failure 64
	[ "$(grep -c . "$LOG")" -eq 0 ]
}

# gs_fetch SOURCE DEST [SHA256]: in a network namespace of its own, where the
# test server answers at 169.254.169.254:80 as the metadata server and as the
# GCS API (--gcs-api points there; NESTBOX_GCS_API, which the image's
# nestbox-fetch once took from the environment, points elsewhere and is ignored).
gs_fetch() {
	unshare -n bash -c '
		ip link set lo up && ip addr add 169.254.169.254/32 dev lo || exit 99
		python3 "$SERVER" "$ROOT" "$ROOT/port" "$LOG" 169.254.169.254 80 3>&- &
		srv=$!
		for i in $(seq 50); do [ -s "$ROOT/port" ] && break; sleep 0.1; done
		NESTBOX_GCS_API=http://127.0.0.1:1/storage/v1/b/ \
		    "$FETCH" --gcs-api http://169.254.169.254/storage/v1/b/ "$@"
		rc=$?
		kill $srv
		exit $rc' gs-fetch "$@"
}

gs_setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (a network namespace)"
	command -v unshare >/dev/null && command -v ip >/dev/null || skip "no unshare or ip"
	unshare -n true 2>/dev/null || skip "can not make a network namespace"
	export SERVER=$BATS_FILE_TMPDIR/server.py ROOT=$BATS_TEST_TMPDIR/gcs LOG FETCH
	mkdir -p "$ROOT/my-bucket/dir"
	cp "$IMG" "$ROOT/my-bucket/dir/disk image+1.bin"
}

@test "gs://: the service account's token from the metadata server, the object through the JSON API" {
	gs_setup
	run gs_fetch "gs://my-bucket/dir/disk image+1.bin" "$D/img" "$SHA"
	assert_success
	cmp "$IMG" "$D/img"
	assert_line "nestbox-fetch: gs://my-bucket/dir/disk image+1.bin: done, sha256 $SHA"
	refute_output --partial SECRET
	run cat "$LOG"
	assert_line "GET /computeMetadata/v1/instance/service-accounts/default/token range=- auth=- flavor=Google"
	assert_line "GET /storage/v1/b/my-bucket/o/dir%2Fdisk%20image%2B1.bin?alt=media range=- auth=Bearer tok-SECRET-7b3f flavor=-"
}

@test "gs://: a token reply without Metadata-Flavor: Google is refused" {
	gs_setup
	export NOFLAVOR=1
	run gs_fetch "gs://my-bucket/dir/disk image+1.bin" "$D/img"
	assert_failure 1
	assert_output "nestbox-fetch: metadata token: the reply has no Metadata-Flavor: Google"
	refute_output --partial SECRET
	run grep -c /storage/ "$LOG"
	assert_output 0
}
