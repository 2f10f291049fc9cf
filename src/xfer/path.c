/* Remote path helpers shared by the transfers. */
#include "transfer.h"

#include <string.h>

#include "../util/xmalloc.h"

char *
sftp_path_append(const char *dir, const char *name)
{
	size_t dl = strlen(dir);

	if (dl == 0) {
		return xstrdup(name);
	}
	if (dir[dl - 1] == '/') {
		return xasprintf("%s%s", dir, name);
	}
	return xasprintf("%s/%s", dir, name);
}
