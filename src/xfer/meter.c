/* The progress meter of a transfer, as the session's options say. */
#include "../proto/sftp/wire.h"
#include "transfer.h"

#include <string.h>

#include "../util/progress.h"

void
sftp_meter_start(struct sftp_session *s, const char *path, uint64_t size)
{
	const char *p;

	if (!s->o->progress) {
		return;
	}
	/* OpenSSH's progress_meter_path(): the last component. */
	p = strrchr(path, '/');
	if (p == NULL || p[1] == '\0') {
		p = path;
	} else {
		p++;
	}
	progress_start(p, size);
}

void
sftp_meter_update(struct sftp_session *s, uint64_t done)
{
	if (s->o->progress) {
		progress_update(done);
	}
}

void
sftp_meter_end(struct sftp_session *s)
{
	if (s->o->progress) {
		progress_end();
	}
}
