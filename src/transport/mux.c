/*
 * The control socket of our private ControlMaster (mux.h): where it
 * lives, and OpenSSH's mux protocol spoken on it to open a session
 * channel.
 */
#include "mux.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"
#include "io.h"

/* ---- the private directory ---- */

/*
 * Our directories still on disk.  A fatal error (the caller's exit 255,
 * e.g. on a pool's SCP_E_SPAWN) leaves by exit() without closing its
 * pool: an atexit() handler removes them then.
 */
#define MUX_DIRS_MAX	8
static char *mux_dirs[MUX_DIRS_MAX];

/* Removes what is in `dir` (the socket, a dying master's temporary
 * one), then `dir`.  Only our own mkdtemp directory is ever emptied. */
static void
mux_empty_dir(const char *dir)
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0) {
				continue;
			}
			unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
	if (rmdir(dir) == -1) {
		log_debug("pool: rmdir %s: %s", dir, strerror(errno));
	}
}

static void
mux_atexit(void)
{
	size_t i;

	for (i = 0; i < MUX_DIRS_MAX; i++) {
		if (mux_dirs[i] != NULL) {
			mux_empty_dir(mux_dirs[i]);
			mux_dirs[i] = NULL;
		}
	}
}

static void
mux_register_dir(char *dir)
{
	static int registered;
	size_t i;

	if (!registered) {
		registered = atexit(mux_atexit) == 0;
	}
	for (i = 0; i < MUX_DIRS_MAX; i++) {
		if (mux_dirs[i] == NULL) {
			mux_dirs[i] = dir;
			return;
		}
	}
}

/*
 * Under $TMPDIR when that is short enough for a socket path (108 bytes,
 * and ssh adds a 17-byte suffix while binding), else /tmp.  mkdtemp
 * makes it 0700.
 */
int
mux_dir_make(const char *name, char **dirp, char **pathp)
{
	const char *tmp;
	char *dir;

	tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 48) {
		tmp = "/tmp";
	}
	dir = xasprintf("%s/scp-pool.XXXXXXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		log_debug("pool: mkdtemp %s: %s", dir, strerror(errno));
		free(dir);
		return SCP_E_SYS;
	}
	*dirp = dir;
	*pathp = xasprintf("%s/%s", dir, name);
	mux_register_dir(dir);
	return 0;
}

void
mux_dir_remove(char **dirp, char **pathp)
{
	size_t i;

	if (*dirp == NULL) {
		return;
	}
	mux_empty_dir(*dirp);
	for (i = 0; i < MUX_DIRS_MAX; i++) {
		if (mux_dirs[i] == *dirp) {
			mux_dirs[i] = NULL;
		}
	}
	free(*dirp);
	free(*pathp);
	*dirp = NULL;
	*pathp = NULL;
}

int
mux_socket_ready(const char *path)
{
	struct stat st;

	if (path == NULL || lstat(path, &st) == -1) {
		return 0;
	}
	return S_ISSOCK(st.st_mode);
}

/* ---- a session channel over the control socket (PROTOCOL.mux) ---- */

#define MUX_MSG_HELLO		0x00000001
#define MUX_C_NEW_SESSION	0x10000002
#define MUX_S_PERMISSION_DENIED	0x80000002
#define MUX_S_FAILURE		0x80000003
#define MUX_S_SESSION_OPENED	0x80000006
#define MUX_VERSION		4
/* Replies of the master are small; anything bigger is not one. */
#define MUX_MSG_MAX		(64 * 1024)

/* Appends one mux message `body` to `out`: u32 length, then body. */
static int
mux_frame(struct buf *out, struct buf *body)
{
	int r;

	if ((r = buf_put_string(out, buf_ptr(body), buf_len(body))) != 0) {
		return r;
	}
	buf_reset(body);
	return 0;
}

/* Sends descriptor `fd` with one byte, as the master's mm_receive_fd()
 * expects: one sendmsg per descriptor. */
static int
mux_send_fd(int sock, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr *c;
	struct msghdr mh;
	struct iovec iov;
	char ch = '\0';
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = &ch;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	return n == 1 ? 0 : -1;
}

