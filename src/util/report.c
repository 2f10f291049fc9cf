/*
 * The event API (report.h) and its JSON writer.  The state is one
 * process's run: files are reported one at a time, in walk order, so a
 * single "current file" is enough.
 */
#include "report.h"


#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "json.h"
#include "xmalloc.h"

#define RP_PROGRESS_EVERY	0.25	/* seconds between progress lines */

static int rp_json_fd = -1;
static int rp_total;
static int rp_started;
static double rp_t0;

static uint64_t rp_planned, rp_planned_bytes;
static int rp_counting;
static uint64_t rp_ok, rp_failed, rp_skipped, rp_bytes, rp_errors;

/* The current file: begun (explicitly or by its first progress). */
static char *rp_src, *rp_dst;
static int rp_begun;
static uint64_t rp_cur_size, rp_cur_bytes, rp_fed_size;
static double rp_cur_t0, rp_last_progress;
static char *rp_last_msg;	/* last error line since the last end */

/* One write per line (so a reader never sees half of one); a failed
 * write turns JSON off: a script that closed its pipe stops nothing. */
static void
rp_emit(struct jbuf *b)
{
	struct pollfd pfd;
	size_t off = 0;
	ssize_t r;

	jbuf_add(b, "}\n", 2);
	while (rp_json_fd >= 0 && off < b->len) {
		r = write(rp_json_fd, b->p + off, b->len - off);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pfd.fd = rp_json_fd;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, 1000);
			continue;
		}
		if (r <= 0) {
			rp_json_fd = -1;
			break;
		}
		off += (size_t)r;
	}
	jbuf_free(b);
}

/* Opens a line: {"schema":1,"event":"<name>" */
static void
rp_open(struct jbuf *b, const char *event)
{
	jbuf_init(b);
	jbuf_addf(b, "{\"schema\":%d,\"event\":\"%s\"", REPORT_SCHEMA, event);
}

static void
rp_field_str(struct jbuf *b, const char *key, const char *val)
{
	jbuf_addf(b, ",\"%s\":", key);
	json_escape_str(b, val);
}

static void
rp_field_u64(struct jbuf *b, const char *key, uint64_t v)
{
	jbuf_addf(b, ",\"%s\":%llu", key, (unsigned long long)v);
}

static void
rp_field_array(struct jbuf *b, const char *key, char *const *v, int n)
{
	int i;

	jbuf_addf(b, ",\"%s\":[", key);
	for (i = 0; i < n; i++) {
		if (i > 0) {
			jbuf_add(b, ",", 1);
		}
		json_escape_str(b, v[i]);
	}
	jbuf_add(b, "]", 1);
}

static void
rp_totals(struct report_totals *t)
{
	t->files_done = rp_ok + rp_failed + rp_skipped;
	t->files_total = rp_planned;
	t->bytes_done = rp_bytes + rp_cur_bytes;
	t->bytes_total = rp_planned_bytes;
	t->counting = rp_counting > 0;
	t->current = rp_src;
}

static void
rp_draw(int force)
{
	struct report_totals t;

	if (rp_total) {
		rp_totals(&t);
		total_update(&t, force);
	}
}

void
report_init(int json_fd, int total)
{
	rp_json_fd = json_fd;
	rp_total = total != 0;
	rp_t0 = clock_mono();
}

void
report_disable(void)
{
	rp_json_fd = -1;
	rp_total = 0;
	rp_started = 0;
}

int
report_active(void)
{
	return rp_json_fd >= 0 || rp_total;
}

