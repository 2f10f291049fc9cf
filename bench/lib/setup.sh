# bench/lib/setup.sh: tools, our binary, the private sshd and the data
# sets.  Sourced by bench/run.sh; uses its variables (REPO, W, QUICK, ...).

# setup_deps: install what the benchmark needs with apt-get when missing.
setup_deps () {
	_missing=
	command -v rsync >/dev/null 2>&1 || _missing="$_missing rsync"
	[ -x /usr/sbin/sshd ] || _missing="$_missing openssh-server"
	command -v ssh >/dev/null 2>&1 || _missing="$_missing openssh-client"
	[ -x /usr/bin/time ] || _missing="$_missing time"
	command -v meson >/dev/null 2>&1 || _missing="$_missing meson"
	command -v ninja >/dev/null 2>&1 || _missing="$_missing ninja-build"
	command -v timeout >/dev/null 2>&1 || _missing="$_missing coreutils"
	if [ -n "$_missing" ]; then
		say "installing:$_missing"
		apt-get update -qq >/dev/null &&
		    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    $_missing >/dev/null ||
		    die "apt-get install$_missing failed"
	fi
	[ -x /usr/lib/openssh/sftp-server ] ||
	    die "no /usr/lib/openssh/sftp-server (package openssh-sftp-server)"
}

# setup_build: build our scp and linkemu in $BUILD (release) unless --scp
# names a binary.  Sets OURS and LINKEMU.
setup_build () {
	if [ ! -f "$BUILD/build.ninja" ]; then
		say "configuring $BUILD (release)"
		# werror=false: -O3 raises -Wmaybe-uninitialized warnings that
		# the debugoptimized developer builds do not; a warning must not
		# stop a benchmark.
		meson setup "$BUILD" "$REPO" -Dbuildtype=release \
		    -Dwerror=false >"$W/logs/meson-setup.log" 2>&1 ||
		    die "meson setup failed, see $W/logs/meson-setup.log"
	fi
	# With --scp only linkemu is needed: leave build-bench/scp alone (a
	# full run may be using it).
	_targets=bench/linkemu
	if [ -z "$OURS" ]; then
		_targets="scp $_targets"
		OURS=$BUILD/scp
	fi
	say "building $_targets in $BUILD"
	ninja -C "$BUILD" $_targets >"$W/logs/ninja.log" 2>&1 ||
	    die "build failed: $(tail -5 "$W/logs/ninja.log")"
	LINKEMU=$BUILD/bench/linkemu
	[ -x "$OURS" ] || die "no scp binary at $OURS"
	[ -x "$LINKEMU" ] || die "no linkemu at $LINKEMU"
}

# setup_user: the remote side logs in as scptest (PROTOCOL.md tests use
# the same account).  A '*' password keeps the account unlocked for
# public-key login with UsePAM no.
setup_user () {
	if ! getent passwd scptest >/dev/null 2>&1; then
		useradd -m -s /bin/sh scptest || die "useradd scptest failed"
		usermod -p '*' scptest || die "usermod scptest failed"
	fi
}

# setup_sshd: keys, two sshd configs (remote PATH with our scp first, and
# OpenSSH's only) and one ssh_config with four host aliases:
#	ours, openssh		loopback through "sshd -i"
#	ours-long, openssh-long	the same through linkemu (-d 25: 50 ms RTT)
# Nothing outside $W is touched: no daemon, no port, no /etc/ssh, no ~/.ssh.
setup_sshd () {
	mkdir -p /run/sshd "$W/keys" "$W/bin-ours" || return 1
	chmod 0755 "$W/keys" "$W/bin-ours"
	ssh-keygen -q -t ed25519 -N '' -C scpbench-host -f "$W/keys/host" &&
	ssh-keygen -q -t ed25519 -N '' -C scpbench-client \
	    -f "$W/keys/client" || die "ssh-keygen failed"
	chmod 0644 "$W/keys/client.pub"
	ln -sf "$OURS" "$W/bin-ours/scp"
	for _kind in ours openssh; do
		_path=/usr/bin:/bin
		if [ "$_kind" = ours ]; then
			_path=$W/bin-ours:/usr/bin:/bin
		fi
		cat >"$W/sshd_$_kind" <<EOF
HostKey $W/keys/host
AuthorizedKeysFile $W/keys/client.pub
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp /usr/lib/openssh/sftp-server
PidFile none
LogLevel ERROR
Ciphers $CIPHER
Compression no
SetEnv PATH=$_path
EOF
	done
	cat >"$W/ssh_config" <<EOF
Host ours
  ProxyCommand /usr/sbin/sshd -i -f $W/sshd_ours
Host openssh
  ProxyCommand /usr/sbin/sshd -i -f $W/sshd_openssh
Host ours-long
  ProxyCommand $LINKEMU -d $LONG_DELAY_MS -- /usr/sbin/sshd -i -f $W/sshd_ours
Host openssh-long
  ProxyCommand $LINKEMU -d $LONG_DELAY_MS -- /usr/sbin/sshd -i -f $W/sshd_openssh
Host *
  User scptest
  IdentityFile $W/keys/client
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  GlobalKnownHostsFile /dev/null
  LogLevel ERROR
  BatchMode yes
  Ciphers $CIPHER
  Compression no
  ControlMaster no
  ControlPath none
EOF
	chmod 0644 "$W"/sshd_* "$W/ssh_config"
	CFG=$W/ssh_config
	for _h in ours openssh; do
		_got=$(timeout 30 ssh -F "$CFG" "$_h" 'echo $PATH' \
		    </dev/null 2>"$W/logs/ssh-check.err") ||
		    die "ssh to $_h failed: $(cat "$W/logs/ssh-check.err")"
		say "ssh $_h ok (remote PATH=$_got)"
	done
	_got=$(timeout 30 ssh -F "$CFG" ours 'command -v scp' </dev/null)
	[ "$_got" = "$W/bin-ours/scp" ] ||
	    die "remote scp for host ours is '$_got', not ours"
}

