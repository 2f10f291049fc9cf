#include "name.h"

#include <string.h>

#include "../util/xmalloc.h"

int
name_is_safe(const char *name)
{
	if (name[0] == '\0' || strchr(name, '/') != NULL) {
		return 0;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		return 0;
	}
	return 1;
}

int
name_is_here(const char *base)
{
	return strcmp(base, ".") == 0 || strcmp(base, "..") == 0;
}

char *
name_basename(const char *path)
{
	size_t end = strlen(path), start;

	while (end > 1 && path[end - 1] == '/') {
		end--;
	}
	if (end == 0) {
		return xstrdup(".");
	}
	if (end == 1 && path[0] == '/') {
		return xstrdup("/");
	}
	start = end;
	while (start > 0 && path[start - 1] != '/') {
		start--;
	}
	return xstrndup(path + start, end - start);
}
