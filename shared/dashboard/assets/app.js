// Tessera dashboard: the runs list and a live run view. Plain JavaScript and SVG, no
// libraries, nothing loaded from the internet. Data comes from the dashboard's own API:
// /api/runs (polled) and /api/runs/<run>/events (server-sent events: run, frame, ready).
// A run's page also carries the run and its latest result (#initial-state), drawn before
// the first paint.
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
/** Where a run stands (the server's `phase`): its label and what it means. */
const PHASES = {
  live: ["live", "Started and not stopped: frames may still arrive."],
  finished: ["finished", "Stopped as planned; no frame was refused."],
  finished_with_rejects: ["finished with rejects", "Stopped as planned, but some frames were refused; see Rejected."],
  aborted: ["aborted", "Stopped early by someone; frames already accepted are still processed."],
  failed: ["failed", "The acquisition failed; frames already accepted are still processed."],
};
/** A badge for run summary `s`'s phase. */
function phaseBadge(s, attrs = {}) {
  const [label, meaning] = PHASES[s.phase] || [s.phase, ""];
  return el("span", { ...attrs, class: "badge " + s.phase, "data-phase": s.phase, title: meaning }, [label]);
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
        el("td", {}, [phaseBadge(r)]),
        el("td", { class: "num" }, [String(r.frames_accepted)]),
        el("td", { class: "num" }, [String(r.frames_segmented)]),
        el("td", { class: "num rejected" }, [String(r.rejected)]),
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
  connected: null,   // the event stream: null while connecting, then true or false
  frames: new Map(), // seq -> FrameResult
  seqs: [],          // sorted
  current: null,     // seq shown
  follow: true,
};

function frameUrl(seq, file) {
  return withToken(apiRun(view.run) + "/frames/" + seq + "/" + file);
}

function addFrame(r) {
  // A frame classified in this page (labels applied) keeps its classes when its result,
  // which has none, comes again (the event stream replays the run's results).
  const had = view.frames.get(r.seq);
  if (had && had.classes && !r.classes) r.classes = had.classes;
  view.frames.set(r.seq, r);
  view.seqs = [...view.frames.keys()].sort((a, b) => a - b);
  const slider = $("frame-slider");
  slider.max = String(Math.max(0, view.seqs.length - 1));
  if (view.follow || view.current === null) showFrame(view.seqs[view.seqs.length - 1]);
  else slider.value = String(view.seqs.indexOf(view.current));
  drawPlot();
  refreshDecisions();
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
  const classes = classesOf(r);
  const layer = classes && $("layer").value === "classes" ? "classes" : "communities";
  overlayImg.src = r.labels ? frameUrl(seq, layer + ".png") : "";
  overlayImg.hidden = !r.labels;
  overlayImg.dataset.layer = layer;
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

  drawClasses(r);
  drawRoi(seq);
  labelsFor(r);
  drawTimings(r.timings || []);

  $("dl-labels").href = frameUrl(seq, "labels.tiff");
  $("dl-overlay").href = frameUrl(seq, "overlay.png");
  drawPlot();
}

/** The frame's classes: their legend, the layer choice and the download, or why the frame
 *  has none although the run names a classifier. */
