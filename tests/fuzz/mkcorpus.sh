#!/bin/sh
# Writes the seed corpora of tests/fuzz/corpus/ (run from anywhere):
#   sh tests/fuzz/mkcorpus.sh
# The text seeds (records, patterns, operands) are one printf each; the
# SFTP seeds are server byte streams for fuzz_sftp_msg (see the layout
# comment in fuzz_sftp_msg.c: config byte, then the stream), built with
# printf octal escapes.  Each SFTP scenario is written twice: as a raw
# stream and in the harness's framed mode (config bit 3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
c=$here/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- text seeds ----
seed() {	# seed TARGET NAME TEXT (printf format: escapes allowed)
	mkdir -p "$c/$1"
	printf "$3" > "$c/$1/$2"
}
seed fuzz_scp_record c_file 'C0644 12 file'
seed fuzz_scp_record c_big 'C0755 9223372036854775807 big'
seed fuzz_scp_record c_over 'C0644 9223372036854775808 x'
seed fuzz_scp_record c_suid 'C4755 0 a b\n'
seed fuzz_scp_record d_dir 'D0755 0 dir'
seed fuzz_scp_record d_dots 'D0700 0 ..'
seed fuzz_scp_record t_zero 'T1 0 2 0'
seed fuzz_scp_record t_usec 'T1700000000 999999 1700000001 123456'
seed fuzz_scp_record t_huge 'T99999999999999999999 0 1 0'
seed fuzz_scp_record e_end 'E'
seed fuzz_scp_record bad_mode 'C064 1 x'
# mode, size, mtime, atime (big-endian) and a name with a newline
seed fuzz_scp_record fmt_nl '\001\244\000\000\000\000\000\000\000\014\000\000\000\000\145\123\361\000\377\377\377\377\377\377\377\377a\nb\\\200'

# fuzz_scp_relay: chunks of one header byte (\200 | length: from the sink)
seed fuzz_scp_relay copy '\201\000\012C0644 5 a\n\201\000\006hello\000\201\000'
seed fuzz_scp_relay errors '\201\000\012C0644 3 b\n\233\001scp: b: Permission denied\n\026\001scp: c: No such file\n'
seed fuzz_scp_relay tree '\201\000\012D0755 0 d\n\201\000\012C0600 2 x\n\201\000\003\001\002\000\201\000\002E\n\201\000'
seed fuzz_brace plain 'dir/file\nfile'
seed fuzz_brace alt '{a,b,c}\nb'
seed fuzz_brace nested 'x/{a,{b,c}d}e\ncde'
seed fuzz_brace empty_alt '{a,}z\nz'
seed fuzz_brace literal '{}x\n{}x'
seed fuzz_brace bracket '[{,}]{a,b}*\n{a'
seed fuzz_brace escaped 'f\\{a,b\\}\\,{c\\,d,e}\nc,d'
seed fuzz_brace unbalanced '{a,b\na'
seed fuzz_brace glob '*.{c,h}\nmatch.c'
seed fuzz_brace two '{a,b}{c,d}/{e,f}\nbd'

seed fuzz_operand local './a:b'
seed fuzz_operand host 'host:path'
seed fuzz_operand user 'user@host:'
seed fuzz_operand v6 'user@[::1]:/p'
seed fuzz_operand v6zone '[fe80::1%%eth0]:p'
seed fuzz_operand atat 'a@b@h:p'
seed fuzz_operand uri 'scp://u%%40x@h:22//abs'
seed fuzz_operand uri_params 'scp://user;fp=x@host.example/dir/f+g'
seed fuzz_operand uri_v6 'scp://[::1]:2222/p'
seed fuzz_operand uri_bad 'scp://h:0/x'
seed fuzz_operand badname "u'x@h:p"
seed fuzz_operand colon ':f'

