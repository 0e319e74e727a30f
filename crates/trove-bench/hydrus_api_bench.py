"""p50/p95 of the Hydrus API on a generated library: search_files for four queries and
file_metadata for 256 ids, 20 runs each. Usage: python3 hydrus_api_bench.py INDEX TROVE_BINARY
(the index made by `trove-bench generate --size M --index INDEX`)."""
import json, subprocess, sys, time, urllib.parse, urllib.request, statistics, re, os
db, trove = sys.argv[1], sys.argv[2]
env = dict(os.environ, TROVE_INDEX=db)
key = subprocess.run([trove, "keys", "add", "bench%d" % int(time.time()), "--all"], env=env, capture_output=True, text=True).stdout.strip()
p = subprocess.Popen([trove, "serve", "--listen", "127.0.0.1:0", "--hydrus-port", "0"], env=dict(env, XDG_CACHE_HOME="/tmp/hyb-cache"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
url = None
while url is None:
    line = p.stderr.readline()
    m = re.search(r"Hydrus Client API on (http://[0-9.:]+)/", line)
    if m: url = m.group(1)
def get(path, **params):
    q = urllib.parse.urlencode({k: json.dumps(v) if not isinstance(v, (int, str)) else v for k, v in params.items()})
    req = urllib.request.Request(url + path + "?" + q, headers={"Hydrus-Client-API-Access-Key": key})
    t = time.perf_counter(); body = urllib.request.urlopen(req).read(); return time.perf_counter() - t, json.loads(body)
def p95(xs): xs = sorted(xs); return xs[int(0.95 * (len(xs) - 1))] * 1000
tags = get("/add_tags/search_tags", search="a", tag_display_type="storage")[1]["tags"]
common = tags[0]["value"] if tags else "x"
queries = {
  "one common tag + limit 256": [common, "system:limit = 256"],
  "two tags AND": [common, tags[1]["value"] if len(tags) > 1 else common],
  "OR + negation + limit 256": [[common, tags[2]["value"] if len(tags) > 2 else common], "-" + (tags[3]["value"] if len(tags) > 3 else "zz"), "system:limit = 256"],
  "system:filesize < 1 MB, limit 256": ["system:filesize < 1 MB", "system:limit = 256"],
}
out = {}
ids = None
for name, q in queries.items():
    ts = []
    for _ in range(20):
        t, r = get("/get_files/search_files", tags=q)
        ts.append(t)
    out[name] = (p95(ts), statistics.median(ts) * 1000, len(r["file_ids"]))
    if ids is None or len(r["file_ids"]) >= 256: ids = r["file_ids"][:256]
ts = []
for _ in range(20):
    t, r = get("/get_files/file_metadata", file_ids=ids)
    ts.append(t)
out["file_metadata 256 ids"] = (p95(ts), statistics.median(ts) * 1000, len(r["metadata"]))
p.terminate(); p.wait()

for k, (a, m, n) in out.items(): print(f"| {k} | {m:.1f} | {a:.1f} | {n} |")
