// Tessera dashboard: the runs list and a live run view. Plain JavaScript and SVG, no
// libraries, nothing loaded from the internet. Data comes from the dashboard's own API:
// /api/runs (polled) and /api/runs/<run>/events (server-sent events: run, frame, ready).
"use strict";

const TOKEN_KEY = "tessera-token";
const params = new URLSearchParams(location.search);
if (params.get("token")) sessionStorage.setItem(TOKEN_KEY, params.get("token"));
const token = sessionStorage.getItem(TOKEN_KEY);

/** `path` with the access token added, when there is one. */
function withToken(path) {
  if (!token) return path;
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
}

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

/** A new element with attributes and children (strings become text). */
function el(tag, attrs = {}, children = [], ns = null) {
  const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children) e.append(typeof c === "string" ? document.createTextNode(c) : c);
  return e;
}

function show(id) {
  for (const v of ["runs-view", "run-view", "error-view"]) $(v).hidden = v !== id;
}

function fail(text) {
  $("error-text").textContent = text;
  show("error-view");
}

function setStatus(text, kind) {
  $("status").textContent = text;
  $("status").className = "status " + (kind || "");
}

async function getJson(path) {
  const reply = await fetch(withToken(path));
  if (!reply.ok) throw new Error((await reply.text()).trim() || reply.statusText);
  return reply.json();
}

const fmtTime = (ms) => new Date(ms).toLocaleString();
const pct = (f) => (100 * f).toFixed(1) + "%";
/** An area of `fraction` of frame `r`: in nm², µm² or mm² when the frame has a pixel size,
 *  else in pixels (and the header says so). */
function area(r, fraction) {
  const px = fraction * r.width * r.height;
  const s = r.pixel_size_nm;
  if (typeof s !== "number" || !(s > 0)) return Math.round(px) + " px";
  const nm2 = px * s * s;
  if (nm2 < 1e6) return nm2.toPrecision(3) + " nm²";
  if (nm2 < 1e12) return (nm2 / 1e6).toPrecision(3) + " µm²";
  return (nm2 / 1e12).toPrecision(3) + " mm²";
}
/** A length in nm, in pm, nm, µm or mm. */
function length(nm) {
  if (nm < 1) return (nm * 1e3).toPrecision(3) + " pm";
  if (nm < 1e3) return nm.toPrecision(3) + " nm";
  if (nm < 1e6) return (nm / 1e3).toPrecision(3) + " µm";
  return (nm / 1e6).toPrecision(3) + " mm";
}
const runPath = (run) => "/runs/" + encodeURIComponent(run);
const apiRun = (run) => "/api/runs/" + encodeURIComponent(run);

// ---- runs list -------------------------------------------------------------------------

async function refreshRuns() {
  try {
    const runs = await getJson("/api/runs");
    const body = $("runs").tBodies[0];
    body.replaceChildren(...runs.map((r) => {
      const row = el("tr", { class: "run-row", "data-run": r.run }, [
        el("td", {}, [el("a", { href: withToken(runPath(r.run)) }, [r.run])]),
        el("td", {}, [r.instrument]),
        el("td", {}, [r.sample || "—"]),
        el("td", {}, [r.modality || "—"]),
        el("td", {}, [el("span", { class: "badge " + r.state }, [r.state])]),
        el("td", { class: "num" }, [String(r.frames_accepted)]),
        el("td", { class: "num" }, [String(r.frames_segmented)]),
        el("td", {}, [fmtTime(r.started_at_ms)]),
      ]);
      row.addEventListener("click", () => { location.href = withToken(runPath(r.run)); });
      return row;
    }));
    $("runs-empty").hidden = runs.length > 0;
    setStatus("updated " + new Date().toLocaleTimeString(), "live");
  } catch (e) {
    setStatus("cannot list runs: " + e.message, "down");
  }
}

function runsView() {
  show("runs-view");
  $("crumb").textContent = "runs";
  refreshRuns();
  setInterval(refreshRuns, 2000);
}

// ---- run view --------------------------------------------------------------------------

const view = {
  run: null,
  summary: null,
  frames: new Map(), // seq -> FrameResult
  seqs: [],          // sorted
  current: null,     // seq shown
  follow: true,
};

function frameUrl(seq, file) {
  return withToken(apiRun(view.run) + "/frames/" + seq + "/" + file);
}

