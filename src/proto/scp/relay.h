/*
 * The legacy -3 relay (PROTOCOL.md section 3, "-3 legacy"): the local scp
 * passes the bytes of a remote `scp -f` (the source, A) to a remote
 * `scp -t` (the sink, B) and back, unchanged.
 *
 * OpenSSH joins the two directly, so their error records only reach the
 * remote sink, which prints none: a missing source or a refused target
 * is an exit status without a word.  Here the relay watches the stream
 * as it passes (struct scp_relay_watch: records and answers, the data of
 * a C record skipped by its size) and prints every error record either
 * side sends, in the order they pass.  Watching never changes a byte:
 * what it cannot follow (a line over SCP_LINE_MAX, an unknown record) it
 * stops watching in that direction and the bytes still pass.
 */
#ifndef SCP_PROTO_SCP_RELAY_H
#define SCP_PROTO_SCP_RELAY_H

#include <stddef.h>
#include <stdint.h>

#define SCP_RELAY_LINE	2048

struct scp_relay_watch {
	/* Source to sink. */
	int a_state;
	char a_line[SCP_RELAY_LINE];
	size_t a_len;
	uint64_t a_left;	/* data bytes of the current C record */
	uint64_t a_size;	/* size of a C record the sink has not answered */
	int a_await;		/* a C record waits for the sink's answer */
	/* The file being relayed, for report.h: its name and size, and
	 * whether its data passed and the sink's last answer is due. */
	char a_name[SCP_RELAY_LINE];
	uint64_t a_fsize;
	int a_fin;
	/* Sink to source. */
	int b_state;
	char b_line[SCP_RELAY_LINE];
	size_t b_len;
	int b_kind;		/* 1 warning, 2 fatal */
	/* Error records seen (both directions). */
	unsigned long errs;
	/* Called with each error record's text (no newline; peer bytes:
	 * print them through log_*, which sanitises). */
	void (*msg)(void *ctx, const char *text);
	void *ctx;
};

/* Starts watching; `msg` may be NULL (count only). */
void scp_relay_watch_init(struct scp_relay_watch *w,
    void (*msg)(void *, const char *), void *ctx);

/* Feeds `n` bytes that passed from the source (`from_sink` 0) or from the
 * sink (1).  Never fails: what it cannot follow it stops watching. */
void scp_relay_watch_feed(struct scp_relay_watch *w, int from_sink,
    const unsigned char *p, size_t n);

/*
 * Relays between descriptors `a` (source) and `b` (sink) until both have
 * ended, watching with `w`.  `timeout_s` seconds without a byte (0:
 * none) ends it with a message.  Returns 0 when both sides ended, or a
 * negative SCP_E_* code (message printed): SCP_E_TIMEOUT, SCP_E_INTR
 * (io_cancelled()), SCP_E_SYS.
 */
int scp_relay_run(int a, int b, unsigned int timeout_s,
    struct scp_relay_watch *w);

#endif
