#!/bin/sh
# Atomic writes (docs/SAFETY.md): an existing target keeps its old
# content until the new one is complete, keeps its mode (without -p) and
# owner; a symlink target is written through; --inplace writes in place.
# Both protocols, both directions.
. "$(dirname "$0")/lib.sh"
. "$TEST_DIRECTORY/lib-resume.sh"

# during_copy TARGET PARTGLOB ARGS...: starts a slow scp ARGS, checks that
# TARGET still holds "old" while a partial grows, waits for the end.
during_copy () {
	_t=$1 _g=$2
	shift 2
	own_trash
	"$SCP" -F "$SSHCONF" -l 2000 "$@" </dev/null >dc.out 2>dc.err &
	_pid=$!
	_seen=0 _i=0
	while [ $_i -lt 200 ]; do
		for _f in $_g; do
			if [ -f "$_f" ] && [ "$(stat -c %s "$_f")" -gt 100000 ]
			then
				_seen=1
			fi
		done
		[ $_seen = 1 ] && break
		sleep 0.1
		_i=$((_i + 1))
	done
	_old=$(cat "$_t")
	_st=0
	wait $_pid || _st=$?
	cat dc.err >&2
	if [ $_seen != 1 ] || [ "$_old" != old ] || [ $_st != 0 ]; then
		echo "seen=$_seen old=$_old status=$_st" >&2
		return 1
	fi
}

test_expect_success 'setup' '
	mkfile new 600000
'

for mode in "" -O; do
test_expect_success_ours "download ${mode:-sftp}: old content until the new is complete" "
	mkdir -p d$mode && echo old >d$mode/t && chmod 640 d$mode/t &&
	during_copy d$mode/t 'd$mode/.t.*scp-part' $mode ours:\$TRASH/new d$mode/t &&
	cmp new d$mode/t && test_mode d$mode/t 640 &&
	test -z \"\$(find d$mode -name '*.scp-part')\"
"

test_expect_success_ours "upload ${mode:-sftp}: old content until the new is complete" "
	mkdir -p u$mode && echo old >u$mode/t && chmod 640 u$mode/t &&
	own_trash &&
	during_copy u$mode/t 'u$mode/.t.*scp-part' $mode new ours:\$TRASH/u$mode/t &&
	cmp new u$mode/t && test_mode u$mode/t 640 &&
	test -z \"\$(find u$mode -name '*.scp-part')\"
"

test_expect_success_ours "download ${mode:-sftp}: a replaced file keeps its owner" "
	mkdir -p o$mode && echo old >o$mode/t && chown $TEST_USER: o$mode/t &&
	run_scp $mode ours:\$TRASH/new o$mode/t &&
	cmp new o$mode/t &&
	test \"\$(stat -c %U o$mode/t)\" = $TEST_USER
"

test_expect_success_ours "download ${mode:-sftp}: a symlink target is written through" "
	mkdir -p l$mode && echo old >l$mode/real && ln -s real l$mode/link &&
	run_scp $mode ours:\$TRASH/new l$mode/link &&
	test -L l$mode/link && cmp new l$mode/real
"

test_expect_success_ours "upload ${mode:-sftp}: a symlink target is written through" "
	mkdir -p m$mode && echo old >m$mode/real && ln -s real m$mode/link &&
	run_scp $mode new ours:\$TRASH/m$mode/link &&
	test -L m$mode/link && cmp new m$mode/real
"

test_expect_success_ours "--inplace ${mode:-sftp}: a download keeps the inode" "
	mkdir -p i$mode && echo old >i$mode/t &&
	ino=\$(stat -c %i i$mode/t) &&
	run_scp $mode --inplace ours:\$TRASH/new i$mode/t &&
	cmp new i$mode/t && test \$(stat -c %i i$mode/t) = \$ino
"

# Legacy uploads: the remote scp -t decides (our server has no way to
# learn --inplace from an OpenSSH-compatible command line).
test_expect_success_ours "--inplace sftp: an upload keeps the inode" "
	mkdir -p iu && echo old >iu/u && inu=\$(stat -c %i iu/u) &&
	run_scp --inplace new ours:\$TRASH/iu/u &&
	cmp new iu/u && test \$(stat -c %i iu/u) = \$inu
"

test_expect_success_ours "default ${mode:-sftp}: a new inode both ways (rename)" "
	mkdir -p n$mode && echo old >n$mode/t && echo old >n$mode/u &&
	ino=\$(stat -c %i n$mode/t) && inu=\$(stat -c %i n$mode/u) &&
	run_scp $mode ours:\$TRASH/new n$mode/t &&
	run_scp $mode new ours:\$TRASH/n$mode/u &&
	cmp new n$mode/t && cmp new n$mode/u &&
	test \$(stat -c %i n$mode/t) != \$ino && test \$(stat -c %i n$mode/u) != \$inu
"
done

test_done
