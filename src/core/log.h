/*
 * Leveled, structured logging for everything that is not the access log or the decision log.
 *
 * One line per event: `ts level module event key=value ...`, or the same keys as one JSON
 * object. The level is tested before any argument is formatted, so a disabled debug line costs
 * one comparison. Each thread may set a context (connection and request ids) that every line it
 * writes carries. Lines are written with one write(2) each, so threads never interleave them.
 */
#ifndef PC_CORE_LOG_H
#define PC_CORE_LOG_H

#include <stdatomic.h>
#include <stdint.h>

enum pc_log_level {
    PC_LOG_DEBUG = 0,
    PC_LOG_INFO,
    PC_LOG_NOTICE,
    PC_LOG_WARN,
    PC_LOG_ERROR,
};

enum pc_log_format {
    PC_LOG_TEXT = 0,
    PC_LOG_JSON,
};

/* The current minimum level; read by the pc_log macro, written by pc_log_configure. */
extern _Atomic int pc_log_min_level;

/*
 * Sets the minimum level, the format and the destination (a file descriptor the logger borrows;
 * 2 for stderr). Any thread; takes effect for lines started afterwards.
 */
void pc_log_configure(enum pc_log_level level, enum pc_log_format format, int fd);

/* Parses "debug", "info", "notice", "warn" or "error"; returns 0 or PC_EINVAL. */
int pc_log_level_parse(const char *name, enum pc_log_level *level);

/*
 * Sets this thread's context: the connection id (0 for none) and the request id (NULL for none,
 * borrowed until the next call). Lines written by this thread carry them as conn= and req=.
 */
void pc_log_context(uint64_t conn_id, const char *request_id);

/*
 * Writes one line. `fields` is a printf format for the key=value part; values holding spaces
 * must be quoted by the caller ("reason=\"%s\""). Use the pc_log macro, which tests the level
 * first.
 */
void pc_log_write(enum pc_log_level level, const char *module, const char *event,
                  const char *fields, ...) __attribute__((format(printf, 4, 5)));

/* A macro rather than an inline function: the level test must precede argument evaluation. */
#define pc_log(level, module, event, ...)                                                          \
    do {                                                                                           \
        if ((int)(level) >= atomic_load_explicit(&pc_log_min_level, memory_order_relaxed)) {       \
            pc_log_write((level), (module), (event), __VA_ARGS__);                                 \
        }                                                                                          \
    } while (0)

/* Rate limiter for repeated warnings: at most `burst` lines per `interval_ms`. */
struct pc_log_limit {
    _Atomic uint64_t window_start_ms;
    _Atomic uint32_t count;
    uint32_t burst;
    uint32_t interval_ms;
};

#define PC_LOG_LIMIT_INIT(burst, interval_ms)                                                      \
    {                                                                                              \
        0, 0, (burst), (interval_ms)                                                               \
    }

/* Returns 1 when a line may be written now, 0 when it must be suppressed. Any thread. */
int pc_log_limit_allow(struct pc_log_limit *limit);

/* Returns the wall clock in milliseconds since the epoch. */
uint64_t pc_log_wall_ms(void);

#endif
