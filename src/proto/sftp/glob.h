/*
 * Remote operands (glob.c): path preparation (~ forms), glob over
 * READDIR with GLOB_NOCHECK|GLOB_MARK semantics, and what the lookup
 * of a source operand learnt for the transfer that follows.  Built on
 * the wire (wire.h) only.  Returns as wire.h says; strings and vectors
 * handed out are the caller's to free.
 */
#ifndef SCP_PROTO_SFTP_GLOB_H
#define SCP_PROTO_SFTP_GLOB_H

#include <stddef.h>

#include "wire.h"

struct strvec;

/* 1 if the component s[0..n) contains unescaped * ? or [. */
int sftp_glob_has_magic(const char *s, size_t n);
/* fnmatch-like match of one name against one pattern component
 * pat[0..n) (backslash escapes, [..] with ranges and '!' or '^').
 * A leading '.' of `name` must be matched literally.  1 or 0. */
int sftp_glob_match(const char *pat, size_t n, const char *name);
/* Backslash-unescaped copy of `s` (caller frees). */
char *sftp_glob_unescape(const char *s);

/*
 * Path preparation (PROTOCOL.md section 4), pure part: "" and "~" -> ".",
 * "~/x" -> "x", others unchanged; *needs_expand set for "~user..." paths,
 * which sftp_prepare_path() then sends to expand-path@openssh.com.
 */
char *sftp_prepare_path_local(const char *path, int *needs_expand);
int sftp_prepare_path(struct sftp_session *s, const char *path,
    char **out);

/*
 * Remote glob with GLOB_NOCHECK|GLOB_MARK semantics: results sorted,
 * directories marked with a trailing '/'; no match gives the unescaped
 * pattern and *nomatch = 1.  Results appended to `out`.
 */
int sftp_glob(struct sftp_session *s, const char *pattern,
    struct strvec *out, int *nomatch);

/*
 * A source operand of a download or relay, as the user typed it: path
 * preparation (~ forms), glob, and for a pattern that matched nothing a
 * STAT of the literal name (it may still exist: a name with '[').
 * Returns 0 with the matches appended to `out`, 1 when an error was
 * reported (the copy goes on with the next operand), or a negative code
 * when the session is unusable.
 */
int sftp_glob_source(struct sftp_session *s, const char *src,
    struct strvec *out);

/*
 * What the lookup of a plain source operand (no pattern character, no
 * backslash, no ~user) learnt with the requests sent along with its
 * LSTAT, so that a download needs no further round trip to start.
 * `plain` 0: none of it is known.  With SFTP_SRC_REALPATH `canon` is its
 * REALPATH (NULL if that failed); with SFTP_SRC_OPENDIR `dir` is 1 when
 * the OPENDIR gave handle `h` (the caller owns it and must CLOSE it), -1
 * when it failed (not a directory, unreadable), 0 when not sent.
 */
struct sftp_srcinfo {
	int plain;
	int stat_ok;		/* `a` holds the operand's STAT */
	struct sftp_attr a;
	char *canon;
	int dir;
	struct sftp_handle h;
	/*
	 * For a pattern: what the listings said of the matches appended
	 * to `out` (attrs[i] for the i-th), as STAT would (the target of
	 * a symlink); flags 0 when unknown.  nattrs may be 0.
	 */
	struct sftp_attr *attrs;
	size_t nattrs;
	/*
	 * The end of the last listing, sent but not collected: the caller
	 * takes it (sftp_pend_collect) once its next requests are sent, or
	 * sftp_srcinfo_release() does.
	 */
	struct sftp_pend pend;
};
#define SFTP_SRC_REALPATH	0x1
#define SFTP_SRC_OPENDIR	0x2

/*
 * sftp_glob_source(), and for a plain operand its STAT and what `want`
 * asks sent in the same round trip as its LSTAT, the results in *info
 * (also filled when 1 is returned).  Release *info with
 * sftp_srcinfo_release() whatever the return.
 */
int sftp_glob_source_pre(struct sftp_session *s, const char *src,
    struct strvec *out, int want, struct sftp_srcinfo *info);
/* Frees what *info holds, takes its `pend` and CLOSEs a handle still
 * owned (waiting for those replies). */
void sftp_srcinfo_release(struct sftp_session *s, struct sftp_srcinfo *info);

#endif
