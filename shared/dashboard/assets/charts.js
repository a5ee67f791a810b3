// Tessera dashboard: the run page's charts, drawn from the run view's state (`view`, in
// app.js, which loads after this file): the stage times, and the plots of community and class
// fractions in plain SVG with their legends and round ticks.
"use strict";

/** What each stage time measures: its label, whether it is time elapsed on the frame's way
 *  ("elapsed", one service's wall clock) or work added up over the frame's embedding batches
 *  ("work"), and its definition (the row's tooltip). */
const STAGES = {
  publish_to_result: ["end to end", "elapsed", "Wall clock from the instrument publishing the frame to the publisher sending its result: every elapsed stage below, plus queues and transfers."],
  intensity: ["intensity", "elapsed", "Clusterer: each chip's intensity statistics."],
  features: ["features", "elapsed", "Clusterer: the chips' features from their embeddings."],
  graph: ["graph", "elapsed", "Clusterer: the chips' nearest-neighbour graph."],
  communities: ["communities", "elapsed", "Clusterer: the communities of the graph."],
  centroids: ["centroids", "elapsed", "Clusterer: each community's centroid."],
  confidence: ["confidence", "elapsed", "Clusterer: each chip's confidence vote."],
  paint: ["paint", "elapsed", "Clusterer: painting the chips' communities onto the pixels."],
  refine: ["refine", "elapsed", "Clusterer: refining the label map's edges on the frame."],
  summary: ["summary", "elapsed", "Clusterer: each community's area and chips."],
  store_labels: ["store labels", "elapsed", "Clusterer: encoding the label map as TIFF and storing it."],
  overlay: ["overlay", "elapsed", "Publisher: rendering the overlay image and storing it."],
  classes: ["classes", "beside", "Clusterer: the frame's few-shot classes from its embeddings, painted and refined; found at the same time as the communities, so not added to the time elapsed."],
  embed: ["embed", "work", "Model time for the frame's chips, added up over its embedding batches. Batches embedded at the same time by several embedders are all added, so this is work done, not time elapsed: it can exceed end to end."],
  cache: ["cache", "work", "Embedding-cache lookups and write-backs for the frame's chips, added up over its embedding batches (work done, not time elapsed)."],
};
const REST = "Wall clock not in a stage above: queues between services, transfers, chipping by ingest and embedding (end to end less the elapsed stages).";

/** The stage times: elapsed stages, each a share of end to end (the rest is its own row, so
 *  they add up to it), then work added up over batches; every row defined in its tooltip. */
function drawTimings(timings) {
  const rows = timings.map(([stage, ms]) => {
    const [label, kind, meaning] = STAGES[stage]
      || [stage.replaceAll("_", " "), "elapsed", "Measured by the service that ran this stage (wall clock)."];
    return { stage, ms, label, kind, meaning };
  });
  const total = rows.find((t) => t.stage === "publish_to_result");
  const elapsed = rows.filter((t) => t.kind === "elapsed" && t !== total);
  const work = rows.filter((t) => t.kind === "work");
  const beside = rows.filter((t) => t.kind === "beside");
  if (total) {
    const inStages = elapsed.reduce((sum, t) => sum + t.ms, 0);
    elapsed.push({ stage: "rest", ms: Math.max(0, total.ms - inStages), label: "other", kind: "elapsed", meaning: REST });
  }
  const scale = Math.max(1, ...rows.map((t) => t.ms));
  const row = (t) => {
    const bar = el("span", { class: "bar " + t.kind });
    bar.style.width = Math.max(2, 160 * t.ms / scale) + "px";
    return el("tr", { class: "timing-row", "data-stage": t.stage, "data-kind": t.kind, "data-ms": t.ms, title: t.meaning }, [
      el("td", {}, [t.label]), el("td", { class: "num" }, [t.ms.toFixed(1) + " ms"]), el("td", {}, [bar]),
    ]);
  };
  const group = (text, meaning) => el("tr", { class: "timing-group", title: meaning }, [el("th", { colspan: 3 }, [text])]);
  const body = [];
  if (total || elapsed.length) {
    body.push(group("Time elapsed", "Wall clock on the frame's way through the services."));
    body.push(...(total ? [row(total)] : []), ...elapsed.map(row));
  }
  if (beside.length) {
    body.push(group("Beside the stages above", "Run at the same time as the elapsed stages, so not part of their sum."));
    body.push(...beside.map(row));
  }
  if (work.length) {
    body.push(group("Work, added up over batches", "Time spent on the frame's embedding batches, added up; batches run side by side count in full."));
    body.push(...work.map(row));
  }
  $("timings").tBodies[0].replaceChildren(...body);
}

