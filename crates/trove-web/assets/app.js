// trove's browser UI: plain JavaScript over the JSON API (/api/v1). The session cookie
// authenticates; every state-changing request sends the CSRF token from the page's meta tag.
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
// `generation` counts searches, so a page that arrives after a new search began is dropped.
const state = { query: "", cursor: null, loading: false, done: false, files: [], selected: -1, open: null, generation: 0 };

async function api(path, options = {}) {
  const headers = Object.assign({ "x-csrf-token": csrf }, options.headers || {});
  if (options.body) headers["content-type"] = "application/json";
  const r = await fetch("/api/v1/" + path, Object.assign({}, options, { headers, credentials: "same-origin" }));
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(body.error || r.statusText);
    err.position = body.position;
    throw err;
  }
  return body;
}

function status(text, isError) {
  const s = $("status");
  s.textContent = text || "";
  s.className = isError ? "error" : "";
}

// A query error shows the query with a caret under the byte the core names.
function queryError(q, e) {
  if (typeof e.position !== "number") return status(e.message, true);
  const before = new TextDecoder().decode(new TextEncoder().encode(q).slice(0, e.position));
  status(e.message + "\n" + q + "\n" + " ".repeat([...before].length) + "^", true);
}

function card(f, i) {
  const el = document.createElement("div");
  el.className = "card";
  el.tabIndex = 0;
  el.dataset.index = i;
  const img = document.createElement("img");
  img.loading = "lazy";
  img.alt = f.name;
  img.src = "/api/v1/files/" + f.id + "/thumbnail";
  const name = document.createElement("div");
  name.className = "name";
  name.textContent = f.name;
  el.append(img, name);
  el.addEventListener("click", () => openFile(i));
  return el;
}

async function loadMore() {
  if (state.loading || state.done) return;
  const generation = state.generation;
  state.loading = true;
  try {
    let path = "search?limit=60&q=" + encodeURIComponent(state.query);
    if (state.cursor) path += "&cursor=" + encodeURIComponent(state.cursor);
    const page = await api(path);
    if (generation !== state.generation) return;
    const grid = $("grid");
    for (const f of page.files) {
      state.files.push(f);
      grid.append(card(f, state.files.length - 1));
    }
    state.cursor = page.next_cursor;
    state.done = !page.next_cursor;
    const warn = (page.warnings || []).join("; ");
    status(state.files.length + " file(s)" + (state.done ? "" : " so far") + (warn ? " — " + warn : ""));
  } catch (e) {
    if (generation !== state.generation) return;
    state.done = true;
    queryError(state.query, e);
  } finally {
    if (generation === state.generation) state.loading = false;
  }
  // Keep filling while the sentinel is still on screen.
  if (!state.done && $("sentinel").getBoundingClientRect().top < window.innerHeight + 400) loadMore();
}

function search(q) {
  Object.assign(state, { query: q, cursor: null, loading: false, done: false, files: [], selected: -1 });
  state.generation++;
  $("grid").replaceChildren();
  status("searching…");
  showPage("files");
  loadMore();
}

function select(i) {
  const cards = $("grid").children;
  if (!cards.length) return;
  i = Math.max(0, Math.min(cards.length - 1, i));
  for (const c of $("grid").querySelectorAll(".selected")) c.classList.remove("selected");
  state.selected = i;
  cards[i].classList.add("selected");
  cards[i].focus({ preventScroll: true });
  cards[i].scrollIntoView({ block: "nearest" });
  if (i > cards.length - 8) loadMore();
}

function columns() {
  const cards = $("grid").children;
  if (cards.length < 2) return 1;
  const top = cards[0].offsetTop;
  let n = 0;
  while (n < cards.length && cards[n].offsetTop === top) n++;
  return n;
}

