/*
 * Internals of the SFTP client, shared by the files of src/proto/sftp and
 * by its unit tests (tests/unit/test_sftp_*.c).  Not for src/cli.
 *
 * An umbrella: wire.h (the session, framing, requests and replies,
 * attributes) and glob.h (remote operands).  A file that needs only the
 * wire includes wire.h.  The transfers built on them are src/xfer's
 * (xfer/transfer.h, xfer/xfer.h).
 */
#ifndef SCP_PROTO_SFTP_SFTP_INT_H
#define SCP_PROTO_SFTP_SFTP_INT_H

#include "wire.h"
#include "glob.h"

#endif
