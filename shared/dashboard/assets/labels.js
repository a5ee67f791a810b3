// Tessera dashboard: labelling classes on the run page. The user names a few classes, picks
// one, paints strokes over the newest frame (a canvas the size of the frame), and applies:
// the labelled pixels go to POST /api/runs/<run>/classes with the write token in the
// Authorization header; the clusterer makes the classifier on that frame's stored embeddings,
// answers with the frame's classes at once, and classifies every later frame of the run.
// Loads after charts.js and before app.js, which calls `labelsFor(r)` when a frame is shown.
"use strict";

const DEFAULT_COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4"];
const labels = {
  classes: [],        // [{name, color}]
  active: 0,          // the class painted
  points: new Map(),  // "x,y" -> class index, in frame pixels
  seq: null,          // the frame the strokes are on
  drawing: false,
  last: null,
};

/** Adds a class row: a radio to paint it, its name and its colour. */
function addClassRow(name, color) {
  const i = labels.classes.length;
  labels.classes.push({ name, color });
  const pick = el("input", { type: "radio", name: "paint-class", value: i, "aria-label": "paint " + name });
  pick.checked = i === labels.active;
  pick.addEventListener("change", () => { labels.active = i; });
  const nameBox = el("input", { class: "class-name", value: name, "aria-label": "class name" });
  nameBox.addEventListener("input", () => { labels.classes[i].name = nameBox.value.trim(); });
  const colorBox = el("input", { type: "color", class: "class-color", value: color, "aria-label": "class colour" });
  colorBox.addEventListener("input", () => { labels.classes[i].color = colorBox.value; redrawStrokes(); });
  $("label-classes").append(el("div", { class: "label-class", "data-index": i }, [pick, nameBox, colorBox]));
}

/** Paints a small brush (a pixel and its four neighbours) at frame pixel (x, y) in the active
 *  class: the chips a stroke crosses are what count, so a thin stroke keeps the request
 *  small (a 1000-pixel stroke is about 5000 labelled pixels). */
function dab(x, y, w, h) {
  for (let dy = -1; dy <= 1; dy++) {
    for (let dx = -1; dx <= 1; dx++) {
      const px = Math.round(x) + dx, py = Math.round(y) + dy;
      if (dx * dx + dy * dy <= 1 && px >= 0 && py >= 0 && px < w && py < h) {
        labels.points.set(px + "," + py, labels.active);
      }
    }
  }
}

/** Draws every labelled pixel on the canvas in its class's colour. */
function redrawStrokes() {
  const canvas = $("strokes");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  for (const [key, c] of labels.points) {
    const [x, y] = key.split(",").map(Number);
    ctx.fillStyle = (labels.classes[c] || {}).color || "#fff";
    ctx.fillRect(x, y, 1, 1);
  }
  $("label-status").dataset.points = String(labels.points.size);
}

/** The canvas follows the frame shown: its size, and strokes only for that frame. */
function labelsFor(r) {
  const canvas = $("strokes");
  if (canvas.width !== r.width || canvas.height !== r.height) {
    canvas.width = r.width;
    canvas.height = r.height;
  }
  if (labels.seq !== r.seq) {
    labels.points.clear();
    labels.seq = r.seq;
  }
  redrawStrokes();
}

/** The frame pixel under a pointer event. */
function framePixel(e) {
  const canvas = $("strokes");
  const box = canvas.getBoundingClientRect();
  return [(e.clientX - box.left) * canvas.width / box.width, (e.clientY - box.top) * canvas.height / box.height];
}

function strokeTo(e) {
  const canvas = $("strokes");
  const [x, y] = framePixel(e);
  const [x0, y0] = labels.last || [x, y];
  const steps = Math.max(1, Math.ceil(Math.hypot(x - x0, y - y0)));
  for (let i = 0; i <= steps; i++) dab(x0 + (x - x0) * i / steps, y0 + (y - y0) * i / steps, canvas.width, canvas.height);
  labels.last = [x, y];
  redrawStrokes();
}

async function applyLabels() {
  const status = $("label-status");
  const body = {
    seq: labels.seq,
    name: $("classifier-name").value.trim(),
    classes: labels.classes,
    points: [...labels.points].map(([key, c]) => [...key.split(",").map(Number), c]),
    by: $("label-by").value.trim(),
    note: "painted on frame " + labels.seq,
  };
  status.textContent = "applying…";
  status.dataset.state = "busy";
  try {
    const reply = await fetch(apiRun(view.run) + "/classes", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + (token || "") },
      body: JSON.stringify(body),
    });
    if (!reply.ok) throw new Error((await reply.text()).trim() || reply.statusText);
    const answer = await reply.json();
    const r = view.frames.get(body.seq);
    if (r) r.classes = answer.classes;
    status.textContent = "applied: classifier " + body.name + " revision " + answer.revision
      + "; later frames are classified with it";
    status.dataset.state = "applied";
    if (view.current === body.seq) showFrame(body.seq);
    drawPlot();
  } catch (e) {
    status.textContent = "not applied: " + e.message;
    status.dataset.state = "refused";
  }
}

function setUpLabels() {
  for (const [i, name] of ["class 1", "class 2"].entries()) addClassRow(name, DEFAULT_COLOURS[i]);
  $("classifier-name").value = (view.run || "run") + "-classes";
  $("add-class").addEventListener("click", () => {
    const i = labels.classes.length;
    addClassRow("class " + (i + 1), DEFAULT_COLOURS[i % DEFAULT_COLOURS.length]);
  });
  $("paint").addEventListener("change", (e) => {
    $("strokes").classList.toggle("painting", e.target.checked);
    // Strokes belong to one frame: stay on it while painting.
    if (e.target.checked) { view.follow = false; $("follow").checked = false; }
  });
  $("clear-strokes").addEventListener("click", () => { labels.points.clear(); redrawStrokes(); });
  $("apply-labels").addEventListener("click", applyLabels);
  const canvas = $("strokes");
  canvas.addEventListener("pointerdown", (e) => {
    if (!$("paint").checked) return;
    labels.drawing = true;
    labels.last = null;
    try { canvas.setPointerCapture(e.pointerId); } catch (_) { /* a synthetic pointer */ }
    strokeTo(e);
  });
  canvas.addEventListener("pointermove", (e) => { if (labels.drawing) strokeTo(e); });
  for (const end of ["pointerup", "pointercancel", "pointerleave"]) {
    canvas.addEventListener(end, () => { labels.drawing = false; labels.last = null; });
  }
}
