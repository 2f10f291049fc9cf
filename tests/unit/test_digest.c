/*
 * Unit tests for src/util/digest.c: SHA-256 through libcrypto, checked
 * against the FIPS 180-2 vectors (empty, "abc", the 448-bit message,
 * a million 'a'), streamed in pieces, over byte ranges of a file, and
 * its hex form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/digest.h"
#include "util/err.h"

#define V_EMPTY \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define V_ABC \
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define V_448 \
	"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define V_MILLION_A \
	"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define M_448 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"

static void
check_md(const uint8_t md[DIGEST_LEN], const char *want)
{
	char hex[DIGEST_HEX_LEN];

	assert_int_equal(digest_hex(md, DIGEST_LEN, hex, sizeof(hex)), 0);
	assert_string_equal(hex, want);
}

/* SHA-256 of p[0..n) fed `step` bytes at a time. */
static void
check_stream(const char *p, size_t n, size_t step, const char *want)
{
	struct digest d;
	uint8_t md[DIGEST_LEN];
	size_t i, k;

	assert_int_equal(digest_init(&d), 0);
	for (i = 0; i < n; i += k) {
		k = n - i < step ? n - i : step;
		assert_int_equal(digest_update(&d, p + i, k), 0);
	}
	assert_int_equal(digest_final(&d, md), 0);
	assert_null(d.ctx);
	check_md(md, want);
}

/* A memfd holding p[0..n). */
static int
memfile(const void *p, size_t n)
{
	int fd = memfd_create("test_digest", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	return fd;
}

static void
test_digest_vectors(void **state)
{
	(void)state;
	check_stream("", 0, 1, V_EMPTY);
	check_stream("abc", 3, 3, V_ABC);
	check_stream("abc", 3, 1, V_ABC);
	check_stream(M_448, strlen(M_448), 64, V_448);
	check_stream(M_448, strlen(M_448), 7, V_448);
}

static void
test_digest_million(void **state)
{
	char *a = malloc(1000000);
	uint8_t md[DIGEST_LEN];
	uint64_t hashed = 0;
	int fd;

	(void)state;
	assert_non_null(a);
	memset(a, 'a', 1000000);
	check_stream(a, 1000000, 4093, V_MILLION_A);
	/* Over a file: several reads of the helper's chunk. */
	fd = memfile(a, 1000000);
	assert_int_equal(digest_fd_range(fd, 0, DIGEST_TO_EOF, md, &hashed),
	    0);
	assert_int_equal(hashed, 1000000);
	check_md(md, V_MILLION_A);
	assert_int_equal(digest_fd_range(fd, 0, 1000000, md, NULL), 0);
	check_md(md, V_MILLION_A);
	close(fd);
	free(a);
}

static void
test_digest_range(void **state)
{
	static const char body[] = "xxabcyy";
	uint8_t md[DIGEST_LEN];
	uint64_t hashed = 99;
	int fd = memfile(body, 7);

	(void)state;
	/* The file offset is neither used nor moved. */
	assert_int_equal(lseek(fd, 5, SEEK_SET), 5);
	assert_int_equal(digest_fd_range(fd, 2, 3, md, &hashed), 0);
	check_md(md, V_ABC);
	assert_int_equal(hashed, 3);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 5);
	/* Empty ranges: length 0 anywhere, and to EOF from the end. */
	assert_int_equal(digest_fd_range(fd, 3, 0, md, NULL), 0);
	check_md(md, V_EMPTY);
	assert_int_equal(digest_fd_range(fd, 7, DIGEST_TO_EOF, md, &hashed),
	    0);
	check_md(md, V_EMPTY);
	assert_int_equal(hashed, 0);
	assert_int_equal(digest_fd_range(fd, 100, DIGEST_TO_EOF, md, NULL),
	    0);
	check_md(md, V_EMPTY);
	/* To EOF from an offset. */
	close(fd);
	fd = memfile("--abc", 5);
	assert_int_equal(digest_fd_range(fd, 2, DIGEST_TO_EOF, md, &hashed),
	    0);
	check_md(md, V_ABC);
	assert_int_equal(hashed, 3);
	/* A fixed length past EOF is not a digest of less. */
	assert_int_equal(digest_fd_range(fd, 2, 4, md, &hashed),
	    SCP_E_SHORT);
	assert_int_equal(hashed, 3);
	assert_int_equal(digest_fd_range(fd, 9, 1, md, NULL), SCP_E_SHORT);
	/* Offsets an off_t cannot hold. */
	assert_int_equal(digest_fd_range(fd, (uint64_t)INT64_MAX + 1, 1, md,
	    NULL), SCP_E_RANGE);
	assert_int_equal(digest_fd_range(fd, 2, (uint64_t)INT64_MAX, md,
	    NULL), SCP_E_RANGE);
	close(fd);
	/* A descriptor that cannot be read. */
	assert_int_equal(digest_fd_range(-1, 0, DIGEST_TO_EOF, md, NULL),
	    SCP_E_SYS);
}

static void
test_digest_hex(void **state)
{
	static const uint8_t md[] = { 0x00, 0x0f, 0xa5, 0xff };
	char hex[9];

	(void)state;
	assert_int_equal(digest_hex(md, 4, hex, sizeof(hex)), 0);
	assert_string_equal(hex, "000fa5ff");
	memset(hex, 'z', sizeof(hex));
	assert_int_equal(digest_hex(md, 4, hex, 8), SCP_E_TOOBIG);
	assert_int_equal(hex[0], 'z');
	assert_int_equal(digest_hex(md, 0, hex, 1), 0);
	assert_string_equal(hex, "");
	assert_int_equal(digest_hex(md, 0, hex, 0), SCP_E_TOOBIG);
}

static void
test_digest_release(void **state)
{
	struct digest d;
	uint8_t md[DIGEST_LEN];

	(void)state;
	assert_int_equal(digest_init(&d), 0);
	assert_int_equal(digest_update(&d, "abc", 3), 0);
	digest_release(&d);
	digest_release(&d);
	/* A released context refuses further use instead of crashing. */
	assert_int_equal(digest_update(&d, "abc", 3), SCP_E_FATAL);
	assert_int_equal(digest_final(&d, md), SCP_E_FATAL);
	digest_release(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest_vectors),
		cmocka_unit_test(test_digest_million),
		cmocka_unit_test(test_digest_range),
		cmocka_unit_test(test_digest_hex),
		cmocka_unit_test(test_digest_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