async function openFile(i) {
  const f = state.files[i];
  if (!f) return;
  state.selected = i;
  state.open = f.id;
  const meta = await api("files/" + f.id);
  const media = $("viewer-media");
  media.replaceChildren();
  const src = "/api/v1/files/" + f.id + "/content";
  if (!meta.exists) {
    media.textContent = "This file is not on disk now (" + meta.state + "); its record and tags are kept.";
  } else if (meta.mime.startsWith("image/")) {
    const img = document.createElement("img");
    img.src = src;
    img.alt = meta.name;
    media.append(img);
  } else if (meta.mime.startsWith("video/")) {
    const v = document.createElement("video");
    v.src = src;
    v.controls = true;
    media.append(v);
  } else if (meta.mime.startsWith("audio/")) {
    const img = document.createElement("img");
    img.src = "/api/v1/files/" + f.id + "/thumbnail";
    const a = document.createElement("audio");
    a.src = src;
    a.controls = true;
    media.append(img, a);
  } else if (meta.mime.startsWith("text/")) {
    const pre = document.createElement("pre");
    const r = await fetch(src, { headers: { range: "bytes=0-65535" } });
    pre.textContent = await r.text();
    media.append(pre);
  } else {
    const img = document.createElement("img");
    img.src = "/api/v1/files/" + f.id + "/thumbnail";
    media.append(img);
  }
  $("viewer-name").textContent = meta.name;
  $("viewer-path").textContent = meta.path;
  $("viewer-meta").textContent = humanSize(meta.size) + " · modified " + new Date(meta.mtime_ns / 1e6).toLocaleString();
  renderTags(meta.tags);
  renderPools(meta.pools);
  $("viewer-history").open = false;
  $("viewer").hidden = false;
}

// The file's history (the operation log), loaded when the panel is opened: newest first.
async function showHistory() {
  const list = $("viewer-history").querySelector("ol");
  list.replaceChildren();
  if (state.open == null) return;
  try {
    const r = await api("files/" + state.open + "/history");
    for (const e of r.events.reverse()) {
      const li = document.createElement("li");
      const parts = [];
      if (e.record) parts.push(e.record === "created" ? "indexed" : "forgotten");
      for (const t of e.added) parts.push("+" + t);
      for (const t of e.removed) parts.push("−" + t);
      if (e.moved) parts.push("moved " + e.moved[0] + " → " + e.moved[1]);
      if (e.missing != null) parts.push(e.missing ? "missing" : "back");
      const when = new Date(e.at * 1000).toLocaleString();
      li.textContent = "#" + e.op + " · " + when + " · " + e.actor + (e.summary ? " (" + e.summary + ")" : "") + ": " + parts.join(" ");
      list.append(li);
    }
    if (!r.events.length) list.textContent = "nothing recorded yet";
  } catch (x) { status(x.message, true); }
}

// The pools the open file is in, each with its place and a button that takes it out.
function renderPools(pools) {
  const box = $("viewer-pools");
  box.replaceChildren();
  for (const p of pools) {
    const el = document.createElement("span");
    el.className = "pool";
    el.textContent = p.title + " #" + p.position;
    const x = document.createElement("button");
    x.title = "remove from this pool";
    x.textContent = "×";
    x.addEventListener("click", () => editPool(p.title, { remove: [state.open] }));
    el.append(x);
    box.append(el);
  }
}

async function editPool(title, body) {
  try {
    await api("pools/" + encodeURIComponent(title) + "/files", { method: "POST", body: JSON.stringify(body) });
    status((body.add ? "added to " : "removed from ") + title);
    renderPools((await api("files/" + state.open)).pools);
  } catch (x) { status(x.message, true); }
}

