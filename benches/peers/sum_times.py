#!/usr/bin/env python3
"""Sums several `/usr/bin/time -v` reports (one process per account) into one: CPU and wall
add up, peak RSS is the largest. Prints it in the same format."""

import re
import sys

user = sys_ = wall = 0.0
rss = 0
for path in sys.argv[1:]:
    text = open(path).read()
    user += float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
    sys_ += float(re.search(r"System time \(seconds\): ([\d.]+)", text).group(1))
    rss = max(rss, int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)))
    secs = 0.0
    for part in re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1).split(":"):
        secs = secs * 60 + float(part)
    wall += secs
print(f"\tUser time (seconds): {user:.2f}")
print(f"\tSystem time (seconds): {sys_:.2f}")
print(f"\tElapsed (wall clock) time (h:mm:ss or m:ss): {int(wall // 60)}:{wall % 60:05.2f}")
print(f"\tMaximum resident set size (kbytes): {rss}")
