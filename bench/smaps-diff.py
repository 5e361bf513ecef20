#!/usr/bin/env python3
"""Where a process's resident memory grew between two copies of /proc/PID/smaps.

    python3 bench/smaps-diff.py BEFORE AFTER [TOP]

Mappings are matched by start address and file; each line shows the RSS (KiB) before and after,
the mapping's size and what it is (its file, or [heap], [stack], or "anon" with its size, since
the wasm instance pool, thread stacks and the allocator's arenas are all anonymous). Prints the
TOP (default 25) largest growths, then the totals by kind.
"""
import collections
import sys


def read(path):
    """{(start, name): (size_kib, rss_kib)} of one smaps copy."""
    maps, key = {}, None
    with open(path) as f:
        for line in f:
            head = line.split()
            if not head:
                continue
            if "-" in head[0] and not head[0].endswith(":"):
                start, end = (int(x, 16) for x in head[0].split("-"))
                name = head[5] if len(head) > 5 else "anon"
                key = (start, name)
                maps[key] = [(end - start) // 1024, 0]
            elif head[0] == "Rss:" and key is not None:
                maps[key][1] = int(head[1])
    return maps


def kind(name, size_kib):
    if name != "anon":
        return name.rsplit("/", 1)[-1] if name.startswith("/") else name
    if size_kib >= 1 << 30:
        return "anon: reservation of 1 TiB or more (the instance pool)"
    if size_kib >= 1 << 20:
        return "anon: 1 GiB to 1 TiB"
    if 8188 <= size_kib <= 8192 or size_kib == 2048:
        return "anon: thread stack size"
    return "anon: under 1 GiB"


def main():
    before, after = read(sys.argv[1]), read(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 25
    rows = []
    for key in before.keys() | after.keys():
        size = (after.get(key) or before.get(key))[0]
        rss0 = before.get(key, [0, 0])[1]
        rss1 = after.get(key, [0, 0])[1]
        rows.append((rss1 - rss0, rss0, rss1, size, key))
    rows.sort(reverse=True)
    print(f"{'grew_KiB':>9} {'before':>9} {'after':>9} {'size_KiB':>12}  mapping")
    for grew, rss0, rss1, size, (start, name) in rows[:top]:
        print(f"{grew:>9} {rss0:>9} {rss1:>9} {size:>12}  {start:#x} {name}")
    totals = collections.defaultdict(lambda: [0, 0, 0])
    for grew, rss0, rss1, size, (_, name) in rows:
        t = totals[kind(name, size)]
        t[0] += rss0
        t[1] += rss1
        t[2] += 1
    print(f"\n{'before':>9} {'after':>9} {'grew':>9} {'maps':>6}  kind")
    for name, (rss0, rss1, n) in sorted(totals.items(), key=lambda kv: kv[1][0] - kv[1][1]):
        print(f"{rss0:>9} {rss1:>9} {rss1 - rss0:>9} {n:>6}  {name}")


if __name__ == "__main__":
    main()
