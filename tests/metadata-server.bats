# scripts/gce-metadata-server: the GCE metadata server emulator, tested over
# HTTP with curl against one server started for the whole file (127.0.0.1, a
# port the server picks, a control socket in $BATS_FILE_TMPDIR). Each test
# starts from tests/fixtures/metadata/basic.json with no faults. Every wait is
# bounded: curl --max-time, and polling loops with a deadline.
load helpers

FIXTURE=$TOP/tests/fixtures/metadata/basic.json
SERVER=$TOP/scripts/gce-metadata-server

# wait_for_line FILE REGEX: poll (5 s at most) until FILE has a matching line.
wait_for_line() {
	local i
	for i in $(seq 100); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no line matching '$2' in $1:" >&2
	cat "$1" >&2
	return 1
}

# alive PID: the process exists and is not a zombie.
alive() {
	local s
	s=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $s != Z* ]]
}

# stop_server PID: SIGTERM, then wait (5 s at most) for it to go.
stop_server() {
	local i
	kill -TERM "$1" 2>/dev/null || return 0
	for i in $(seq 100); do
		alive "$1" || return 0
		sleep 0.05
	done
	kill -KILL "$1" 2>/dev/null
	return 1
}

setup_file() {
	CTL=$BATS_FILE_TMPDIR/control.sock
	"$SERVER" --listen 127.0.0.1:0 --control "$CTL" --document "$FIXTURE" \
		--log "$BATS_FILE_TMPDIR/requests.jsonl" \
		>"$BATS_FILE_TMPDIR/server.out" 2>"$BATS_FILE_TMPDIR/server.err" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/server.pid"
	wait_for_line "$BATS_FILE_TMPDIR/server.out" '^listening on '
	PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\) control .*/\1/p' "$BATS_FILE_TMPDIR/server.out")
	[ -n "$PORT" ]
	export CTL PORT BASE=http://127.0.0.1:$PORT MD=http://127.0.0.1:$PORT/computeMetadata/v1
}

teardown_file() {
	stop_server "$(cat "$BATS_FILE_TMPDIR/server.pid")"
}

setup() {
	ctl -X PUT --data-binary @"$FIXTURE" http://x/document >/dev/null
	ctl -X DELETE http://x/faults >/dev/null
	ctl -X POST -d '{"down":false}' http://x/faults >/dev/null
	B=$BATS_TEST_TMPDIR
}

# ctl CURL-ARGS...: a request to the control interface.
ctl() { curl -sS --max-time 5 --unix-socket "$CTL" "$@"; }

# fetch PATH [CURL-ARGS...]: GET $MD/PATH with the Metadata-Flavor header;
# prints the status, leaves the body in $B/body and the headers in $B/headers.
fetch() {
	local path=$1
	shift
	curl -sS --max-time 10 -H 'Metadata-Flavor: Google' -o "$B/body" -D "$B/headers" \
		-w '%{http_code}' "$@" "$MD/$path"
}

# header NAME [FILE]: a header's value from the last fetch (or FILE).
header() { sed -n "s/^$1: //Ip" "${2:-$B/headers}" | tr -d '\r'; }

# md PATH: the body of GET $MD/PATH.
md() { curl -sS --max-time 10 -H 'Metadata-Flavor: Google' "$MD/$1"; }

# etag PATH: the ETag of GET $MD/PATH.
etag() {
	curl -sS --max-time 10 -H 'Metadata-Flavor: Google' -o /dev/null -D - "$MD/$1" |
		sed -n 's/^ETag: //Ip' | tr -d '\r'
}

# wait_for_waiters N: poll (5 s at most) until N requests are blocked waiting.
wait_for_waiters() {
	local i
	for i in $(seq 100); do
		[ "$(ctl http://x/status | jq .waiters)" = "$1" ] && return 0
		sleep 0.05
	done
	echo "expected $1 waiters: $(ctl http://x/status)" >&2
	return 1
}

now_ms() { date +%s%3N; }

# --- startup ---------------------------------------------------------------------

@test "it prints one ready line naming the address and the control socket" {
	run cat "$BATS_FILE_TMPDIR/server.out"
	assert_output "listening on 127.0.0.1:$PORT control $CTL"
}

@test "a document that is not valid is refused at startup" {
	echo '{"instance": {"attributes": {"a": 1}}, "project": {}}' >"$B/bad.json"
	run "$SERVER" --listen 127.0.0.1:0 --document "$B/bad.json"
	assert_failure 2
	assert_output --partial "instance/attributes/a must be a string"
}

