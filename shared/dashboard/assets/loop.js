"use strict";
// The closed loop on the run page: the decider's decisions (one per frame of a run with a
// policy) and the instrument's answers, from GET /api/runs/<run>/decisions. Rules that fired
// are marked on the fraction plots at their frame, with the rule's name, and as ticks on the
// frame slider; the region a
// decision asked for is drawn on the frame it was decided on; a table lists every action and
// its answer.

const loop = {
  decisions: new Map(), // seq -> Decision
  acks: [],             // DecisionAck, oldest first
  busy: false,
  again: false,
  waiting: null,        // [seq, tries]: the newest frame whose decision is awaited
};

/** Reads the run's decisions again (one request at a time; a call during one queues one). */
async function refreshDecisions() {
  if (loop.busy) { loop.again = true; return; }
  loop.busy = true;
  try {
    const got = await getJson(apiRun(view.run) + "/decisions");
    loop.decisions = new Map(got.decisions.map((d) => [d.seq, d]));
    loop.acks = got.acks;
    drawDecisions();
    drawPlot();
    drawRoi(view.current);
  } catch (e) {
    // A deployment without the closed loop has no DECISIONS stream: nothing to show.
    $("decisions-view").hidden = true;
  } finally {
    loop.busy = false;
    if (loop.again) { loop.again = false; refreshDecisions(); }
    else awaitNewest();
  }
}

/** A frame's decision comes a moment after its result: with a policy in force, asks again
 *  each second (ten times at most) until the newest frame has one. */
function awaitNewest() {
  const newest = view.seqs[view.seqs.length - 1];
  if (!loop.decisions.size || newest === undefined || loop.decisions.has(newest)) return;
  const tries = loop.waiting && loop.waiting[0] === newest ? loop.waiting[1] : 0;
  if (tries >= 10) return;
  loop.waiting = [newest, tries + 1];
  setTimeout(refreshDecisions, 1000);
}

/** The fired rules as plot marks: `{seq, label}` per frame that had any. */
function decisionMarks() {
  const marks = [];
  for (const d of loop.decisions.values()) {
    if (d.fired.length) marks.push({ seq: d.seq, label: d.fired.map((f) => f.rule).join(", ") });
  }
  return marks;
}

/** The answer to frame `seq`'s rule `rule`, if the instrument sent one. */
function answerTo(seq, rule) {
  return loop.acks.find((a) => a.seq === seq && a.rule === rule);
}

function drawDecisions() {
  const rows = [];
  let problem = "";
  for (const d of [...loop.decisions.values()].sort((a, b) => a.seq - b.seq)) {
    if (d.error) problem = "Policy " + d.policy + " cannot be used: " + d.error;
    for (const f of d.fired) {
      const a = answerTo(d.seq, f.rule);
      const answer = a ? (a.executed ? "done: " : "refused: ") + a.detail : "no answer yet";
      rows.push(el("tr", { class: "decision-row", "data-seq": d.seq, "data-rule": f.rule, "data-action": f.action.do }, [
        el("td", { class: "num" }, [String(d.seq)]),
        el("td", {}, [f.rule]),
        el("td", {}, [f.action.do.replace(/_/g, " ")]),
        el("td", { class: "reason" }, [f.reason]),
        el("td", { class: a ? (a.executed ? "done" : "refused") : "" }, [answer]),
      ]));
    }
  }
  $("decisions-view").hidden = loop.decisions.size === 0;
  const last = Math.max(...loop.decisions.keys());
  $("decisions-title").textContent = "Decisions · " + loop.decisions.size + " frames decided"
    + (loop.decisions.size ? " · policy " + loop.decisions.get(last).policy : "");
  $("decisions-problem").textContent = problem;
  $("decisions").tBodies[0].replaceChildren(...rows);
  // The run's timeline (the frame slider) gets a tick at each frame where a rule fired.
  const ticks = decisionMarks().map((m) => view.seqs.indexOf(m.seq)).filter((i) => i >= 0);
  $("decision-ticks").replaceChildren(...ticks.map((i) => el("option", { value: i })));
}

/** The region decided on frame `seq`, drawn over it (none when it asked for none). */
function drawRoi(seq) {
  const box = $("roi-box");
  const d = loop.decisions.get(seq);
  const r = view.frames.get(seq);
  const fired = d && d.fired.find((f) => f.action.do === "acquire_roi");
  if (!fired || !r) { box.hidden = true; return; }
  const roi = fired.action.roi;
  // The stage keeps the frame's aspect ratio, so percentages of it are the frame's.
  box.style.left = (100 * roi.x / r.width) + "%";
  box.style.top = (100 * roi.y / r.height) + "%";
  box.style.width = (100 * roi.width / r.width) + "%";
  box.style.height = (100 * roi.height / r.height) + "%";
  box.title = fired.rule + ": " + roi.reason + " (" + roi.magnification + "×)";
  box.dataset.rule = fired.rule;
  box.hidden = false;
}
