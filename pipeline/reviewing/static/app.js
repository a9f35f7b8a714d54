// qcode review page. Every string from the file or the codebook is written with
// textContent (never as HTML), and every request carries the page's CSRF key.
"use strict";

const csrf = document.querySelector('meta[name="qcode-csrf"]').content;
const $ = (id) => document.getElementById(id);
const S = { state: null, queue: [], current: null, selected: new Set(), note: null, editing: false, order: null, filter: "", liveModel: null };

// Every action runs after the one before it has finished, in the order the keys were
// pressed: a fast reviewer's keys are never dropped, and each applies to the passage on
// screen once the previous action is done.
let chain = Promise.resolve();
function enqueue(action) {
  chain = chain.then(action).catch(fail);
  return chain;
}

// This tab's own name: the server keeps an undo stack per tab, so Backspace in one tab
// never undoes a decision made in another.
const tab = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, "0")).join("");

async function api(path, body) {
  const init = { headers: { "X-QCode-CSRF": csrf, "X-QCode-Tab": tab }, credentials: "same-origin" };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail || response.statusText);
    const err = new Error(detail);
    err.status = response.status;
    throw err;
  }
  return data;
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function say(message, isError) {
  const footer = $("status");
  footer.textContent = message;
  footer.classList.toggle("error", !!isError);
}

function codeName(id) {
  const code = S.state.codes.find((c) => c.id === id);
  return code ? code.name : id;
}

function keyLabel(k) {
  const digit = String((k + 1) % 10);
  return k < 10 ? digit : k < 20 ? "⇧" + digit : "/";
}

// --- loading -------------------------------------------------------------------------

async function init() {
  const [state, queue] = await Promise.all([api("/api/state"), api("/api/queue")]);
  S.state = state;
  S.queue = queue.ids;
  S.order = S.state.order;
  $("file").textContent = S.state.file;
  $("reviewer").textContent = "reviewer: " + S.state.reviewer;
  $("order").value = S.order;
  for (const code of S.state.codes) {
    $("filter").append(new Option(code.name, code.id));
    $("bulk-code").append(new Option(code.name, code.id));
  }
  buildCodes();
  const side = refreshSide();
  await showNext();
  await side;
  document.body.dataset.ready = "1";
}

async function loadQueue() {
  const params = new URLSearchParams({ order: S.order });
  if (S.filter) params.set("code", S.filter);
  S.queue = (await api("/api/queue?" + params)).ids;
}

async function refreshSide() {
  const [stats, recent] = await Promise.all([api("/api/stats"), api("/api/recent")]);
  renderStats(stats);
  renderRecent(recent.recent);
  await noticeModel(stats.live);
}

// A new live model re-suggests the pending passages: take its queue order, and show the
// passage on screen again with its suggestions unless the reviewer already changed codes.
async function noticeModel(live) {
  const model = live && live.model;
  if (!model || model === S.liveModel) return;
  const first = S.liveModel === null && S.current && S.current.model === model;
  S.liveModel = model;
  if (first) return;
  await loadQueue();
  say("new suggestions from " + model + " (learned from " + live.learned_from + " decisions)");
  const untouched = S.current && !S.editing && sameSet(S.selected, S.current.codes);
  if (untouched && S.queue.includes(S.current.id)) {
    S.queue = [S.current.id, ...S.queue.filter((id) => id !== S.current.id)];
    await show(S.current.id, false);
  }
}

function sameSet(set, list) {
  return set.size === list.length && list.every((x) => set.has(x));
}

async function show(id, editing) {
  const p = await api("/api/passage?" + new URLSearchParams({ id }));
  S.current = p;
  S.editing = !!editing;
  S.selected = new Set(p.final !== null ? p.final : p.codes);
  S.note = p.review.note;
  renderPassage();
  renderCodes();
  renderExamples().catch(fail); // not awaited: the next key need not wait for examples
}

