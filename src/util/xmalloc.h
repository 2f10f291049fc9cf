/*
 * Allocation that cannot fail: on exhaustion a message is printed and the
 * process aborts.  Used for small bookkeeping allocations; buffers sized
 * from wire data use buf.h and report SCP_E_NOMEM instead.
 */
#ifndef SCP_UTIL_XMALLOC_H
#define SCP_UTIL_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns a new formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

#endif
