// logq page: live tail and search over the collector's HTTP API (docs/API.md).
//
// One ES module, no framework and no build step (ARCHITECTURE.md says why). Record text is only
// ever put in the page with textContent, never as HTML.

const MAX_ROWS = 5000; // rows kept in the live tail; the oldest go first
const TAIL_INITIAL = 200; // records the tail starts with
const SEARCH_LIMIT = 200; // hits a search shows
const CONTEXT_LINES = 5; // records before and after a hit when it is clicked
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5000;
const TOKEN_KEY = "logq.token";

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------------------------------------
// API access: the token, 401 handling and error messages.

/** Thrown when the collector wants a token; the token prompt is already shown. */
class Unauthorized extends Error {}

/** An API error (`{"error": ...}`) or a network failure, with a message for the user. */
class ApiError extends Error {}

function authHeaders() {
  const token = localStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** GET an API path; resolves to the Response when it is 2xx. */
async function apiFetch(path, params, { headers = {}, signal } = {}) {
  const url = params ? `${path}?${params}` : path;
  let res;
  try {
    res = await fetch(url, { headers: { ...authHeaders(), ...headers }, signal });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(`cannot reach the collector: ${e.message}`);
  }
  if (res.status === 401) {
    showTokenPrompt();
    throw new Unauthorized("missing or wrong token");
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (await res.json()).error || message;
    } catch {
      // Not JSON: keep the status line.
    }
    throw new ApiError(message);
  }
  return res;
}

async function apiJson(path, params) {
  return (await apiFetch(path, params)).json();
}

function showTokenPrompt() {
  const dialog = $("token-dialog");
  if (!dialog.open) dialog.showModal();
}

function onTokenSubmit() {
  localStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  loadApps();
  apply();
}

// ---------------------------------------------------------------------------------------------
// Filters and the URL: the mode, query, apps, level and time range live in the hash, so a link
// reproduces what is on screen.

function selectedApps() {
  return [...$("apps").selectedOptions].map((o) => o.value);
}

/** The filter parameters the API takes, from the form. */
function filterParams({ withTime }) {
  const p = new URLSearchParams();
  const q = $("q").value.trim();
  if (q) p.set("q", q);
  const apps = selectedApps();
  if (apps.length) p.set("app", apps.join(","));
  if ($("level").value) p.set("level", $("level").value);
  if (withTime) {
    const since = $("since").value.trim() || "24h";
    p.set("since", since);
    if ($("until").value.trim()) p.set("until", $("until").value.trim());
  }
  return p;
}

function saveToUrl() {
  const p = filterParams({ withTime: state.mode === "search" });
  p.set("mode", state.mode);
  history.replaceState(null, "", `#${p}`);
}

function loadFromUrl() {
  const p = new URLSearchParams(location.hash.slice(1));
  $("q").value = p.get("q") || "";
  $("level").value = p.get("level") || "";
  $("since").value = p.get("since") || "";
  $("until").value = p.get("until") || "";
  state.wantedApps = (p.get("app") || "").split(",").filter(Boolean);
  state.mode = p.get("mode") === "search" ? "search" : "tail";
}

async function loadApps() {
  let apps;
  try {
    ({ apps } = await apiJson("/api/v1/apps"));
  } catch (e) {
    showError(e);
    return;
  }
  const select = $("apps");
  const chosen = new Set([...selectedApps(), ...state.wantedApps]);
  select.replaceChildren(
    ...apps.map(({ app }) => {
      const option = new Option(app, app, false, chosen.has(app));
      return option;
    }),
  );
}

function showError(e) {
  if (e instanceof Unauthorized || e.name === "AbortError") return;
  $("error").textContent = e.message;
  $("error").hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function setStatus(text) {
  $("status").textContent = text;
}

// ---------------------------------------------------------------------------------------------
// Rows: one record as a line of the page, shared by the tail, the search and the context.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** `2026-11-23T19:01:33.259947587Z` as `2026-11-23 19:01:33.259` (UTC, as stored). */
function shortTime(time) {
  return time.replace("T", " ").slice(0, 23);
}

/** The message: one line as it is; a multi-line event shows its first line and expands. */
function messageNode(message) {
  const nl = message.indexOf("\n");
  if (nl < 0) return el("span", "msg", message);
  const details = el("details", "msg multi");
  details.append(el("summary", null, message.slice(0, nl)), el("pre", null, message.slice(nl + 1)));
  return details;
}

function recordRow(r) {
  const level = r.level || "none";
  const row = el("div", `row level-${level}`);
  row.dataset.id = r.id;
  row.dataset.app = r.app;
  const time = el("time", "time", shortTime(r.time));
  time.dateTime = r.time;
  time.title = `${r.time} (host ${r.host}, stream ${r.stream})`;
  row.append(time, el("span", "app", r.app), el("span", "level", r.level || ""), messageNode(r.message));
  return row;
}

// ---------------------------------------------------------------------------------------------
// Server-sent events over fetch(): EventSource cannot send an Authorization header.

/**
 * A parser of the event-stream format: feed it text as it arrives; it calls `onEvent` with
 * `{event, id, data}` for each event (a blank line ends one). Lines end in `\n` (a `\r` before
 * it is dropped), which is what the collector sends.
 */
function sseParser(onEvent) {
  let buffer = "";
  let event = "";
  let id = null;
  let data = [];
  return function feed(text) {
    buffer += text;
    let start = 0;
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n", start)) {
      let line = buffer.slice(start, nl);
      start = nl + 1;
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (data.length || id !== null) onEvent({ event: event || "message", id, data: data.join("\n") });
        event = "";
        id = null;
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue; // a comment: keep-alive
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") id = value;
    }
    buffer = buffer.slice(start);
  };
}