function humanSize(n) {
  const u = ["bytes", "k", "M", "G", "T"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + (i ? u[i] : " " + u[0]);
}

// Tags grouped by namespace; implied ones marked; each link's sources shown.
function renderTags(tags) {
  const box = $("viewer-tags");
  box.replaceChildren();
  const groups = {};
  for (const t of tags) {
    const ns = t.name.includes(":") ? t.name.split(":")[0] : "";
    (groups[ns] = groups[ns] || []).push(t);
  }
  for (const ns of Object.keys(groups).sort()) {
    const h = document.createElement("div");
    h.className = "ns";
    h.textContent = ns || "tags";
    box.append(h);
    for (const t of groups[ns]) {
      const el = document.createElement("span");
      el.className = "tag" + (t.implied ? " implied" : "");
      el.style.background = nsColour(ns);
      el.append(t.name);
      const src = document.createElement("small");
      src.textContent = t.implied ? "implied" : t.sources.join(", ");
      el.append(src);
      if (!t.implied) {
        const x = document.createElement("button");
        x.title = "remove";
        x.textContent = "×";
        x.addEventListener("click", () => editTags({ remove: [t.name] }));
        el.append(x);
      }
      box.append(el);
    }
  }
}

// A stable colour per namespace, so `artist:` tags look alike everywhere.
function nsColour(ns) {
  if (!ns) return "";
  let h = 0;
  for (const c of ns) h = (h * 31 + c.codePointAt(0)) % 360;
  return "hsl(" + h + " 35% 28%)";
}

async function editTags(edit) {
  try {
    const r = await api("files/" + state.open + "/tags", { method: "POST", body: JSON.stringify(edit) });
    const meta = await api("files/" + state.open);
    renderTags(meta.tags);
    status("saved");
    if (r.op) undoButton(r.op);
  } catch (e) {
    status(e.message, true);
  }
}

// After an edit: an "undo" button that reverts that operation (POST /api/v1/undo).
function undoButton(op) {
  const b = document.createElement("button");
  b.textContent = "undo";
  b.className = "undo";
  b.title = "revert this edit (operation " + op + ")";
  b.onclick = async () => {
    b.disabled = true;
    try {
      await api("undo", { method: "POST", body: JSON.stringify({ op }) });
      if (state.open !== null) renderTags((await api("files/" + state.open)).tags);
      status("undone");
    } catch (e) {
      status(e.message, true);
    }
  };
  $("status").append(" ", b);
}

let suggestTimer = null;
function suggest(input) {
  clearTimeout(suggestTimer);
  suggestTimer = setTimeout(async () => {
    const word = input.value.split(/\s+/).pop().replace(/^-/, "");
    if (!word) return;
    try {
      const r = await api("tags?limit=15&q=" + encodeURIComponent(word));
      const list = $("tag-suggestions");
      list.replaceChildren();
      const head = input.value.slice(0, input.value.length - word.length);
      for (const t of r.tags) {
        // The tag, then any alias that matched, labelled with the tag it names.
        for (const name of [t.name, ...(t.aliases || [])]) {
          const o = document.createElement("option");
          o.value = input.id === "q" ? head + name : name;
          o.label = (name === t.name ? "" : "→ " + t.name + ", ") + t.with_implied + " file(s)";
          list.append(o);
        }
      }
    } catch (e) { /* suggestions are optional */ }
  }, 120);
}

function closeViewer() {
  $("viewer").hidden = true;
  $("viewer-media").replaceChildren();
  state.open = null;
  select(state.selected);
}

function showPage(which) {
  $("grid").hidden = which !== "files";
  $("tags-page").hidden = which !== "tags";
  $("pools-page").hidden = which !== "pools";
  $("dupes-page").hidden = which !== "dupes";
  $("dupe-group").hidden = which !== "dupe-group";
}

// Duplicates: the groups to review (undecided first), then one group side by side with the
// decision buttons. The decisions are `trove dupes mark`'s, stored with the source api:web.
const dupes = { offset: 0, page: [], total: 0, at: -1, group: null };
const PAGE_OF_GROUPS = 30;

function pairsLabel(g) {
  if (g.decision) return g.decision;
  if (g.undecided === 0) return "decided (mixed)";
  return g.undecided === g.pairs ? "undecided" : g.undecided + " of " + g.pairs + " pairs undecided";
}

function badge(text, cls) {
  const b = document.createElement("span");
  b.className = "badge" + (cls ? " " + cls : "");
  b.textContent = text;
  return b;
}

async function showDupes(offset) {
  showPage("dupes");
  dupes.offset = offset || 0;
  const r = await api("dupes?limit=" + PAGE_OF_GROUPS + "&offset=" + dupes.offset);
  dupes.page = r.groups;
  dupes.total = r.total;
  const box = $("dupes-page");
  box.replaceChildren();
  const head = document.createElement("p");
  head.className = "dupe-pages";
  head.textContent = r.total + " group(s): " + r.exact + " of identical files, " + r.similar +
    " of similar images; " + r.undecided + " with undecided pairs";
  box.append(head);
  r.groups.forEach((g, i) => {
    const row = document.createElement("div");
    row.className = "dupe-row";
    row.tabIndex = 0;
    row.dataset.group = g.id;
    for (const m of g.members) {
      const img = document.createElement("img");
      img.loading = "lazy";
      img.alt = m.name || "";
      img.src = "/api/v1/files/" + m.id + "/thumbnail";
      row.append(img);
    }
    const label = document.createElement("div");
    label.className = "label";
    const what = g.kind === "exact"
      ? g.files + " identical files, " + humanSize(g.size) + " each, " + humanSize(g.wasted) + " wasted"
      : g.files + " similar images";
    label.append(what + "  ", badge(pairsLabel(g), g.undecided ? "" : "decided"));
    row.append(label);
    row.addEventListener("click", () => openGroup(i));
    row.addEventListener("keydown", (e) => { if (e.key === "Enter") openGroup(i); });
    box.append(row);
  });
  const pages = document.createElement("div");
  pages.className = "dupe-pages";
  if (dupes.offset > 0) {
    const b = document.createElement("button");
    b.textContent = "‹ previous";
    b.addEventListener("click", () => showDupes(Math.max(0, dupes.offset - PAGE_OF_GROUPS)).catch((x) => status(x.message, true)));
    pages.append(b);
  }
  if (r.next_offset != null) {
    const b = document.createElement("button");
    b.id = "dupes-more";
    b.textContent = "next ›";
    b.addEventListener("click", () => showDupes(r.next_offset).catch((x) => status(x.message, true)));
    pages.append(b);
  }
  const shown = r.groups.length ? (dupes.offset + 1) + "–" + (dupes.offset + r.groups.length) + " of " + r.total : "nothing to review";
  pages.append(shown);
  box.append(pages);
  status(r.total ? "" : "no duplicates found (trove dupes --scan computes the perceptual hashes of images indexed before)");
}

async function openGroup(i) {
  const g = dupes.page[i];
  if (!g) return;
  dupes.at = i;
  await showGroup(g.id);
}

async function showGroup(id) {
  const g = await api("dupes/" + encodeURIComponent(id));
  dupes.group = g;
  showPage("dupe-group");
  $("dupe-title").textContent = (g.kind === "exact" ? "identical files" : "similar images") + " · " + g.files + " files" +
    (dupes.at >= 0 ? " · group " + (dupes.offset + dupes.at + 1) + " of " + dupes.total : "");
  $("dupe-decision").replaceChildren(badge(pairsLabel(g), g.undecided ? "" : "decided"));
  const box = $("dupe-members");
  box.replaceChildren();
  for (const m of g.members) {
    const col = document.createElement("div");
    col.className = "dupe-member" + (m.keep ? " keep" : "");
    col.dataset.id = m.id;
    const media = document.createElement("div");
    media.className = "media";
    const img = document.createElement("img");
    img.alt = m.name;
    // The picture at screen size; other files show their thumbnail.
    img.src = "/api/v1/files/" + m.id + (m.exists && m.mime.startsWith("image/") ? "/content" : "/thumbnail");
    media.append(img);
    const h = document.createElement("h3");
    h.textContent = m.name + " ";
    if (m.keep) h.append(badge("keep", "keep"));
    const dl = document.createElement("dl");
    const row = (k, v) => {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      dl.append(dt, dd);
    };
    row("resolution", m.width && m.height ? m.width + " × " + m.height : "unknown");
    row("size", humanSize(m.size));
    row("modified", new Date(m.mtime_ns / 1e6).toLocaleString());
    if (m.distance != null) row("distance", m.distance + " bits from the kept one");
    if (!m.exists) row("state", "not on disk now (" + m.state + ")");
    const path = document.createElement("p");
    path.className = "path";
    path.textContent = m.path;
    const tags = document.createElement("div");
    tags.className = "dupe-tags";
    for (const t of m.tags) {
      const el = document.createElement("span");
      el.className = "tag" + (t.implied ? " implied" : "");
      el.style.background = nsColour(t.name.includes(":") ? t.name.split(":")[0] : "");
      el.textContent = t.name;
      tags.append(el);
    }
    if (!m.tags.length) tags.textContent = "no tags";
    col.append(media, h, dl, path, tags);
    box.append(col);
  }
}

async function decide(decision) {
  const g = dupes.group;
  if (!g) return;
  try {
    // Only the members shown: a file indexed since can join this group to another.
    const files = g.members.map((m) => m.id);
    const r = await api("dupes/" + encodeURIComponent(g.id) + "/mark", { method: "POST", body: JSON.stringify({ decision, files }) });
    await showGroup(g.id);
    status("marked " + r.decision + " (" + r.changed + " pair(s) changed)");
    if (r.op) undoButton(r.op);
  } catch (e) { status(e.message, true); }
}

async function mergeGroupTags() {
  const g = dupes.group;
  if (!g) return;
  try {
    const files = g.members.map((m) => m.id);
    const r = await api("dupes/" + encodeURIComponent(g.id) + "/merge-tags", { method: "POST", body: JSON.stringify({ files }) });
    await showGroup(g.id);
    status("tags merged: " + r.added + " link(s) added");
    if (r.op) undoButton(r.op);
  } catch (e) { status(e.message, true); }
}

async function stepGroup(step) {
  const i = dupes.at + step;
  if (i >= 0 && i < dupes.page.length) return openGroup(i);
  const offset = dupes.offset + (step > 0 ? PAGE_OF_GROUPS : -PAGE_OF_GROUPS);
  if (offset < 0 || offset >= dupes.total) return;
  await showDupes(offset);
  await openGroup(step > 0 ? 0 : dupes.page.length - 1);
}

async function showTags() {
  showPage("tags");
  const r = await api("tags?limit=10000&sort=count");
  const t = document.createElement("table");
  t.innerHTML = "<tr><th>tag</th><th>files</th><th>with implied</th><th></th></tr>";
  for (const x of r.tags) {
    const tr = document.createElement("tr");
    const a = document.createElement("a");
    a.href = "#";
    a.textContent = x.name;
    a.addEventListener("click", (e) => { e.preventDefault(); $("q").value = JSON.stringify(x.name); search($("q").value); });
    const td = document.createElement("td");
    td.append(a);
    tr.append(td);
    for (const n of [x.files, x.with_implied]) {
      const c = document.createElement("td");
      c.textContent = n;
      tr.append(c);
    }
    // rename, alias, merge, imply: each asks for the other name and calls the API.
    const acts = document.createElement("td");
    for (const [action, question] of [["rename", "new name for"], ["alias", "another name for"],
                                      ["merge", "merge into which tag:"], ["imply", "every file with it is also:"]]) {
      const b = document.createElement("button");
      b.textContent = action;
      b.className = "small";
      b.addEventListener("click", async () => {
        const to = prompt(question + " " + x.name);
        if (!to) return;
        try {
          await api("tags/" + action, { method: "POST", body: JSON.stringify({ tag: x.name, to }) });
          status(action + ": done");
          showTags();
        } catch (e) { status(e.message, true); }
      });
      acts.append(b);
    }
    tr.append(acts);
    t.append(tr);
  }
  $("tags-page").replaceChildren(t);
}

async function showPools() {
  showPage("pools");
  const r = await api("pools");
  const ul = document.createElement("ul");
  for (const p of r.pools) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "#";
    a.textContent = p.title + " (" + p.files + ")";
    a.addEventListener("click", (e) => { e.preventDefault(); $("q").value = "pool:" + JSON.stringify(p.title) + " sort:pool"; search($("q").value); });
    li.append(a);
    ul.append(li);
  }
  $("pools-page").replaceChildren(ul);
}

