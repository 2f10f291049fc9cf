/*
 * The monotonic clock in seconds, for meters and event timestamps that
 * only subtract two readings (never wall time).  Never fails.
 */
#ifndef SCP_UTIL_CLOCK_H
#define SCP_UTIL_CLOCK_H

double clock_mono(void);

#endif