@test "SIGTERM and SIGINT stop it cleanly and remove the control socket" {
	for sig in TERM INT; do
		"$SERVER" --listen 127.0.0.1:0 --control "$B/c-$sig.sock" --document "$FIXTURE" \
			>"$B/out-$sig" 2>&1 3>&- &
		pid=$!
		wait_for_line "$B/out-$sig" '^listening on '
		[ -S "$B/c-$sig.sock" ]
		kill "-$sig" "$pid"
		rc=0
		wait "$pid" || rc=$?
		assert_equal "$rc" 0
		[ ! -e "$B/c-$sig.sock" ]
	done
}

# --- values and the request rules -----------------------------------------------

@test "leaf values come back raw, with GCE's headers and an ETag" {
	run fetch instance/hostname
	assert_output 200
	run cat "$B/body"
	assert_output "nestbox-1.us-central1-a.c.nestbox-test.internal"
	assert_equal "$(header Metadata-Flavor)" Google
	assert_equal "$(header Server)" "Metadata Server for VM"
	assert_equal "$(header Content-Type)" application/text
	run header ETag
	assert_output --regexp '^[0-9a-f]{16}$'
}

@test "the paths a GCE VM reads hold the fixture's values" {
	while read -r path want; do
		assert_equal "$(md "$path")" "$want"
	done <<-'EOF'
		instance/name nestbox-1
		instance/id 4520031799277581759
		instance/zone projects/123456789012/zones/us-central1-a
		instance/machine-type projects/123456789012/machineTypes/n2-standard-4
		instance/network-interfaces/0/ip 10.128.0.2
		instance/network-interfaces/0/gateway 10.128.0.1
		instance/network-interfaces/0/mtu 1460
		instance/network-interfaces/0/mac 42:01:0a:80:00:02
		instance/network-interfaces/0/ip-aliases/0 10.128.16.0/28
		instance/network-interfaces/0/access-configs/0/external-ip 34.123.45.67
		instance/scheduling/preemptible FALSE
		instance/scheduling/automatic-restart TRUE
		instance/scheduling/on-host-maintenance MIGRATE
		instance/service-accounts/default/email 123456789012-compute@developer.gserviceaccount.com
		instance/attributes/serial-port-enable TRUE
		instance/attributes/camelCaseKey kept as written
		instance/attributes/snake_key also kept
		project/project-id nestbox-test
		project/numeric-project-id 123456789012
		project/attributes/google-compute-default-zone us-central1-a
	EOF
}

@test "a request without Metadata-Flavor: Google gets GCE's 403 page" {
	run curl -sS --max-time 5 -D "$B/headers" -o "$B/body" -w '%{http_code}' "$MD/instance/name"
	assert_output 403
	run cat "$B/body"
	assert_output --partial "Your client does not have permission to get URL <code>/computeMetadata/v1/instance/name</code> from this server. Missing Metadata-Flavor:Google header."
	assert_output --partial "<title>Error 403 (Forbidden)!!1</title>"
	assert_equal "$(header Metadata-Flavor)" Google
	assert_equal "$(header Server)" "Metadata Server for VM"
	assert_equal "$(header Content-Type)" "text/html; charset=UTF-8"
	# A wrong value is as good as none.
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H 'Metadata-Flavor: Amazon' "$MD/instance/name"
	assert_output 403
}

@test "a request carrying X-Forwarded-For is refused with 403" {
	run fetch instance/name -H 'X-Forwarded-For: 192.168.122.10'
	assert_output 403
	run cat "$B/body"
	refute_output --partial nestbox-1
	assert_equal "$(header Metadata-Flavor)" Google
}

@test "a missing key, a leaf with a trailing slash and a camelCase path are 404" {
	for path in instance/attributes/nope instance/nope project/attributes/nope \
		instance/hostname/ instance/network-interfaces/1/ip instance/network-interfaces/00/ip \
		instance/machineType instance/service-accounts/default/token/ nope/; do
		run fetch "$path"
		assert_output 404
	done
	run cat "$B/body"
	assert_output --partial "Error 404 (Not Found)"
}

@test "a directory without its trailing slash redirects (301) to the slash form, query kept" {
	run fetch instance/network-interfaces
	assert_output 301
	assert_equal "$(header Location)" "$MD/instance/network-interfaces/"
	run cat "$B/body"
	assert_output "/computeMetadata/v1/instance/network-interfaces/"
	run fetch 'instance?recursive=true'
	assert_output 301
	assert_equal "$(header Location)" "$MD/instance/?recursive=true"
	run curl -sS --max-time 5 -o /dev/null -w '%{http_code}' -H 'Metadata-Flavor: Google' "$BASE/computeMetadata/v1"
	assert_output 301
	# curl -L follows it to the JSON.
	run curl -sSL --max-time 5 -H 'Metadata-Flavor: Google' "$MD/instance?recursive=true"
	assert_success
	assert_equal "$(jq -r .name <<<"$output")" nestbox-1
}

