"""Checks the edge layout of deploy/README.md ("Edge and hub") on loopback with two real
nats-servers started from deploy/nats/hub.conf and deploy/nats/leaf.conf, and a Python stand-in
for the embedder (the Rust services do not yet know the edge layout):

  1. admin creates the hub's WORK and EMBEDDED (EMBEDDED sourcing the edge's) and the edge's
     WORK (sourcing the hub's), EMBEDDED, and the `embedder` consumer;
  2. 10 chip batches are published at the hub; they move to the edge's WORK;
  3. the stand-in embedder, logged in as `embedder` (edge-auth.conf), pulls, publishes an
     embedding and acks 5 of them; the embeddings move to the hub's EMBEDDED;
  4. the hub is stopped (the link is cut) and the embedder does the other 5, buffered at the edge
     (with any the hub's source had stored but not yet acknowledged);
  5. the hub comes back on the same store; 5 more chip batches are published there;
  6. the embedder does those; at the end the hub's EMBEDDED holds exactly the 15 embeddings, each
     once, and WORK is empty on both sides: nothing lost, nothing done twice.

Needs nats-py (scripts/provision.py --only clients) and nats-server >= 2.14 (sourcing from a
work-queue stream with acknowledgements). Run with the cache venv's Python:

    $TESSERA_CACHE/venv/bin/python scripts/check_edge_nats.py
"""
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import nats
from nats.js.api import (AckPolicy, ConsumerConfig, ExternalStream, RetentionPolicy, StreamConfig,
                         StreamSource)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NATS_DIR = os.path.join(ROOT, "deploy", "nats")
