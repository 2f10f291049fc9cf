/* See fuzz_util.h. */
#include "fuzz_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/outfile.h"
#include "util/err.h"

static char topdir[4096];

void
fz_die(const char *what)
{
	fprintf(stderr, "fuzz: %s: %s\n", what, strerror(errno));
	abort();
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1 && errno != ENOENT) {
		return -1;
	}
	return 0;
}

static int
chmod_one(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DNR) {
		chmod(path, 0700);
	} else if (flag == FTW_F && S_ISREG(st->st_mode)) {
		chmod(path, 0600);
	}
	return 0;
}

void
fz_rm_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) == -1) {
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) == -1) {
			fz_die(path);
		}
		return;
	}
	/* Pre-order: directories made unwritable (-p) are opened up
	 * before nftw descends into them. */
	chmod(path, 0700);
	nftw(path, chmod_one, 16, FTW_PHYS);
	if (nftw(path, rm_one, 16, FTW_PHYS | FTW_DEPTH) == -1) {
		fz_die(path);
	}
}

static void
cleanup(void)
{
	if (topdir[0] != '\0') {
		fz_rm_tree(topdir);
	}
}

const char *
fz_topdir(const char *prog)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0') {
		tmp = "/tmp";
	}
	snprintf(topdir, sizeof(topdir), "%s/%s.XXXXXX", tmp, prog);
	if (mkdtemp(topdir) == NULL) {
		fz_die("mkdtemp");
	}
	atexit(cleanup);
	return topdir;
}

void
fz_put_file(const char *dir, const char *name, size_t len)
{
	char path[8192];
	size_t i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		fz_die(path);
	}
	for (i = 0; i < len; i++) {
		fputc('a' + (int)(i % 26), f);
	}
	if (fclose(f) != 0) {
		fz_die(path);
	}
}

void
fz_check_only(const char *dir, const char *const *allowed)
{
	struct dirent *de;
	size_t i;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		fz_die(dir);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0) {
			continue;
		}
		for (i = 0; allowed[i] != NULL &&
		    strcmp(de->d_name, allowed[i]) != 0; i++) {
			;
		}
		if (allowed[i] == NULL) {
			fprintf(stderr, "fuzz: wrote outside the target: "
			    "%s/%s\n", dir, de->d_name);
			abort();
		}
	}
	closedir(d);
}

void
fz_check_tmpdir(void)
{
	const char *tmp = getenv("TMPDIR");
	const char *allowed[2];
	const char *slash;

	if (tmp == NULL || *tmp == '\0' || topdir[0] == '\0') {
		return;
	}
	slash = strrchr(topdir, '/');
	allowed[0] = slash != NULL ? slash + 1 : topdir;
	allowed[1] = NULL;
	fz_check_only(tmp, allowed);
}

void
fz_check_single(const char *dir, const char *name, int r)
{
	struct dirent *de;
	struct stat st;
	char path[8192];
	int n = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		fz_die(dir);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0) {
			continue;
		}
		if ((r == SCP_E_CLOSED || r == SCP_E_INTR ||
		    r == SCP_E_TIMEOUT || r == SCP_E_SYS) &&
		    outfile_is_partname(de->d_name, name)) {
			continue;
		}
		if (r != 0 || strcmp(de->d_name, name) != 0) {
			fprintf(stderr, "fuzz: download returned %d and left "
			    "%s\n", r, de->d_name);
			abort();
		}
		n++;
	}
	closedir(d);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (r == 0 && (n != 1 || lstat(path, &st) == -1 ||
	    !S_ISREG(st.st_mode))) {
		fprintf(stderr, "fuzz: download returned 0 but made no "
		    "regular file\n");
		abort();
	}
}

void
fz_feed(int fd, const uint8_t *p, size_t n)
{
	if (ftruncate(fd, 0) == -1 ||
	    (n > 0 && pwrite(fd, p, n, 0) != (ssize_t)n) ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		fz_die("memfd");
	}
}

int
fz_memfd(const char *name)
{
	int fd;

	if ((fd = memfd_create(name, 0)) == -1) {
		fz_die("memfd_create");
	}
	return fd;
}

int
fz_devnull(void)
{
	int fd;

	if ((fd = open("/dev/null", O_WRONLY)) == -1) {
		fz_die("/dev/null");
	}
	return fd;
}