$("search-form").addEventListener("submit", (e) => { e.preventDefault(); search($("q").value); });
$("q").addEventListener("input", (e) => suggest(e.target));
$("tag-input").addEventListener("input", (e) => suggest(e.target));
$("pool-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const title = $("pool-input").value.trim();
  if (!title || state.open == null) return;
  try {
    const pools = (await api("pools")).pools;
    if (!pools.some((p) => p.title.toLowerCase() === title.toLowerCase())) {
      await api("pools", { method: "POST", body: JSON.stringify({ title }) });
    }
    await editPool(title, { add: [state.open] });
    $("pool-input").value = "";
  } catch (x) { status(x.message, true); }
});
$("tag-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("tag-input").value.trim();
  if (name) editTags({ add: [name] });
  $("tag-input").value = "";
});
$("viewer-close").addEventListener("click", closeViewer);
$("viewer-history").addEventListener("toggle", () => { if ($("viewer-history").open) showHistory(); });
$("nav-files").addEventListener("click", (e) => { e.preventDefault(); showPage("files"); });
$("nav-tags").addEventListener("click", (e) => { e.preventDefault(); showTags().catch((x) => status(x.message, true)); });
$("nav-pools").addEventListener("click", (e) => { e.preventDefault(); showPools().catch((x) => status(x.message, true)); });
$("nav-dupes").addEventListener("click", (e) => { e.preventDefault(); showDupes(0).catch((x) => status(x.message, true)); });
for (const b of document.querySelectorAll("#dupe-group [data-decision]")) b.addEventListener("click", () => decide(b.dataset.decision));
$("dupe-merge").addEventListener("click", mergeGroupTags);
$("dupe-back").addEventListener("click", () => showDupes(dupes.offset).catch((x) => status(x.message, true)));
$("dupe-prev").addEventListener("click", () => stepGroup(-1).catch((x) => status(x.message, true)));
$("dupe-next").addEventListener("click", () => stepGroup(1).catch((x) => status(x.message, true)));

