#!/bin/sh
# Installs what building and testing scp needs, on Debian, when missing.
# Safe to run repeatedly: it only calls apt-get when a tool is absent.
set -eu

need=""
have() { command -v "$1" >/dev/null 2>&1; }
have meson || need="$need meson"
have ninja || need="$need ninja-build"
have cc || need="$need gcc"
have pkg-config || need="$need pkg-config"
have ssh || need="$need openssh-client"
have ssh-keygen || need="$need openssh-client"
[ -x /usr/sbin/sshd ] || need="$need openssh-server"
[ -x /usr/lib/openssh/sftp-server ] || need="$need openssh-sftp-server"
pkg-config --exists cmocka 2>/dev/null || need="$need libcmocka-dev"
# SHA-256 for --verify (src/util/digest.c) and rsync's algorithm for
# --delta (src/delta): OpenSSL's libcrypto and librsync (issue 15).
pkg-config --exists libcrypto 2>/dev/null || need="$need libssl-dev"
# Debian 12's librsync-dev ships no pkg-config file: look for the header.
pkg-config --exists librsync 2>/dev/null || [ -f /usr/include/librsync.h ] ||
    need="$need librsync-dev"
have useradd || need="$need passwd"
# Test helpers: python3 (exec with SIGINT restored), GNU time (peak RSS).
have python3 || need="$need python3-minimal"
[ -x /usr/bin/time ] || need="$need time"
# Peers no one here wrote (tests/integration/t11xx): a Dropbear server,
# PuTTY's pscp and puttygen; unshare (util-linux) for Dropbear's mount
# namespace.
[ -x /usr/sbin/dropbear ] || need="$need dropbear-bin"
have pscp || need="$need putty-tools"
have unshare || need="$need util-linux"
if [ "${SCP_NEED_CLANG:-0}" = 1 ]; then
	have clang || need="$need clang"
	# libFuzzer's runtime is only a Recommends of clang on Debian.
	ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a \
	    >/dev/null 2>&1 || need="$need libclang-rt-dev"
fi

if [ -n "$need" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing:$need (run as root to install)" >&2
		exit 1
	fi
	echo "deps: installing:$need" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $need >/dev/null
fi
