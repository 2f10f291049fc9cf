/*
 * Validation of names a peer sends, before they touch the file system.
 */
#ifndef SCP_FS_NAME_H
#define SCP_FS_NAME_H

/* 1 if `name` is one safe path component: non-empty, not "." or "..",
 * no '/'.  0 otherwise. */
int name_is_safe(const char *name);

/* Last path component of `path` with trailing slashes ignored, as a new
 * string the caller frees ("/" for "/", "." for ""). */
char *name_basename(const char *path);

/* 1 if a source whose last component is `base` (from name_basename())
 * is copied into the target itself rather than under its own name:
 * "." and "..", as OpenSSH 10.3 (bz3871) and cp -r do ("-r DIR/sub/..
 * ex" puts DIR's contents into ex).  0 otherwise. */
int name_is_here(const char *base);

#endif