document.addEventListener("keydown", (e) => {
  const typing = e.target.tagName === "INPUT";
  if (e.key === "Escape") {
    if (!$("viewer").hidden) closeViewer();
    else if (typing) { e.preventDefault(); e.target.blur(); } // Esc in a search box would clear it
    else if (!$("dupe-group").hidden) showDupes(dupes.offset).catch((x) => status(x.message, true));
    return;
  }
  if (typing) return;
  if (!$("dupe-group").hidden) {
    const decision = { s: "same", a: "alternate", n: "not-duplicate", u: "undecided" }[e.key];
    if (decision) { e.preventDefault(); decide(decision); }
    else if (e.key === "m") { e.preventDefault(); mergeGroupTags(); }
    else if (e.key === "ArrowRight" || e.key === "l") { e.preventDefault(); stepGroup(1).catch((x) => status(x.message, true)); }
    else if (e.key === "ArrowLeft" || e.key === "h") { e.preventDefault(); stepGroup(-1).catch((x) => status(x.message, true)); }
    else if (e.key === "/") { e.preventDefault(); $("q").focus(); }
    return;
  }
  const viewing = !$("viewer").hidden;
  if (e.key === "/") { e.preventDefault(); if (viewing) closeViewer(); $("q").focus(); return; }
  if (e.key === "t" && viewing) { e.preventDefault(); $("tag-input").focus(); return; }
  const step = { ArrowRight: 1, l: 1, j: viewing ? 1 : columns(), ArrowDown: viewing ? 1 : columns(),
                 ArrowLeft: -1, h: -1, k: viewing ? -1 : -columns(), ArrowUp: viewing ? -1 : -columns() }[e.key];
  if (step) {
    e.preventDefault();
    if (viewing) openFile(Math.max(0, Math.min(state.files.length - 1, state.selected + step)));
    else select(state.selected < 0 ? 0 : state.selected + step);
  } else if (e.key === "Enter" && !viewing && state.selected >= 0) {
    openFile(state.selected);
  }
});

new IntersectionObserver((entries) => { if (entries.some((x) => x.isIntersecting)) loadMore(); },
  { rootMargin: "400px" }).observe($("sentinel"));

search(new URLSearchParams(location.hash.slice(1)).get("q") || "");