@test "the roots list their children" {
	run curl -sS --max-time 5 -H 'Metadata-Flavor: Google' "$BASE/"
	assert_output "computeMetadata/"
	run md ""
	assert_output "$(printf 'instance/\nproject/')"
}

@test "directory listings show one child a line, subdirectories with a trailing slash" {
	run md instance/
	assert_line attributes/
	assert_line network-interfaces/
	assert_line scheduling/
	assert_line service-accounts/
	assert_line hostname
	assert_line machine-type
	assert_line tags
	refute_line hostname/
	refute_line guest-attributes/
	run md instance/network-interfaces/
	assert_output 0/
	run md instance/network-interfaces/0/
	assert_line ip
	assert_line ip-aliases/
	assert_line access-configs/
	assert_line mtu
	run md instance/network-interfaces/0/ip-aliases/
	assert_output 0
	run md instance/service-accounts/
	assert_output default/
	run md instance/service-accounts/default/
	assert_output "$(printf 'aliases\nemail\nscopes\ntoken')"
	run md project/
	assert_output "$(printf 'attributes/\nnumeric-project-id\nproject-id')"
}

@test "attribute names are served verbatim, not kebab-cased" {
	run md instance/attributes/
	assert_output "$(printf 'camelCaseKey\nnestbox-guests\nserial-port-enable\nsnake_key')"
	run fetch instance/camel-case-key
	assert_output 404
}

@test "recursive=true on instance/ is JSON with camelCase keys, attributes verbatim, no token" {
	run fetch 'instance/?recursive=true'
	assert_output 200
	assert_equal "$(header Content-Type)" application/json
	j=$(cat "$B/body")
	assert_equal "$(jq -r .machineType <<<"$j")" projects/123456789012/machineTypes/n2-standard-4
	assert_equal "$(jq -r '.networkInterfaces[0].ip' <<<"$j")" 10.128.0.2
	assert_equal "$(jq -r '.networkInterfaces[0].gateway' <<<"$j")" 10.128.0.1
	assert_equal "$(jq -r '.networkInterfaces[0].mtu' <<<"$j")" 1460
	assert_equal "$(jq -r '.networkInterfaces[0].ipAliases[0]' <<<"$j")" 10.128.16.0/28
	assert_equal "$(jq -r '.networkInterfaces[0].accessConfigs[0].externalIp' <<<"$j")" 34.123.45.67
	assert_equal "$(jq -r .scheduling.onHostMaintenance <<<"$j")" MIGRATE
	assert_equal "$(jq -r .attributes.camelCaseKey <<<"$j")" "kept as written"
	assert_equal "$(jq -r '.attributes["serial-port-enable"]' <<<"$j")" TRUE
	assert_equal "$(jq -r '.serviceAccounts.default.email' <<<"$j")" 123456789012-compute@developer.gserviceaccount.com
	assert_equal "$(jq '.serviceAccounts.default | has("token")' <<<"$j")" false
	assert_equal "$(jq '.tags' -c <<<"$j")" '["nestbox","http-server"]'
	# The id is a JSON number, as in GCE's reply (jq would round it).
	assert_regex "$j" '"id":4520031799277581759[,}]'
	# No kebab-case key anywhere outside attributes.
	assert_equal "$(jq '[paths | select(.[0] != "attributes") | .[-1] | strings | select(test("-"))] | length' <<<"$j")" 0
}

@test "recursive=true on attributes/ is a JSON object of the attributes" {
	run md 'instance/attributes/?recursive=true'
	assert_equal "$(jq -c 'keys' <<<"$output")" '["camelCaseKey","nestbox-guests","serial-port-enable","snake_key"]'
	assert_equal "$(jq -r '.["nestbox-guests"] | fromjson | .guests[0].name' <<<"$output")" alpine
	run md 'project/?recursive=true'
	assert_equal "$(jq -r .projectId <<<"$output")" nestbox-test
	assert_equal "$(jq -r .numericProjectId <<<"$output")" 123456789012
}

