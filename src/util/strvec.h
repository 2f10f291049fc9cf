/*
 * A NULL-terminated, growable vector of owned strings (git's strvec):
 * argv construction for child processes.  `v` is never NULL after
 * strvec_init() and always ends with a NULL entry.  Allocation failure
 * aborts (xmalloc.h).
 */
#ifndef SCP_UTIL_STRVEC_H
#define SCP_UTIL_STRVEC_H

#include <stdarg.h>
#include <stddef.h>

struct strvec {
	char **v;
	size_t n;
	size_t alloc;
};

void strvec_init(struct strvec *sv);
/* Appends a copy of `s`. */
void strvec_push(struct strvec *sv, const char *s);
void strvec_pushf(struct strvec *sv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strvec_vpushf(struct strvec *sv, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Appends copies of every string of `other`. */
void strvec_pushv(struct strvec *sv, const struct strvec *other);
/* Frees every string and the vector; leaves it initialised and empty. */
void strvec_clear(struct strvec *sv);

#endif
