/*
 * ATTRS (draft-ietf-secsh-filexfer-02 section 5): flags, then size,
 * uid/gid, permissions, atime/mtime and extended pairs as flagged.
 */
#include "wire.h"

#include <string.h>
#include <sys/stat.h>

#include "../../util/buf.h"
#include "../../util/err.h"

int
sftp_attr_decode(struct buf *b, struct sftp_attr *a)
{
	uint32_t count, i;
	const uint8_t *p;
	size_t n;
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = buf_get_u32(b, &a->flags)) != 0) {
		return r;
	}
	if ((a->flags & SSH2_FILEXFER_ATTR_SIZE) &&
	    (r = buf_get_u64(b, &a->size)) != 0) {
		return r;
	}
	if ((a->flags & SSH2_FILEXFER_ATTR_UIDGID) &&
	    ((r = buf_get_u32(b, &a->uid)) != 0 ||
	    (r = buf_get_u32(b, &a->gid)) != 0)) {
		return r;
	}
	if ((a->flags & SSH2_FILEXFER_ATTR_PERMISSIONS) &&
	    (r = buf_get_u32(b, &a->perm)) != 0) {
		return r;
	}
	if ((a->flags & SSH2_FILEXFER_ATTR_ACMODTIME) &&
	    ((r = buf_get_u32(b, &a->atime)) != 0 ||
	    (r = buf_get_u32(b, &a->mtime)) != 0)) {
		return r;
	}
	if (a->flags & SSH2_FILEXFER_ATTR_EXTENDED) {
		if ((r = buf_get_u32(b, &count)) != 0) {
			return r;
		}
		if (count > SFTP_MAX_EXT_PAIRS) {
			return SCP_E_TOOBIG;
		}
		/* Type and data of each pair: we use none of them. */
		for (i = 0; i < count; i++) {
			if ((r = buf_get_string_direct(b, &p, &n)) != 0 ||
			    (r = buf_get_string_direct(b, &p, &n)) != 0) {
				return r;
			}
		}
	}
	return 0;
}

int
sftp_attr_encode(struct buf *b, const struct sftp_attr *a)
{
	uint32_t flags = a->flags & ~SSH2_FILEXFER_ATTR_EXTENDED;
	int r;

	if ((r = buf_put_u32(b, flags)) != 0) {
		return r;
	}
	if ((flags & SSH2_FILEXFER_ATTR_SIZE) &&
	    (r = buf_put_u64(b, a->size)) != 0) {
		return r;
	}
	if ((flags & SSH2_FILEXFER_ATTR_UIDGID) &&
	    ((r = buf_put_u32(b, a->uid)) != 0 ||
	    (r = buf_put_u32(b, a->gid)) != 0)) {
		return r;
	}
	if ((flags & SSH2_FILEXFER_ATTR_PERMISSIONS) &&
	    (r = buf_put_u32(b, a->perm)) != 0) {
		return r;
	}
	if ((flags & SSH2_FILEXFER_ATTR_ACMODTIME) &&
	    ((r = buf_put_u32(b, a->atime)) != 0 ||
	    (r = buf_put_u32(b, a->mtime)) != 0)) {
		return r;
	}
	return 0;
}

/* The wire has 32-bit times: clamp rather than wrap (0 for negatives). */
static uint32_t
time_to_u32(time_t t)
{
	if (t < 0) {
		return 0;
	}
	if ((uint64_t)t > UINT32_MAX) {
		return UINT32_MAX;
	}
	return (uint32_t)t;
}

void
sftp_attr_from_stat(struct sftp_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->flags = SSH2_FILEXFER_ATTR_SIZE | SSH2_FILEXFER_ATTR_UIDGID |
	    SSH2_FILEXFER_ATTR_PERMISSIONS | SSH2_FILEXFER_ATTR_ACMODTIME;
	a->size = st->st_size < 0 ? 0 : (uint64_t)st->st_size;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->perm = st->st_mode;
	a->atime = time_to_u32(st->st_atime);
	a->mtime = time_to_u32(st->st_mtime);
}

int
sftp_attr_is_dir(const struct sftp_attr *a)
{
	return (a->flags & SSH2_FILEXFER_ATTR_PERMISSIONS) &&
	    S_ISDIR(a->perm);
}

int
sftp_attr_is_reg(const struct sftp_attr *a)
{
	return (a->flags & SSH2_FILEXFER_ATTR_PERMISSIONS) &&
	    S_ISREG(a->perm);
}

int
sftp_attr_is_lnk(const struct sftp_attr *a)
{
	return (a->flags & SSH2_FILEXFER_ATTR_PERMISSIONS) &&
	    S_ISLNK(a->perm);
}
