/*
 * Pure parsers and formatters for the legacy protocol's control records
 * (PROTOCOL.md section 2): "C%04o %lld name", "D%04o 0 name",
 * "T<mtime> <usec> <atime> <usec>".  No I/O.
 *
 * Parsers take one record line without its trailing newline.  They
 * return 0 or SCP_E_FORMAT / SCP_E_RANGE and, on failure, point *why at
 * a static string with OpenSSH's wording ("bad mode", "size out of
 * range", "mtime.sec not present", ...), printed by the sink as
 * "protocol error: <why>".
 */
#ifndef SCP_PROTO_SCP_RECORD_H
#define SCP_PROTO_SCP_RECORD_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* OpenSSH's FILEMODEMASK: setuid, setgid and rwx bits (sticky dropped). */
#define SCP_FILEMODEMASK	06777

struct scp_record_cd {
	char type;		/* 'C' or 'D' */
	mode_t mode;		/* the 4 octal digits as sent, 0..07777 */
	uint64_t size;		/* <= INT64_MAX */
	const char *name;	/* points into the parsed line, not checked */
};

struct scp_record_times {
	int valid;		/* 0: a time was out of range, ignore them */
	time_t mtime;
	time_t atime;
	long mtime_usec;	/* 0..999999 */
	long atime_usec;
};

/* Parses a C or D record.  r->name aliases `line`. */
int scp_record_parse_cd(const char *line, struct scp_record_cd *r,
    const char **why);

/*
 * Parses a T record strictly.  Malformed -> error; times that do not fit
 * time_t -> 0 with t->valid = 0 (OpenSSH ignores them rather than fail).
 */
int scp_record_parse_t(const char *line, struct scp_record_times *t,
    const char **why);

/*
 * Formats "C%04o %lld %s\n" (type 'C') or "D%04o 0 %.1024s\n" (type 'D',
 * size ignored) into a new string the caller frees.  The mode is masked
 * with SCP_FILEMODEMASK; a name containing a newline is vis-encoded
 * (sanitize.h scp_vis_name).  Returns 0, SCP_E_RANGE for a size above
 * INT64_MAX, SCP_E_NOMEM.
 */
int scp_record_format_cd(char type, mode_t mode, uint64_t size,
    const char *name, char **out);

/* Formats "T<mtime> 0 <atime> 0\n" into out (negative times become 0).
 * Returns 0, or SCP_E_TOOBIG if outsz is too small. */
int scp_record_format_t(char *out, size_t outsz, time_t mtime, time_t atime);

#endif