// ---------------------------------------------------------------------------------------------
// Live tail: one stream at a time, resumed from the last event id after any disconnect.

const tail = {
  controller: null, // aborts the current stream
  cursor: null, // the last event id: where a reconnect resumes
  generation: 0, // bumped by every restart, so a stale loop stops
  attempt: 0, // reconnects since the last good connection
  paused: false,
  held: [], // records received while paused (the newest MAX_ROWS)
  heldCount: 0,
  pending: [], // records received and not yet drawn
  frame: 0, // the requestAnimationFrame id of the next draw, 0 when none is asked for
  follow: true, // keep the newest row in view
};

function startTail() {
  stopTail();
  tail.cursor = null;
  tail.attempt = 0;
  tail.pending = [];
  tail.held = [];
  tail.heldCount = 0;
  $("tail-rows").replaceChildren();
  updateHeld();
  runTail(++tail.generation);
}

function stopTail() {
  tail.generation++;
  tail.controller?.abort();
  tail.controller = null;
}

/** Reads the stream until it ends, then reconnects with backoff, as long as `gen` is current. */
async function runTail(gen) {
  while (gen === tail.generation) {
    try {
      await readTail(gen);
    } catch (e) {
      if (e.name === "AbortError" || gen !== tail.generation) return;
      if (e instanceof Unauthorized) {
        setStatus("waiting for a token");
        return;
      }
      if (!(e instanceof ApiError) || e.message.startsWith("cannot reach")) {
        setStatus(`disconnected: ${e.message}`);
      } else {
        showError(e); // a bad query or parameter: retrying will not help
        setStatus("stopped");
        return;
      }
    }
    if (gen !== tail.generation) return;
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** tail.attempt++);
    setStatus(`reconnecting in ${(delay / 1000).toFixed(1)} s`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

async function readTail(gen) {
  const params = filterParams({ withTime: false });
  params.set("n", TAIL_INITIAL);
  const headers = tail.cursor === null ? {} : { "Last-Event-ID": tail.cursor };
  tail.controller = new AbortController();
  const res = await apiFetch("/api/v1/tail", params, { headers, signal: tail.controller.signal });
  tail.attempt = 0;
  setStatus("live");
  const feed = sseParser((e) => {
    if (gen === tail.generation) onTailEvent(e);
  });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new ApiError("cannot reach the collector: the stream ended");
    feed(value);
  }
}

function onTailEvent({ event, id, data }) {
  if (event === "record") {
    receive(JSON.parse(data));
  } else if (event === "error") {
    showError(new ApiError(JSON.parse(data).error));
  }
  // The id moves on for record and cursor events alike.
  if (id !== null) tail.cursor = id;
}

function receive(record) {
  if (tail.paused) {
    tail.held.push(record);
    tail.heldCount++;
    trimFront(tail.held, MAX_ROWS);
  } else {
    tail.pending.push(record);
    trimFront(tail.pending, MAX_ROWS);
  }
  scheduleDraw();
}

/** Drops the oldest entries of `list` beyond `max`, in amortized batches. */
function trimFront(list, max) {
  if (list.length > 2 * max) list.splice(0, list.length - max);
}

function scheduleDraw() {
  if (!tail.frame) tail.frame = requestAnimationFrame(draw);
}

/** Draws what came since the last frame in one batch, then drops rows beyond MAX_ROWS. */
function draw() {
  tail.frame = 0;
  updateHeld();
  if (!tail.pending.length) return;
  const box = $("tail-rows");
  const batch = tail.pending.slice(-MAX_ROWS);
  tail.pending = [];
  const fragment = document.createDocumentFragment();
  for (const r of batch) fragment.append(recordRow(r));
  box.append(fragment);
  let extra = box.childElementCount - MAX_ROWS;
  while (extra-- > 0) box.firstElementChild.remove();
  if (tail.follow) box.scrollTop = box.scrollHeight;
}

function updateHeld() {
  $("held").textContent = tail.paused ? `${tail.heldCount} held` : "";
}

function togglePause() {
  tail.paused = !tail.paused;
  $("pause").textContent = tail.paused ? "Resume" : "Pause";
  if (!tail.paused) {
    tail.pending.push(...tail.held);
    trimFront(tail.pending, MAX_ROWS);
    tail.held = [];
    tail.heldCount = 0;
  }
  scheduleDraw();
}

/** Auto-scroll stops when the user scrolls up and starts again at the bottom. */
function onTailScroll() {
  const box = $("tail-rows");
  tail.follow = box.scrollHeight - box.scrollTop - box.clientHeight < 8;
  $("follow-state").textContent = tail.follow ? "" : "scrolled up: auto-scroll off";
}

// ---------------------------------------------------------------------------------------------
// Search: the count, a histogram to zoom with, the newest hits and their context.

let searchGeneration = 0;

async function runSearch() {
  const gen = ++searchGeneration;
  const params = filterParams({ withTime: true });
  const hitsParams = new URLSearchParams(params);
  hitsParams.set("limit", SEARCH_LIMIT);
  delete $("search-total").dataset.total;
  $("search-total").textContent = "searching…";
  try {
    const [result, histogram] = await Promise.all([
      apiJson("/api/v1/search", hitsParams),
      apiJson("/api/v1/histogram", params),
    ]);
    if (gen !== searchGeneration) return;
    showSearch(result);
    drawHistogram(histogram);
  } catch (e) {
    if (gen !== searchGeneration) return;
    $("search-total").textContent = "";
    showError(e);
  }
}

function showSearch({ total, took_ms, hits }) {
  const shown = hits.length < total ? `, the newest ${hits.length} shown` : "";
  const count = $("search-total");
  count.dataset.total = total;
  count.textContent = `${total} ${total === 1 ? "match" : "matches"} (${took_ms} ms${shown})`;
  $("search-rows").replaceChildren(...hits.map(recordRow));
}

const SVG = "http://www.w3.org/2000/svg";

function drawHistogram({ interval_ms, buckets }) {
  const svg = $("histogram");
  const width = 1000;
  const height = 100;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const step = width / Math.max(1, buckets.length);
  const bars = buckets.map((b, i) => {
    const rect = document.createElementNS(SVG, "rect");
    const h = (b.count / max) * (height - 2);
    rect.setAttribute("x", i * step + step * 0.1);
    rect.setAttribute("width", step * 0.8);
    rect.setAttribute("y", height - h);
    rect.setAttribute("height", Math.max(h, b.count ? 1 : 0));
    rect.dataset.start = b.start;
    rect.dataset.count = b.count;
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${b.start}: ${b.count}`;
    rect.append(title);
    rect.addEventListener("click", () => zoomTo(b.start, interval_ms));
    return rect;
  });
  svg.replaceChildren(...bars);
}

/** Narrows the time range to one bucket and searches again. */
function zoomTo(start, intervalMs) {
  const from = new Date(start);
  const until = new Date(from.getTime() + intervalMs - 1);
  $("since").value = from.toISOString();
  $("until").value = until.toISOString();
  apply();
}

/** Shows (or hides again) the records around a hit, below it. */
async function toggleContext(row) {
  const next = row.nextElementSibling;
  if (next?.classList.contains("context")) {
    next.remove();
    return;
  }
  const params = new URLSearchParams({
    app: row.dataset.app,
    id: row.dataset.id,
    before: CONTEXT_LINES,
    after: CONTEXT_LINES,
  });
  try {
    const { before, hit, after } = await apiJson("/api/v1/context", params);
    const box = el("div", "context");
    const hitRow = recordRow(hit);
    hitRow.classList.add("hit");
    box.append(...before.map(recordRow), hitRow, ...after.map(recordRow));
    row.after(box);
  } catch (e) {
    showError(e);
  }
}

function onSearchRowsClick(event) {
  if (event.target.closest("summary, .context")) return; // expanding a trace, or the context
  const row = event.target.closest(".row");
  if (row) toggleContext(row);
}

// ---------------------------------------------------------------------------------------------
// Wiring.

const state = { mode: "tail", wantedApps: [] };

function setMode(mode) {
  state.mode = mode;
  document.body.className = `mode-${mode}`;
  $("tail").hidden = mode !== "tail";
  $("search").hidden = mode !== "search";
  $("mode-tail").setAttribute("aria-pressed", mode === "tail");
  $("mode-search").setAttribute("aria-pressed", mode === "search");
}

/** Takes the form as it is: saves it in the URL and (re)starts the tail or the search. */
function apply() {
  clearError();
  saveToUrl();
  if (state.mode === "tail") {
    startTail();
  } else {
    stopTail();
    setStatus("");
    runSearch();
  }
}

function switchMode(mode) {
  if (mode === state.mode) return;
  setMode(mode);
  apply();
}

function main() {
  loadFromUrl();
  setMode(state.mode);
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    apply();
  });
  $("apps").addEventListener("change", apply);
  $("level").addEventListener("change", apply);
  $("mode-tail").addEventListener("click", () => switchMode("tail"));
  $("mode-search").addEventListener("click", () => switchMode("search"));
  $("pause").addEventListener("click", togglePause);
  $("tail-rows").addEventListener("scroll", onTailScroll, { passive: true });
  $("search-rows").addEventListener("click", onSearchRowsClick);
  $("token-form").addEventListener("submit", onTokenSubmit);
  loadApps().then(apply);
}

main();