/** Round axis ticks between `lo` and `hi`: steps of 1, 2 or 5 times a power of ten (whole
 *  numbers only when `integer`), about `count` of them. The axis runs from the first tick to
 *  the last, which enclose [lo, hi]. */
function niceTicks(lo, hi, count, integer = false) {
  if (!(hi > lo)) { lo -= integer ? 1 : 0.5; hi += integer ? 1 : 0.5; }
  const raw = (hi - lo) / Math.max(1, count);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw * (1 - 1e-9));
  const stepOk = integer ? Math.max(1, Math.round(step)) : step;
  const digits = Math.max(0, -Math.floor(Math.log10(stepOk) + 1e-9));
  const first = Math.floor(lo / stepOk + 1e-9), last = Math.ceil(hi / stepOk - 1e-9);
  const ticks = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * stepOk).toFixed(digits)));
  return { step: stepOk, digits, ticks };
}

/** A tick's label: fixed digits, or a power of ten for very large or small numbers. */
function tickLabel(x, digits) {
  if (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-3)) return x.toExponential().replace("e+", "e");
  return x.toFixed(digits);
}

/** The plots: every community's area fraction, and with a run classifier every class's,
 *  against dose (when every frame has one) or frame number, each series in its own colour,
 *  with a cursor at the frame shown. */
function drawPlot() {
  const frames = view.seqs.map((s) => view.frames.get(s));
  const colour = new Map();
  for (const r of frames) for (const c of r.communities) colour.set(c.id, c.color);
  const communities = [...colour].sort((a, b) => a[0] - b[0]).map(([id, color]) => ({
    key: id, label: "#" + id, color,
    value: (r) => { const c = r.communities.find((k) => k.id === id); return c ? c.area_fraction : 0; },
  }));
  const marks = typeof decisionMarks === "function" ? decisionMarks() : [];
  plotFractions($("plot"), $("plot-title"), "Area fraction", frames, communities, marks);
  $("plot").dataset.communities = String(communities.length);

  const classified = frames.filter((r) => classesOf(r));
  const classColour = new Map();
  for (const r of classified) for (const c of classesOf(r).classes) classColour.set(c.name, c.color);
  const classes = [...classColour].map(([name, color]) => ({
    key: name, label: name, color,
    value: (r) => { const c = classesOf(r).classes.find((k) => k.name === name); return c ? c.area_fraction : 0; },
  }));
  plotFractions($("class-plot"), $("class-plot-title"), "Class fraction", classified, classes, marks);
  $("class-plot").dataset.classes = String(classes.length);
}

/** A frame's classes, when it was classified (not when its classifier could not be used). */
function classesOf(r) {
  return r && r.classes && !r.classes.error ? r.classes : null;
}

/** One plot of fractions in `svg`: `series` (each `{key, label, color, value(frame)}`) over
 *  `frames`, titled `title` by dose or frame, with `marks` (each `{seq, label}`: the closed
 *  loop's rules that fired on a frame) as labelled vertical lines. */
