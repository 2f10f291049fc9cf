#!/bin/sh
# The main job, end to end: build scp, start a private sshd on a loopback
# port (its own keys and config in a temp dir), copy a file up and down
# with both protocols, compare the bytes, then stop that sshd by its pid.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/deps.sh"
if [ ! -f "$top/build/build.ninja" ]; then
	meson setup "$top/build" >/dev/null
fi
ninja -C "$top/build" >/dev/null
scp="$top/build/scp"

user=scptest
if ! id "$user" >/dev/null 2>&1; then
	useradd -m -s /bin/sh "$user"
fi
usermod -p '*' "$user"	# no password, but not a locked account
mkdir -p /run/sshd

d=$(mktemp -d /tmp/scp-demo.XXXXXX)
chmod 755 "$d"
sshd_pid=""
cleanup() {
	if [ -n "$sshd_pid" ]; then
		kill "$sshd_pid" 2>/dev/null || true
		wait "$sshd_pid" 2>/dev/null || true
	fi
	rm -rf "$d"
}
trap cleanup EXIT INT TERM

ssh-keygen -q -t ed25519 -N '' -f "$d/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$d/id"
cp "$d/id.pub" "$d/authorized_keys"
chmod 644 "$d/authorized_keys"
mkdir "$d/bin" "$d/remote"
ln -s "$scp" "$d/bin/scp"
chown "$user" "$d/remote"

port=""
for p in $(seq 22220 22299); do
	cat > "$d/sshd_config" <<EOC
ListenAddress 127.0.0.1:$p
HostKey $d/hostkey
AuthorizedKeysFile $d/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp /usr/lib/openssh/sftp-server
SetEnv PATH=$d/bin:/usr/bin:/bin
PidFile none
EOC
	/usr/sbin/sshd -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
	sshd_pid=$!
	sleep 0.5
	if kill -0 "$sshd_pid" 2>/dev/null; then
		port=$p
		break
	fi
	wait "$sshd_pid" 2>/dev/null || true
	sshd_pid=""
done
[ -n "$port" ] || { echo "demo: could not start sshd" >&2; exit 1; }

cat > "$d/ssh_config" <<EOC
Host demo
  HostName 127.0.0.1
  Port $port
  User $user
  IdentityFile $d/id
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
EOC

head -c 50000000 /dev/urandom > "$d/file.bin"
for proto in "" "-O"; do
	name=${proto:-sftp}
	rm -f "$d/remote/copy.bin" "$d/back.bin"
	start=$(date +%s.%N)
	"$scp" -q $proto -F "$d/ssh_config" "$d/file.bin" "demo:$d/remote/copy.bin"
	"$scp" -q $proto -F "$d/ssh_config" "demo:$d/remote/copy.bin" "$d/back.bin"
	end=$(date +%s.%N)
	cmp "$d/file.bin" "$d/remote/copy.bin"
	cmp "$d/file.bin" "$d/back.bin"
	secs=$(echo "$end $start" | awk '{printf "%.2f", $1 - $2}')
	echo "demo: 50 MB up and down over $name via sshd on" \
	    "127.0.0.1:$port: identical ($secs s)"
done
echo "demo: ok"