CACHE = os.environ.get("TESSERA_CACHE", os.path.expanduser("~/.cache/tessera"))
NATS_SERVER = os.environ.get("TESSERA_NATS_SERVER", os.path.join(CACHE, "venv", "bin", "nats-server"))
USERS = ["ADMIN", "INGEST", "EMBEDDER", "CLUSTERER", "PUBLISHER", "DASHBOARD", "INSTRUMENT_TEM1"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_dir(tmp, conf, includes, ports):
    """A copy of deploy/nats/<conf> (and its includes) with loopback ports and a private store."""
    d = os.path.join(tmp, conf.split(".")[0])
    os.makedirs(os.path.join(d, "data"))
    text = open(os.path.join(NATS_DIR, conf)).read()
    for old, new in ports.items():
        text = text.replace(old, new)
    text = text.replace("store_dir: /data", "store_dir: %s" % os.path.join(d, "data"))
    open(os.path.join(d, conf), "w").write(text)
    for inc in includes:
        shutil.copy(os.path.join(NATS_DIR, inc), d)
    return os.path.join(d, conf)


async def wait_port(port, what, seconds=10.0):
    for _ in range(int(seconds * 20)):
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("%s did not open port %d" % (what, port))


async def eventually(what, probe, want, seconds=15.0):
    got = None
    for _ in range(int(seconds * 10)):
        got = await probe()
        if got == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("%s: %r, wanted %r" % (what, got, want))


async def count(js, stream):
    return (await js.stream_info(stream)).state.messages


async def main(tmp):
    hp, hh, hl, ep, eh = (free_port() for _ in range(5))
    env = dict(os.environ)
    for u in USERS:
        env["TESSERA_%s_PASSWORD" % u] = "pw-" + u.lower()
    env["TESSERA_LEAF_PASSWORD"] = "pw-leaf"
    env["TESSERA_HUB_LEAF_URL"] = "nats-leaf://leaf:pw-leaf@127.0.0.1:%d" % hl
    hub_conf = server_dir(tmp, "hub.conf", ["auth.conf"], {
        "port: 4222": "port: %d" % hp, "http_port: 8222": "http_port: %d" % hh, "port: 7422": "port: %d" % hl})
    leaf_conf = server_dir(tmp, "leaf.conf", ["edge-auth.conf"], {
        "port: 4222": "port: %d" % ep, "http_port: 8222": "http_port: %d" % eh})
    logs = open(os.path.join(tmp, "servers.log"), "w")
    procs = []

    def start(conf):
        p = subprocess.Popen([NATS_SERVER, "-c", conf], env=env, stdout=logs, stderr=logs)
        procs.append(p)
        return p

    try:
        hub = start(hub_conf)
        start(leaf_conf)
        await wait_port(hp, "hub")
        await wait_port(ep, "leaf")
        admin_h = await nats.connect("nats://127.0.0.1:%d" % hp, user="admin", password="pw-admin")
        admin_e = await nats.connect("nats://127.0.0.1:%d" % ep, user="admin", password="pw-admin")
        hjs, ejs = admin_h.jetstream(), admin_e.jetstream()
        wq = dict(retention=RetentionPolicy.WORK_QUEUE, duplicate_window=120)
        await hjs.add_stream(StreamConfig(name="WORK", subjects=["tessera.work.*"], **wq))
        # Wait for the leaf link: a source created before it is up is retried, but with back-off.
        for _ in range(100):
            try:
                await admin_e.request("$JS.hub.API.INFO", b"", timeout=0.5)
                break
            except Exception:  # noqa: BLE001 - no responders or timeout until the link is up
                await asyncio.sleep(0.1)
        await hjs.add_stream(StreamConfig(name="EMBEDDED", subjects=["tessera.embedded.*"], sources=[
            StreamSource(name="EMBEDDED", external=ExternalStream(api="$JS.edge.API"))], **wq))
        await ejs.add_stream(StreamConfig(name="WORK", sources=[
            StreamSource(name="WORK", external=ExternalStream(api="$JS.hub.API"))], **wq))
        await ejs.add_stream(StreamConfig(name="EMBEDDED", subjects=["tessera.embedded.*"], **wq))
        await ejs.add_consumer("WORK", ConsumerConfig(durable_name="embedder", ack_policy=AckPolicy.EXPLICIT,
                                                       max_deliver=5))
        print("ok   topology: hub WORK, EMBEDDED (sources edge EMBEDDED); edge WORK (sources hub WORK), EMBEDDED")

        for i in range(10):
            await hjs.publish("tessera.work.r1", b"batch-%d" % i, headers={"Nats-Msg-Id": "r1-%d" % i})
        await eventually("edge WORK after 10 published at the hub", lambda: count(ejs, "WORK"), 10)
        await eventually("hub WORK once sourced", lambda: count(hjs, "WORK"), 0)
        print("ok   10 chip batches published at the hub moved to the edge's WORK")

        emb = await nats.connect("nats://127.0.0.1:%d" % ep, user="embedder", password="pw-embedder",
                                 max_reconnect_attempts=-1)
        mjs = emb.jetstream()
        sub = await mjs.pull_subscribe_bind("embedder", "WORK")

        async def embed(n):
            done = 0
            while done < n:
                for m in await sub.fetch(n - done, timeout=5):
                    await mjs.publish("tessera.embedded.r1", b"emb-" + m.data,
                                      headers={"Nats-Msg-Id": "emb-" + m.data.decode()})
                    await m.ack_sync()
                    done += 1

        await embed(5)
        await eventually("hub EMBEDDED after 5 embedded at the edge", lambda: count(hjs, "EMBEDDED"), 5)
        print("ok   the edge embedder's first 5 embeddings reached the hub's EMBEDDED")

        await admin_h.close()
        hub.terminate()
        hub.wait()
        await embed(5)
        # The 5 new embeddings wait at the edge, with any of the first 5 whose acknowledgement the
        # hub's source had not yet sent when the link went (those come again and must not be
        # stored twice).
        buffered = await count(ejs, "EMBEDDED")
        assert buffered >= 5, "edge EMBEDDED holds %d while the hub is down" % buffered
        print("ok   link cut: the edge embedder did the other 5; the edge's EMBEDDED buffers %d "
              "(5 new, %d not yet acknowledged by the hub's source)" % (buffered, buffered - 5))

        start(hub_conf)
        await wait_port(hp, "hub (restarted)")
        admin_h = await nats.connect("nats://127.0.0.1:%d" % hp, user="admin", password="pw-admin")
        hjs = admin_h.jetstream()
        t0 = time.monotonic()
        await eventually("hub EMBEDDED after the link is back", lambda: count(hjs, "EMBEDDED"), 10, 120)
        print("ok   link restored: the hub's source caught up with the edge's EMBEDDED in %.1f s "
              "(the source retries with back-off)" % (time.monotonic() - t0))
        await eventually("edge EMBEDDED drained", lambda: count(ejs, "EMBEDDED"), 0)
        for i in range(10, 15):
            await hjs.publish("tessera.work.r1", b"batch-%d" % i, headers={"Nats-Msg-Id": "r1-%d" % i})
        await eventually("edge WORK after 5 more", lambda: count(ejs, "WORK"), 5, 30)
        await embed(5)
        await eventually("hub EMBEDDED at the end", lambda: count(hjs, "EMBEDDED"), 15)
        info = await hjs.stream_info("EMBEDDED")
        seen = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            seen.append((await hjs.get_msg("EMBEDDED", seq)).data.decode())
        want = ["emb-batch-%d" % i for i in range(15)]
        assert sorted(seen) == sorted(want), "hub EMBEDDED holds %s" % sorted(seen)
        await eventually("edge WORK at the end", lambda: count(ejs, "WORK"), 0)
        # The hub's WORK empties once the edge's source has acknowledged what it stored.
        await eventually("hub WORK at the end", lambda: count(hjs, "WORK"), 0, 120)
        print("ok   the hub's EMBEDDED holds the 15 embeddings, each once; WORK is empty on both sides")
        await emb.close()
        await admin_e.close()
        await admin_h.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()


if __name__ == "__main__":
    if not os.access(NATS_SERVER, os.X_OK):
        sys.exit("no nats-server at %s (scripts/provision.py --only servers)" % NATS_SERVER)
    tmp = tempfile.mkdtemp(prefix="tessera-edge-")
    try:
        asyncio.run(main(tmp))
    except Exception as e:  # noqa: BLE001 - report any failure with the servers' log
        print("FAIL edge layout: %s: %s" % (type(e).__name__, e))
        print("".join(l for l in open(os.path.join(tmp, "servers.log")).readlines() if "[INF]" not in l or "eaf" in l)[-6000:])
        sys.exit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