@test "recursive=true&alt=text gives one 'path value' line per value" {
	run fetch 'instance/?recursive=true&alt=text'
	assert_output 200
	assert_equal "$(header Content-Type)" application/text
	run cat "$B/body"
	assert_line "network-interfaces/0/ip 10.128.0.2"
	assert_line "network-interfaces/0/ip-aliases/0 10.128.16.0/28"
	assert_line "machine-type projects/123456789012/machineTypes/n2-standard-4"
	assert_line "attributes/camelCaseKey kept as written"
	assert_line "tags nestbox"
	assert_line "tags http-server"
	refute_output --partial token
}

@test "alt=json and alt=text on leaves" {
	run fetch 'instance/hostname?alt=json'
	assert_output 200
	assert_equal "$(header Content-Type)" application/json
	assert_equal "$(cat "$B/body")" '"nestbox-1.us-central1-a.c.nestbox-test.internal"'
	assert_equal "$(md 'instance/hostname?alt=text')" nestbox-1.us-central1-a.c.nestbox-test.internal
	assert_equal "$(md 'instance/network-interfaces/0/mtu?alt=json')" 1460
	assert_equal "$(md 'project/numeric-project-id?alt=json')" 123456789012
	# tags is JSON unless text is asked for; scopes is a line each.
	assert_equal "$(md instance/tags)" '["nestbox","http-server"]'
	assert_equal "$(md 'instance/tags?alt=text')" "$(printf 'nestbox\nhttp-server')"
	assert_equal "$(md instance/service-accounts/default/scopes)" \
		"$(printf 'https://www.googleapis.com/auth/devstorage.read_only\nhttps://www.googleapis.com/auth/logging.write')"
	assert_equal "$(md 'instance/service-accounts/default/scopes?alt=json' | jq -r '.[1]')" https://www.googleapis.com/auth/logging.write
	# A recursive leaf is just the leaf.
	assert_equal "$(md 'instance/name?recursive=true')" nestbox-1
}

@test "bad query parameters are 400" {
	run fetch 'instance/hostname?alt=xml'
	assert_output 400
	run fetch 'instance/hostname?wait_for_change=true&timeout_sec=soon'
	assert_output 400
	run fetch 'instance/?alt=json'
	assert_output 400
}

@test "the service-account token is JSON, and a default one is made up" {
	run fetch instance/service-accounts/default/token
	assert_output 200
	assert_equal "$(header Content-Type)" application/json
	j=$(cat "$B/body")
	assert_equal "$(jq -r .access_token <<<"$j")" ya29.nestbox-test-token
	assert_equal "$(jq -r '.expires_in | type' <<<"$j")" number
	assert_equal "$(jq -r .expires_in <<<"$j")" 3599
	assert_equal "$(jq -r .token_type <<<"$j")" Bearer
	ctl -X PATCH -d '{"instance":{"serviceAccounts":{"default":{"token":null}}}}' http://x/document >/dev/null
	j=$(md instance/service-accounts/default/token)
	assert_regex "$(jq -r .access_token <<<"$j")" '^ya29\.'
	assert_equal "$(jq -r .token_type <<<"$j")" Bearer
}

@test "methods other than GET (and PUT, DELETE on guest attributes) are 405" {
	for m in POST DELETE PATCH HEAD OPTIONS; do
		run curl -sS --max-time 5 -X "$m" -o /dev/null -w '%{http_code}' -H 'Metadata-Flavor: Google' "$MD/instance/"
		assert_output 405
	done
	run fetch instance/attributes/foo -X PUT --data bar
	assert_output 405
	assert_equal "$(header Allow)" GET
	run fetch instance/attributes/foo -X DELETE
	assert_output 405
	run fetch instance/guest-attributes/ns/k -X POST
	assert_output 405
	assert_equal "$(header Allow)" "GET, PUT, DELETE"
	assert_equal "$(md instance/attributes/serial-port-enable)" TRUE
}

# --- ETags and waiting for changes ------------------------------------------------------

@test "an ETag is stable, follows its value, and ignores unrelated changes" {
	e1=$(etag instance/attributes/serial-port-enable)
	assert_equal "$(etag instance/attributes/serial-port-enable)" "$e1"
	r1=$(etag 'instance/?recursive=true')
	z1=$(etag instance/zone)
	refute [ "$e1" = "$z1" ]
	ctl -X PATCH -d '{"instance":{"attributes":{"other":"x"}}}' http://x/document >/dev/null
	assert_equal "$(etag instance/attributes/serial-port-enable)" "$e1"
	assert_equal "$(etag instance/zone)" "$z1"
	r2=$(etag 'instance/?recursive=true')
	refute [ "$r2" = "$r1" ]
	ctl -X PATCH -d '{"instance":{"attributes":{"serial-port-enable":"FALSE"}}}' http://x/document >/dev/null
	e2=$(etag instance/attributes/serial-port-enable)
	refute [ "$e2" = "$e1" ]
	# It is a hash of the value: the old value brings the old ETag back.
	ctl -X PATCH -d '{"instance":{"attributes":{"serial-port-enable":"TRUE"}}}' http://x/document >/dev/null
	assert_equal "$(etag instance/attributes/serial-port-enable)" "$e1"
}

