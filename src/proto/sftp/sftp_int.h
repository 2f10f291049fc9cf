/*
 * Internals of the SFTP client, shared by the files of src/proto/sftp and
 * by its unit tests (tests/unit/test_sftp_*.c).  Not for src/cli.
 *
 * An umbrella: wire.h (the session, framing, requests and replies,
 * attributes), glob.h (remote operands) and transfer.h (the upload,
 * download, relay and split-file engines' shared pieces).  A file that
 * needs only the wire includes wire.h.
 */
#ifndef SCP_PROTO_SFTP_SFTP_INT_H
#define SCP_PROTO_SFTP_SFTP_INT_H

#include "wire.h"
#include "glob.h"
#include "transfer.h"

#endif
