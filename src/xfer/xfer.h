/*
 * Transfers on the engine of src/xfer (docs/design-engine.md): what
 * src/cli calls.  Returns as the SFTP operations of
 * src/proto/sftp/sftp.h: 0 everything copied, 1 errors reported (the
 * session still usable), <0 the session is unusable (message printed).
 */
#ifndef SCP_XFER_XFER_H
#define SCP_XFER_XFER_H

struct sftp_session;

/*
 * Remote-to-remote relay (-3, OpenSSH's throughlocal_sftp): remote
 * operand `src` on session `from` (a glob) to `target` on session `to`,
 * many files in flight; `from` == `to` with copy-data lets the server
 * copy within itself.  `multiple`: there are several sources, so the
 * target must be a directory.
 */
int xfer_relay(struct sftp_session *from, const char *src,
    struct sftp_session *to, const char *target, int multiple);

#endif