@test "wait_for_change returns at once when last_etag differs, or is NONE" {
	t0=$(now_ms)
	run fetch 'instance/attributes/?recursive=true&wait_for_change=true&last_etag=0123456789abcdef&timeout_sec=5'
	assert_output 200
	assert_equal "$(jq -r '.["serial-port-enable"]' "$B/body")" TRUE
	run fetch 'instance/?recursive=true&alt=json&wait_for_change=true&last_etag=NONE&timeout_sec=5'
	assert_output 200
	assert_equal "$(jq -r .name "$B/body")" nestbox-1
	assert_equal "$(header ETag)" "$(etag 'instance/?recursive=true')"
	(($(now_ms) - t0 < 3000))
}

@test "wait_for_change honours timeout_sec: the current value and ETag, 200" {
	e=$(etag instance/attributes/serial-port-enable)
	t0=$(now_ms)
	run fetch "instance/attributes/serial-port-enable?wait_for_change=true&last_etag=$e&timeout_sec=1"
	elapsed=$(($(now_ms) - t0))
	assert_output 200
	assert_equal "$(cat "$B/body")" TRUE
	assert_equal "$(header ETag)" "$e"
	((elapsed >= 950 && elapsed < 4000)) || fail "returned after ${elapsed} ms"
}

@test "wait_for_change without last_etag waits for the next change" {
	curl -sS --max-time 8 -H 'Metadata-Flavor: Google' -o "$B/w" -D "$B/wh" \
		"$MD/instance/attributes/serial-port-enable?wait_for_change=true&timeout_sec=6" 3>&- &
	pid=$!
	wait_for_waiters 1
	ctl -X PATCH -d '{"instance":{"attributes":{"serial-port-enable":"FALSE"}}}' http://x/document >/dev/null
	wait "$pid"
	assert_equal "$(cat "$B/w")" FALSE
	assert_equal "$(header ETag "$B/wh")" "$(etag instance/attributes/serial-port-enable)"
}

@test "a waiter is not woken by a change elsewhere" {
	e=$(etag instance/attributes/serial-port-enable)
	t0=$(now_ms)
	curl -sS --max-time 8 -H 'Metadata-Flavor: Google' -o "$B/w" -D "$B/wh" \
		"$MD/instance/attributes/serial-port-enable?wait_for_change=true&last_etag=$e&timeout_sec=1" 3>&- &
	pid=$!
	wait_for_waiters 1
	ctl -X PATCH -d '{"instance":{"attributes":{"unrelated":"1"},"hostname":"h2"}}' http://x/document >/dev/null
	wait "$pid"
	elapsed=$(($(now_ms) - t0))
	((elapsed >= 950)) || fail "woken after ${elapsed} ms"
	assert_equal "$(cat "$B/w")" TRUE
	assert_equal "$(header ETag "$B/wh")" "$e"
}

@test "20 concurrent waiters are all woken by one patch, each with the new value" {
	e=$(etag 'instance/?recursive=true')
	pids=()
	for i in $(seq 20); do
		curl -sS --max-time 10 -H 'Metadata-Flavor: Google' -o "$B/b.$i" -D "$B/h.$i" \
			"$MD/instance/?recursive=true&alt=json&wait_for_change=true&last_etag=$e&timeout_sec=8" 3>&- &
		pids+=($!)
	done
	wait_for_waiters 20
	t0=$(now_ms)
	ctl -X PATCH -d '{"instance":{"attributes":{"nestbox-guests":"{\"guests\":[]}"}}}' http://x/document >/dev/null
	for p in "${pids[@]}"; do wait "$p"; done
	elapsed=$(($(now_ms) - t0))
	((elapsed < 5000)) || fail "woken after ${elapsed} ms"
	new=$(etag 'instance/?recursive=true')
	refute [ "$new" = "$e" ]
	for i in $(seq 20); do
		assert_equal "$(jq -r '.attributes["nestbox-guests"]' "$B/b.$i")" '{"guests":[]}'
		assert_equal "$(header ETag "$B/h.$i")" "$new"
	done
	assert_equal "$(ctl http://x/status | jq .waiters)" 0
}

@test "wait_for_change on a directory needs recursive=true" {
	run fetch 'instance/attributes/?wait_for_change=true&timeout_sec=1'
	assert_output 400
}

