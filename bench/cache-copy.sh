#!/usr/bin/env bash
# What the copy of the build cache costs on a build disk (builder/src/cache.rs: each sandboxed
# build works on `cp -a --reflink=auto` of the saved cache): a tree shaped like a Rust `target/`
# (279 MB in 24,000 files: 23,800 of 4 KiB, 200 of 0.93 MB) on a 2 GiB loop-mounted image made as
# the builder makes it, XFS with reflinks and ext4, copied with and without `sync`; and the room
# the copy takes (df). Root (loop mounts); needs mkfs.xfs (xfsprogs) and hyperfine.
#
#   bench/cache-copy.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
need hyperfine
need mkfs.xfs "xfsprogs"
work=$(mktemp -d)
cleanup() {
  for fs in xfs ext4; do umount "$work/$fs" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

for fs in xfs ext4; do
  truncate -s 2G "$work/$fs.img"
  case $fs in
    # the options of builder/src/sandbox.rs (DiskFormat::make)
    xfs) mkfs.xfs -q -f -K -m reflink=1 "$work/$fs.img" ;;
    ext4) mkfs.ext4 -q -F -m 0 -i 8192 -O ^has_journal -E root_owner=0:0 "$work/$fs.img" ;;
  esac
  mkdir "$work/$fs"
  mount -o loop,nosuid,nodev,noatime -t "$fs" "$work/$fs.img" "$work/$fs"
  python3 - "$work/$fs/cache.saved" <<'EOF'
import os, sys
base = sys.argv[1]
small, big = os.urandom(4096), os.urandom(930_000)
for d in range(240):
    os.makedirs(f"{base}/{d}")
    for f in range(100):
        with open(f"{base}/{d}/{f}", "wb") as out:
            out.write(big if d * 100 + f < 200 else small)
EOF
  sync
done

echo "tree: $(du -sb "$work/xfs/cache.saved" | cut -f1) bytes, $(find "$work/xfs/cache.saved" -type f | wc -l) files"
for fs in xfs ext4; do
  d="$work/$fs"
  hyperfine --style basic --time-unit second --runs 5 --prepare "rm -rf '$d/cache'; sync" \
    --command-name "$fs: cp -a --reflink=auto" "cp -a --reflink=auto '$d/cache.saved' '$d/cache'" \
    --command-name "$fs: cp -a --reflink=auto; sync" "cp -a --reflink=auto '$d/cache.saved' '$d/cache'; sync"
  rm -rf "$d/cache"; sync
  before=$(df -B1K --output=used "$d" | tail -n1)
  cp -a --reflink=auto "$d/cache.saved" "$d/cache"; sync
  after=$(df -B1K --output=used "$d" | tail -n1)
  echo "$fs: the copy took $(( (after - before) / 1024 )) MiB of the disk; free after: $(df -B1M --output=avail "$d" | tail -n1 | tr -d ' ') MiB"
done
