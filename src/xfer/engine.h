/*
 * The transfer engine (docs/design-engine.md section 2): a queue of jobs
 * in walk order over endpoints (ep.h).  A job never blocks: it starts
 * operations on endpoints and advances in their completions; many jobs
 * are in flight at once, and only the job at the head retires, so its
 * messages and its error come out in walk order whatever order the
 * answers came in.
 *
 * Ownership: the engine owns the jobs queued on it (xeng_add) and frees
 * them through their ops once retired or dropped; it does not own the
 * endpoints.
 */
#ifndef SCP_XFER_ENGINE_H
#define SCP_XFER_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "../util/strvec.h"
#include "ep.h"

struct xeng;
struct xjob;

struct xjob_ops {
	/* Called once when the job may start (a slot is free): starts its
	 * first operations or finishes at once.  0 or a negative SCP_E_*
	 * (the engine stops). */
	int (*start)(struct xjob *j);
	/* Called when the job reaches the head, before it retires, and
	 * again whenever it advances there (the meter); may be NULL. */
	void (*head)(struct xjob *j);
	/* The engine stopped (fatal `code`) with this job started and not
	 * finished, the first such in walk order: returns 1 if it said
	 * which file did not arrive.  May be NULL. */
	int (*stopped)(struct xjob *j, int code);
	/* Frees the job (after its messages are printed). */
	void (*free)(struct xjob *j);
};

struct xjob {
	const struct xjob_ops *ops;
	struct xeng *eng;
	struct xjob *next;
	int active;		/* counts toward the in-flight budget */
	/* Starts only at the head with nothing outstanding on any
	 * endpoint: its start may block on an endpoint's session (the
	 * sequential code of a split file or --resume). */
	int barrier;
	int started;
	int done;		/* may retire */
	int failed;		/* one error, counted at retirement */
	/* Messages printed (log_error) when the job retires, in order:
	 * append with strvec_pushf(&j->msgs, ...). */
	struct strvec msgs;
};

/*
 * A new engine over endpoints ep[0..nep) (at most 2), at most
 * `max_active` active jobs in flight (files holding handles) and
 * `max_queued` jobs queued in all.
 */
struct xeng *xeng_new(struct xep **ep, size_t nep, size_t max_active,
    size_t max_queued);

/*
 * Frees the engine and every job still queued (their messages are not
 * printed: only after a fatal error, which printed what had finished in
 * walk order and named the first file that did not).  NULL-safe.
 */
void xeng_free(struct xeng *g);

/*
 * Appends `j` (initialised with xjob_init(), owned by the engine from
 * now on, also on failure) and runs the engine until the queue has
 * room for more.  0, or a negative SCP_E_* once an endpoint broke or we
 * were interrupted (message printed).
 */
int xeng_add(struct xeng *g, struct xjob *j);

/*
 * Links `j` (as for xeng_add) right after `after`, a job queued and not
 * retired: a directory's entries go after the directory, before its
 * later siblings.  It starts in walk order with the rest, before any
 * job after it not started yet.  Never blocks (a completion may call
 * it): the queue may pass its bound by what one listing holds.
 */
void xeng_insert(struct xeng *g, struct xjob *after, struct xjob *j);

/* Runs until every queued job retired.  0 or a negative SCP_E_*. */
int xeng_drain(struct xeng *g);

/* Changes the bound on active jobs (the link turned out long): more
 * start at the next step.  Never fails. */
void xeng_set_max_active(struct xeng *g, size_t max_active);

/* Errors counted so far (failed jobs retired). */
size_t xeng_errors(const struct xeng *g);

/* Prepares `j` for xeng_add(): `active` as in xjob.  Never fails. */
void xjob_init(struct xjob *j, const struct xjob_ops *ops, int active);

/*
 * The job is finished (may retire) and frees its in-flight slot;
 * `failed` counts one error.
 */
void xjob_finish(struct xjob *j, int failed);

/* 1 if `j` is the head of its queue. */
int xjob_is_head(const struct xjob *j);

/*
 * Starts `op` on `e` on behalf of a job.  A failure (endpoint broken)
 * is recorded in the engine, which stops at its next step; returns the
 * code so the job stops too.
 */
int xjob_start_op(struct xjob *j, struct xep *e, struct xop *op);

/* Stops the engine with fatal `code` (message printed by the caller). */
void xjob_fatal(struct xjob *j, int code);

/* The fatal code the engine stopped with, or 0. */
int xjob_fatal_code(const struct xjob *j);

/* A job that only prints `msg` in walk order (`error`: counts one). */
int xeng_note(struct xeng *g, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, xeng_insert()ed after `after`; returns the note's job. */
struct xjob *xeng_note_after(struct xeng *g, struct xjob *after, int error,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