# --- guest attributes ----------------------------------------------------------------

@test "guest attributes are refused (403) unless enable-guest-attributes is TRUE" {
	run fetch instance/guest-attributes/nestbox/status -X PUT --data running
	assert_output 403
	run fetch instance/guest-attributes/
	assert_output 403
	run ctl http://x/guest-attributes
	assert_output "{}"
}

@test "with enable-guest-attributes a PUT stores a value the VM and the control side read back" {
	ctl -X PATCH -d '{"instance":{"attributes":{"enable-guest-attributes":"true"}}}' http://x/document >/dev/null
	run fetch instance/guest-attributes/nestbox/status -X PUT --data running
	assert_output 200
	run fetch instance/guest-attributes/nestbox/guests -X PUT --data-binary '{"alpine":"up"}'
	assert_output 200
	assert_equal "$(md instance/guest-attributes/nestbox/status)" running
	assert_equal "$(md instance/guest-attributes/nestbox/guests)" '{"alpine":"up"}'
	assert_equal "$(md instance/guest-attributes/)" nestbox/
	assert_equal "$(md instance/guest-attributes/nestbox/)" "$(printf 'guests\nstatus')"
	assert_equal "$(md 'instance/guest-attributes/?recursive=true' | jq -r .nestbox.status)" running
	run md instance/
	assert_line guest-attributes/
	assert_equal "$(ctl http://x/guest-attributes | jq -r .nestbox.status)" running
	assert_equal "$(ctl http://x/document | jq -r .instance.guestAttributes.nestbox.guests)" '{"alpine":"up"}'
	# DELETE removes one, as GCE does (a removed guest's); gone already: 404
	run fetch instance/guest-attributes/nestbox/guests -X DELETE
	assert_output 200
	run fetch instance/guest-attributes/nestbox/guests
	assert_output 404
	assert_equal "$(md instance/guest-attributes/nestbox/)" status
	run fetch instance/guest-attributes/nestbox/guests -X DELETE
	assert_output 404
	run fetch instance/guest-attributes/nestbox/status -X DELETE
	assert_output 200
	run fetch instance/guest-attributes/nestbox/
	assert_output 404
	run fetch instance/guest-attributes/nestbox -X DELETE
	assert_output 400
}

@test "enable-guest-attributes: case-insensitive, from project attributes, instance overrides" {
	ctl -X PATCH -d '{"project":{"attributes":{"enable-guest-attributes":"TRUE"}}}' http://x/document >/dev/null
	run fetch instance/guest-attributes/ns/k -X PUT --data v
	assert_output 200
	ctl -X PATCH -d '{"instance":{"attributes":{"enable-guest-attributes":"FALSE"}}}' http://x/document >/dev/null
	run fetch instance/guest-attributes/ns/k -X PUT --data v
	assert_output 403
	ctl -X PATCH -d '{"instance":{"attributes":{"enable-guest-attributes":"True"}}}' http://x/document >/dev/null
	run fetch instance/guest-attributes/ns/k -X PUT --data w
	assert_output 200
	assert_equal "$(md instance/guest-attributes/ns/k)" w
}

@test "guest attribute writes are checked: NAMESPACE/KEY, names, size" {
	ctl -X PATCH -d '{"instance":{"attributes":{"enable-guest-attributes":"TRUE"}}}' http://x/document >/dev/null
	run fetch instance/guest-attributes/onlyns -X PUT --data v
	assert_output 400
	run fetch instance/guest-attributes/a/b/c -X PUT --data v
	assert_output 400
	run fetch 'instance/guest-attributes/ns/bad%20key' -X PUT --data v
	assert_output 400
	head -c 65537 /dev/zero | tr '\0' x >"$B/big"
	run fetch instance/guest-attributes/ns/big -X PUT --data-binary @"$B/big"
	assert_output 400
	head -c 65536 /dev/zero | tr '\0' x >"$B/max"
	run fetch instance/guest-attributes/ns/max -X PUT --data-binary @"$B/max"
	assert_output 200
	assert_equal "$(md instance/guest-attributes/ns/max | wc -c)" 65536
}

@test "a guest attribute write does not wake or change a watch on instance/" {
	ctl -X PATCH -d '{"instance":{"attributes":{"enable-guest-attributes":"TRUE"}}}' http://x/document >/dev/null
	e=$(etag 'instance/?recursive=true')
	run fetch instance/guest-attributes/nestbox/status -X PUT --data running
	assert_output 200
	assert_equal "$(etag 'instance/?recursive=true')" "$e"
	assert_equal "$(md 'instance/?recursive=true' | jq 'has("guestAttributes")')" false
}

