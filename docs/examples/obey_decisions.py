#!/usr/bin/env python3
"""Obey Tessera's decisions from Python instrument software: the closed loop's other end.

    python3 scripts/provision.py --only clients     # nats-py and msgpack in $TESSERA_CACHE/venv
    $TESSERA_CACHE/venv/bin/python docs/examples/obey_decisions.py --instrument ID [--run ID]
        [--url nats://HOST:4222] [--max-magnification 64] [--exit-on-stop]
        [--user U --password P | --token T | --creds FILE]

(Any Python >= 3.10 with `pip install nats-py==2.16.0 msgpack==1.2.4` works as well.)

The decider publishes one Decision per frame of a run that has a policy on
`tessera.decisions.<instrument>.<run>` (docs/policies.md): a msgpack map with named fields,
`fired` listing the rules that fired, each with its `action` (a map whose `do` says which:
stop, continue, acquire_roi with its `roi`, change_dose_rate with its `factor`, notify with
its `message`). This script carries each action out on a `Microscope` (replace its methods
with your instrument's calls) and answers every one with a DecisionAck on
`tessera.acks.<instrument>.<run>` (JetStream, with a Nats-Msg-Id so a resent answer counts
once): executed, or refused and why. The dashboard and `tessera watch` show the answers.

Output: one JSON object per answered action on stdout:
    {"run", "seq", "rule", "action", "executed", "detail"}
A line "subscribed to <subject>" goes to stderr once the subscription is active.
"""
import argparse
import asyncio
import json
import sys
import time

import msgpack
import nats

# The newest message version this script understands (Tessera's PROTOCOL_VERSION).
SUPPORTED_VERSION = 1


class Microscope:
    """What the instrument does when told; each method returns (executed, detail)."""

    def __init__(self, max_magnification):
        self.max_magnification = max_magnification
        self.dose_rate = 1.0
        self.stopped = False

    def stop(self):
        self.stopped = True
        return True, "acquisition stopped"

    def change_dose_rate(self, factor):
        self.dose_rate = min(max(self.dose_rate * factor, 0.01), 100.0)
        return True, "dose rate now %.3fx the run's first" % self.dose_rate

    def acquire_roi(self, roi):
        if roi["magnification"] > self.max_magnification:
            return False, "magnification %.1f is beyond this instrument's %.1f" % (
                roi["magnification"], self.max_magnification)
        return True, "next frame: (%d, %d) %dx%d at %.1fx" % (
            roi["x"], roi["y"], roi["width"], roi["height"], roi["magnification"])

    def notify(self, message):
        print("operator: %s" % message, file=sys.stderr, flush=True)
        return True, "shown to the operator: %s" % message


def carry_out(scope, action):
    """One action of a decision -> (executed, detail)."""
    kind = action.get("do")
    if kind == "stop":
        return scope.stop()
    if kind == "continue":
        return True, "going on"
    if kind == "change_dose_rate":
        return scope.change_dose_rate(float(action["factor"]))
    if kind == "acquire_roi":
        return scope.acquire_roi(action["roi"])
    if kind == "notify":
        return scope.notify(action["message"])
    return False, "this instrument does not know the action %r" % kind


def decode_decision(data):
    decision = msgpack.unpackb(data, raw=False)
    if not isinstance(decision, dict) or not isinstance(decision.get("version"), int):
        raise ValueError("not a Tessera message (a msgpack map with a version field)")
    if decision["version"] > SUPPORTED_VERSION:
        raise ValueError("message version %d is newer than this script's %d"
                         % (decision["version"], SUPPORTED_VERSION))
    return decision


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", default="nats://127.0.0.1:4222")
    p.add_argument("--instrument", required=True)
    p.add_argument("--run", default=None, help="one run (default: every run of the instrument)")
    p.add_argument("--max-magnification", type=float, default=64.0)
    p.add_argument("--exit-on-stop", action="store_true", help="exit after obeying a stop")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--token")
    p.add_argument("--creds")
    a = p.parse_args()

    options = {"servers": [a.url]}
    if a.user:
        options.update(user=a.user, password=a.password)
    if a.token:
        options["token"] = a.token
    if a.creds:
        options["user_credentials"] = a.creds
    nc = await nats.connect(**options)
    js = nc.jetstream()
    scope = Microscope(a.max_magnification)
    done = asyncio.Event()
    subject = "tessera.decisions.%s.%s" % (a.instrument, a.run or "*")

    async def on_decision(msg):
        try:
            d = decode_decision(msg.data)
        except Exception as e:  # noqa: BLE001 - a bad message is reported, never fatal
            print("skipped a message on %s: %s" % (msg.subject, e), file=sys.stderr, flush=True)
            return
        if d.get("error"):
            print("frame %d: the policy cannot be used: %s" % (d["seq"], d["error"]),
                  file=sys.stderr, flush=True)
        for fired in d.get("fired", []):
            executed, detail = carry_out(scope, fired["action"])
            ack = {"version": SUPPORTED_VERSION, "run": d["run"], "instrument": d["instrument"],
                   "seq": d["seq"], "rule": fired["rule"], "action": fired["action"]["do"],
                   "executed": executed, "detail": detail, "acked_ms": int(time.time() * 1000)}
            await js.publish("tessera.acks.%s.%s" % (d["instrument"], d["run"]),
                             msgpack.packb(ack, use_bin_type=True),
                             headers={"Nats-Msg-Id": "ack:%s:%d:%s" % (d["run"], d["seq"],
                                                                       fired["rule"])})
            print(json.dumps({k: ack[k] for k in ("run", "seq", "rule", "action", "executed",
                                                   "detail")}), flush=True)
        if scope.stopped and a.exit_on_stop:
            done.set()

    await nc.subscribe(subject, cb=on_decision)
    await nc.flush()
    print("subscribed to %s" % subject, file=sys.stderr, flush=True)
    try:
        await done.wait()
    finally:
        await nc.drain()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
