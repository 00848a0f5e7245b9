# scripts/gce-import, scripts/gce-create and scripts/gce-mig against the fake
# gcloud in tests/fixtures/fake-gcloud (first on PATH; it records each call's
# argv in $FAKE_GCLOUD_LOG). The real gcloud, if the host has one, is never
# run: setup checks that `gcloud` is the fake. Tarball and manifest are small
# fakes made here, so `make` need not have run.
load helpers

FAKE=$TOP/tests/fixtures/fake-gcloud
IMPORT=$TOP/scripts/gce-import
CREATE=$TOP/scripts/gce-create
MIG=$TOP/scripts/gce-mig
VMX=https://www.googleapis.com/compute/v1/projects/vm-options/global/licenses/enable-vmx
SHA=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

# A PATH like the test's own, less every gcloud: directories that hold one are
# replaced by a directory of links to everything else in them.
setup_file() {
	local d f farm dirs=() n=0
	IFS=: read -ra dirs <<<"$PATH"
	for d in "${dirs[@]}"; do
		[ -n "$d" ] || continue
		if [ -e "$d/gcloud" ]; then
			n=$((n + 1))
			farm=$BATS_FILE_TMPDIR/nogcloud.$n
			mkdir -p "$farm"
			ln -s "$d"/* "$farm/"
			rm "$farm/gcloud"
			d=$farm
		fi
		printf '%s:' "$d"
	done >"$BATS_FILE_TMPDIR/nogcloud-path"
}

setup() {
	export PATH=$FAKE:$PATH
	[ "$(command -v gcloud)" = "$FAKE/gcloud" ]
	export FAKE_GCLOUD_LOG=$BATS_TEST_TMPDIR/gcloud.log
	export FAKE_GCLOUD_MODE=ok
	unset FAKE_GCLOUD_PROJECT FAKE_GCLOUD_ZONE FAKE_GCLOUD_SERIAL
	: >"$FAKE_GCLOUD_LOG"
	TARBALL=$BATS_TEST_TMPDIR/nestbox-gce.tar.gz
	MANIFEST=$BATS_TEST_TMPDIR/manifest.txt
	head -c 4096 /dev/urandom >"$BATS_TEST_TMPDIR/disk.raw"
	tar -C "$BATS_TEST_TMPDIR" --format=oldgnu -czf "$TARBALL" disk.raw
	make_manifest 0.1.0
	GUESTS=$BATS_TEST_TMPDIR/guests.json
	echo '{"guests": [{"name": "web", "vcpus": 1, "memory": "512M"}]}' >"$GUESTS"
}

# make_manifest VERSION: a manifest for $TARBALL with image sha256 $SHA.
make_manifest() {
	cat >"$MANIFEST" <<-EOF
		# nestbox $1 manifest
		nestbox $1
		kernel 6.12.107+deb13-cloud-amd64
		package busybox 1.37.0
		  source busybox-1.37.0.tar.bz2 sha256 3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4
		image nestbox.img sha256 $SHA size 1073741824
		image nestbox-gce.tar.gz sha256 $(sha256sum "$TARBALL" | cut -d' ' -f1) size $(stat -c %s "$TARBALL")
	EOF
}

# quote WORD...: shell-quoted as Python's shlex.join does.
quote() {
	local w out=() q="'\"'\"'"
	for w in "$@"; do
		if [[ -n $w && $w =~ ^[A-Za-z0-9@%+=:,./_-]+$ ]]; then
			out+=("$w")
		else
			out+=("'${w//\'/$q}'")
		fi
	done
	printf '%s\n' "${out[*]}"
}

# calls: the recorded gcloud calls, one shell-quoted command a line. Reads the
# fake's JSON (strings with \\ \" \n \t \r escapes) without a subprocess.
calls() {
	local line l s re='^"(([^"\\]|\\.)*)",?' args
	while IFS= read -r line; do
		l=${line#\[} l=${l%\]} args=(gcloud)
		while [[ $l =~ $re ]]; do
			s=${BASH_REMATCH[1]} l=${l:${#BASH_REMATCH[0]}}
			s=${s//\\\"/\"}
			printf -v s '%b' "$s"
			args+=("$s")
		done
		[ -z "$l" ] || { echo "calls: can not parse: $line" >&2; return 1; }
		quote "${args[@]}"
	done <"$FAKE_GCLOUD_LOG"
}

# no_calls: gcloud was not run at all.
no_calls() {
	run calls
	assert_output ''
}

import() { "$IMPORT" --tarball "$TARBALL" --manifest "$MANIFEST" "$@"; }

IMAGE=nestbox-0-1-0-01234567
IMAGES_CREATE="gcloud compute images create $IMAGE --project proj-1 --source-uri gs://bkt/nestbox/$IMAGE.tar.gz --family nestbox --description 'nestbox 0.1.0, nestbox.img sha256 $SHA' --licenses $VMX --guest-os-features GVNIC,VIRTIO_SCSI_MULTIQUEUE --labels nestbox-version=0-1-0,nestbox-sha256=${SHA:0:63}"

@test "the fake gcloud records argv exactly; calls reads it back as shlex.join would" {
	gcloud auth list "it's" 'a "quoted" \ back\slash' $'two\nlines\tand tab' '' '--format=value(x)' >/dev/null
	run calls
	assert_output "$(python3 -c 'import json, shlex, sys
for l in open(sys.argv[1]):
    print(shlex.join(["gcloud"] + json.loads(l)))' "$FAKE_GCLOUD_LOG")"
	assert_output --partial "'it'\"'\"'s'"
}

# --- gce-import ---------------------------------------------------------------

@test "gce-import --help describes every option" {
	run "$IMPORT" --help
	assert_success
	for o in --project --bucket --name --family --tarball --manifest --force --dry-run; do
		assert_output --partial "$o"
	done
	no_calls
}

@test "gce-import: the exact gcloud commands of a default import" {
	run import --project proj-1 --bucket gs://bkt/nestbox
	assert_success
	assert_line "$IMAGE"
	run calls
	assert_output "gcloud auth list --filter=status:ACTIVE '--format=value(account)'
gcloud compute images describe $IMAGE --project proj-1 '--format=value(name)'
gcloud storage cp $TARBALL gs://bkt/nestbox/$IMAGE.tar.gz --project proj-1
$IMAGES_CREATE"
}

@test "gce-import: the image carries the enable-vmx licence, BIOS-only features and a 63-character sha256 label" {
	run import --project proj-1 --bucket gs://bkt
	assert_success
	run calls
	assert_line --partial "--licenses $VMX "
	assert_line --partial "--guest-os-features GVNIC,VIRTIO_SCSI_MULTIQUEUE "
	refute_output --partial UEFI_COMPATIBLE
	label=$(grep -o 'nestbox-sha256=[0-9a-f]*' "$FAKE_GCLOUD_LOG")
	[ "$label" = "nestbox-sha256=${SHA:0:63}" ]
	[ ${#SHA} -eq 64 ]
}

@test "gce-import: name and version label are lowercase and valid for GCE" {
	make_manifest 2.0.0-RC1+git.5
	run import --project proj-1 --bucket gs://bkt
	assert_success
	assert_line nestbox-2-0-0-rc1-git-5-01234567
	run calls
	assert_line --partial "gcloud compute images create nestbox-2-0-0-rc1-git-5-01234567 "
	assert_line --partial "--labels nestbox-version=2-0-0-rc1-git-5,nestbox-sha256=${SHA:0:63}"
}

@test "gce-import: --name, --family and --project=VALUE" {
	run import --project=proj-2 --bucket gs://bkt/ --name my-image --family nestbox-dev
	assert_success
	run calls
	assert_line "gcloud storage cp $TARBALL gs://bkt/my-image.tar.gz --project proj-2"
	assert_line --partial "gcloud compute images create my-image --project proj-2 --source-uri gs://bkt/my-image.tar.gz --family nestbox-dev "
}

@test "gce-import --dry-run prints the commands and runs nothing" {
	run import --project proj-1 --bucket gs://bkt/nestbox --dry-run
	assert_success
	assert_output "gcloud storage cp $TARBALL gs://bkt/nestbox/$IMAGE.tar.gz --project proj-1
$IMAGES_CREATE"
	no_calls
}

@test "gce-import --dry-run prints exactly what a real run does" {
	"$IMPORT" --tarball "$TARBALL" --manifest "$MANIFEST" --project proj-1 --bucket gs://bkt --dry-run >"$BATS_TEST_TMPDIR/dry" 2>/dev/null
	import --project proj-1 --bucket gs://bkt >/dev/null 2>&1
	run diff "$BATS_TEST_TMPDIR/dry" <(calls | grep -Ev '^gcloud (auth list|compute images describe) ')
	assert_success
}

@test "gce-import --dry-run --force shows the delete" {
	run import --project proj-1 --bucket gs://bkt --dry-run --force
	assert_success
	assert_line "gcloud compute images delete $IMAGE --project proj-1 --quiet"
	no_calls
}

@test "gce-import refuses to replace an existing image without --force" {
	export FAKE_GCLOUD_MODE=exists
	run import --project proj-1 --bucket gs://bkt
	assert_failure 1
	assert_output --partial "image $IMAGE already exists in project proj-1: pass --force"
	run calls
	refute_output --partial "storage cp"
	refute_output --partial "images create"
	refute_output --partial "images delete"
}

@test "gce-import --force deletes the existing image, then re-creates it" {
	export FAKE_GCLOUD_MODE=exists
	run import --project proj-1 --bucket gs://bkt/nestbox --force
	assert_success
	run calls
	assert_output "gcloud auth list --filter=status:ACTIVE '--format=value(account)'
gcloud compute images describe $IMAGE --project proj-1 '--format=value(name)'
gcloud compute images delete $IMAGE --project proj-1 --quiet
gcloud storage cp $TARBALL gs://bkt/nestbox/$IMAGE.tar.gz --project proj-1
$IMAGES_CREATE"
}

@test "gce-import: gcloud's 'already exists' error surfaces (an image made meanwhile)" {
	export FAKE_GCLOUD_MODE=exists
	# describe finds nothing, as before someone else created the image
	cat >"$BATS_TEST_TMPDIR/gcloud" <<-EOF
		#!/usr/bin/env bash
		[ "\$1 \$2 \$3" != "compute images describe" ] || exit 1
		exec "$FAKE/gcloud" "\$@"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/gcloud"
	PATH=$BATS_TEST_TMPDIR:$PATH run import --project proj-1 --bucket gs://bkt
	assert_failure 1
	assert_output --partial "ERROR: (gcloud.compute.images.create) Could not fetch resource:"
	assert_output --partial " - The resource 'projects/proj-1/global/images/$IMAGE' already exists"
	assert_output --partial "creating image $IMAGE from gs://bkt/$IMAGE.tar.gz failed"
}

@test "gce-import without gcloud on PATH says how to install it" {
	PATH=$(cat "$BATS_FILE_TMPDIR/nogcloud-path") run import --project proj-1 --bucket gs://bkt
	assert_failure 1
	assert_output --partial "gcloud not found on PATH: install the Google Cloud CLI"
	assert_output --partial "gcloud auth login"
	no_calls
}

@test "gce-import --dry-run works without gcloud" {
	PATH=$(cat "$BATS_FILE_TMPDIR/nogcloud-path") run import --project proj-1 --bucket gs://bkt --dry-run
	assert_success
	assert_line --partial "gcloud compute images create $IMAGE "
}

@test "gce-import when gcloud is not logged in" {
	export FAKE_GCLOUD_MODE=not-logged-in
	run import --project proj-1 --bucket gs://bkt
	assert_failure 1
	assert_output --partial "gcloud has no active account: run 'gcloud auth login'"
	run calls
	assert_output "gcloud auth list --filter=status:ACTIVE '--format=value(account)'"
}

@test "gce-import takes the project from gcloud's configuration, else fails" {
	export FAKE_GCLOUD_PROJECT=from-config
	run import --bucket gs://bkt
	assert_success
	run calls
	assert_line "gcloud config get-value project"
	assert_line --partial "gcloud compute images create $IMAGE --project from-config "
	unset FAKE_GCLOUD_PROJECT
	run import --bucket gs://bkt
	assert_failure 1
	assert_output --partial "no project: pass --project PROJECT or run 'gcloud config set project PROJECT'"
}

@test "gce-import: a missing tarball, a bad manifest, a stale tarball" {
	run "$IMPORT" --project p --bucket gs://bkt --tarball "$BATS_TEST_TMPDIR/none.tar.gz" --manifest "$MANIFEST"
	assert_failure 1
	assert_output --partial "no tarball at $BATS_TEST_TMPDIR/none.tar.gz"
	grep -v '^image nestbox.img' "$MANIFEST" >"$BATS_TEST_TMPDIR/m2"
	run "$IMPORT" --project p --bucket gs://bkt --tarball "$TARBALL" --manifest "$BATS_TEST_TMPDIR/m2"
	assert_failure 1
	assert_output --partial "has no 'image nestbox.img sha256 HEX size N' line"
	echo more >>"$TARBALL"
	run import --project p --bucket gs://bkt
	assert_failure 1
	assert_output --partial "does not match $MANIFEST"
	no_calls
}

@test "gce-import usage errors exit 2" {
	run import --project p
	assert_failure 2
	assert_output --partial "--bucket gs://BUCKET is required"
	run import --project p --bucket my-bucket
	assert_failure 2
	run import --project p --bucket gs://bkt --name Nestbox_1
	assert_failure 2
	assert_output --partial "not a valid image name"
	run import --project p --bucket gs://bkt --frobnicate
	assert_failure 2
	assert_output --partial "unknown argument: --frobnicate"
	run import --project p --bucket
	assert_failure 2
	no_calls
}

@test "gce-import: an upload failure stops before the image is created" {
	cat >"$BATS_TEST_TMPDIR/gcloud" <<-EOF
		#!/usr/bin/env bash
		if [ "\$1 \$2" = "storage cp" ]; then
			"$FAKE/gcloud" "\$@"
			echo "ERROR: (gcloud.storage.cp) HTTPError 403: tester@example.com does not have storage.objects.create access" >&2
			exit 1
		fi
		exec "$FAKE/gcloud" "\$@"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/gcloud"
	PATH=$BATS_TEST_TMPDIR:$PATH run import --project p --bucket gs://bkt
	assert_failure 1
	assert_output --partial "HTTPError 403"
	assert_output --partial "upload to gs://bkt/$IMAGE.tar.gz failed"
	run calls
	refute_output --partial "images create"
}

# --- gce-create ---------------------------------------------------------------

# A bounded wait everywhere, so a regression fails fast instead of hanging.
create() { "$CREATE" --project proj-1 --zone us-central1-a --name l1 --timeout 10 "$@"; }

INSTANCES_CREATE="gcloud compute instances create l1 --project proj-1 --zone us-central1-a --machine-type n2-standard-4 --min-cpu-platform 'Intel Cascade Lake' --enable-nested-virtualization --image-family nestbox --boot-disk-size 20GB --metadata enable-guest-attributes=TRUE,serial-port-enable=TRUE"
TAIL="gcloud compute instances tail-serial-port-output l1 --zone us-central1-a --project proj-1"

@test "gce-create --help describes every option" {
	run "$CREATE" --help
	assert_success
	for o in --project --zone --name --image --image-family --machine-type --guests --spot --preemptible --timeout --no-follow --dry-run; do
		assert_output --partial "$o"
	done
	no_calls
}

@test "gce-create: the exact gcloud commands, then ready on the serial console" {
	run create --guests "$GUESTS"
	assert_success
	assert_line "nestbox: ready"
	assert_line "gce-create: l1 is ready"
	run calls
	assert_output "gcloud auth list --filter=status:ACTIVE '--format=value(account)'
$INSTANCES_CREATE --metadata-from-file nestbox-guests=$GUESTS
$TAIL"
}

@test "gce-create: nested virtualization flag, CPU platform and metadata keys" {
	run create --guests "$GUESTS" --no-follow
	assert_success
	args=$(grep '"instances","create"' "$FAKE_GCLOUD_LOG")
	[[ $args == *'"--enable-nested-virtualization"'* ]]
	[[ $args == *'"--min-cpu-platform","Intel Cascade Lake"'* ]]
	[[ $args == *'"--metadata","enable-guest-attributes=TRUE,serial-port-enable=TRUE"'* ]]
	[[ $args == *"\"--metadata-from-file\",\"nestbox-guests=$GUESTS\""* ]]
}

@test "gce-create: --image, --machine-type n1, --spot, --network-config, extra gcloud arguments" {
	echo '{"subnet": "192.168.50.0/24"}' >"$BATS_TEST_TMPDIR/net.json"
	run create --image nestbox-0-1-0-01234567 --image-project images-proj --machine-type n1-standard-8 \
		--guests "$GUESTS" --network-config "$BATS_TEST_TMPDIR/net.json" --spot --boot-disk-size 100GB \
		--boot-disk-type pd-ssd --no-follow -- --service-account sa@proj-1.iam.gserviceaccount.com --scopes cloud-platform
	assert_success
	run calls
	assert_line "gcloud compute instances create l1 --project proj-1 --zone us-central1-a --machine-type n1-standard-8 --min-cpu-platform 'Intel Haswell' --enable-nested-virtualization --image nestbox-0-1-0-01234567 --image-project images-proj --boot-disk-size 100GB --boot-disk-type pd-ssd --metadata enable-guest-attributes=TRUE,serial-port-enable=TRUE --metadata-from-file nestbox-guests=$GUESTS,nestbox-network=$BATS_TEST_TMPDIR/net.json --provisioning-model SPOT --service-account sa@proj-1.iam.gserviceaccount.com --scopes cloud-platform"
	refute_output --partial tail-serial-port-output
}

@test "gce-create: each Intel series gets a minimum CPU platform it has" {
	for mt in "n1-standard-4:Intel Haswell" "custom-4-8192:Intel Haswell" "n2-highmem-8:Intel Cascade Lake" \
		"n2-custom-4-8192:Intel Cascade Lake" "c2-standard-8:Intel Cascade Lake" "c3-standard-4:Intel Sapphire Rapids" \
		"n4-standard-4:Intel Emerald Rapids" "c4-standard-4:Intel Emerald Rapids"; do
		run create --machine-type "${mt%%:*}" --dry-run --no-follow
		assert_success
		assert_output --partial "--machine-type ${mt%%:*} --min-cpu-platform '${mt#*:}' --enable-nested-virtualization"
	done
	run create --machine-type n2-standard-4 --min-cpu-platform "Intel Ice Lake" --dry-run --no-follow
	assert_output --partial "--min-cpu-platform 'Intel Ice Lake'"
	no_calls
}

@test "gce-create refuses E2 machine types with the reason" {
	for mt in e2-standard-4 e2-medium e2-highcpu-16; do
		run create --machine-type "$mt"
		assert_failure 2
		assert_output --partial "machine type $mt: E2 machine types do not support nested virtualization"
		assert_output --partial "Intel CPU with VMX (Haswell or newer)"
	done
	run create --machine-type f1-micro
	assert_failure 2
	assert_output --partial "shared-core"
	no_calls
}

@test "gce-create refuses AMD machine types with the reason" {
	for mt in n2d-standard-4 c2d-standard-4 t2d-standard-4 c3d-standard-4 c4d-standard-4 n4d-standard-4; do
		run create --machine-type "$mt"
		assert_failure 2
		assert_output --partial "machine type $mt is AMD"
		assert_output --partial "nested virtualization on GCE needs an Intel CPU with VMX (Haswell or newer)"
	done
	no_calls
}

@test "gce-create refuses Arm machine types with the reason" {
	for mt in t2a-standard-4 c4a-standard-4 n4a-standard-4; do
		run create --machine-type "$mt"
		assert_failure 2
		assert_output --partial "machine type $mt is Arm"
		assert_output --partial "needs an Intel CPU with VMX"
	done
	no_calls
}

@test "gce-create: an unknown series needs --min-cpu-platform, which must be Haswell or newer" {
	run create --machine-type m3-megamem-64
	assert_failure 2
	assert_output --partial "pass --min-cpu-platform"
	run create --machine-type m3-megamem-64 --min-cpu-platform "Intel Ice Lake" --no-follow
	assert_success
	for p in "Intel Ivy Bridge" "Intel Sandy Bridge" "AMD Milan"; do
		run create --machine-type n1-standard-4 --min-cpu-platform "$p"
		assert_failure 2
		assert_output --partial "--min-cpu-platform '$p': nested virtualization on GCE needs an Intel CPU with VMX (Haswell or newer)"
	done
}

@test "gce-create refuses a guests file that is not JSON, or missing" {
	printf '{"guests": [{"name": "web",}]}\n' >"$BATS_TEST_TMPDIR/bad.json"
	run create --guests "$BATS_TEST_TMPDIR/bad.json"
	assert_failure 2
	assert_output --partial "--guests $BATS_TEST_TMPDIR/bad.json is not valid JSON"
	run create --guests "$BATS_TEST_TMPDIR/none.json"
	assert_failure 2
	assert_output --partial "no such readable file"
	head -c 300000 /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/big.json"
	echo '{}' >>"$BATS_TEST_TMPDIR/big.json"
	run create --guests "$BATS_TEST_TMPDIR/big.json"
	assert_failure 2
	assert_output --partial "at most 256 KiB"
	no_calls
}

@test "gce-create: a quota error from gcloud surfaces" {
	export FAKE_GCLOUD_MODE=quota
	run create --guests "$GUESTS"
	assert_failure 1
	assert_output --partial "ERROR: (gcloud.compute.instances.create) Could not fetch resource:"
	assert_output --partial "Quota 'CPUS' exceeded.  Limit: 8.0 in region us-central1."
	assert_output --partial "creating instance l1 failed"
	run calls
	refute_output --partial tail-serial-port-output
}

@test "gce-create without gcloud, and not logged in" {
	PATH=$(cat "$BATS_FILE_TMPDIR/nogcloud-path") run create
	assert_failure 1
	assert_output --partial "gcloud not found on PATH: install the Google Cloud CLI"
	no_calls
	export FAKE_GCLOUD_MODE=not-logged-in
	run create
	assert_failure 1
	assert_output --partial "run 'gcloud auth login'"
	run calls
	refute_output --partial "instances create"
}

@test "gce-create takes project and zone from gcloud's configuration, else fails" {
	export FAKE_GCLOUD_PROJECT=cfg-proj FAKE_GCLOUD_ZONE=europe-west4-b
	run "$CREATE" --name l1 --no-follow
	assert_success
	run calls
	assert_line --partial "gcloud compute instances create l1 --project cfg-proj --zone europe-west4-b "
	unset FAKE_GCLOUD_ZONE
	run "$CREATE" --name l1 --no-follow
	assert_failure 1
	assert_output --partial "no zone: pass --zone ZONE"
}

@test "gce-create usage errors exit 2" {
	run "$CREATE" --project p --zone z
	assert_failure 2
	assert_output --partial "--name NAME is required"
	run create --image a --image-family b
	assert_failure 2
	run create --spot --preemptible
	assert_failure 2
	run create --timeout soon
	assert_failure 2
	run "$CREATE" --project p --zone z --name L1_bad
	assert_failure 2
	no_calls
}

@test "gce-create --dry-run prints the commands and runs nothing" {
	run create --guests "$GUESTS" --preemptible --dry-run
	assert_success
	assert_output "$INSTANCES_CREATE --metadata-from-file nestbox-guests=$GUESTS --preemptible
$TAIL"
	no_calls
}

@test "gce-create: an error line on the serial console fails with that line" {
	export FAKE_GCLOUD_SERIAL=error
	run create --guests "$GUESTS"
	assert_failure 1
	assert_output --partial "gce-create: l1 reported an error: nestbox: warning: mount: devtmpfs on /dev: failed: No such device"
}

@test "gce-create: the no-KVM diagnosis fails with advice, unless --allow-tcg" {
	export FAKE_GCLOUD_SERIAL=no-kvm
	run create
	assert_failure 1
	assert_output --partial "gce-create: l1 has no /dev/kvm: nestbox: cpu: GenuineIntel, no vmx or svm (no KVM)"
	assert_output --partial "enable-vmx licence"
	assert_output --partial "--enable-nested-virtualization"
	run create --allow-tcg
	assert_success
	assert_output --partial "gce-create: l1 is ready"
}

@test "gce-create: 'kvm: not available' on a VMX CPU is the KVM diagnosis too" {
	export FAKE_GCLOUD_SERIAL=kvm-missing
	run create
	assert_failure 1
	assert_output --partial "gce-create: l1 has no /dev/kvm: nestbox: warning: kvm: not available: /dev/kvm is missing: kvm_intel did not load"
	refute_output --partial "l1 is ready"
}

@test "gce-create: a silent console times out and the follower is stopped" {
	export FAKE_GCLOUD_SERIAL=hang
	start=$SECONDS
	run create --timeout 2
	assert_failure 1
	assert_output --partial "timed out after 2s waiting for 'nestbox: ready'"
	assert_output --partial "gcloud compute instances get-serial-port-output l1 --zone us-central1-a"
	[ $((SECONDS - start)) -ge 1 ]
	[ $((SECONDS - start)) -le 5 ]
	run kill -0 "$(cat "$FAKE_GCLOUD_LOG.pids")"
	assert_failure
}

@test "gce-create: the follower restarts a tail that stopped, without repeating lines" {
	export FAKE_GCLOUD_SERIAL=flaky
	run create --timeout 10
	assert_success
	assert_output --partial "gce-create: l1 is ready"
	[ "$(grep -c 'Booting from Hard Disk' <<<"$output")" -eq 1 ]
	[ "$(grep -c tail-serial-port-output "$FAKE_GCLOUD_LOG")" -eq 2 ]
	[ "$(wc -l <"$FAKE_GCLOUD_LOG.pids")" -eq 2 ]
	for pid in $(cat "$FAKE_GCLOUD_LOG.pids"); do
		run kill -0 "$pid"
		assert_failure
	done
}

# --- gce-mig ------------------------------------------------------------------

@test "gce-mig: the exact template and group commands" {
	run "$MIG" --project proj-1 --zone us-central1-a --name lab --size 3 --guests "$GUESTS"
	assert_success
	run calls
	assert_output "gcloud auth list --filter=status:ACTIVE '--format=value(account)'
gcloud compute instance-templates create lab-template --project proj-1 --machine-type n2-standard-4 --min-cpu-platform 'Intel Cascade Lake' --enable-nested-virtualization --image-family nestbox --image-project proj-1 --boot-disk-size 20GB --metadata enable-guest-attributes=TRUE,serial-port-enable=TRUE --metadata-from-file nestbox-guests=$GUESTS
gcloud compute instance-groups managed create lab --project proj-1 --zone us-central1-a --template lab-template --size 3 --base-instance-name lab"
}

@test "gce-mig --dry-run, refusals and usage" {
	run "$MIG" --project proj-1 --zone us-central1-a --name lab --size 2 --spot --dry-run
	assert_success
	assert_line --partial "gcloud compute instance-templates create lab-template "
	assert_line --partial " --provisioning-model SPOT"
	assert_line "gcloud compute instance-groups managed create lab --project proj-1 --zone us-central1-a --template lab-template --size 2 --base-instance-name lab"
	run "$MIG" --project proj-1 --zone us-central1-a --name lab --size 2 --machine-type e2-standard-8
	assert_failure 2
	assert_output --partial "E2 machine types do not support nested virtualization"
	run "$MIG" --project proj-1 --zone us-central1-a --name lab --size 2 --machine-type c2d-standard-8
	assert_failure 2
	assert_output --partial "is AMD"
	run "$MIG" --project proj-1 --zone us-central1-a --name lab
	assert_failure 2
	assert_output --partial "--size N is required"
	run "$MIG" --help
	assert_success
	assert_output --partial "instance-groups managed create"
	no_calls
}

@test "gce-mig --template-only makes a template for a rolling update" {
	run "$MIG" --project proj-1 --zone us-central1-a --name lab --template lab-template-v2 --guests "$GUESTS" --template-only
	assert_success
	assert_output --partial "rolling-action start-update lab --version template=lab-template-v2"
	run calls
	assert_line --partial "gcloud compute instance-templates create lab-template-v2 --project proj-1 "
	refute_output --partial "instance-groups managed create"
}

# --- docs/gce.md --------------------------------------------------------------

@test "docs/gce.md: its dry-run commands run, and show what the scripts print" {
	cd "$BATS_TEST_TMPDIR"
	mkdir out
	cp "$TARBALL" out/nestbox-gce.tar.gz
	sed -i "s/$SHA/fe68b97494de169796da37c74a01dc16d1dff3ddf171019eace1c6c4c11d15c7/" "$MANIFEST"
	cp "$MANIFEST" out/manifest.txt
	echo '{"guests": [{"name": "alpine", "vcpus": 1, "memory": "256M"}]}' >guests.json
	{
		"$IMPORT" --project my-project --bucket gs://my-bucket/nestbox --dry-run \
			--tarball out/nestbox-gce.tar.gz --manifest out/manifest.txt
		"$CREATE" --project my-project --zone us-central1-a --name l1 --guests guests.json --dry-run
		"$MIG" --project my-project --zone us-central1-a --name lab --size 3 --guests guests.json --dry-run
	} >printed
	grep -E '^gcloud .*--project my-project' "$TOP/docs/gce.md" |
		grep -Ev '^gcloud (auth list|compute images describe) ' >shown
	[ "$(wc -l <shown)" -eq 6 ]
	run diff shown printed
	assert_success
	# and the dry-run commands as the page writes them
	grep -E '^scripts/gce-(import|create|mig) .*--dry-run$' "$TOP/docs/gce.md" >commands
	[ "$(wc -l <commands)" -eq 3 ]
	while read -r script args; do
		case $script in
		*/gce-import) run "$TOP/$script" $args --tarball out/nestbox-gce.tar.gz --manifest out/manifest.txt ;;
		*) run "$TOP/$script" $args ;;
		esac
		assert_success
	done <commands
	no_calls
}