/* Reads one mux message into `b` (reset first).  0 or -1. */
static int
mux_read(int sock, struct buf *b)
{
	uint8_t hdr[4], *p;
	uint32_t len;
	ssize_t n;

	buf_reset(b);
	n = io_read_full(sock, hdr, sizeof(hdr));
	if (n != (ssize_t)sizeof(hdr)) {
		return -1;
	}
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	if (len < 4 || len > MUX_MSG_MAX || buf_reserve(b, len, &p) != 0) {
		return -1;
	}
	n = io_read_full(sock, p, len);
	return n == (ssize_t)len ? 0 : -1;
}

/*
 * Everything is sent at once: the master reads its control socket
 * message by message and takes the descriptors while handling
 * NEW_SESSION.
 */
int
mux_new_session(int ctl, const char *path, int peer, const char *subsystem,
    uint32_t *rtt_us)
{
	struct sockaddr_un sa;
	struct timespec t0, t1;
	struct buf *msg = NULL, *body = NULL;
	uint32_t type, rid;
	int64_t us;
	int rc = -1, nul = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		close(peer);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if (connect(ctl, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		log_debug("pool: control socket: %s", strerror(errno));
		close(peer);
		return -1;
	}
	msg = buf_new(MUX_MSG_MAX);
	body = buf_new(MUX_MSG_MAX);
	if (msg == NULL || body == NULL ||
	    buf_put_u32(body, MUX_MSG_HELLO) != 0 ||
	    buf_put_u32(body, MUX_VERSION) != 0 ||
	    mux_frame(msg, body) != 0 ||
	    buf_put_u32(body, MUX_C_NEW_SESSION) != 0 ||
	    buf_put_u32(body, 1) != 0 ||		/* request id */
	    buf_put_cstring(body, "") != 0 ||	/* reserved */
	    buf_put_u32(body, 0) != 0 ||		/* tty */
	    buf_put_u32(body, 0) != 0 ||		/* X11 */
	    buf_put_u32(body, 0) != 0 ||		/* agent */
	    buf_put_u32(body, 1) != 0 ||		/* subsystem */
	    buf_put_u32(body, 0xffffffffU) != 0 ||	/* no escape char */
	    buf_put_cstring(body, "") != 0 ||	/* terminal */
	    buf_put_cstring(body, subsystem) != 0 ||
	    mux_frame(msg, body) != 0) {
		close(peer);
		goto out;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	/*
	 * stdin and stdout: the socketpair.  stderr: /dev/null, not ours:
	 * the master makes the descriptors it gets non-blocking, which
	 * would reach our own stderr's open file; and the first session
	 * already shows what the remote side prints there.
	 */
	if ((nul = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1 ||
	    io_write_full(ctl, buf_ptr(msg), buf_len(msg)) != 0 ||
	    mux_send_fd(ctl, peer) != 0 ||
	    mux_send_fd(ctl, peer) != 0 ||
	    mux_send_fd(ctl, nul) != 0) {
		log_debug("pool: control socket: %s", strerror(errno));
		close(peer);
		if (nul != -1) {
			close(nul);
		}
		goto out;
	}
	close(peer);
	close(nul);
	/* The master's HELLO, then the answer to request 1. */
	if (mux_read(ctl, msg) != 0 ||
	    buf_get_u32(msg, &type) != 0 || type != MUX_MSG_HELLO ||
	    mux_read(ctl, msg) != 0 ||
	    buf_get_u32(msg, &type) != 0 || buf_get_u32(msg, &rid) != 0 ||
	    rid != 1) {
		log_debug("pool: no answer from the master");
		goto out;
	}
	if (type != MUX_S_SESSION_OPENED) {
		log_debug("pool: channel refused (%s)",
		    type == MUX_S_FAILURE ? "failure" :
		    type == MUX_S_PERMISSION_DENIED ? "permission denied" :
		    "unexpected reply");
		goto out;
	}
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((int64_t)t1.tv_sec - (int64_t)t0.tv_sec) * 1000000 +
	    ((int64_t)t1.tv_nsec - (int64_t)t0.tv_nsec) / 1000;
	*rtt_us = us < 0 ? 0 : us > (int64_t)UINT32_MAX ? UINT32_MAX :
	    (uint32_t)us;
	rc = 0;
out:
	buf_free(msg);
	buf_free(body);
	return rc;
}