# --- data sets ----------------------------------------------------------

# Sizes (full / --quick).  Names are the top-level entry copied.
set_sizes () {
	if [ "$QUICK" = 1 ]; then
		BIG_BYTES=$((64 << 20))		# big1g
		SMALL_DIRS=5			# small10k: dirs x 100 x 4 KiB
		MIXED_SMALL=159 MIXED_BIG=1	# mixed
		LBIG_BYTES=$((32 << 20))	# big256m
		LSMALL_DIRS=1 LSMALL_PER=20	# small500
	else
		BIG_BYTES=$((1 << 30))
		SMALL_DIRS=100
		MIXED_SMALL=1590 MIXED_BIG=10
		LBIG_BYTES=$((256 << 20))
		LSMALL_DIRS=5 LSMALL_PER=100
	fi
}

# mk_random FILE BYTES
mk_random () {
	head -c "$2" /dev/urandom >"$1" || return 1
	[ "$(stat -c %s "$1")" = "$2" ]
}

# mk_small_tree DIR NDIRS PER: NDIRS directories of PER 4 KiB files each,
# one split(1) per directory rather than one process per file.
mk_small_tree () {
	mkdir -p "$1" || return 1
	_i=0
	while [ "$_i" -lt "$2" ]; do
		_d=$1/$(printf 'd%03d' "$_i")
		mkdir -p "$_d" &&
		head -c $(($3 * 4096)) /dev/urandom |
		    (cd "$_d" && split -b 4096 -a 3 -d - f) || return 1
		_i=$((_i + 1))
	done
}

# mixed_sizes NSMALL NBIG: "size path" lines for the mixed tree.  The
# sizes come from a Park-Miller generator with a fixed seed, computed in
# integers that a double holds exactly, so every machine and every awk
# gets the same list.  Small files are log-spread over 1 KiB .. 1 MiB
# (power-of-two bucket, uniform inside it), big ones 4 .. 40 MB; the first
# small file is exactly 1 KB and the first big one exactly 50 MB so the
# range ends are always present.
mixed_sizes () {
	awk -v ns="$1" -v nb="$2" 'function rnd() {
		seed = (seed * 16807) % 2147483647; return seed
	}
	BEGIN {
		seed = 20240601
		for (i = 0; i < ns + nb; i++) {
			if (i < ns) {
				base = 1024 * 2 ^ (rnd() % 10)
				size = base + rnd() % base
				if (i == 0) size = 1000
			} else {
				size = 4000000 + rnd() % 36000001
				if (i == ns) size = 50000000
			}
			printf "%d a%d/b%d/f%04d.dat\n", size, i % 8, i % 5, i
		}
	}'
}

mk_mixed_tree () {
	mkdir -p "$1" || return 1
	mixed_sizes "$2" "$3" | while read -r _size _path; do
		mkdir -p "$1/${_path%/*}" &&
		head -c "$_size" /dev/urandom >"$1/$_path" || return 1
	done
}

# dataset_for WORKLOAD: the data set (entry under $W/data) it copies.
dataset_for () {
	case $1 in
	big-*) echo big1g ;;
	small-*) echo small10k ;;
	mixed-*) echo mixed ;;
	long-big-*) echo big256m ;;
	long-small-*) echo small500 ;;
	relay-big) echo big1g ;;
	relay-small) echo small10k ;;
	long-relay-small) echo small500 ;;
	*) return 1 ;;
	esac
}

# setup_data WORKLOADS: create each data set the workloads need, once.
setup_data () {
	set_sizes
	mkdir -p "$W/data" "$W/rdst" "$W/ldst" || return 1
	chmod 0755 "$W/data" "$W/ldst"
	# Upload targets are written by scptest on the "remote" side.
	chown scptest: "$W/rdst" && chmod 0755 "$W/rdst" || return 1
	for _wl in $1; do
		_ds=$(dataset_for "$_wl")
		[ -e "$W/data/$_ds" ] && continue
		_t0=$(now_ns)
		case $_ds in
		big1g) mk_random "$W/data/$_ds" "$BIG_BYTES" ;;
		big256m) mk_random "$W/data/$_ds" "$LBIG_BYTES" ;;
		small10k) mk_small_tree "$W/data/$_ds" "$SMALL_DIRS" 100 ;;
		small500) mk_small_tree "$W/data/$_ds" "$LSMALL_DIRS" \
		    "$LSMALL_PER" ;;
		mixed) mk_mixed_tree "$W/data/$_ds" "$MIXED_SMALL" \
		    "$MIXED_BIG" ;;
		esac || die "creating data set $_ds failed"
		_n=$(find "$W/data/$_ds" -type f | wc -l)
		_b=$(du -sb "$W/data/$_ds" | cut -f1)
		say "data set $_ds: $_n files, $(human_bytes "$_b")" \
		    "($(ns_to_s $(($(now_ns) - _t0))) s)"
		printf '%s\t%s\t%s\n' "$_ds" "$_n" "$_b" >>"$W/datasets.tsv"
	done
	chmod -R a+rX "$W/data"
}
