#!/usr/bin/env bats
# Where a saved stream goes and where it comes from, on real mtty devices:
# an output file is committed (fsync, then link) once the device is in its
# final state, only regular files are ever replaced, FIFOs and devices are written
# as they are, links are followed by the kernel (so fs.protected_symlinks
# refuses links planted in a sticky directory), "-" is stdout/stdin; and a
# bad input file costs the device nothing.
bats_require_minimum_version 1.5.0
load helpers

setup() {
	setup_pair
}

teardown() {
	# put back the sysctls a test changed
	[ ! -f "$T/.protected_symlinks" ] || cat "$T/.protected_symlinks" >/proc/sys/fs/protected_symlinks
	[ ! -f "$T/.protected_fifos" ] || cat "$T/.protected_fifos" >/proc/sys/fs/protected_fifos
	mtty_teardown
}

# A sticky world-writable directory, $T/sticky, like /tmp, where nobody
# plants links (plant TARGET NAME), and $T/theirs, another directory;
# with fs.protected_symlinks=1 (Debian's default), under which the kernel
# follows such a link for its owner only, not for root.
sticky_dir() {
	[ -w /proc/sys/fs/protected_symlinks ] || fail "this kernel has no fs.protected_symlinks"
	cat /proc/sys/fs/protected_symlinks >"$T/.protected_symlinks"
	echo 1 >/proc/sys/fs/protected_symlinks
	mkdir -m 1777 "$T/sticky"
	mkdir -m 0755 "$T/theirs"
}

plant() { # TARGET NAME
	ln -s "$1" "$T/sticky/$2"
	chown -h 65534:65534 "$T/sticky/$2"
}

