#!/usr/bin/env python3
"""Print Tessera's frame results as they arrive: a starting point for your own dashboard.

    python3 scripts/provision.py --only clients     # nats-py and msgpack in $TESSERA_CACHE/venv
    $TESSERA_CACHE/venv/bin/python docs/examples/subscribe_results.py [--url nats://HOST:4222]
        [--instrument ID] [--run ID] [--count N] [--json] [--save-overlays DIR]
        [--user U --password P | --token T | --creds FILE]

(Any Python >= 3.10 with `pip install nats-py==2.16.0 msgpack==1.2.4` works as well.)

The publisher sends one FrameResult per segmented frame on `tessera.results.<instrument>.<run>`,
encoded as a msgpack map with named fields (docs/dashboards.md lists them). This script
subscribes on core NATS, so it sees the results published while it runs; for history, read the
RESULTS stream with a JetStream consumer instead (see the guide).

Output: one line per result, or with --json one JSON object per line:
    {"instrument", "run", "seq", "timestamp_ms", "dose", "width", "height", "chips",
     "communities": [{"id", "color", "area_fraction", "chips", "centroid_px"}, ...],
     "latency_ms", "overlay", "overlay_file"}
A line "subscribed to <subject>" goes to stderr once the subscription is active.
"""
import argparse
import asyncio
import json
import os
import re
import sys

import msgpack
import nats

# The newest message version this script understands (Tessera's PROTOCOL_VERSION). A newer
# version may have changed a field's meaning, so such results are skipped with a warning;
# unknown *fields* are fine: new ones are only ever added, so we just ignore them.
SUPPORTED_VERSION = 1
# The timing that holds the end-to-end latency, instrument publish to result, in ms.
LATENCY_TIMING = "publish_to_result"


def results_subject(instrument=None, run=None):
    """The subject to subscribe to: every result, one instrument's, or one run's.

    Run ids are unique across instruments, so `tessera.results.*.<run>` finds a run alone."""
    if instrument is None and run is None:
        return "tessera.results.>"
    return "tessera.results.%s.%s" % (instrument or "*", run or "*")


def decode_result(data):
    """A FrameResult payload -> dict. raw=False turns msgpack strings into str (bin stays bytes)."""
    result = msgpack.unpackb(data, raw=False)
    if not isinstance(result, dict) or not isinstance(result.get("version"), int):
        raise ValueError("not a Tessera message (a msgpack map with a version field)")
    if result["version"] > SUPPORTED_VERSION:
        raise ValueError("message version %d is newer than this script's %d"
                         % (result["version"], SUPPORTED_VERSION))
    return result


def latency_ms(result):
    """End-to-end latency from `timings`, a list of [stage, milliseconds] pairs, or None."""
    for stage, ms in result.get("timings") or []:
        if stage == LATENCY_TIMING:
            return ms
    return None


def summary(result):
    """What a dashboard usually shows of a result, as JSON-friendly data."""
    overlay = result.get("overlay")  # an ObjectRef {bucket, name, size, digest} or None
    return {
        "instrument": result["instrument"],
        "run": result["run"],
        "seq": result["seq"],
        "timestamp_ms": result["timestamp_ms"],
        "dose": result.get("dose"),
        "width": result["width"],
        "height": result["height"],
        "chips": result.get("chips"),
        # ids are stable within a run: community 2 in frame 7 is the same phase as in frame 3
        "communities": [{k: c[k] for k in ("id", "color", "area_fraction", "chips", "centroid_px") if k in c}
                        for c in result["communities"]],
        "latency_ms": latency_ms(result),
        "overlay": "%s/%s" % (overlay["bucket"], overlay["name"]) if overlay else None,
    }