function plotFractions(svg, titleEl, title, frames, series, marks = []) {
  const byDose = frames.length > 0 && frames.every((r) => typeof r.dose === "number");
  titleEl.textContent = title + " by " + (byDose ? "dose" : "frame");
  const xOf = (r) => (byDose ? r.dose : r.seq);
  // The legend's room on the right grows with the longest label (class names can be long).
  const longest = Math.max(3, ...series.map((s) => String(s.label).length));
  const W = 640, H = 280, L = 46, R = Math.min(220, Math.max(84, 30 + 7 * longest)), T = 12, B = 34;
  const xs = frames.map(xOf);
  const axis = frames.length ? niceTicks(Math.min(...xs), Math.max(...xs), 6, !byDose) : niceTicks(0, 5, 5, true);
  const x0 = axis.ticks[0], x1 = axis.ticks[axis.ticks.length - 1];
  const px = (x) => L + (W - L - R) * (x - x0) / (x1 - x0);
  const py = (f) => T + (H - T - B) * (1 - f);
  const children = [];
  for (let i = 0; i <= 4; i++) {
    const f = i / 4, y = py(f);
    children.push(el("line", { class: "grid", x1: L, x2: W - R, y1: y, y2: y }, [], SVG));
    children.push(el("text", { x: L - 6, y: y + 4, "text-anchor": "end" }, [pct(f).replace(".0", "")], SVG));
  }
  for (const x of axis.ticks) {
    children.push(el("line", { class: "tick", x1: px(x), x2: px(x), y1: H - B, y2: H - B + 4 }, [], SVG));
    children.push(el("text", { class: "x-tick", "data-value": x, x: px(x), y: H - B + 16, "text-anchor": "middle" },
      [tickLabel(x, axis.digits)], SVG));
  }
  children.push(el("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, [byDose ? "dose" : "frame"], SVG));
  children.push(el("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle",
    transform: "rotate(-90 12 " + (T + H - B) / 2 + ")" }, ["area"], SVG));
  children.push(el("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }, [], SVG));
  children.push(el("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }, [], SVG));

  for (const s of series) {
    const pts = frames.map((r) => [xOf(r), s.value(r), r.seq]);
    const g = el("g", { class: "series", "data-id": s.key }, [], SVG);
    g.append(el("polyline", {
      points: pts.map(([x, f]) => px(x).toFixed(1) + "," + py(f).toFixed(1)).join(" "),
      fill: "none", stroke: s.color, "stroke-width": 2,
    }, [], SVG));
    for (const [x, f, seq] of pts) {
      g.append(el("circle", { cx: px(x).toFixed(1), cy: py(f).toFixed(1), r: 3, fill: s.color, class: "point" },
        [el("title", {}, [s.label + " frame " + seq + ": " + pct(f)], SVG)], SVG));
    }
    children.push(g);
  }
  for (const m of marks) {
    const r = frames.find((f) => f.seq === m.seq);
    if (!r) continue;
    const x = px(xOf(r));
    children.push(el("g", { class: "decision-mark", "data-seq": m.seq }, [
      el("line", { class: "decision", x1: x, x2: x, y1: T, y2: H - B }, [], SVG),
      el("text", { class: "decision-label", x: x + 3, y: T + 10 }, [m.label], SVG),
      el("title", {}, ["frame " + m.seq + ": " + m.label], SVG),
    ], SVG));
  }
  children.push(plotLegend(series, W - R + 10, T, H - B));
  const cur = view.frames.get(view.current);
  if (cur && frames.includes(cur)) {
    const x = px(xOf(cur));
    children.push(el("line", { class: "cursor", x1: x, x2: x, y1: T, y2: H - B }, [], SVG));
  }
  svg.replaceChildren(...children);
  svg.dataset.frames = String(frames.length);
}

/** A plot's legend, right of it: a swatch and the label of each series, as many as fit
 *  between `top` and `bottom`, then how many more there are. */
function plotLegend(series, x, top, bottom) {
  const legend = el("g", { class: "plot-legend" }, [], SVG);
  const fit = Math.max(1, Math.floor((bottom - top) / 16));
  const shown = series.length > fit ? series.slice(0, fit - 1) : series;
  shown.forEach((s, i) => {
    const y = top + 16 * i;
    legend.append(el("g", { class: "legend-item", "data-id": s.key, "data-color": s.color }, [
      el("rect", { x, y, width: 12, height: 12, rx: 2, fill: s.color }, [], SVG),
      el("text", { x: x + 17, y: y + 10 }, [s.label], SVG),
    ], SVG));
  });
  if (shown.length < series.length) {
    legend.append(el("text", { class: "legend-more", x, y: top + 16 * shown.length + 10 },
      ["+" + (series.length - shown.length) + " more"], SVG));
  }
  return legend;
}