# --- the control interface ------------------------------------------------------------

@test "GET /document returns the document; PUT replaces it" {
	run diff <(ctl http://x/document | jq -S .) <(jq -S . "$FIXTURE")
	assert_success
	jq '.instance.hostname = "other.example" | del(.instance.attributes)' "$FIXTURE" >"$B/doc.json"
	run ctl -X PUT --data-binary @"$B/doc.json" http://x/document
	assert_success
	assert_equal "$(jq -r .ok <<<"$output")" true
	assert_equal "$(md instance/hostname)" other.example
	run fetch instance/attributes/serial-port-enable
	assert_output 404
	assert_equal "$(md instance/attributes/)" ""
}

@test "PATCH /document is a JSON merge patch: set and delete one attribute" {
	ctl -X PATCH -d '{"instance":{"attributes":{"new-key":"v1","serial-port-enable":null}}}' http://x/document >/dev/null
	assert_equal "$(md instance/attributes/new-key)" v1
	run fetch instance/attributes/serial-port-enable
	assert_output 404
	assert_equal "$(md instance/attributes/snake_key)" "also kept"
	assert_equal "$(md instance/name)" nestbox-1
}

@test "kebab-case keys in a document are accepted and stored camelCase" {
	ctl -X PATCH -d '{"instance":{"machine-type":"projects/1/machineTypes/e2-small"}}' http://x/document >/dev/null
	assert_equal "$(md instance/machine-type)" projects/1/machineTypes/e2-small
	assert_equal "$(ctl http://x/document | jq -r .instance.machineType)" projects/1/machineTypes/e2-small
	assert_equal "$(ctl http://x/document | jq 'has("machine-type")')" false
}

@test "a bad document or patch is refused with 400 and a message, and the server goes on" {
	run ctl -X PUT -d '{"instance":' http://x/document
	assert_output --partial "not valid JSON"
	run ctl -o /dev/null -w '%{http_code}' -X PUT -d '[1,2]' http://x/document
	assert_output 400
	run ctl -X PUT -d '{"instance":{}}' http://x/document
	assert_output --partial "project must be an object"
	run ctl -X PATCH -d '{"instance":{"attributes":{"n":5}}}' http://x/document
	assert_output --partial "must be a string"
	run ctl -X PATCH -d '{"instance":{"attributes":{"bad key":"v"}}}' http://x/document
	assert_output --partial "[A-Za-z0-9_-]"
	run ctl -X PATCH -d '{"instance":{"networkInterfaces":[{"ipAliases":"10.0.0.0/24"}]}}' http://x/document
	assert_output --partial "ip-aliases must be a list of strings"
	python3 -c 'import json; print(json.dumps({"instance": {"attributes": {"big": "x" * (256 * 1024 + 1)}}}))' >"$B/big.json"
	run ctl -X PATCH --data-binary @"$B/big.json" http://x/document
	assert_output --partial "over GCE's 262144"
	run ctl -o /dev/null -w '%{http_code}' -X POST -d '{}' http://x/document
	assert_output 405
	run ctl -o /dev/null -w '%{http_code}' http://x/nope
	assert_output 404
	assert_equal "$(md instance/name)" nestbox-1
	assert_equal "$(md instance/attributes/serial-port-enable)" TRUE
}

@test "GET /requests is the request log: method, path, query, status, headers" {
	ctl -X DELETE http://x/requests >/dev/null
	md 'instance/hostname?alt=text&marker=r1' >/dev/null
	curl -sS --max-time 5 -o /dev/null "$MD/instance/name"
	run ctl http://x/requests
	assert_equal "$(jq length <<<"$output")" 2
	assert_equal "$(jq -r '.[0].method' <<<"$output")" GET
	assert_equal "$(jq -r '.[0].path' <<<"$output")" /computeMetadata/v1/instance/hostname
	assert_equal "$(jq -r '.[0].query' <<<"$output")" "alt=text&marker=r1"
	assert_equal "$(jq -r '.[0].status' <<<"$output")" 200
	assert_equal "$(jq -r '.[0].headers["Metadata-Flavor"]' <<<"$output")" Google
	assert_equal "$(jq -r '.[1].status' <<<"$output")" 403
	assert_equal "$(jq -r '.[1].headers | has("Metadata-Flavor")' <<<"$output")" false
	# The --log file has the same entries, a JSON line each.
	run grep -c 'marker=r1' "$BATS_FILE_TMPDIR/requests.jsonl"
	assert_output 1
	run jq -r 'select(.query == "alt=text&marker=r1") | .status' "$BATS_FILE_TMPDIR/requests.jsonl"
	assert_output 200
}

# --- faults --------------------------------------------------------------------

@test "a 503 fault answers the next N requests, then the server recovers" {
	ctl -X POST -d '{"status":503,"count":3}' http://x/faults >/dev/null
	for i in 1 2 3; do
		run fetch instance/hostname
		assert_output 503
	done
	assert_equal "$(header Metadata-Flavor)" Google
	run fetch instance/hostname
	assert_output 200
	assert_equal "$(ctl http://x/faults | jq '.faults | length')" 0
}

@test "a fault can be limited to a path prefix, or last until cleared" {
	ctl -X POST -d '{"status":500,"count":-1,"path":"instance/attributes/"}' http://x/faults >/dev/null
	for i in 1 2 3; do
		run fetch instance/attributes/serial-port-enable
		assert_output 500
	done
	run fetch instance/hostname
	assert_output 200
	ctl -X DELETE http://x/faults >/dev/null
	run fetch instance/attributes/serial-port-enable
	assert_output 200
}

@test "a delay fault holds the reply" {
	ctl -X POST -d '{"delay_ms":400,"count":1}' http://x/faults >/dev/null
	t0=$(now_ms)
	run fetch instance/hostname
	elapsed=$(($(now_ms) - t0))
	assert_output 200
	((elapsed >= 400)) || fail "replied after ${elapsed} ms"
}

@test "a close fault drops the connection without a reply, once" {
	ctl -X POST -d '{"close":true,"count":1}' http://x/faults >/dev/null
	run curl -sS --max-time 5 -H 'Metadata-Flavor: Google' "$MD/instance/hostname"
	assert_equal "$status" 52 # curl: empty reply from server
	run fetch instance/hostname
	assert_output 200
}

@test "down closes the listening socket (connection refused), up reopens it" {
	run ctl -X POST -d '{"down":true}' http://x/faults
	assert_equal "$(jq .up <<<"$output")" false
	run curl -sS --max-time 5 -H 'Metadata-Flavor: Google' "$MD/instance/hostname"
	assert_equal "$status" 7 # curl: failed to connect
	# The control interface still answers, and the document can change meanwhile.
	ctl -X PATCH -d '{"instance":{"hostname":"back"}}' http://x/document >/dev/null
	run ctl -X POST -d '{"down":false}' http://x/faults
	assert_equal "$(jq .up <<<"$output")" true
	assert_equal "$(md instance/hostname)" back
}

@test "DELETE /faults clears pending faults; bad fault specs are 400" {
	ctl -X POST -d '{"status":503,"count":5}' http://x/faults >/dev/null
	ctl -X DELETE http://x/faults >/dev/null
	run fetch instance/hostname
	assert_output 200
	for spec in '{}' '{"status":200}' '{"status":503,"count":0}' '{"status":503,"close":true}' \
		'{"down":"yes"}' '{"down":true,"count":1}' '{"delay_ms":-5}' '{"explode":true}' 'nonsense'; do
		run ctl -o /dev/null -w '%{http_code}' -X POST -d "$spec" http://x/faults
		assert_output 400
	done
	assert_equal "$(ctl http://x/faults | jq '.faults | length')" 0
}

@test "maintenance-event and preempted: always served, set by control commands, watchable" {
	assert_equal "$(md instance/maintenance-event)" NONE
	assert_equal "$(md instance/preempted)" FALSE
	e=$(etag instance/maintenance-event)
	curl -sS --max-time 8 -H 'Metadata-Flavor: Google' -o "$B/w" \
		"$MD/instance/maintenance-event?wait_for_change=true&last_etag=$e&timeout_sec=6" 3>&- &
	pid=$!
	wait_for_waiters 1
	run ctl -X POST -d '{"event":"MIGRATE_ON_HOST_MAINTENANCE"}' http://x/maintenance-event
	assert_output --partial '"ok": true'
	wait "$pid"
	assert_equal "$(cat "$B/w")" MIGRATE_ON_HOST_MAINTENANCE
	run ctl -X POST -d '{"event":"SOON"}' http://x/maintenance-event
	assert_output --partial "event must be one of"
	ctl -X POST -d '{"event":"NONE"}' http://x/maintenance-event >/dev/null
	assert_equal "$(md instance/maintenance-event)" NONE
	ctl -X POST http://x/preempt >/dev/null
	assert_equal "$(md instance/preempted)" TRUE
	run md instance/
	assert_line maintenance-event
	assert_line preempted
}