def format_line(s):
    """One line: run, frame, dose, communities (largest first) and latency."""
    line = "%s/%s frame %d" % (s["instrument"], s["run"], s["seq"])
    if s["dose"] is not None:
        line += " dose %g" % s["dose"]
    parts = ["#%d %s %.1f%%" % (c["id"], c["color"], 100 * c["area_fraction"])
             for c in sorted(s["communities"], key=lambda c: (-c["area_fraction"], c["id"]))]
    line += ": %s" % " ".join(parts)
    if s["latency_ms"] is not None:
        line += "; latency %.0f ms" % s["latency_ms"]
    return line


async def fetch_object(js, ref):
    """The bytes of an object that a result refers to (its `overlay`, `labels` or `source`).

    `ref` is the ObjectRef map {bucket, name, size, digest}: overlays and label maps are in the
    JetStream object store `tessera_outputs`, frame previews in `tessera_frames`. nats-py checks
    the store's own SHA-256 while reading; if the ref carries a digest too, a mismatch means the
    object was replaced since the result was published. Objects expire with the results (30 days).
    """
    store = await js.object_store(ref["bucket"])
    obj = await store.get(ref["name"])
    if ref.get("digest") and obj.info.digest and ref["digest"] != obj.info.digest:
        raise ValueError("%s/%s was replaced since the result was published" % (ref["bucket"], ref["name"]))
    return obj.data


async def save_overlay(js, result, directory):
    """Writes the result's overlay PNG to DIRECTORY/<run>-<seq>.overlay.png; returns the path."""
    ref = result.get("overlay")
    if not ref:
        return None
    png = await fetch_object(js, ref)
    safe_run = re.sub(r"[^A-Za-z0-9_-]", "_", result["run"])  # never trust a name for a path
    path = os.path.join(directory, "%s-%d.overlay.png" % (safe_run, result["seq"]))
    with open(path, "wb") as f:
        f.write(png)
    return path


async def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="nats://127.0.0.1:4222", help="NATS server(s), comma-separated")
    ap.add_argument("--instrument", help="only this instrument's results")
    ap.add_argument("--run", help="only this run's results")
    ap.add_argument("--count", type=int, help="exit after N results")
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    ap.add_argument("--save-overlays", metavar="DIR", help="fetch each overlay PNG into DIR")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--token")
    ap.add_argument("--creds", help="a .creds file (needs the nkeys package)")
    a = ap.parse_args(argv)

    async def on_error(e):  # nats-py reports connection trouble here; don't let it pass silently
        print("nats: %s" % e, file=sys.stderr, flush=True)

    # Only the options given are passed on. nats-py retries a server 60 times, 2 s apart, both
    # at first and after a disconnect (max_reconnect_attempts, reconnect_time_wait).
    auth = {k: v for k, v in [("user", a.user), ("password", a.password), ("token", a.token),
                              ("user_credentials", a.creds)] if v}
    try:
        nc = await nats.connect(a.url.split(","), error_cb=on_error, **auth)
    except Exception as e:
        print("error: cannot connect to %s: %s" % (a.url, e or type(e).__name__), file=sys.stderr)
        return 1
    js = nc.jetstream()  # only for the object store
    if a.save_overlays:
        os.makedirs(a.save_overlays, exist_ok=True)

    subject = results_subject(a.instrument, a.run)
    sub = await nc.subscribe(subject)
    await nc.flush()  # the server has the subscription now: nothing published from here is missed
    print("subscribed to %s" % subject, file=sys.stderr, flush=True)

    seen = 0
    try:
        async for msg in sub.messages:
            try:
                result = decode_result(msg.data)
            except Exception as e:  # a bad message is reported and skipped, never fatal
                print("warning: %s: %s" % (msg.subject, e), file=sys.stderr, flush=True)
                continue
            s = summary(result)
            if a.save_overlays:
                s["overlay_file"] = await save_overlay(js, result, a.save_overlays)
            print(json.dumps(s) if a.json else format_line(s), flush=True)
            seen += 1
            if a.count is not None and seen >= a.count:
                break
    finally:
        await nc.drain()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(130)
