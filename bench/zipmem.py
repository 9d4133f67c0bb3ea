"""Memory of the zip layer alone: peak RSS above imports of writing / reading a zip of N tiny
entries (package-like Chinese paths) with zipfile (the baseline) and archive.package.zipio.

    for w in write-zipfile read-zipfile write-zipio read-zipio; do
        .venv/bin/python bench/zipmem.py 100000 $w /tmp/z.zip .; done
"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[4] if len(sys.argv) > 4 else ".")
import zipfile
from archive.package import zipio
n, what, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
WHEN = (2026, 7, 15, 0, 0, 0)
def name(i): return f"wmcs-2024-sample_网上申报_2026-07-15/Ⅰ—{i % 9} 中央文明委重点工作/Ⅱ—{i % 40} 学习宣传贯彻/Ⅲ—{i % 120} 健全学习制度/{i:06d}_实景图片_点位照片{i:06d}.jpg"
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
data = b"x" * 700
if what == "write-zipfile":
    with open(path, "wb") as fh, zipfile.ZipFile(fh, "w", allowZip64=True) as zf:
        for i in range(n):
            zi = zipfile.ZipInfo(name(i), date_time=WHEN); zi.create_system = 3; zi.external_attr = 0o100644 << 16
            zi.file_size = len(data)
            with zf.open(zi, "w") as dst: dst.write(data)
elif what == "write-zipio":
    with open(path, "wb") as fh:
        zw = zipio.ZipWriter(fh)
        for i in range(n):
            with zw.open(name(i), WHEN, size=len(data)) as dst: dst.write(data)
        zw.close()
elif what == "read-zipfile":
    with zipfile.ZipFile(path) as zf:
        k = sum(1 for i in zf.infolist())
elif what == "read-zipio":
    with zipio.ZipReader(path) as zr:
        k = sum(1 for e in zr.entries())
print(json.dumps({"what": what, "n": n, "s": round(time.perf_counter() - t, 1),
                  "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base, 1)}))
