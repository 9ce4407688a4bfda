#!/usr/bin/env bats
# `inspect` needs no device: it reads the committed sample streams of
# fixtures/streams (made by fixtures/mkstreams.c, `make fixture-streams`):
# what they hold, in text and JSON, and which of them are intact.

bats_require_minimum_version 1.5.0
load helpers

S=$BATS_TEST_DIRNAME/fixtures/streams

@test "inspect: an intact stream, in text, exit 0" {
	run -0 --separate-stderr "$MIGCTL" inspect "$S/intact.vfmig"
	[ -z "$stderr" ] || fail "stderr: $stderr"
	diff -u - <(printf '%s\n' "$output") <<-EOF
	written by:  vfio-migctl 0.1.0
	created:     2026-11-01T00:00:00Z
	source:      83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 (mdev, driver mtty, type mtty-1)
	migration:   STOP_COPY|P2P|PRE_COPY (0x7)
	estimate:    60 bytes
	pre-copy:    0 records, 0 bytes
	stop-copy:   2 records, 60 bytes
	stream:      299 bytes
	intact:      yes
	EOF
}

@test "inspect --json: the documented keys, and the counts of each phase" {
	run -0 --separate-stderr "$MIGCTL" --json inspect "$S/precopy.vfmig"
	jq -e 'keys == ["created","estimate","intact","migration_flags","pre_copy",
		"records","skipped_records","source","stop_copy","stream_bytes","tool_version"]' <<<"$output"
	jq -e '.source == {"device": "83b8f4f2-509f-382f-3c1e-e6bfe0fa1001", "bus": "mdev",
		"driver": "mtty", "mdev_type": "mtty-1"}' <<<"$output"
	jq -e '.pre_copy == {"records": 1, "bytes": 24} and
		.stop_copy == {"records": 1, "bytes": 36} and .records == 4 and
		.stream_bytes == 299 and .intact == true and .migration_flags == 7 and
		.estimate == 60 and .created == "2026-11-01T00:00:00Z"' <<<"$output"
}

@test "inspect: a flipped data byte: exit 7, one error line naming the record, intact no" {
	run -7 --separate-stderr "$MIGCTL" inspect "$S/corrupt.vfmig"
	one_error_line "vfio-migctl: inspect: $S/corrupt.vfmig: record 2 at byte 183: checksum mismatch"
	[[ $output == *"intact:      no"* ]] || fail "stdout does not say 'intact: no'"
	run -7 --separate-stderr "$MIGCTL" --json inspect "$S/corrupt.vfmig"
	jq -e '.intact == false and .error == "record 2 at byte 183: checksum mismatch" and
		.stop_copy.records == 1' <<<"$output"
}

@test "inspect: a stream cut inside a record: exit 7, 'truncated'" {
	run -7 --separate-stderr "$MIGCTL" inspect "$S/truncated.vfmig"
	one_error_line "vfio-migctl: inspect: $S/truncated.vfmig: record 2 at byte 183: truncated at byte 217"
	run -7 --separate-stderr "$MIGCTL" --json inspect "$S/truncated.vfmig"
	jq -e '.intact == false and (.error | test("truncated"))' <<<"$output"
}

@test "inspect: a bare kernel stream: exit 7, says so, names no option inspect lacks" {
	run -7 --separate-stderr "$MIGCTL" inspect "$S/raw.bin"
	one_error_line "vfio-migctl: inspect: $S/raw.bin: not a vfio-migctl stream"
	[[ $stderr != *--raw* ]] || fail "suggests --raw, which inspect does not have: $stderr"
}

@test "inspect -: reads stdin" {
	run -0 --separate-stderr "$MIGCTL" --json inspect - <"$S/intact.vfmig"
	jq -e '.intact == true and .stream_bytes == 299' <<<"$output"
	run -7 --separate-stderr "$MIGCTL" inspect - <"$S/corrupt.vfmig"
	one_error_line "vfio-migctl: inspect: -: record 2"
}

@test "the committed samples are what mkstreams makes" {
	local out=$BATS_TEST_TMPDIR/streams mk=$REPO/build/mkstreams
	[ -x "$mk" ] || fail "$mk is not built (make check-cli builds it)"
	mkdir "$out"
	"$mk" "$out"
	for f in intact.vfmig precopy.vfmig corrupt.vfmig truncated.vfmig raw.bin \
		set.vfmig set-corrupt.vfmig; do
		cmp "$S/$f" "$out/$f" || fail "$f differs from what mkstreams makes"
	done
}

@test "inspect: one record is 'record'; a missing file or a directory is 1; JSON for a non-stream" {
	run -0 --separate-stderr "$MIGCTL" inspect "$S/precopy.vfmig"
	[[ $output == *"pre-copy:    1 record, 24 bytes"* ]] || fail "$output"
	[[ $output == *"stop-copy:   1 record, 36 bytes"* ]] || fail "$output"
	run -1 --separate-stderr "$MIGCTL" inspect "$S/nonexistent"
	one_error_line "vfio-migctl: inspect: $S/nonexistent: No such file or directory"
	run -1 --separate-stderr "$MIGCTL" inspect "$S"
	one_error_line "vfio-migctl: inspect: $S: reading the stream: Is a directory"
	run -7 --separate-stderr "$MIGCTL" --json inspect "$S/raw.bin"
	jq -e '. == {"intact": false, "error": "not a vfio-migctl stream (no magic)"}' <<<"$output"
}

