#!/usr/bin/python3
"""What a process and its children use, read from /proc: CPU ticks and resident memory.

    procinfo.py cpu PID   utime + stime (all threads) of PID and its children, in clock ticks
    procinfo.py rss PID   VmRSS of PID and its children, in KiB

"Children" are the direct children, which is what the proxies benchmarked here have: nginx's
master and its workers; portcullis and haproxy are one process with threads (whose times the
process's own /proc/PID/stat already sums). A child that exits between two readings takes its
ticks with it; the benchmark scripts check that no proxy process died during a run.
"""

import os
import sys


def stat_fields(pid):
    """Fields 3 onwards of /proc/PID/stat (the command name may contain spaces and ')')."""
    with open("/proc/%d/stat" % pid) as f:
        text = f.read()
    return text[text.rindex(")") + 2:].split()


def children(pid):
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if int(stat_fields(int(name))[1]) == pid:
                found.append(int(name))
        except (OSError, ValueError, IndexError):
            continue  # exited while we looked
    return found


def tree(pid):
    return [pid] + children(pid)


def cpu_ticks(pid):
    total = 0
    for p in tree(pid):
        try:
            f = stat_fields(p)
        except OSError:
            continue
        total += int(f[11]) + int(f[12])  # fields 14 (utime) and 15 (stime)
    return total


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_kib(pid, key="VmRSS"):
    """key: VmRSS, or RssAnon for the anonymous (heap) part alone."""
    total = 0
    for p in tree(pid):
        try:
            total += status_kib(p, key)
        except OSError:
            continue
    return total


def main(argv):
    if len(argv) != 3 or argv[1] not in ("cpu", "rss"):
        sys.stderr.write("usage: procinfo.py cpu|rss PID\n")
        return 2
    pid = int(argv[2])
    if not os.path.exists("/proc/%d" % pid):
        sys.stderr.write("procinfo.py: no process %d\n" % pid)
        return 1
    print(cpu_ticks(pid) if argv[1] == "cpu" else rss_kib(pid))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