function addFrame(r) {
  view.frames.set(r.seq, r);
  view.seqs = [...view.frames.keys()].sort((a, b) => a - b);
  const slider = $("frame-slider");
  slider.max = String(Math.max(0, view.seqs.length - 1));
  if (view.follow || view.current === null) showFrame(view.seqs[view.seqs.length - 1]);
  else slider.value = String(view.seqs.indexOf(view.current));
  drawPlot();
}

function showFrame(seq) {
  const r = view.frames.get(seq);
  if (!r) return;
  view.current = seq;
  $("frame-slider").value = String(view.seqs.indexOf(seq));
  $("no-frame").hidden = true;
  const frameImg = $("frame-img");
  const overlayImg = $("overlay-img");
  frameImg.src = r.source ? frameUrl(seq, "frame.png") : "";
  overlayImg.src = r.labels ? frameUrl(seq, "communities.png") : "";
  overlayImg.hidden = !r.labels;
  $("stage").style.aspectRatio = r.width + " / " + r.height;
  frameImg.dataset.seq = overlayImg.dataset.seq = String(seq);

  const parts = ["frame " + seq, (view.seqs.indexOf(seq) + 1) + " of " + view.seqs.length];
  if (r.dose !== null && r.dose !== undefined) parts.push("dose " + r.dose);
  parts.push(r.width + "×" + r.height + " px", r.chips + " chips");
  parts.push(typeof r.pixel_size_nm === "number" && r.pixel_size_nm > 0
    ? "pixel " + length(r.pixel_size_nm) : "uncalibrated (sizes in pixels)");
  if (r.cache_hits) parts.push(r.cache_hits + " from cache");
  parts.push(fmtTime(r.timestamp_ms));
  $("frame-caption").textContent = parts.join(" · ");

  const legend = [...r.communities].sort((a, b) => b.area_fraction - a.area_fraction);
  $("legend").tBodies[0].replaceChildren(...legend.map((c) => {
    const swatch = el("span", { class: "swatch", title: c.color });
    swatch.style.background = c.color;
    return el("tr", { class: "legend-row", "data-id": c.id, "data-color": c.color }, [
      el("td", {}, [swatch]),
      el("td", {}, ["#" + c.id]),
      el("td", { class: "num" }, [pct(c.area_fraction)]),
      el("td", { class: "num area" }, [area(r, c.area_fraction)]),
      el("td", { class: "num" }, [String(c.chips)]),
    ]);
  }));

  const timings = r.timings || [];
  const longest = Math.max(1, ...timings.map(([, ms]) => ms));
  $("timings").tBodies[0].replaceChildren(...timings.map(([stage, ms]) => {
    const bar = el("span", { class: "bar" });
    bar.style.width = Math.max(2, 160 * ms / longest) + "px";
    const name = stage === "publish_to_result" ? "end to end" : stage.replaceAll("_", " ");
    return el("tr", { class: "timing-row", "data-stage": stage }, [
      el("td", {}, [name]), el("td", { class: "num" }, [ms.toFixed(1) + " ms"]), el("td", {}, [bar]),
    ]);
  }));

  $("dl-labels").href = frameUrl(seq, "labels.tiff");
  $("dl-overlay").href = frameUrl(seq, "overlay.png");
  drawPlot();
}

/** The plot: every community's area fraction against dose (when every frame has one) or
 *  frame number, in the community's own colour, with a cursor at the frame shown. */
