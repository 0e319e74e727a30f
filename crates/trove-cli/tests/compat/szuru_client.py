"""Drives a real `trove serve --szuru-port` with the real `szurubooru-client` from PyPI.

Run by crates/trove-cli/tests/compat.rs with one JSON argument:
  {"url", "key", "files": {"cat1.png", "cat2.png", "dog.jpg", "song.mp3"}, "pool_order": [names]}
The library: cat1/cat2 tagged `animal:cat` (alias `kitty`, implies `animal`), dog `animal:dog`,
the pool "best cats" holding cat2 then cat1.
"""

import base64
import json
import sys

import requests
import szurubooru_client as szuru
from szurubooru_client.tokens import anonymous_token

cfg = json.loads(sys.argv[1])
URL, KEY, F = cfg["url"], cfg["key"], cfg["files"]


def step(name):
    print("ok:", name, flush=True)


c = szuru.SzurubooruSyncClient(URL, username="someone", token=KEY)

info = c.global_info()
assert info.post_count == len(F), info
step("global_info")

cats = c.list_posts(query=[anonymous_token("animal:cat")])
assert cats.total == 2 and len(cats.results) == 2, cats
cat_ids = {p.id for p in cats.results}
everything = c.list_posts()
assert everything.total == len(F)
ids = [p.id for p in everything.results]
assert ids == sorted(ids, reverse=True), ids           # szurubooru's default: newest first
animal = c.list_posts(query=[anonymous_token("animal")])
assert animal.total == 3, animal                        # implied by animal:cat and animal:dog
page = c.list_posts(limit=2, offset=1)
assert [p.id for p in page.results] == ids[1:3], page
step("list_posts with a query (escaped ':'), implications, paging")

post = c.get_post(min(cat_ids))
names = {n for t in post.tags for n in t.names}
assert {"animal:cat", "animal"} <= names, names
assert [p.names[0] for p in post.pools] == ["best cats"], post.pools
assert post.content_url and post.thumbnail_url
step("get_post with tags and pools")

body = bytes(c.get_image_bytes(post.id))
with open(F[cfg["name_of"][str(post.id)]], "rb") as f:
    assert body == f.read()
thumb = bytes(c.get_thumbnail_bytes(post.id))
assert thumb[:2] == b"\xff\xd8" or thumb.lstrip().startswith(b"<svg"), thumb[:8]
step("content and thumbnail")

pools = c.list_pools(query=[])
assert pools.total == 1 and pools.results[0].names == ["best cats"]
pool = c.get_pool(pools.results[0].id)
assert [p.id for p in pool.posts] == cfg["pool_ids"], (pool.posts, cfg["pool_ids"])
step("pools")

tag = c.get_tag("kitty")
assert tag.names[0] == "animal:cat" and "kitty" in tag.names, tag.names
assert [i.names[0] for i in tag.implications] == ["animal"], tag.implications
cats_cat = {t.name for t in c.list_tag_categories()}
assert {"default", "animal"} <= cats_cat, cats_cat
step("tags and categories")

# Raw HTTP for what the client hides: errors, writes, the escape rule.
hdr = {"Authorization": "Token " + base64.b64encode(("someone:" + KEY).encode()).decode()}
r = requests.get(URL + "/api/posts", params={"query": "re:zero"}, headers=hdr)
assert r.status_code == 400 and r.json()["name"] == "SearchError", r.text
r = requests.put(URL + "/api/post/1", headers=hdr, json={})
assert r.status_code == 403 and r.json()["name"] == "AuthError", r.text
r = requests.get(URL + "/api/post/999999", headers=hdr)
assert r.status_code == 404 and r.json()["name"] == "PostNotFoundError", r.text
r = requests.get(URL + "/api/posts")
assert r.status_code == 403 and r.json()["name"] == "AuthError", r.text
r = requests.get(URL + "/api/posts", params={"limit": 500}, headers=hdr)
assert r.json()["limit"] == 100
r = requests.get(URL + "/api/data/posts/1_0000000000000000.png")   # a wrong token names nothing
assert r.status_code == 404, r.status_code
r = requests.get(URL + f"/api/post/{post.id}/around", params={"query": "animal"}, headers=hdr)
assert r.status_code == 200 and set(r.json()) == {"prev", "next"}, r.text
step("errors, read-only, paging cap, around")
print("szurubooru-client session: all checks passed")