@test "save -o FILE: the device's last state change, then fsync, then the link" {
	local dir order file_synced linked dir_synced last_ioctl after
	command -v strace >/dev/null || fail "strace is missing (tests/deps.sh test)"
	dir=$(realpath "$T")
	# -y: every fd with its path, so the file's fsync and the directory's
	# are told apart
	run -0 --separate-stderr strace -f -y -qq -e trace=fsync,fdatasync,linkat,renameat2,rename,ioctl \
		-e signal=none -o "$T/trace" vfio-migctl save "$SRC" -o "$T/s.mig"
	# The unnamed file's fsync, its link under the name, then the fsync of
	# the directory the link is in: what the awk prints is the line of each
	# and of the device's last ioctl before the link, and how many come
	# after it.  (Lines are taken at a call's entry: "<... resumed>" lines
	# are skipped.)
	order=$(awk -v dir="$dir" '
		{ sub(/^[0-9]+ +/, "") }          # the pid, under -f
		/^<\.\.\. / { next }
		{ line[++n] = $0 }
		# the link under the name: relative to a directory fd, or absolute
		/^linkat\(/ && (index($0, "<" dir ">, \"s.mig\"") || index($0, "\"" dir "/s.mig\"")) {
			if (link) { print "two links"; exit 1 }
			link = n
		}
		/^ioctl\([0-9]+<[^>]*vfio/ { if (link) after++; else last_ioctl = n }
		END {
			if (!link) { print "no linkat to s.mig"; exit 1 }
			if (!match(line[link], /"\/proc\/self\/fd\/[0-9]+"/)) {
				print "not a linkat of an open file: " line[link]; exit 1
			}
			file_fd = substr(line[link], RSTART + 15, RLENGTH - 16)
			for (i = 1; i < link; i++)
				if (index(line[i], "fsync(" file_fd "<") == 1) file_synced = i
			if (!file_synced) { print "no fsync of the file (fd " file_fd ") before the link"; exit 1 }
			# an fd of the directory itself, as -y shows it: "fsync(5</dir>)"
			for (i = link + 1; i <= n && !dir_synced; i++)
				if (index(line[i], "fsync(") == 1 && index(line[i], "<" dir ">)")) dir_synced = i
			if (!dir_synced) { print "no fsync of " dir " after the link"; exit 1 }
			if (!last_ioctl) { print "no ioctl on the device"; exit 1 }
			print file_synced, link, dir_synced, last_ioctl, after + 0
		}' "$T/trace") || fail "$order" "trace:" "$(grep -v '^$' "$T/trace" | tail -n 20)"
	read -r file_synced linked dir_synced last_ioctl after <<<"$order"
	# file fsync < link < directory fsync: checked by the awk above.  The
	# commit comes after the device's last state change (STOP_COPY -> STOP,
	# the --then state: the commit point); after the link the device is
	# only asked its state, once, for the report.
	[ "$last_ioctl" -lt "$file_synced" ] && [ "$after" -le 1 ] ||
		fail "the commit is on the wrong side of the device's last state change" \
			"(lines of file fsync, link, directory fsync, last ioctl before the link," \
			"ioctls after it: $order)" "$(tail -n 20 "$T/trace")"
	run -0 vfio-migctl inspect "$T/s.mig"
}

@test "save -o /dev/null, with or without --force: written, never replaced" {
	run -0 --separate-stderr vfio-migctl save "$SRC" -o /dev/null
	run -0 --separate-stderr vfio-migctl save "$SRC" -o /dev/null --force
	[ -c /dev/null ] || fail "/dev/null is no longer a character device"
	run -0 --separate-stderr vfio-migctl save "$SRC" -o /dev/stdout --force
	[ -c /dev/null ]
}

@test "save -o FIFO: the reader gets the stream, no temporary file, no --force" {
	mkfifo "$T/pipe"
	cat "$T/pipe" >"$T/from-pipe" &
	reader=$!
	bg_track "$reader"
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/pipe"
	wait "$reader"
	[ -p "$T/pipe" ] || fail "the FIFO was replaced"
	run -0 --separate-stderr vfio-migctl inspect "$T/from-pipe"
	run -0 --separate-stderr vfio-migctl resume "$DST" -i "$T/from-pipe"
}

@test "save -o DIR, or a socket: refused before the device is touched (status 1)" {
	mkdir "$T/dir"
	vfio-migctl -q state "$SRC" stop >/dev/null
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/dir"
	expect_error save "$T/dir: Is a directory$"
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/dir" --force
	expect_error save "Is a directory$"
	[ -d "$T/dir" ]
	expect_state "$SRC" STOP
}

@test "save -o a symlink: followed; --force replaces its target, the link stays" {
	echo old >"$T/target"
	ln -s target "$T/link"
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/link"
	expect_error save "link: exists; use --force to replace it$"
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/link" --force
	[ -L "$T/link" ] || fail "the link was replaced"
	run -0 --separate-stderr vfio-migctl inspect "$T/target"
}

@test "save -o LINK --force, LINK planted by nobody in a sticky directory: refused, its target untouched" {
	sticky_dir
	echo precious >"$T/theirs/file"
	chmod 0644 "$T/theirs/file"
	plant "$T/theirs/file" state.bin
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/sticky/state.bin" --force
	expect_error save "state.bin: permission denied following the symlink \(fs.protected_symlinks"
	[ "$(cat "$T/theirs/file")" = precious ] || fail "the other directory's file was replaced"
	[ "$(stat -c %a "$T/theirs/file")" = 644 ] || fail "its mode changed"
	[ -L "$T/sticky/state.bin" ]
	# refused before the device was touched
	expect_state "$SRC" RUNNING
}

@test "save -o LINK, a dangling LINK planted by nobody in a sticky directory: nothing created at its target" {
	sticky_dir
	plant "$T/theirs/new.bin" state.bin
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/sticky/state.bin"
	expect_error save "state.bin: permission denied following the symlink"
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/sticky/state.bin" --force
	expect_error save "state.bin: permission denied following the symlink"
	[ ! -e "$T/theirs/new.bin" ] || fail "a file was created at the link's target"
	expect_state "$SRC" RUNNING
}

@test "save -o LINK --force, LINK planted by nobody to a FIFO or a device node: never replaced by a file" {
	sticky_dir
	mkfifo -m 0644 "$T/theirs/fifo"
	mknod -m 0666 "$T/theirs/null" c 1 3
	plant "$T/theirs/fifo" fifo
	plant "$T/theirs/null" null
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/sticky/fifo" --force
	expect_error save "fifo: permission denied following the symlink"
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/sticky/null" --force
	expect_error save "null: permission denied following the symlink"
	[ -p "$T/theirs/fifo" ] || fail "the FIFO was replaced: $(ls -l "$T/theirs/fifo")"
	[ -c "$T/theirs/null" ] || fail "the device node was replaced: $(ls -l "$T/theirs/null")"
	expect_state "$SRC" RUNNING
}

@test "save -o FIFO nobody planted in a sticky directory, fs.protected_fifos=1: refused, as to '>'" {
	sticky_dir
	cat /proc/sys/fs/protected_fifos >"$T/.protected_fifos"
	echo 1 >/proc/sys/fs/protected_fifos
	mkfifo -m 0666 "$T/sticky/state.bin"
	chown 65534:65534 "$T/sticky/state.bin"
	# a reader, so that a save that opens it does not wait for one
	cat "$T/sticky/state.bin" >"$T/read" &
	bg_track $!
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/sticky/state.bin"
	expect_error save "state.bin: permission denied$"
	[ -p "$T/sticky/state.bin" ]
	expect_state "$SRC" RUNNING
}

@test "save -o a dangling symlink of root's own: refused, with or without --force; nothing created" {
	ln -s new.bin "$T/link"
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/link"
	expect_error save "link: a symlink to nothing: refused, with or without --force"
	run -1 --separate-stderr vfio-migctl save "$SRC" -o "$T/link" --force
	expect_error save "link: a symlink to nothing"
	[ ! -e "$T/new.bin" ] || fail "a file was created at the link's target"
	expect_state "$SRC" RUNNING
}

@test "save -o FILE --force: a temporary a killed save left (.FILE.PID) is no obstacle" {
	echo old >"$T/s.mig"
	# the leftover bears the pid of this save: exec keeps the shell's
	run -0 --separate-stderr bash -c 'echo stale >"$1/.s.mig.$$"; exec vfio-migctl save "$2" -o "$1/s.mig" --force' \
		_ "$T" "$SRC"
	run -0 --separate-stderr vfio-migctl inspect "$T/s.mig"
	expect_state "$SRC" STOP
	# the leftover is not ours to remove, and nothing else is left
	[ "$(echo "$T"/.s.mig.*)" = "$(echo "$T"/.s.mig.[0-9]*)" ] || fail "a temporary is left:" "$(ls -a "$T")"
	[ "$(cat "$T"/.s.mig.[0-9]*)" = stale ]
}

@test "-o - is stdout and -i - is stdin" {
	vfio-migctl save "$SRC" -o - >"$T/dash.mig"
	[ ! -e ./- ] || fail "a file named - was created"
	run -0 --separate-stderr vfio-migctl inspect "$T/dash.mig"
	run -0 --separate-stderr vfio-migctl resume "$DST" -i - <"$T/dash.mig"
	[ ! -e ./- ]
}

@test "resume of a corrupt file into a stopped device: status 7, still STOP" {
	mtty_fill "$SRC" 0x42 0x03 "abc"
	run -0 --separate-stderr vfio-migctl save "$SRC" -o "$T/s.mig"
	stream_load "$T/s.mig"
	# the last byte of the last data record, just before END (24 + 32 bytes)
	stream_flip $((${#stream_bytes[@]} - 57)) "$T/bad.mig"
	vfio-migctl -q state "$DST" stop >/dev/null
	run -7 --separate-stderr vfio-migctl resume "$DST" -i "$T/bad.mig"
	expect_error resume "checksum mismatch; device unchanged$"
	# before: RESUMING, the good records written, then a reset to RUNNING
	expect_state "$DST" STOP
	expect_pristine "$DST"
}