async function showNext() {
  if (S.queue.length === 0) {
    S.current = null;
    renderPassage();
    renderCodes();
    return;
  }
  await show(S.queue[0], false);
}

// --- rendering -----------------------------------------------------------------------

function buildCodes() {
  const box = $("codes");
  S.state.codes.forEach((code, k) => {
    const b = el("button", null, "code");
    b.type = "button";
    b.dataset.code = code.id;
    b.setAttribute("aria-pressed", "false");
    b.append(el("span", keyLabel(k), "key"), el("span", code.name, "name"), el("span", "", "score"));
    b.addEventListener("click", (e) => { enqueue(() => toggle(k)); if (e.detail) b.blur(); });
    b.addEventListener("mouseenter", () => define(code));
    b.addEventListener("focus", () => define(code));
    box.append(b);
  });
}

function define(code) {
  const box = $("definition");
  box.replaceChildren(el("strong", code.name + ": "), el("span", code.definition));
  for (const [title, items] of [["Use when", code.include], ["Not when", code.exclude]]) {
    if (!items || !items.length) continue;
    const list = el("ul");
    for (const item of items) list.append(el("li", item));
    box.append(el("div", title + ":"), list);
  }
  const suggestion = S.current && S.current.suggestions.find((s) => s.code === code.id);
  if (suggestion) box.append(el("div", "Machine: " + fmtScore(suggestion.score) + ", " + suggestion.rationale));
}

function renderPassage() {
  const p = S.current;
  document.body.dataset.passage = p ? p.id : "";
  $("done").hidden = !!p;
  $("transcript").hidden = !p;
  $("done-filter").textContent = S.filter ? " for " + codeName(S.filter) : "";
  if (!p) {
    for (const id of ["where", "question", "before", "passage", "after", "note-shown", "model-line", "suggested-by"]) $(id).textContent = "";
    $("definition").replaceChildren();
    $("suggestions").replaceChildren();
    return;
  }
  const where = [p.transcript, p.speaker];
  if (p.time_start !== null) where.push(formatTime(p.time_start) + "–" + formatTime(p.time_end));
  where.push(S.editing ? "editing a decision (" + p.review.status + ")" : S.queue.length + " pending");
  if (p.review.status !== "pending" && !S.editing) where.push("decided: " + p.review.status + " by " + (p.review.reviewer || "?"));
  $("where").textContent = where.join(" · ");
  $("question").textContent = p.context || "";
  $("before").textContent = p.before;
  $("passage").textContent = p.text;
  $("after").textContent = p.after;
  $("note-shown").textContent = S.note ? "note: " + S.note : "";
  $("model-line").textContent = p.model === "batch" ? "(from the batch run)" : "(from " + p.model + ", learned while reviewing)";
  $("suggested-by").textContent = "suggested by " + (p.model === "batch" ? "the batch run" : p.model);
  const first = p.suggestions.length ? S.state.codes.find((c) => c.id === p.suggestions[0].code) : null;
  if (first) define(first); else $("definition").replaceChildren(); // the box follows the passage
  document.body.dataset.model = p.model;
  const list = $("suggestions");
  list.replaceChildren();
  for (const s of p.suggestions) {
    const li = el("li");
    li.append(el("strong", codeName(s.code) + " " + fmtScore(s.score) + (p.codes.includes(s.code) ? " (applied)" : "")), el("div", s.rationale, "rationale"));
    list.append(li);
  }
  if (!p.suggestions.length) list.append(el("li", "none"));
  $("passage").scrollIntoView({ block: "nearest" });
}

function renderCodes() {
  const p = S.current;
  for (const b of $("codes").children) {
    const id = b.dataset.code;
    b.setAttribute("aria-pressed", String(S.selected.has(id)));
    b.disabled = !p;
    const s = p && p.suggestions.find((x) => x.code === id);
    b.querySelector(".score").textContent = s ? fmtScore(s.score) : "";
    const score = s ? " (score " + fmtScore(s.score) + ")" : "";
    b.title = !p ? "" : p.codes.includes(id) ? "● the machine applied this code" + score : "the machine did not apply this code" + score;
    b.classList.toggle("machine", !!p && p.codes.includes(id));
  }
}

