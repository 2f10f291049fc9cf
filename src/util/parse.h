/*
 * Checked number parsers.  Nothing else in the tree converts text to
 * numbers: no atoi, strtol or sscanf.  Each returns 0 or a negative
 * SCP_E_* code and writes *out only on success.
 */
#ifndef SCP_UTIL_PARSE_H
#define SCP_UTIL_PARSE_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Parses one or more decimal digits at *p (no sign, no space) and
 * advances *p past them.  SCP_E_FORMAT if no digit, SCP_E_RANGE if the
 * value exceeds `max`. */
int parse_u64(const char **p, uint64_t max, uint64_t *out);

/* Like parse_u64 but octal digits, at most `ndigits` of them (0 = any),
 * and exactly `ndigits` when `exact` is set. */
int parse_octal(const char **p, unsigned int ndigits, int exact,
    uint64_t max, uint64_t *out);

/* The whole string `s` must be decimal digits with a value in
 * [min, max]. */
int parse_uint_str(const char *s, uint64_t min, uint64_t max,
    uint64_t *out);

/* OpenSSH scan_scaled: digits optionally followed by one of
 * B K M G T P E (case-insensitive, powers of 1024), whole string.
 * SCP_E_RANGE on overflow. */
int parse_scaled(const char *s, uint64_t *out);

/* OpenSSH a2port: numeric 0..65535 or a service name from
 * /etc/services (tcp).  Writes the port; SCP_E_FORMAT/SCP_E_RANGE
 * otherwise. */
int parse_port(const char *s, int *out);

/* Checked conversions to the platform's signed types. */
int off_from_u64(uint64_t v, off_t *out);
int time_from_u64(uint64_t v, time_t *out);

#endif