# fuzz_scp_sink: config byte (see fuzz_scp_sink.c), then the peer's bytes
seed fuzz_scp_sink file '\000C0644 5 f\nhello\000'
seed fuzz_scp_sink times '\002T1700000000 0 1700000001 0\nC0644 5 f\nhello\000'
seed fuzz_scp_sink inplace '\040C0600 3 f\nabc\000'
seed fuzz_scp_sink mismatch '\000C0644 3 g\nabc\000'
seed fuzz_scp_sink dotdot '\000C0644 3 ..\nabc\000'
seed fuzz_scp_sink slash '\000C0644 3 a/b\nabc\000'
seed fuzz_scp_sink err1 '\000\001scp: /r/f: No such file or directory\n'
seed fuzz_scp_sink err2 '\000\002fatal\n'
seed fuzz_scp_sink short '\000C0644 10 f\nabc'
seed fuzz_scp_sink brace '\100C0644 2 a\nhi\000C0644 2 bz\nyo\000'
seed fuzz_scp_sink brace_r '\101D0755 0 a\nC0600 3 x\nabc\000E\nC0644 1 b\nq\000'
seed fuzz_scp_sink server_r '\211D0755 0 d\nT1 0 2 0\nD0700 0 e\nC0644 3 x\nabc\000E\nE\n'
seed fuzz_scp_sink server_dotdot '\211D0755 0 ..\nC0644 1 x\na\000E\n'
seed fuzz_scp_sink server_d '\214C0644 3 x\nabc\000'
seed fuzz_scp_sink source '\300\000\000\000\000\000\000\000\000'
seed fuzz_scp_sink source_r '\303\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000'
seed fuzz_scp_sink source_err '\301\000\000\001scp: t: Permission denied\n\000\000\002no\n'

