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
	for f in intact.vfmig precopy.vfmig corrupt.vfmig truncated.vfmig raw.bin; do
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
