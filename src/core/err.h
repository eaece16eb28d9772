/*
 * Status codes shared by every layer of portcullis.
 *
 * Functions that can fail return 0 on success or one of the negative PC_E* codes below.
 * Codes that mirror a system error have the value of the negated errno, so a libuv status
 * (which uses the same convention on Unix) passes through unchanged. PC_EAGAIN means "call
 * again later" and is not a failure. Functions that return a pointer return NULL on failure
 * and, where the caller needs the reason, fill a struct pc_err.
 */
#ifndef PC_CORE_ERR_H
#define PC_CORE_ERR_H

#include <errno.h>
#include <stddef.h>

#define PC_OK           0
#define PC_EAGAIN       (-EAGAIN)
#define PC_ENOMEM       (-ENOMEM)
#define PC_EINVAL       (-EINVAL)
#define PC_EIO          (-EIO)
#define PC_ENOENT       (-ENOENT)
#define PC_EEXIST       (-EEXIST)
#define PC_ERANGE       (-ERANGE)
#define PC_ETIMEDOUT    (-ETIMEDOUT)
#define PC_ECONNREFUSED (-ECONNREFUSED)
#define PC_ECONNRESET   (-ECONNRESET)
#define PC_EPIPE        (-EPIPE)
#define PC_ECANCELED    (-ECANCELED)
#define PC_ENOTSUP      (-ENOTSUP)
#define PC_EACCES       (-EACCES)

/* Codes of our own sit below every errno value. */
#define PC_EPARSE  (-10001) /* malformed input from a peer or a file */
#define PC_ELIMIT  (-10002) /* input exceeded a configured limit */
#define PC_ECONFIG (-10003) /* configuration refused by the validator */

#define PC_ERR_MSG_MAX 256

/* A reason for a failure, filled by functions that return a pointer or need more than a code. */
struct pc_err {
    int code;
    char msg[PC_ERR_MSG_MAX];
};

/*
 * Fills err (which may be NULL) with code and a printf-formatted message, truncated to fit.
 * Returns code, so a caller can write `return pc_err_set(err, PC_EINVAL, "...")`.
 */
int pc_err_set(struct pc_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Reports a broken invariant and aborts. Used through PC_ASSERT, which stays on in release
 * builds: it guards only what our own bug can break, never what a peer or a file controls.
 */
_Noreturn void pc_assert_fail(const char *expr, const char *file, int line);

#define PC_ASSERT(cond) ((cond) ? (void)0 : pc_assert_fail(#cond, __FILE__, __LINE__))

/* Returns a static, human-readable name for a PC_E* code or a negated errno. */
const char *pc_strerror(int code);

#endif