function drawClasses(r) {
  const k = classesOf(r);
  const anyClasses = [...view.frames.values()].some((f) => f.classes);
  $("classes-view").hidden = !anyClasses;
  $("layer-choice").hidden = !k;
  $("dl-classes-item").hidden = !k;
  if (!r.classes) {
    $("classes-note").textContent = anyClasses ? "This frame was not classified." : "";
    $("class-legend").tBodies[0].replaceChildren();
    return;
  }
  $("classes-title").textContent = "Classes · " + r.classes.classifier;
  $("classes-note").textContent = r.classes.error
    ? "Not classified: " + r.classes.error
    : "Unknown (far from every class): " + pct(r.classes.unknown_fraction) + " · revision " + r.classes.revision;
  $("classes-note").className = r.classes.error ? "problem" : "";
  const rows = k ? k.classes.map((c, i) => {
    const swatch = el("span", { class: "swatch", title: c.color });
    swatch.style.background = c.color;
    return el("tr", { class: "class-row", "data-index": i, "data-name": c.name, "data-color": c.color }, [
      el("td", {}, [swatch]),
      el("td", {}, [c.name]),
      el("td", { class: "num" }, [pct(c.area_fraction)]),
      el("td", { class: "num area" }, [area(r, c.area_fraction)]),
      el("td", { class: "num" }, [String(c.chips)]),
    ]);
  }) : [];
  $("class-legend").tBodies[0].replaceChildren(...rows);
  if (k) $("dl-classes").href = frameUrl(r.seq, "classes.tiff");
}

function showRun(s) {
  view.summary = s;
  $("run-state").replaceWith(phaseBadge(s, { id: "run-state" }));
  $("run-meta").textContent = [s.instrument, s.sample, s.modality, s.frames_accepted + " accepted",
    s.frames_segmented + " segmented", s.rejected + " rejected"].filter(Boolean).join(" · ");
  $("run-meta").dataset.state = s.phase;
  $("run-meta").dataset.rejected = String(s.rejected);
  const rejects = s.rejects || [];
  $("rejects-view").hidden = rejects.length === 0 && !s.rejects_problem;
  $("rejects-title").textContent = "Rejected: " + s.rejected + (s.rejected === 1 ? " frame" : " frames");
  $("rejects-problem").textContent = s.rejects_problem || "";
  $("rejects").tBodies[0].replaceChildren(...rejects.map((r) => el("tr", { class: "reject-row", "data-seq": r.seq ?? "" }, [
    el("td", { class: "num" }, [r.seq === null || r.seq === undefined ? "—" : String(r.seq)]),
    el("td", {}, [r.service]),
    el("td", { class: "reason", title: r.subject }, [r.reason]),
    el("td", {}, [fmtTime(r.at_ms)]),
  ])));
  showConnection();
}

/** The header's status: "live" only while the run is live and its stream connected. */
function showConnection() {
  const phase = view.summary ? view.summary.phase : "live";
  if (view.connected === false) setStatus("reconnecting…", "down");
  else if (phase !== "live") setStatus("run over · " + (PHASES[phase] || [phase])[0], "over");
  else if (view.connected) setStatus("live", "live");
  else setStatus("connecting…", "");
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
  $("layer").addEventListener("change", () => showFrame(view.current));
  setUpLabels();
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

  // What the server put in the page: drawn now, before the first paint.
  const initial = JSON.parse($("initial-state").textContent || "null");
  if (initial && initial.run) showRun(initial.run);
  if (initial && initial.latest) addFrame(initial.latest);
  $("stage").dataset.firstPaint = view.current === null ? "" : String(view.current);
  showConnection();

  const events = new EventSource(withToken(apiRun(run) + "/events"));
  events.addEventListener("run", (e) => showRun(JSON.parse(e.data)));
  events.addEventListener("frame", (e) => addFrame(JSON.parse(e.data)));
  events.addEventListener("ready", () => { view.connected = true; showConnection(); });
  events.addEventListener("problem", (e) => setStatus(e.data, "down"));
  events.onerror = () => { view.connected = false; showConnection(); };
  events.onopen = () => { view.connected = true; showConnection(); };
  // Browsers allow six connections to a server; a page left (and kept in the back-forward
  // cache) must not hold one, or the next page's requests wait for it.
  addEventListener("pagehide", () => events.close());
}

// ---- start -----------------------------------------------------------------------------

$("home").href = withToken("/");
if (location.pathname === "/") runsView();
else if (location.pathname.startsWith("/runs/")) runView(decodeURIComponent(location.pathname.slice(6)));
else fail("No such page.");