function drawPlot() {
  const svg = $("plot");
  const frames = view.seqs.map((s) => view.frames.get(s));
  const byDose = frames.length > 0 && frames.every((r) => typeof r.dose === "number");
  $("plot-title").textContent = "Area fraction by " + (byDose ? "dose" : "frame");
  const xOf = (r) => (byDose ? r.dose : r.seq);
  const W = 640, H = 280, L = 46, R = 12, T = 12, B = 34;
  const xs = frames.map(xOf);
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (!frames.length) { x0 = 0; x1 = 1; }
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  const px = (x) => L + (W - L - R) * (x - x0) / (x1 - x0);
  const py = (f) => T + (H - T - B) * (1 - f);
  const children = [];
  for (let i = 0; i <= 4; i++) {
    const f = i / 4, y = py(f);
    children.push(el("line", { class: "grid", x1: L, x2: W - R, y1: y, y2: y }, [], SVG));
    children.push(el("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, [pct(f).replace(".0", "")], SVG));
  }
  for (let i = 0; i <= 5; i++) {
    const x = x0 + (x1 - x0) * i / 5;
    const label = Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-2 && x !== 0) ? x.toExponential(1) : String(+x.toFixed(2));
    children.push(el("text", { x: px(x), y: H - B + 16, "text-anchor": "middle" }, [label], SVG));
  }
  children.push(el("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, [byDose ? "dose" : "frame"], SVG));
  children.push(el("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }, [], SVG));
  children.push(el("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }, [], SVG));

  // One series per community id; its colour is the one it has in the newest frame.
  const colour = new Map();
  for (const r of frames) for (const c of r.communities) colour.set(c.id, c.color);
  for (const [id, color] of colour) {
    const pts = frames.map((r) => {
      const c = r.communities.find((k) => k.id === id);
      return [xOf(r), c ? c.area_fraction : 0, r.seq];
    });
    const series = el("g", { class: "series", "data-id": id }, [], SVG);
    series.append(el("polyline", {
      points: pts.map(([x, f]) => px(x).toFixed(1) + "," + py(f).toFixed(1)).join(" "),
      fill: "none", stroke: color, "stroke-width": 2,
    }, [], SVG));
    for (const [x, f, seq] of pts) {
      series.append(el("circle", { cx: px(x).toFixed(1), cy: py(f).toFixed(1), r: 3, fill: color, class: "point" },
        [el("title", {}, ["#" + id + " frame " + seq + ": " + pct(f)], SVG)], SVG));
    }
    children.push(series);
  }
  const cur = view.frames.get(view.current);
  if (cur) {
    const x = px(xOf(cur));
    children.push(el("line", { class: "cursor", x1: x, x2: x, y1: T, y2: H - B }, [], SVG));
  }
  svg.replaceChildren(...children);
  svg.dataset.frames = String(frames.length);
  svg.dataset.communities = String(colour.size);
}

function showRun(s) {
  view.summary = s;
  $("run-meta").textContent = [s.instrument, s.sample, s.modality, s.state,
    s.frames_accepted + " accepted", s.frames_segmented + " segmented"].filter(Boolean).join(" · ");
  $("run-meta").dataset.state = s.state;
}

function stepTo(index) {
  if (!view.seqs.length) return;
  const i = Math.max(0, Math.min(view.seqs.length - 1, index));
  view.follow = i === view.seqs.length - 1 && view.follow;
  $("follow").checked = view.follow;
  showFrame(view.seqs[i]);
}

function runView(run) {
  view.run = run;
  show("run-view");
  $("crumb").textContent = "run " + run;
  $("run-title").textContent = run;
  document.title = "Tessera · " + run;
  $("dl-csv").href = withToken(apiRun(run) + "/fractions.csv");
  $("opacity").addEventListener("input", (e) => {
    $("overlay-img").style.opacity = String(e.target.value / 100);
    $("opacity-value").textContent = e.target.value + "%";
  });
  $("overlay-img").style.opacity = "0.5";
  $("frame-slider").addEventListener("input", (e) => {
    view.follow = false;
    $("follow").checked = false;
    showFrame(view.seqs[Number(e.target.value)]);
  });
  $("prev").addEventListener("click", () => { view.follow = false; stepTo(view.seqs.indexOf(view.current) - 1); });
  $("next").addEventListener("click", () => stepTo(view.seqs.indexOf(view.current) + 1));
  $("follow").addEventListener("change", (e) => {
    view.follow = e.target.checked;
    if (view.follow && view.seqs.length) showFrame(view.seqs[view.seqs.length - 1]);
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "ArrowLeft") $("prev").click();
    if (e.key === "ArrowRight") $("next").click();
  });
  drawPlot();

  const events = new EventSource(withToken(apiRun(run) + "/events"));
  events.addEventListener("run", (e) => showRun(JSON.parse(e.data)));
  events.addEventListener("frame", (e) => addFrame(JSON.parse(e.data)));
  events.addEventListener("ready", () => setStatus("live", "live"));
  events.addEventListener("problem", (e) => setStatus(e.data, "down"));
  events.onerror = () => setStatus("reconnecting…", "down");
  events.onopen = () => setStatus("live", "live");
}

// ---- start -----------------------------------------------------------------------------

$("home").href = withToken("/");
if (location.pathname === "/") runsView();
else if (location.pathname.startsWith("/runs/")) runView(decodeURIComponent(location.pathname.slice(6)));
else fail("No such page.");