async function renderExamples() {
  const code = [...S.selected].pop();
  $("examples-title").hidden = !code;
  $("examples").replaceChildren();
  if (!code || !S.current) return;
  $("examples-code").textContent = codeName(code);
  const data = await api("/api/examples?" + new URLSearchParams({ code, exclude: S.current.id }));
  for (const ex of data.examples) $("examples").append(el("li", ex.text));
  if (!data.examples.length) $("examples").append(el("li", "none yet"));
}

function renderStats(stats) {
  const pct = stats.total ? (100 * stats.decided) / stats.total : 0;
  $("bar-fill").style.width = pct.toFixed(1) + "%";
  const people = Object.entries(stats.by_reviewer).map(([who, n]) => who + " " + n).join(", ");
  $("progress-text").textContent = stats.decided + " / " + stats.total + " decided" + (people ? " (" + people + ")" : "");
  renderLive(stats);
  const on = stats.kappa_on;
  $("kappa-on").textContent = "batch run's codes, on the " + on.decided + " decided passage(s)" +
    (on.left_out ? " (" + on.left_out + " its learned model was trained on left out)" : "") +
    (on.order === "queue" ? ", queue: " + (on.queue_mode || "most uncertain first") : "");
  const body = $("kappa").tBodies[0];
  body.replaceChildren();
  for (const row of stats.per_code) {
    const tr = el("tr");
    const name = el("td", codeName(row.code));
    name.title = codeName(row.code);
    tr.append(name, el("td", String(row.machine), "num"), el("td", String(row.reviewers), "num"), el("td", row.kappa === null ? "–" : row.kappa.toFixed(2), "num"));
    body.append(tr);
  }
}

// While a relearn runs, look again every few seconds, so its suggestions arrive without
// waiting for the next decision.
let polling = null;
function pollWhileRelearning(live) {
  if (!live || !(live.relearning || (live.finetune && live.finetune.tuning)) || polling) return;
  polling = setTimeout(() => { polling = null; refreshSide().catch(fail); }, 2000);
}

// What fine-tuning the embedding model in the background (--finetune) has done.
function finetuneText(ft) {
  if (!ft) return "";
  const using = ft.encoder ? "embedding model fine-tuned (" + ft.encoder + ", from " + ft.tuned_from + " decisions)" : "embedding model as the batch run's";
  const last = ft.last && !ft.last.used
    ? "; " + ft.last.name + " made " + ft.last.check.wrong_tuned + " wrong suggestions on " + ft.last.check.held_out + " held-out decisions against " + ft.last.check.wrong_current + " with the encoder in use: not clearly better, so not used"
    : "";
  const when = ft.tuning ? "; fine-tuning…" : (ft.encoder || ft.last ? "" : "; first fine-tune after " + ft.first + " decisions");
  return ". " + using + last + when;
}

function renderLive(stats) {
  const live = stats.live;
  pollWhileRelearning(live);
  const held = live && live.held_back
    ? "; " + live.held_back.model + " (learned from " + live.held_back.learned_from + ") does not beat " + (live.model || "the batch suggestions") + " in cross-validation yet, so they stay"
    : "";
  const text = !live ? "off (--no-learn): suggestions are the batch run's."
    : (live.model ? "suggestions now from " + live.model + ", learned from " + live.learned_from + " decisions" : "suggestions from the batch run; a model is tried every " + live.every + " decisions")
      + held + (live.relearning ? "; relearning…" : "") + (live.error ? "; last relearn failed: " + live.error : "");
  $("live").textContent = text + finetuneText(live && live.finetune);
  const body = $("models").tBodies[0];
  body.replaceChildren();
  for (const row of stats.models || []) {
    const tr = el("tr");
    tr.append(el("td", row.model), el("td", String(row.decisions), "num"), el("td", String(row.changed), "num"), el("td", row.kappa === null ? "–" : row.kappa.toFixed(2), "num"));
    body.append(tr);
  }
}