void
report_start(const char *protocol, const char *direction,
    char *const *options, int noptions, char *const *operands,
    int noperands)
{
	struct jbuf b;
	struct timespec ts;

	if (!report_active()) {
		return;
	}
	rp_started = 1;
	rp_t0 = clock_mono();
	if (rp_json_fd < 0) {
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	rp_open(&b, "start");
	jbuf_addf(&b, ",\"time\":%lld.%03ld", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000000);
	rp_field_str(&b, "protocol", protocol);
	rp_field_str(&b, "direction", direction);
	rp_field_array(&b, "options", options, noptions);
	rp_field_array(&b, "operands", operands, noperands);
	rp_emit(&b);
}

void
report_plan(const char *source, uint64_t size)
{
	struct jbuf b;

	if (!rp_started) {
		return;
	}
	rp_planned++;
	rp_planned_bytes += size;
	if (rp_json_fd >= 0) {
		rp_open(&b, "planned");
		rp_field_str(&b, "source", source);
		rp_field_u64(&b, "size", size);
		rp_emit(&b);
	}
	rp_draw(0);
}

void
report_plan_open(void)
{
	rp_counting++;
}

void
report_plan_close(void)
{
	if (rp_counting > 0) {
		rp_counting--;
	}
	rp_draw(0);
}

static void
rp_set(char **slot, const char *s)
{
	free(*slot);
	*slot = s != NULL ? xstrdup(s) : NULL;
}

void
report_begin(const char *source, const char *target, uint64_t size)
{
	struct jbuf b;

	if (!rp_started) {
		return;
	}
	rp_set(&rp_src, source);
	rp_set(&rp_dst, target);
	rp_begun = 1;
	rp_cur_size = size;
	rp_cur_t0 = clock_mono();
	rp_last_progress = rp_cur_t0;
	if (rp_json_fd >= 0) {
		rp_open(&b, "begin");
		rp_field_str(&b, "source", source);
		rp_field_str(&b, "target", target);
		rp_field_u64(&b, "size", size);
		rp_emit(&b);
	}
	rp_draw(0);
}

void
report_progress(const char *name, uint64_t done, uint64_t size)
{
	struct jbuf b;
	double now;

	if (!rp_started) {
		return;
	}
	rp_cur_bytes = done;
	rp_fed_size = size;
	if (!rp_begun && (rp_src == NULL || strcmp(rp_src, name) != 0)) {
		/* Not begun by its path: the meter's name stands in, for
		 * the total line only (no begin event without a source). */
		rp_set(&rp_src, name);
	}
	now = clock_mono();
	if (rp_json_fd >= 0 && now - rp_last_progress >= RP_PROGRESS_EVERY) {
		rp_last_progress = now;
		rp_open(&b, "progress");
		rp_field_str(&b, "source", rp_src);
		rp_field_u64(&b, "bytes", done);
		rp_field_u64(&b, "size", size);
		rp_emit(&b);
	}
	rp_draw(0);
}

void
report_end(const char *source, const char *target, uint64_t size,
    uint64_t bytes, enum report_status status, const char *message)
{
	static const char *const names[] = { "ok", "skipped", "failed" };
	struct jbuf b;
	double secs;

	if (!rp_started) {
		return;
	}
	if (size == REPORT_SIZE_FED) {
		size = rp_fed_size;
	}
	if (bytes == REPORT_BYTES_FED) {
		bytes = status == REPORT_OK ? size : rp_cur_bytes;
	}
	if (!rp_begun || rp_src == NULL || strcmp(rp_src, source) != 0) {
		report_begin(source, target, size);
	}
	if (message == NULL && status != REPORT_OK) {
		message = rp_last_msg;
	}
	secs = clock_mono() - rp_cur_t0;
	if (rp_json_fd >= 0) {
		rp_open(&b, "end");
		rp_field_str(&b, "source", source);
		rp_field_str(&b, "target", target);
		rp_field_u64(&b, "size", size);
		rp_field_u64(&b, "bytes", bytes);
		jbuf_addf(&b, ",\"seconds\":%.3f", secs > 0 ? secs : 0.0);
		rp_field_str(&b, "status", names[status]);
		rp_field_str(&b, "message", status != REPORT_OK ? message :
		    NULL);
		rp_emit(&b);
	}
	if (status == REPORT_OK) {
		rp_ok++;
	} else if (status == REPORT_SKIPPED) {
		rp_skipped++;
	} else {
		rp_failed++;
	}
	rp_bytes += bytes;
	rp_cur_bytes = rp_fed_size = 0;
	rp_begun = 0;
	rp_set(&rp_last_msg, NULL);
	rp_draw(0);
	/* Not current any more; the total line keeps the name until the
	 * next file shows up. */
}

void
report_message(const char *text)
{
	struct jbuf b;

	if (!rp_started) {
		return;
	}
	if (rp_total) {
		total_clear();
	}
	rp_errors++;
	rp_set(&rp_last_msg, text);
	if (rp_json_fd >= 0) {
		rp_open(&b, "message");
		rp_field_str(&b, "level", "error");
		rp_field_str(&b, "message", text);
		rp_emit(&b);
	}
}

void
report_clear(void)
{
	if (rp_total) {
		total_clear();
	}
}

void
report_summary(int exit_status)
{
	struct report_totals t;
	struct jbuf b;

	if (!rp_started) {
		return;
	}
	if (rp_total) {
		rp_totals(&t);
		/* The walk is over: what was done is the whole. */
		t.counting = 0;
		t.files_total = t.files_done;
		t.bytes_total = t.bytes_done;
		total_finish(&t);
	}
	if (rp_json_fd >= 0) {
		rp_open(&b, "summary");
		rp_field_u64(&b, "files", rp_ok + rp_failed + rp_skipped);
		rp_field_u64(&b, "ok", rp_ok);
		rp_field_u64(&b, "skipped", rp_skipped);
		rp_field_u64(&b, "failed", rp_failed);
		rp_field_u64(&b, "bytes", rp_bytes);
		rp_field_u64(&b, "errors", rp_errors);
		jbuf_addf(&b, ",\"seconds\":%.3f", clock_mono() - rp_t0);
		jbuf_addf(&b, ",\"exit\":%d", exit_status);
		rp_emit(&b);
	}
	rp_started = 0;
}
