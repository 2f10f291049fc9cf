/*
 * The SFTP-mode transfers (src/xfer, docs/design-engine.md): what
 * src/cli calls, over sessions of src/proto/sftp/sftp.h.  Each returns
 *    0  everything asked was copied,
 *    1  errors were reported ("scp: ..." on stderr) but the session is
 *       still usable and later operands may proceed,
 *   <0  the session is unusable (malformed reply, lost connection:
 *       SCP_E_CLOSED; interrupt: SCP_E_INTR); the message has been
 *       printed.
 * Exception: SCP_E_SYS from sftp_upload() means the target could not
 * be prepared or made (a ~user target without expand-path@openssh.com,
 * a refused temporary tree), which OpenSSH treats as fatal (exit 255);
 * the session is still usable.
 *
 * The relay runs on the engine (relay.c); uploads, downloads and the
 * split file are still their own loops here (upload.c, download.c,
 * multi.c), to move onto it next.
 */
#ifndef SCP_XFER_XFER_H
#define SCP_XFER_XFER_H

struct sftp_session;

/*
 * Upload of one local operand `src` to remote `target`.  `multiple` is
 * set when there are several sources (the target must be, or is made, a
 * directory).  Paths are as the user typed them: "", "~", "~/x",
 * "~user/x" are resolved as PROTOCOL.md section 4 says.
 */
int sftp_upload(struct sftp_session *s, const char *src,
    const char *target, int multiple);

/*
 * Uploads keep many files in flight.  With o->defer set, across
 * operands too: an sftp_upload() may return 0 while some of its files
 * are still on their way, and their errors are reported (and counted)
 * later.  Without it, sftp_upload() waits for its own files.  sftp_upload_flush() waits
 * for everything queued: 0 all arrived, 1 some failed (reported), <0
 * the session broke.  Call it after the last sftp_upload() and before
 * using the session for anything else.
 */
int sftp_upload_flush(struct sftp_session *s);

/*
 * Download of remote operand `src` (a glob pattern, expanded over
 * READDIR) to local `target`.
 */
int sftp_download(struct sftp_session *s, const char *src,
    const char *target);


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
