#include "err.h"

const char *
scp_strerror(int code)
{
	switch (code) {
	case SCP_OK:
		return "success";
	case SCP_E_NOMEM:
		return "out of memory";
	case SCP_E_SHORT:
		return "message incomplete";
	case SCP_E_FORMAT:
		return "invalid format";
	case SCP_E_TOOBIG:
		return "length exceeds limit";
	case SCP_E_RANGE:
		return "number out of range";
	case SCP_E_SYS:
		return "system error";
	case SCP_E_PEER:
		return "remote error";
	case SCP_E_UNSAFE:
		return "refused unsafe request from peer";
	case SCP_E_CLOSED:
		return "connection closed";
	case SCP_E_INTR:
		return "interrupted";
	case SCP_E_TIMEOUT:
		return "timed out";
	case SCP_E_FATAL:
		return "fatal error";
	case SCP_E_SPAWN:
		return "cannot start process";
	}
	return "unknown error";
}
