#!/usr/bin/env bash
# Include throughput with and without metadata extraction (issue 12), and what each
# extractor costs per file. Prints the tables docs/performance.md quotes.
#
#   cargo build --release -p trove-cli
#   bash crates/trove-bench/meta_throughput.sh [TROVE] [SMALL_FILES] [DIR]
#
# Defaults: target/release/trove, 20000 files, /tmp/trove-meta-bench (removed at the end).
# Needs ffmpeg, exiftool and python3. The page cache is warm for every run (the tree is
# read once first), so the figures compare CPU work, not the disk.
set -euo pipefail
trove=$(realpath "${1:-target/release/trove}")
n=${2:-20000}
dir=${3:-/tmp/trove-meta-bench}
runs=${RUNS:-3}
for t in ffmpeg exiftool python3; do
    command -v "$t" >/dev/null || { echo "$t is needed" >&2; exit 2; }
done
rm -rf "$dir"
mkdir -p "$dir/seed"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$dir"' EXIT
cd "$dir/seed"

# One seed file per kind, each a few KiB, made by the real tools.
ffmpeg -v error -y -f lavfi -i testsrc=size=320x240:rate=1 -frames:v 1 photo.jpg
exiftool -q -overwrite_original -Make=Canon '-Model=Canon EOS 5D' -LensModel=EF50mm \
    '-DateTimeOriginal=2021:07:04 10:30:00' -Orientation#=6 photo.jpg
ffmpeg -v error -y -f lavfi -i sine=duration=0.5 -ar 8000 -metadata artist=A -metadata album=B \
    -metadata title=C -metadata track=3 -metadata date=2019 song.flac
ffmpeg -v error -y -f lavfi -i sine=duration=0.5 -ar 8000 -b:a 32k -metadata artist=A -metadata album=B \
    -metadata title=C song.mp3
python3 - <<'EOF'
import struct, zlib
def chunk(k, d):
    return struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
raw = b"".join(b"\0" + bytes((x * 7 + y) & 255 for x in range(3 * 64)) for y in range(64))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
png += chunk(b"tEXt", b"parameters\0a cat, (masterpiece:1.2)\nSteps: 20, Model: sdxl")
png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open("image.png", "wb").write(png)
objs = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        "<< /Title (A paper) /Author (Someone) /CreationDate (D:20190101) >>"]
out = b"%PDF-1.4\n"; offs = []
for i, o in enumerate(objs):
    offs.append(len(out)); out += f"{i+1} 0 obj\n{o}\nendobj\n".encode()
x = len(out)
out += f"xref\n0 {len(objs)+1}\n0000000000 65535 f \n".encode()
out += b"".join(f"{o:010} 00000 n \n".encode() for o in offs)
out += f"trailer\n<< /Size {len(objs)+1} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{x}\n%%EOF\n".encode()
open("paper.pdf", "wb").write(out)
open("notes.txt", "w").write("plain text notes\n" * 40)
EOF

# The small library: the six kinds in turn, 100 files a folder, each file unique (its
# number appended after the format's end, where every reader ignores it).
python3 - "$n" <<'EOF'
import os, sys
n = int(sys.argv[1])
seeds = [(e, open(f, "rb").read()) for f, e in
         [("photo.jpg", "jpg"), ("image.png", "png"), ("song.flac", "flac"), ("song.mp3", "mp3"),
          ("paper.pdf", "pdf"), ("notes.txt", "txt")]]
for i in range(n):
    ext, data = seeds[i % len(seeds)]
    d = f"../small/d{i // 100:04}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:06}.{ext}", "wb") as f:
        f.write(data + (b"\n%d\n" % i if ext in ("txt", "pdf") else i.to_bytes(8, "little")))
EOF
# The large files: 4 × 256 MiB (a faststart MP4 and a FLAC padded with zeros after their
# data, a JPEG and a PDF likewise): hashing dominates; extraction reads headers only.
mkdir -p ../large
ffmpeg -v error -y -f lavfi -i testsrc=size=320x240:rate=10 -f lavfi -i sine=duration=2 -t 2 \
    -pix_fmt yuv420p -movflags +faststart ../large/clip.mp4
cp song.flac ../large/song.flac
cp photo.jpg ../large/photo.jpg
cp paper.pdf ../large/paper.pdf
for f in ../large/*; do truncate -s 256M "$f"; done
cd "$dir"
[ -z "${ONLY_GENERATE:-}" ] || exit 0

timed() { # prints seconds
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>"$dir/err" || { cat "$dir/err" >&2; exit 2; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cat small/*/* large/* >/dev/null
echo "include -r of $n small files ($(du -sh small | cut -f1)) and 4 large ones (1 GiB), warm cache, $runs runs, median"
echo
echo "| library | without metadata (s) | with metadata (s) | files/s without | files/s with | with / without |"
echo "|---|---|---|---|---|---|"
for lib in small large; do
    count=$(find "$lib" -type f | wc -l)
    : >without; : >with
    for _ in $(seq "$runs"); do
        rm -f idx.db idx.db-wal idx.db-shm
        timed "$trove" --index idx.db include -r --no-meta "$lib" >>without
        rm -f idx.db idx.db-wal idx.db-shm
        timed "$trove" --index idx.db include -r "$lib" >>with
    done
    a=$(median <without); b=$(median <with)
    printf '| %s (%d files) | %.2f | %.2f | %.0f | %.0f | %.0f %% |\n' "$lib" "$count" "$a" "$b" \
        "$(echo "$count / $a" | bc -l)" "$(echo "$count / $b" | bc -l)" "$(echo "100 * $a / $b" | bc -l)"
done

# Per extractor: `trove meta refresh` over one kind (extraction + the store writes), minus
# nothing: text files (sniffing only) are the floor.
rm -f idx.db idx.db-wal idx.db-shm
"$trove" --index idx.db include -r small >/dev/null 2>&1
echo
echo "| files | query | ms per file (meta refresh, median of $runs) |"
echo "|---|---|---|"
for q in "ext:txt" "ext:jpg" "ext:png" "ext:flac" "ext:mp3" "ext:pdf"; do
    count=$("$trove" --index idx.db find --count "$q")
    : >t
    for _ in $(seq "$runs"); do timed "$trove" --index idx.db meta refresh "$q" >>t; done
    printf '| %d | `%s` | %.3f |\n' "$count" "$q" "$(echo "1000 * $(median <t) / $count" | bc -l)"
done
