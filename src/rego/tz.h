/*
 * Time zones for the time.* builtins, from the system's IANA database (TZif files under
 * /usr/share/zoneinfo, or $ZONEINFO).
 *
 * Zones are loaded on first use and kept for the life of the process in a list guarded by a
 * mutex, so a zone costs one file read per process, not per evaluation. Offsets for instants
 * past the last transition in the file come from the POSIX rule in the file's footer when it
 * has one.
 */
#ifndef PC_REGO_TZ_H
#define PC_REGO_TZ_H

#include <stddef.h>
#include <stdint.h>

struct pc_rego_tz;

/*
 * Returns the zone called name[0..len) ("America/New_York", "UTC", "Local"), loaded and
 * cached (process memory, never freed), or NULL when there is no such zone.
 */
const struct pc_rego_tz *pc_rego_tz_load(const char *name, size_t len);

/* The UTC zone (static). */
const struct pc_rego_tz *pc_rego_tz_utc(void);

/*
 * The offset from UTC in seconds in force at unix time t, and the zone's abbreviation then
 * (static or zone memory).
 */
int32_t pc_rego_tz_offset(const struct pc_rego_tz *tz, int64_t t, const char **abbr);

/*
 * Converts a local wall-clock time (seconds since the epoch as if local were UTC) to unix
 * time, choosing as Go's time.Date does around gaps and overlaps.
 */
int64_t pc_rego_tz_from_local(const struct pc_rego_tz *tz, int64_t local);

#endif
