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

#endif
