#!/usr/bin/python3
"""CPU ticks of one process, split between its workers and its other threads, from /proc.

    thread_cpu.py PID

Prints "total=N workers=N others=N": utime + stime in clock ticks of the whole process (every
thread, those that exited included, as /proc/PID/stat sums them), of its live threads named
pc-worker-* (portcullis's workers), and the difference: the threads off the request path, which
for portcullis are the main thread (idle under load) and the decision log's writer.

Exits 1 when there is no such process.
"""

import os
import sys


def ticks(stat_path):
    with open(stat_path) as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # fields 14 (utime) and 15 (stime)


def main(argv):
    if len(argv) != 2 or not argv[1].isdigit():
        sys.stderr.write("usage: thread_cpu.py PID\n")
        return 2
    pid = int(argv[1])
    try:
        total = ticks("/proc/%d/stat" % pid)
        workers = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                    if not f.read().startswith("pc-worker-"):
                        continue
                workers += ticks("/proc/%d/task/%s/stat" % (pid, tid))
            except OSError:
                continue  # exited while we looked
    except OSError as e:
        sys.stderr.write("thread_cpu.py: %s\n" % e)
        return 1
    print("total=%d workers=%d others=%d" % (total, workers, total - workers))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