@test "inspect: a set of three lists each device with its bytes and verdict, in text" {
	run -0 --separate-stderr "$MIGCTL" inspect "$S/set.vfmig"
	[ -z "$stderr" ] || fail "stderr: $stderr"
	diff -u - <(printf '%s\n' "$output") <<-EOF
	devices:     3
	device 0:
	  written by:  vfio-migctl 0.1.0
	  created:     2026-11-01T00:00:00Z
	  source:      83b8f4f2-509f-382f-3c1e-e6bfe0fa1001 (mdev, driver mtty, type mtty-1)
	  migration:   STOP_COPY|P2P|PRE_COPY (0x7)
	  estimate:    60 bytes
	  pre-copy:    0 records, 0 bytes
	  stop-copy:   2 records, 60 bytes
	  intact:      yes
	device 1:
	  written by:  vfio-migctl 0.1.0
	  created:     2026-11-01T00:00:00Z
	  source:      83b8f4f2-509f-382f-3c1e-e6bfe0fa1002 (mdev, driver mtty, type mtty-1)
	  migration:   STOP_COPY|P2P|PRE_COPY (0x7)
	  estimate:    60 bytes
	  pre-copy:    1 record, 24 bytes
	  stop-copy:   1 record, 36 bytes
	  intact:      yes
	device 2:
	  written by:  vfio-migctl 0.1.0
	  created:     2026-11-01T00:00:00Z
	  source:      0000:3b:00.1 (pci, driver mlx5_vfio_pci, 15b3:101e subsystem 15b3:0047 rev 02)
	  migration:   STOP_COPY (0x1)
	  estimate:    60 bytes
	  pre-copy:    0 records, 0 bytes
	  stop-copy:   1 record, 60 bytes
	  intact:      yes
	stream:      908 bytes
	intact:      yes
	EOF
}

@test "inspect --json: a set is a devices array of the one-device objects, and the whole's keys" {
	run -0 --separate-stderr "$MIGCTL" --json inspect "$S/set.vfmig"
	jq -e 'keys == ["devices","intact","records","stream_bytes"] and
		.intact == true and .stream_bytes == 908 and .records == 10 and
		(.devices | length) == 3' <<<"$output"
	# each device: the keys of a one-device stream but stream_bytes, with its index
	jq -e '[.devices[] | keys] | all(. == ["created","estimate","index","intact",
		"migration_flags","pre_copy","records","skipped_records","source","stop_copy",
		"tool_version"])' <<<"$output"
	jq -e '[.devices[].index] == [0,1,2] and [.devices[].intact] == [true,true,true] and
		.devices[1].pre_copy == {"records": 1, "bytes": 24} and
		.devices[1].stop_copy == {"records": 1, "bytes": 36} and
		.devices[2].source == {"device": "0000:3b:00.1", "bus": "pci",
			"driver": "mlx5_vfio_pci", "id": "15b3:101e", "subsystem_id": "15b3:0047",
			"revision": 2} and .devices[2].migration_flags == 1' <<<"$output"
}

@test "inspect: a set with a flipped byte in member 1: exit 7, member 1 named and not intact, the others intact" {
	local err="member 1 record 2 at byte 688: checksum mismatch"
	run -7 --separate-stderr "$MIGCTL" inspect "$S/set-corrupt.vfmig"
	one_error_line "vfio-migctl: inspect: $S/set-corrupt.vfmig: $err"
	[[ $output == *$'device 1:\n'*$'  intact:      no\n  error:       '"$err"$'\ndevice 2:'* ]] ||
		fail "device 1 is not reported as failed: $output"
	[ "$(grep -c '^  intact:      yes$' <<<"$output")" = 2 ] || fail "two members intact: $output"
	[ "$(tail -1 <<<"$output")" = "intact:      no" ] || fail "the whole: $output"
	run -7 --separate-stderr "$MIGCTL" --json inspect "$S/set-corrupt.vfmig"
	jq -e --arg err "$err" '.intact == false and .error == $err and
		[.devices[].intact] == [true,false,true] and .devices[1].error == $err and
		(.devices[0] | has("error") | not)' <<<"$output"
}

@test "inspect: a set cut short: exit 7, truncated, no member intact" {
	head -c 800 "$S/set.vfmig" >"$BATS_TEST_TMPDIR/cut.vfmig"
	run -7 --separate-stderr "$MIGCTL" --json inspect "$BATS_TEST_TMPDIR/cut.vfmig"
	jq -e '.intact == false and (.error | test("truncated")) and
		[.devices[].intact] == [false,false,false]' <<<"$output"
	# inside the members' headers: not even the list of devices
	head -c 100 "$S/set.vfmig" >"$BATS_TEST_TMPDIR/cut.vfmig"
	run -7 --separate-stderr "$MIGCTL" --json inspect "$BATS_TEST_TMPDIR/cut.vfmig"
	jq -e 'keys == ["error","intact"] and .intact == false' <<<"$output"
}