# ---- SFTP seeds ----
b() {		# one byte
	printf "\\$(printf '%03o' "$1")"
}
u16() { b $(($1 >> 8 & 255)); b $(($1 & 255)); }
u32() { u16 $(($1 >> 16 & 65535)); u16 $(($1 & 65535)); }
u64() { u32 $(($1 >> 32 & 4294967295)); u32 $(($1 & 4294967295)); }
str() { u32 ${#1}; printf '%s' "$1"; }	# ASCII only

# attrs SIZE PERM (octal digits): all four v3 fields
attrs() { u32 15; u64 "$1"; u32 1000; u32 1000; u32 $((0$2)); \
    u32 1700000000; u32 1700000001; }
# name1 NAME SIZE PERM: one NAME entry (without the count)
ent() { str "$1"; str "-rw-r--r-- 1 u u $2 Jan 1 00:00 $1"; attrs "$2" "$3"; }

# Scenario files hold "TYPE ID BODYFILE" lines; emit them.
scen=""
begin() { scen=$tmp/$1.scen; : > "$scen"; }
# msg TYPE ID: the body is read from stdin.  It runs in a pipeline's
# subshell, so the body's number comes from the file, not a variable.
msg() {
	m=$(($(wc -l < "$scen") + 1))
	cat > "$scen.$m"
	echo "$1 $2 $scen.$m" >> "$scen"
}
# raw SCEN / framed SCEN: a scenario's stream in either form
raw() {
	while read -r t id f; do
		len=$(($(wc -c < "$f") + 1))
		if [ "$id" != "-" ]; then
			len=$((len + 4))
		fi
		u32 "$len"; b "$t"
		if [ "$id" != "-" ]; then
			u32 "$id"
		fi
		cat "$f"
	done < "$1"
}
framed() {
	while read -r t id f; do
		b "$t"; u16 "$(wc -c < "$f")"; cat "$f"
	done < "$1"
}
# finish NAME CFG: raw and framed seeds of the current scenario
finish() {
	mkdir -p "$c/fuzz_sftp_msg"
	{ b "$2"; raw "$scen"; } > "$c/fuzz_sftp_msg/$1"
	{ b $(($2 | 8)); framed "$scen"; } > "$c/fuzz_sftp_msg/$1.framed"
}
# finish2 NAME CFG SCEN1: a relay (-3) seed, SCEN1 the source session,
# the current scenario the destination
finish2() {
	raw "$3" > "$tmp/s1.raw"
	framed "$3" > "$tmp/s1.framed"
	{ b "$2"; u16 "$(wc -c < "$tmp/s1.raw")"; cat "$tmp/s1.raw";
	  raw "$scen"; } > "$c/fuzz_sftp_msg/$1"
	{ b $(($2 | 8)); u16 "$(wc -c < "$tmp/s1.framed")";
	  cat "$tmp/s1.framed"; framed "$scen"; } \
	    > "$c/fuzz_sftp_msg/$1.framed"
}
VERSION=2 STATUS=101 HANDLE=102 DATA=103 NAME=104 ATTRS=105 XREPLY=201
st() { u32 "$1"; str "$2"; str ""; }	# STATUS body

# One file, no extensions.
begin dl_file
u32 3 | msg $VERSION -
attrs 5 100644 | msg $ATTRS 1			# LSTAT (glob)
attrs 5 100644 | msg $ATTRS 2			# STAT
str h1 | msg $HANDLE 3				# OPEN
str hello | msg $DATA 4				# READ 0
st 1 "End of file" | msg $STATUS 5		# READ 5
st 0 "" | msg $STATUS 6				# CLOSE
finish dl_file 0

# The same with extensions, limits@openssh.com and -p.
begin dl_file_ext
{ u32 3; str posix-rename@openssh.com; str 1; str limits@openssh.com;
  str 1; str expand-path@openssh.com; str 1; str copy-data; str 1; } |
    msg $VERSION -
{ u64 262144; u64 261120; u64 261120; u64 100; } | msg $XREPLY 1
attrs 5 100644 | msg $ATTRS 2
attrs 5 100644 | msg $ATTRS 3
str h1 | msg $HANDLE 4
str hello | msg $DATA 5
st 1 "End of file" | msg $STATUS 6
st 0 "" | msg $STATUS 7
finish dl_file_ext 2

# A missing file, the error text from the server.
begin dl_missing
u32 3 | msg $VERSION -
st 2 "No such file" | msg $STATUS 1
st 2 "No such file" | msg $STATUS 2
finish dl_missing 0

# Shell start-up text before the stream.
begin dl_shell_noise
printf 'Welcome to host\n' | msg 0 -
finish dl_shell_noise 0

# Glob "/r/[a-c]*" into a directory: READDIR then two files.
begin dl_glob
u32 3 | msg $VERSION -
str d1 | msg $HANDLE 1				# OPENDIR /r
{ u32 4; ent . 0 40755; ent a 3 100644; ent b 2 100600;
  ent x/y 1 100644; } | msg $NAME 2
st 1 "" | msg $STATUS 3				# READDIR: EOF
st 0 "" | msg $STATUS 4				# CLOSE
attrs 3 100644 | msg $ATTRS 5			# a: STAT
str h2 | msg $HANDLE 6
str abc | msg $DATA 7
st 1 "" | msg $STATUS 8
st 0 "" | msg $STATUS 9
attrs 2 100600 | msg $ATTRS 10			# b
str h3 | msg $HANDLE 11
str xy | msg $DATA 12
st 1 "" | msg $STATUS 13
st 0 "" | msg $STATUS 14
finish dl_glob $((0x50))

# -r "~/d" into a directory.
begin dl_recursive
u32 3 | msg $VERSION -
attrs 0 40755 | msg $ATTRS 1			# LSTAT d
{ u32 1; ent /home/u/d 0 40755; } | msg $NAME 2	# REALPATH
attrs 0 40755 | msg $ATTRS 3			# STAT
str d1 | msg $HANDLE 4				# OPENDIR
{ u32 3; ent f 3 100644; ent .. 0 40755; ent sub 0 40700; } |
    msg $NAME 5
st 1 "" | msg $STATUS 6
st 0 "" | msg $STATUS 7
str h1 | msg $HANDLE 8				# f: OPEN
str abc | msg $DATA 9
st 1 "" | msg $STATUS 10
st 0 "" | msg $STATUS 11
str d2 | msg $HANDLE 12				# sub: OPENDIR
st 1 "" | msg $STATUS 13
st 0 "" | msg $STATUS 14
finish dl_recursive $((0x63))

# "~u/x" through expand-path@openssh.com.
begin dl_expand
{ u32 3; str expand-path@openssh.com; str 1; } | msg $VERSION -
{ u32 1; ent /home/u/x 4 100644; } | msg $NAME 1
attrs 4 100644 | msg $ATTRS 2
attrs 4 100644 | msg $ATTRS 3
str h1 | msg $HANDLE 4
str ab | msg $DATA 5				# short: re-requested
str cd | msg $DATA 6
st 1 "" | msg $STATUS 7
st 0 "" | msg $STATUS 8
finish dl_expand $((0x34))

# A read error in the middle.
begin dl_readerr
u32 3 | msg $VERSION -
attrs 9 100644 | msg $ATTRS 1
attrs 9 100644 | msg $ATTRS 2
str h1 | msg $HANDLE 3
st 4 "I/O error" | msg $STATUS 4
st 0 "" | msg $STATUS 5
finish dl_readerr 0

# Upload of a 1000-byte file to /r/t: the target does not exist; the
# temporary file is opened, written, closed and renamed.
begin ul_file
{ u32 3; str posix-rename@openssh.com; str 1; } | msg $VERSION -
st 2 "No such file" | msg $STATUS 1		# STAT target
st 2 "No such file" | msg $STATUS 2		# STAT final name
str w1 | msg $HANDLE 3				# OPEN temporary
st 0 "" | msg $STATUS 4				# WRITE
st 0 "" | msg $STATUS 5				# CLOSE
st 0 "" | msg $STATUS 6				# RENAME
st 0 "" | msg $STATUS 7
finish ul_file $((0x80))

# Upload of 70000 bytes into the home directory (several WRITEs).
begin ul_home
u32 3 | msg $VERSION -
attrs 0 40755 | msg $ATTRS 1			# STAT ""
st 2 "" | msg $STATUS 2
str w1 | msg $HANDLE 3
st 0 "" | msg $STATUS 4
st 0 "" | msg $STATUS 5
st 0 "" | msg $STATUS 6
st 0 "" | msg $STATUS 7
st 0 "" | msg $STATUS 8
st 0 "" | msg $STATUS 9
finish ul_home $((0x90))

# Recursive upload of a directory: made, then its one file.
begin ul_dir
u32 3 | msg $VERSION -
st 2 "" | msg $STATUS 1				# STAT ~/t (sftp_upload)
st 2 "" | msg $STATUS 2				# STAT t (upload_dir)
st 0 "" | msg $STATUS 3				# MKDIR
str w1 | msg $HANDLE 4				# OPEN t/.e temporary
st 0 "" | msg $STATUS 5				# WRITE
st 0 "" | msg $STATUS 6				# CLOSE
st 0 "" | msg $STATUS 7				# REMOVE / RENAME
st 0 "" | msg $STATUS 8
st 0 "" | msg $STATUS 9
finish ul_dir $((0xa1))

# Relay (-3) of /r/f to /r/t: source session, then destination.
begin xl_src
u32 3 | msg $VERSION -
attrs 5 100644 | msg $ATTRS 1			# LSTAT (glob)
attrs 5 100644 | msg $ATTRS 2			# STAT
str h1 | msg $HANDLE 3				# OPEN
str hello | msg $DATA 4
st 1 "" | msg $STATUS 5
st 0 "" | msg $STATUS 6				# CLOSE
xsrc=$scen
begin xl_dst
{ u32 3; str posix-rename@openssh.com; str 1; } | msg $VERSION -
st 2 "" | msg $STATUS 1				# STAT target
st 2 "" | msg $STATUS 2				# STAT final name
str w1 | msg $HANDLE 3				# OPEN temporary
st 0 "" | msg $STATUS 4				# WRITE
st 0 "" | msg $STATUS 5				# CLOSE
st 0 "" | msg $STATUS 6				# RENAME
st 0 "" | msg $STATUS 7
finish2 xl_file $((0xc0)) "$xsrc"

# ---- fuzz_sftp_conv: two config bytes, then the server's script ----
# (fuzz_sftp_conv.c, conv.c).  A zero op answers the oldest request as
# the model would, so a run of zeros is a whole successful conversation;
# the prefixes depart from it.
conv() {	# conv NAME CFG CFG2 PREFIX (printf format) [ZEROS]
	mkdir -p "$c/fuzz_sftp_conv"
	{ b "$2"; b "$3"; printf "$4"; head -c "${5:-600}" /dev/zero; } \
	    > "$c/fuzz_sftp_conv/$1"
}
conv dl_file 0 0 ''				# /r/f to dl/out
conv dl_file_resume $((0x06)) 0 ''		# -p --resume
conv dl_glob $((0x10)) 0 ''			# /r/[a-c]* into dl
conv dl_tree $((0x21)) 0 ''			# -r ~/d: d, d/dsub
conv dl_tree_start $((0x29)) 0 ''		# the same, VERSION lazily
conv dl_tree_small $((0x23)) $((0x07)) ''	# -p, 16 requests of 4096
conv dl_two $((0x31)) 0 ''			# -r d* then /r/b
conv ul_file $((0x40)) 0 ''			# src/f to /r/t
conv ul_dir $((0x51)) 0 ''			# -r src/d to ~/t
conv ul_multi $((0x61)) $((0x20)) ''		# -r f d g to /r/dd, deferred
conv xl_glob $((0x70)) 0 ''			# -3 /r/[a-c]* to /r/dd
conv xl_tree $((0x71)) $((0x10)) ''		# -3 -r ~/d to t
# Out of order: always the newest request first; every read a byte.
{ b $((0x21)); b 0; i=0; while [ $i -lt 300 ]; do b 1; i=$((i + 1)); done; } \
    > "$c/fuzz_sftp_conv/dl_tree_newest"
conv dl_tree_trickle $((0x21)) 0 '\200\001'
# Hostile READDIR names: the first listing (the 4th reply of the glob,
# the 7th of -r ~/d) is five entries "../x", "/etc/x", "a/b", "..",
# "x\ny" (table indexes in conv_reply.c), model attributes.
conv dl_glob_hostile $((0x10)) 0 '\000\000\000\004\005\005\000\006\000\007\000\012\000\013\000'
conv dl_tree_hostile $((0x21)) 0 '\000\000\000\000\000\000\004\005\005\000\006\000\007\000\012\000\013\000'

# ---- fuzz_delta_sig, fuzz_delta_patch: librsync signatures and deltas ----
# The real ones (signatures of the fixed files of fuzz_delta.h, deltas
# between them) come from librsync itself, through delta_seeds in the
# fuzz build (tests/fuzz/README.md); without that build they are kept.
seeds=${SCP_FUZZ_BUILD:-$here/../../build-fuzz}/tests/fuzz/delta_seeds
mkdir -p "$c/fuzz_delta_sig" "$c/fuzz_delta_patch"
if [ -x "$seeds" ]; then
	"$seeds" "$c"
else
	echo "mkcorpus: $seeds not built: delta seeds from librsync kept" >&2
fi
# Hand-made signatures: the MD4 kind we refuse, a flood of one rolling
# sum (300 blocks, strong sums 16 digits each).
seed fuzz_delta_sig md4 'rs\001\066\000\000\001\000\000\000\000\020\001\002\003\004abcdefghijklmnop'
{ printf 'rs\001G\000\000\004\000\000\000\000\020'; i=0
  while [ $i -lt 300 ]; do printf '\022\064\126\170%016d' $i; i=$((i + 1)); done
} > "$c/fuzz_delta_sig/flood"
# Hand-made deltas (piece byte, then "rs\002\066" and commands): a bad
# magic, a copy past the 4096-byte base, eight copies of it (past the
# 16 KiB bound), bytes after the end, a 2^40-byte literal cut short, a
# reserved command.
seed fuzz_delta_patch bad_magic '\077rs\001\066\000'
seed fuzz_delta_patch copy_past_end '\077rs\002\066\112\017\340\000\100\000'
seed fuzz_delta_patch amplify '\077rs\002\066\106\000\020\000\106\000\020\000\106\000\020\000\106\000\020\000\106\000\020\000\106\000\020\000\106\000\020\000\106\000\020\000\000'
seed fuzz_delta_patch trailing '\003rs\002\066\003abc\000junk'
seed fuzz_delta_patch huge_literal '\077rs\002\066\104\000\000\001\000\000\000\000\000ab'
seed fuzz_delta_patch reserved '\077rs\002\066\125'
