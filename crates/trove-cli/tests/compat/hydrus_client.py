"""Drives a real `trove serve --hydrus-port` with the real `hydrus-api` client from PyPI.

Run by crates/trove-cli/tests/hydrus.rs, which builds the library, makes the keys and starts
the server; it passes one JSON argument:
  {"url", "key" (scope all, named "tester"), "read_key" (scope read), "trove", "index",
   "files": {"a.png": path, "b.jpg": path, "c.txt": path}}
Every check is an assert; the first failure ends the script with a traceback (exit 1).
"""

import hashlib
import json
import os
import subprocess
import sys

import requests
import hydrus_api
import hydrus_api.utils
from hydrus_api import Client, FileSortType, Permission, TagAction

cfg = json.loads(sys.argv[1])
URL, KEY, READ_KEY, TROVE, INDEX, F = (cfg[k] for k in ("url", "key", "read_key", "trove", "index", "files"))
MY_TAGS, ALL_TAGS = "6c6f63616c2074616773", "616c6c206b6e6f776e2074616773"
ALL_MY_FILES, ALL_LOCAL_FILES = "616c6c206c6f63616c206d65646961", "616c6c206c6f63616c2066696c6573"


def sha(p):
    with open(p, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


H = {n: sha(p) for n, p in F.items()}


def trove(*args):
    r = subprocess.run([TROVE, "--index", INDEX, *args], capture_output=True, text=True)
    assert r.returncode in (0, 1), (args, r.returncode, r.stderr)
    return r


def find(q):
    return set(l for l in trove("find", q).stdout.splitlines() if l)


def step(name):
    print("ok:", name, flush=True)


c = Client(KEY, URL)

# -- access: version, key verification, session keys, the three ways to send a key ----------
v = c.get_api_version()
assert v["version"] == 95 and v["hydrus_version"] >= 500, v
vk = c.verify_access_key()
assert vk["name"] == "tester" and vk["permits_everything"] is True, vk
assert set(vk["basic_permissions"]) >= set(range(14)), vk
assert hydrus_api.utils.verify_permissions(c, list(Permission))
s = c.get_session_key()["session_key"]
assert len(s) == 64
r = requests.get(URL + "/verify_access_key", headers={"Hydrus-Client-API-Session-Key": s})
assert r.status_code == 200 and r.json()["name"] == "tester", r.text
r = requests.get(URL + "/verify_access_key")
assert r.status_code == 401 and r.json()["status_code"] == 401 and "version" in r.json(), r.text
for bad, code in [("Hydrus-Client-API-Access-Key", 403), ("Hydrus-Client-API-Session-Key", 419)]:
    r = requests.get(URL + "/verify_access_key", headers={bad: "ab" * 32})
    assert r.status_code == code and r.json()["status_code"] == code and r.json()["error"], r.text
try:
    Client("ab" * 32, URL).verify_access_key()
    raise AssertionError("an unknown key was let in")
except hydrus_api.InsufficientAccess:
    pass
r = requests.get(URL + "/verify_access_key", params={"Hydrus-Client-API-Access-Key": KEY})
assert r.status_code == 200, r.text
assert r.headers["Server"].startswith("client api/") and r.headers["Hydrus-Server"] == r.headers["Server"]
step("access")

# -- a key asked for by the client works only once `trove keys approve` said so -------------
asked = Client(None, URL).request_new_permissions("my script", [Permission.SEARCH_FILES, Permission.ADD_TAGS])["access_key"]
assert len(asked) == 64
try:
    Client(asked, URL).verify_access_key()
    raise AssertionError("a key waiting for approval was let in")
except hydrus_api.InsufficientAccess as e:
    assert "trove keys approve my-script" in e.response.text, e.response.text
pending = trove("keys", "pending").stdout
assert "my-script" in pending and "tag" in pending, pending
assert trove("keys", "approve", "my-script").returncode == 0
assert hydrus_api.utils.verify_permissions(Client(asked, URL), [Permission.SEARCH_FILES, Permission.ADD_TAGS])
step("request_new_permissions + trove keys approve")

# -- services ---------------------------------------------------------------------------------
sv = c.get_services()
assert sv["services"][MY_TAGS]["type"] == 5 and sv["services"][ALL_TAGS]["type"] == 10
assert sv["all_local_files"][0]["service_key"] == ALL_LOCAL_FILES
assert {x["service_key"] for x in sv["services_v2"]} >= {MY_TAGS, ALL_TAGS, ALL_MY_FILES}
assert c.get_service(service_name="my tags")["service"]["service_key"] == MY_TAGS
assert c.get_service(service_key=ALL_TAGS)["service"]["name"] == "all known tags"
step("services")

# -- search, tag, metadata --------------------------------------------------------------------
assert c.search_files([])["file_ids"] == []
r = c.search_files(["system:everything"], return_hashes=True)
assert set(r["hashes"]) == set(H.values()) and len(r["file_ids"]) == len(H), r
id_of = dict(zip(r["hashes"], r["file_ids"]))
A = id_of[H["a.png"]]
everyone = set(id_of.values())
size = {H[n]: os.path.getsize(p) for n, p in F.items()}
assert len(set(size.values())) == len(size), "fixture sizes must differ"
r = c.search_files(["system:everything"], file_sort_type=FileSortType.FILE_SIZE, file_sort_asc=True,
                   return_hashes=True)
assert r["hashes"] == sorted(H.values(), key=size.get), r
r = c.search_files(["system:everything"], file_sort_type=FileSortType.FILE_SIZE, file_sort_asc=False,
                   return_hashes=True, file_service_keys=[ALL_MY_FILES], tag_service_key=ALL_TAGS)
assert r["hashes"] == sorted(H.values(), key=size.get, reverse=True), r
r = c.search_files(["system:everything"], file_sort_type=FileSortType.IMPORT_TIME, file_sort_asc=True)
assert r["file_ids"] == sorted(everyone), r
step("search_files everything + sorts")

c.add_tags(hashes=[H["a.png"]], service_keys_to_tags={MY_TAGS: ["Character:Samus  Aran", "blue eyes"]})
assert find('"character:samus aran"') == {F["a.png"]}, find('"character:samus aran"')
m = c.get_file_metadata(hashes=[H["a.png"]])
assert "services" in m and "services_v2" in m
m = m["metadata"][0]
assert m["tags"][MY_TAGS]["storage_tags"]["0"] == ["blue eyes", "character:samus aran"], m["tags"]
assert "blue eyes" in m["tags"][ALL_TAGS]["display_tags"]["0"]
assert m["file_id"] == A and m["hash"] == H["a.png"]
assert (m["size"], m["mime"], m["ext"], m["filetype_enum"]) == (os.path.getsize(F["a.png"]), "image/png", ".png", 2), m
assert (m["width"], m["height"]) == (10, 20), m                          # trove-meta read it
assert m["duration"] is None and m["has_audio"] is False and m["known_urls"] == [] and m["is_local"] is True
m2 = c.get_file_metadata(file_ids=[A], only_return_basic_information=True)["metadata"][0]
assert m2["size"] == m["size"] and "tags" not in m2
m3 = c.get_file_metadata(file_ids=sorted(everyone), only_return_identifiers=True)["metadata"]
assert [x["file_id"] for x in m3] == sorted(everyone) and set(m3[0]) == {"file_id", "hash"}
step("add_tags + file_metadata")


def q(tags):
    return set(c.search_files(tags)["file_ids"])


a = {A}
assert q(["character:samus aran"]) == a
assert q(["character:samus aran", "blue eyes"]) == a                    # AND
assert q([["blue eyes", "nothing here"]]) == a                           # nested OR
assert q(["system:everything", "-blue eyes"]) == everyone - a            # negation
assert q(["character:sam*"]) == a                                        # wildcard
assert q(["character:*"]) == a                                           # namespace
assert q(["system:filesize < 1 MB", "system:filetype = image/png"]) == a
assert q(["system:number of tags > 1"]) == a
assert q(["system:hash = " + H["a.png"]]) == a
assert len(q(["system:everything", "system:limit = 1"])) == 1
assert q(["system:untagged"]) == everyone - a
assert q(["system:inbox"]) == set() and q(["system:archive"]) == everyone
assert q(["system:file service is not currently in trash", "system:filetype = image"]) == \
    {id_of[H["a.png"]], id_of[H["b.jpg"]]}
try:
    c.search_files(["system:this is not a predicate"])
    raise AssertionError("an unknown system predicate was accepted")
except hydrus_api.MissingParameter as e:
    assert "system:this is not a predicate" in e.response.json()["error"]
step("searches")

c.add_tags(file_ids=[A], service_keys_to_actions_to_tags={MY_TAGS: {TagAction.DELETE: ["blue eyes"]}})
assert q(["blue eyes"]) == set() and find('"blue eyes"') == set()
assert find('"character:samus aran"') == {F["a.png"]}
try:
    c.add_tags(file_ids=[A], service_keys_to_actions_to_tags={MY_TAGS: {TagAction.PEND: ["x"]}})
    raise AssertionError("a pend action was accepted on a local tag service")
except hydrus_api.MissingParameter:
    pass
step("add_tags delete (seen by trove find)")

m = c.get_file_metadata(hashes=["00" * 32], only_return_identifiers=True)
assert m["metadata"] == [{"file_id": None, "hash": "00" * 32}] and "services" in m, m
try:
    c.get_file_metadata(file_ids=[10 ** 9])
    raise AssertionError("an unknown file id gave metadata")
except hydrus_api.APIError as e:
    assert e.response.status_code == 404

# -- bytes, ranges, thumbnails, paths ---------------------------------------------------------
body = c.get_file(hash_=H["a.png"])
with open(F["a.png"], "rb") as f:
    assert body.content == f.read() and body.headers["Content-Type"] == "image/png"
r = requests.get(URL + "/get_files/file", params={"file_id": A},
                 headers={"Hydrus-Client-API-Access-Key": KEY, "Range": "bytes=0-3"})
assert r.status_code == 206 and r.content == b"\x89PNG" and r.headers["Content-Range"].startswith("bytes 0-3/")
for name in F:
    t = c.get_thumbnail(file_id=id_of[H[name]])
    assert t.status_code == 200 and t.headers["Content-Type"] in ("image/jpeg", "image/png", "image/svg+xml"), name
assert c.get_file_path(file_id=A)["path"] == F["a.png"]
step("get_file (206), get_thumbnail, file_path")

# -- tag helpers --------------------------------------------------------------------------------
assert c.clean_tags([" bikini ", "blue    eyes", "10", "9", "-flower"])["tags"] == \
    ["9", "10", "bikini", "blue eyes", "flower"]
c.add_tags(hashes=[H["b.jpg"]], service_keys_to_tags={MY_TAGS: ["series:metroid"]})
r = c.search_tags("metr", tag_service_key=MY_TAGS, tag_display_type="display")
assert r["tags"][0] == {"value": "series:metroid", "count": 1} and r["autocomplete_text"]["inclusive"] is True, r
step("clean_tags, search_tags")

# -- a read-only key is refused writes --------------------------------------------------------
ro = Client(READ_KEY, URL)
assert ro.search_files(["system:everything"])["file_ids"]
try:
    ro.add_tags(file_ids=[A], service_keys_to_tags={MY_TAGS: ["nope"]})
    raise AssertionError("a read key added a tag")
except hydrus_api.InsufficientAccess:
    pass
assert find("nope") == set()
step("permission refusal with a read key")

# -- browser bits: CORS preflight, Content-Type on GET ---------------------------------------
r = requests.options(URL + "/get_files/search_files",
                     headers={"Origin": "http://example.test", "Access-Control-Request-Method": "GET",
                              "Access-Control-Request-Headers": "hydrus-client-api-access-key"})
assert r.status_code in (200, 204) and r.headers["Access-Control-Allow-Origin"] == "*", r.headers
r = requests.get(URL + "/get_services", headers={"Hydrus-Client-API-Access-Key": KEY,
                                                 "Content-Type": "application/json"})
assert r.status_code == 200 and "hydrus_version" in r.json()
step("CORS")
print("hydrus-api session: all checks passed")