// Scores are cut, never rounded, to two places: 0.499 shows 0.49, as it is not applied at 0.50.
function fmtScore(score) {
  return (Math.floor(score * 100 + 1e-9) / 100).toFixed(2);
}

function renderRecent(items) {
  const list = $("recent");
  list.replaceChildren();
  for (const item of items) {
    const li = el("li");
    li.tabIndex = 0;
    li.dataset.id = item.id;
    const codes = item.final && item.final.length ? item.final.map(codeName).join(", ") : "no code";
    const text = item.text.length > 160 ? item.text.slice(0, 159) + "…" : item.text;
    li.append(el("span", item.status + ": ", "status"), el("span", codes + " "), el("span", item.transcript + ": ", "where"), el("span", text, "text"));
    li.title = item.transcript + ": " + item.text + "\n\n(click or Enter to edit this decision)";
    li.addEventListener("click", () => enqueue(() => show(item.id, true)));
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.stopPropagation(); enqueue(() => show(item.id, true)); } });
    list.append(li);
  }
  if (!items.length) list.append(el("li", "none yet"));
}

function formatTime(seconds) {
  const s = Math.floor(seconds);
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

// --- actions -------------------------------------------------------------------------

function toggle(k) {
  const code = S.state.codes[k];
  if (!code || !S.current) return;
  if (S.selected.has(code.id)) S.selected.delete(code.id);
  else S.selected.add(code.id);
  renderCodes();
  define(code);
  renderExamples().catch(fail); // not awaited: examples never hold up the next key
}

async function decide(action) {
  if (!S.current) return;
  const p = S.current;
  const started = performance.now();
  try {
    const shown = p.review.status === "pending" ? { model: p.model, suggested: p.codes } : {};
    const result = await api("/api/decide", { id: p.id, action, codes: [...S.selected], note: S.note, rev: p.rev, ...shown });
    S.queue = S.queue.filter((id) => id !== p.id);
    const codes = result.final && result.final.length ? result.final.map(codeName).join(", ") : "no code";
    say("saved: " + result.review.status + " (" + codes + ") in " + Math.round(performance.now() - started) + " ms");
    await showNext();
    refreshSide().catch(fail);
    document.body.dataset.saved = String(Number(document.body.dataset.saved || 0) + 1);
  } catch (err) {
    if (err.status === 409 || err.status === 404) { await loadQueue(); await showNext(); }
    fail(err);
  }
}

async function skip() {
  if (!S.current || S.editing) return showNext().catch(fail);
  const id = S.queue.shift();
  S.queue.push(id);
  say("skipped");
  await showNext();
}

async function undo() {
  try {
    const result = await api("/api/undo", {});
    await loadQueue();
    const id = result.ids[0];
    if (id) {
      S.queue = [id, ...S.queue.filter((x) => x !== id)];
      await show(id, false);
    }
    say("undone: " + result.ids.length + " decision(s)");
    await refreshSide();
  } catch (err) {
    fail(err);
  }
}

function openNote() {
  if (!S.current) return;
  const input = $("note");
  input.hidden = false;
  input.value = S.note || "";
  input.focus();
}

function closeNote(keep) {
  const input = $("note");
  if (keep) S.note = input.value.trim() || null;
  input.hidden = true;
  $("note-shown").textContent = S.note ? "note: " + S.note : "";
  $("passage").focus();
}

async function bulkPreview(event) {
  event.preventDefault();
  const code = $("bulk-code").value;
  const score = $("bulk-score").value;
  const data = await api("/api/bulk?" + new URLSearchParams({ code, min_score: score }));
  $("bulk-preview").textContent = data.count + " pending passage(s) suggest " + codeName(code) + " at " + score + " or more.";
  const confirm = $("bulk-confirm");
  confirm.hidden = data.count === 0;
  confirm.textContent = "Accept " + codeName(code) + " on " + data.count + " passage(s)";
  confirm.dataset.code = code;
  confirm.dataset.score = score;
  confirm.dataset.count = data.count;
}

async function bulkConfirm() {
  const b = $("bulk-confirm");
  const data = await api("/api/bulk", { code: b.dataset.code, min_score: Number(b.dataset.score), expected: Number(b.dataset.count) });
  b.hidden = true;
  $("bulk-preview").textContent = "";
  say("accepted " + data.accepted + " passage(s) in bulk (Backspace undoes)");
  await loadQueue();
  await Promise.all([showNext(), refreshSide()]);
}

function fail(err) {
  say("not saved: " + err.message, true);
}

// --- keys ----------------------------------------------------------------------------

// --- finding a code by name (any code, however many there are) ---------------------------

function openFind() {
  const box = $("code-find");
  box.hidden = false;
  box.value = "";
  box.focus();
  markMatches();
}

function closeFind() {
  const box = $("code-find");
  box.hidden = true;
  box.value = "";
  markMatches();
  box.blur();
}

function matches() {
  const text = $("code-find").value.trim().toLowerCase();
  if (!text) return [];
  return S.state.codes.map((c, k) => [c, k]).filter(([c]) => c.name.toLowerCase().includes(text) || c.id.includes(text));
}

function markMatches() {
  const found = new Set(matches().map(([c]) => c.id));
  for (const b of $("codes").children) b.classList.toggle("match", found.has(b.dataset.code));
  const best = matches()[0];
  if (best) define(best[0]);
}

function onFindKey(e) {
  if (e.key === "Escape") { e.preventDefault(); closeFind(); return; }
  if (e.key !== "Enter") return;
  e.preventDefault();
  const best = matches()[0];
  closeFind();
  if (best) enqueue(() => toggle(best[1]));
}

function onKey(e) {
  const target = e.target;
  if (target === $("code-find")) { onFindKey(e); return; }
  if (target === $("note")) {
    if (e.key === "Enter") { e.preventDefault(); closeNote(true); }
    else if (e.key === "Escape") { e.preventDefault(); closeNote(false); }
    return;
  }
  if ($("help").open || e.ctrlKey || e.metaKey || e.altKey) return;
  if (target.matches("input, select, textarea")) return;
  if (target.matches("button, li") && (e.key === "Enter" || e.key === " ")) return; // the focused control's own action
  const digit = /^(?:Digit|Numpad)(\d)$/.exec(e.code);
  if (digit) {
    e.preventDefault();
    const d = Number(digit[1]);
    const k = (d === 0 ? 9 : d - 1) + (e.shiftKey ? 10 : 0);
    enqueue(() => toggle(k));
    return;
  }
  if (e.key === "/") { e.preventDefault(); openFind(); return; }
  const actions = { a: () => decide("accept"), Enter: () => decide("accept"), x: () => decide("reject"), " ": skip, Backspace: undo, n: openNote, "?": () => $("help").showModal() };
  const action = actions[e.key];
  if (action) {
    e.preventDefault();
    enqueue(action);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("keydown", onKey);
  $("accept").addEventListener("click", () => enqueue(() => decide("accept")));
  $("reject").addEventListener("click", () => enqueue(() => decide("reject")));
  $("skip").addEventListener("click", () => enqueue(skip));
  $("undo").addEventListener("click", () => enqueue(undo));
  $("note-button").addEventListener("click", openNote);
  $("code-find").addEventListener("input", markMatches);
  $("help-button").addEventListener("click", () => $("help").showModal());
  $("order").addEventListener("change", async () => { S.order = $("order").value; await loadQueue(); await showNext(); });
  $("filter").addEventListener("change", async () => { S.filter = $("filter").value; await loadQueue(); await showNext(); });
  $("bulk").addEventListener("submit", (e) => bulkPreview(e).catch(fail));
  $("bulk-confirm").addEventListener("click", () => bulkConfirm().catch(fail));
  init().catch(fail);
});
