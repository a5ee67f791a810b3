"""Lints and renders helm/tessera offline through the Helm 4 Go SDK (PyPI helm-python-sdk), for
scripts/check_deploy.sh. Run it with the deploy venv's Python:

    python scripts/check_deploy_helm.py CHART OUTDIR [NAME=VALUES.yaml ...]

For each NAME (plus `default`, the chart's own values) it runs `helm lint --strict` and writes the
rendering to OUTDIR/NAME.yaml, for kubernetes-validate. kubernetes-validate has no schema for
CRDs, so the KEDA ScaledObject is checked here instead, against the fields KEDA documents for
its nats-jetstream trigger. It also checks what the chart promises whatever the values:
ingest and clusterer run exactly one replica, every container runs as non-root with a read-only
root file system and no capabilities. With nats.install / redis.install it checks that the
services' bus.url and cache.url (and KEDA's monitoring endpoint) point at the in-chart Services,
that the in-chart nats-server's configuration is deploy/nats/jetstream.conf (and auth.conf) word
for word, and writes that configuration to OUTDIR/NAME-nats/ for `nats-server -t`. Exit status 1
on any failure.
"""
import os
import re
import sys

import helm_python as helm
import yaml

KEDA_TRIGGER_KEYS = {"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold",
                     "activationLagThreshold", "useHttps"}
NATS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "deploy", "nats")
KEDA_SPEC_KEYS = {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval",
                  "cooldownPeriod", "triggers", "advanced", "fallback", "idleReplicaCount"}


def fail(problems, what):
    problems.append(what)
    print("FAIL %s" % what)


def check_rendering(name, docs, problems, outdir):
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    workloads = dict(deployments, **{d["metadata"]["name"]: d for d in docs if d["kind"] == "StatefulSet"})
    for dname, d in workloads.items():
        comp = d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
        if comp in ("ingest", "clusterer"):
            if d["spec"].get("replicas") != 1 or d["spec"].get("strategy", {}).get("type") != "Recreate":
                fail(problems, "%s: %s must run exactly 1 replica with strategy Recreate" % (name, dname))
        pod = d["spec"]["template"]["spec"]
        if not pod.get("securityContext", {}).get("runAsNonRoot"):
            fail(problems, "%s: %s: pod securityContext.runAsNonRoot is not true" % (name, dname))
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            if not sc.get("readOnlyRootFilesystem") or sc.get("allowPrivilegeEscalation") is not False \
                    or "ALL" not in sc.get("capabilities", {}).get("drop", []):
                fail(problems, "%s: %s/%s: securityContext must be read-only, no privilege "
                               "escalation, drop ALL" % (name, dname, c["name"]))
    check_topology_job(name, docs, problems)
    check_in_chart_nats(name, docs, problems, outdir)
    check_in_chart_redis(name, docs, problems)
    for d in docs:
        if d["kind"] != "ScaledObject":
            continue
        if d.get("apiVersion") != "keda.sh/v1alpha1":
            fail(problems, "%s: ScaledObject apiVersion %s" % (name, d.get("apiVersion")))
        spec = d["spec"]
        unknown = set(spec) - KEDA_SPEC_KEYS
        if unknown:
            fail(problems, "%s: ScaledObject: unknown spec fields %s" % (name, sorted(unknown)))
        target = spec.get("scaleTargetRef", {}).get("name")
        if target not in deployments:
            fail(problems, "%s: ScaledObject targets %r, not a rendered Deployment" % (name, target))
        if "replicas" in deployments.get(target, {}).get("spec", {}):
            fail(problems, "%s: %s sets replicas while KEDA scales it" % (name, target))
        for t in spec.get("triggers", []):
            md = t.get("metadata", {})
            if t.get("type") != "nats-jetstream":
                fail(problems, "%s: ScaledObject trigger type %r" % (name, t.get("type")))
            if set(md) - KEDA_TRIGGER_KEYS:
                fail(problems, "%s: unknown nats-jetstream metadata %s" % (name, sorted(set(md) - KEDA_TRIGGER_KEYS)))
            if not all(isinstance(v, str) for v in md.values()):
                fail(problems, "%s: trigger metadata values must all be strings" % name)
            if (md.get("stream"), md.get("consumer")) != ("WORK", "embedder"):
                fail(problems, "%s: the trigger must watch WORK/embedder" % name)
        print("ok   %s: ScaledObject %s (checked against KEDA's nats-jetstream fields; "
              "kubernetes-validate has no CRD schemas)" % (name, d["metadata"]["name"]))


def check_topology_job(name, docs, problems):
    """With per-service NATS users, a Job creates the topology as admin; without, none."""
    jobs = [d for d in docs if d["kind"] == "Job"]
    auth = any(d["kind"] == "ConfigMap" and "TESSERA__BUS__USER" in d["data"] for d in docs)
    if not auth:
        if jobs:
            fail(problems, "%s: a topology Job without nats.auth" % name)
        return
    if len(jobs) != 1:
        fail(problems, "%s: nats.auth needs exactly one topology Job, found %d" % (name, len(jobs)))
        return
    pod = jobs[0]["spec"]["template"]["spec"]
    c = pod["containers"][0]
    maps = {d["metadata"]["name"]: d["data"] for d in docs if d["kind"] == "ConfigMap"}
    env = maps.get(c["envFrom"][0]["configMapRef"]["name"], {})
    password = [e for e in c.get("env", []) if e["name"] == "TESSERA__BUS__PASSWORD"]
    if c.get("args") != ["topology"] or not c["image"].split(":")[0].endswith("/cli"):
        fail(problems, "%s: the topology Job must run `topology` in the cli image" % name)
    elif env.get("TESSERA__BUS__USER") != "admin" or not password \
            or password[0]["valueFrom"]["secretKeyRef"]["key"] != "admin-password":
        fail(problems, "%s: the topology Job must log in as admin with key admin-password" % name)
    elif not c.get("securityContext", {}).get("readOnlyRootFilesystem"):
        fail(problems, "%s: the topology Job's container must be read-only" % name)
    else:
        print("ok   %s: topology Job runs `tessera topology` as admin" % name)


def in_chart(docs, kind, app):
    """The in-chart workload labelled app.kubernetes.io/name=APP and the Service selecting it."""
    work = [d for d in docs if d["kind"] == kind and d["metadata"]["labels"].get("app.kubernetes.io/name") == app]
    if not work:
        return None, None
    pod_labels = work[0]["spec"]["template"]["metadata"]["labels"]
    services = [d for d in docs if d["kind"] == "Service" and d["spec"].get("clusterIP") != "None"
                and d["spec"].get("selector") and set(d["spec"]["selector"].items()) <= set(pod_labels.items())]
    return work[0], (services[0] if len(services) == 1 else None)


def service_configs(docs):
    """The TESSERA__ variables of each service and Job ConfigMap (those that set bus.url)."""
    return {d["metadata"]["name"]: d["data"] for d in docs
            if d["kind"] == "ConfigMap" and "TESSERA__BUS__URL" in (d.get("data") or {})}


def selected_by_services_policy(name, docs, what, pod_labels, problems):
    """Whether a NetworkPolicy of the services (ingress to the metrics port only) selects the
    in-chart WHAT pod, which would cut its clients off."""
    for p in docs:
        sel = p["spec"]["podSelector"].get("matchLabels", {}) if p["kind"] == "NetworkPolicy" else None
        if sel and sel.get("app.kubernetes.io/name") != what and set(sel.items()) <= set(pod_labels.items()):
            fail(problems, "%s: NetworkPolicy %s (the services' ports only) also selects the %s pod"
                 % (name, p["metadata"]["name"], what))
            return True
    return False


def check_in_chart_nats(name, docs, problems, outdir):
    """nats.install: the services and KEDA use the in-chart Service, whose server runs
    deploy/nats/jetstream.conf (and auth.conf with its users' passwords from the Secret)."""
    sts, svc = in_chart(docs, "StatefulSet", "nats")
    if sts is None:
        return
    if svc is None:
        fail(problems, "%s: no single client Service selects the nats StatefulSet" % name)
        return
    ports = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
    url = "nats://%s:%d" % (svc["metadata"]["name"], ports.get("client", 0))
    wrong = {n: c["TESSERA__BUS__URL"] for n, c in service_configs(docs).items() if c["TESSERA__BUS__URL"] != url}
    if ports != {"client": 4222, "monitor": 8222} or wrong:
        fail(problems, "%s: bus.url must be %s (the in-chart Service, ports 4222/8222): %s" % (name, url, wrong))
    for so in (d for d in docs if d["kind"] == "ScaledObject"):
        endpoint = so["spec"]["triggers"][0]["metadata"]["natsServerMonitoringEndpoint"]
        if endpoint != "%s.tessera.svc:8222" % svc["metadata"]["name"]:
            fail(problems, "%s: KEDA's monitoring endpoint %s is not the in-chart Service's" % (name, endpoint))
    pod = sts["spec"]["template"]["spec"]
    c = pod["containers"][0]
    cm_name = [v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v]
    data = next((d["data"] for d in docs if d["kind"] == "ConfigMap" and [d["metadata"]["name"]] == cm_name), {})
    auth = "auth.conf" in data
    expected_main = ["include ./jetstream.conf"] + (["include ./auth.conf"] if auth else [])
    main = [ln.strip() for ln in data.get("nats.conf", "").splitlines() if ln.strip() and not ln.startswith("#")]
    if c.get("args") != ["--config", "/etc/nats/nats.conf"] or main != expected_main:
        fail(problems, "%s: nats-server must run /etc/nats/nats.conf = %s, not %s" % (name, expected_main, main))
    for key in ["jetstream.conf"] + (["auth.conf"] if auth else []):
        if data.get(key) != open(os.path.join(NATS_DIR, key)).read():
            fail(problems, "%s: the nats ConfigMap's %s differs from deploy/nats/%s (copy it to "
                           "helm/tessera/files/nats/)" % (name, key, key))
    if auth:
        wanted = set(re.findall(r"\$(TESSERA_[A-Z0-9_]+)", open(os.path.join(NATS_DIR, "auth.conf")).read()))
        have = {e["name"] for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}
        if wanted != have:
            fail(problems, "%s: nats-server's password variables %s, auth.conf reads %s"
                 % (name, sorted(have), sorted(wanted)))
    probe = c.get("readinessProbe", {}).get("httpGet", {})
    claims = [t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates", [])]
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    if probe.get("path") != "/healthz?js-enabled-only=true" or mounts.get("/data") not in claims:
        fail(problems, "%s: nats-server needs the readiness probe /healthz?js-enabled-only=true and "
                       "/data on a volumeClaimTemplate" % name)
    selected_by_services_policy(name, docs, "nats", sts["spec"]["template"]["metadata"]["labels"], problems)
    conf_dir = os.path.join(outdir, name + "-nats")
    os.makedirs(conf_dir, exist_ok=True)
    for key, text in data.items():
        with open(os.path.join(conf_dir, key), "w") as f:
            f.write(text)
    print("ok   %s: in-chart nats-server: bus.url %s, config = deploy/nats/jetstream.conf%s"
          % (name, url, " + auth.conf (%d password variables)" % len(wanted) if auth else ""))


def check_in_chart_redis(name, docs, problems):
    """redis.install: the embedders' cache.url is the in-chart Service's; no persistence, LRU."""
    dep, svc = in_chart(docs, "Deployment", "redis")
    if dep is None:
        return
    if svc is None:
        fail(problems, "%s: no single Service selects the redis Deployment" % name)
        return
    url = "redis://%s:%d/0" % (svc["metadata"]["name"], svc["spec"]["ports"][0]["port"])
    caches = {n: c.get("TESSERA__CACHE__URL") for n, c in service_configs(docs).items()
              if n.endswith("-embedder")}
    args = dep["spec"]["template"]["spec"]["containers"][0].get("args", [])
    flags = dict(zip(args[::2], args[1::2])) if len(args) % 2 == 0 else {}
    if not caches or set(caches.values()) != {url}:
        fail(problems, "%s: the embedders' cache.url must be %s: %s" % (name, url, caches))
    elif flags.get("--save") != "" or flags.get("--appendonly") != "no" \
            or flags.get("--maxmemory-policy") != "allkeys-lru" or "--maxmemory" not in flags:
        fail(problems, "%s: in-chart Redis must run without persistence, with maxmemory and "
                       "allkeys-lru (compose.yaml): %s" % (name, args))
    elif not selected_by_services_policy(name, docs, "redis", dep["spec"]["template"]["metadata"]["labels"], problems):
        print("ok   %s: in-chart Redis: cache.url %s, maxmemory %s allkeys-lru%s"
              % (name, url, flags["--maxmemory"], ", password" if "--requirepass" in flags else ""))


def main():
    chart, outdir, sets = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(outdir, exist_ok=True)
    problems = []
    for name, path in [("default", None)] + [s.split("=", 1) for s in sets]:
        values = yaml.safe_load(open(path)) if path else {}
        report = helm.lint(chart, values, strict=True, namespace="tessera", kube_version="v1.33.0")
        bad = [m for m in report["messages"] if m["severity"] >= 2] + report.get("errors", [])
        if bad:
            fail(problems, "%s: helm lint --strict: %s" % (name, bad))
        else:
            print("ok   %s: helm lint --strict" % name)
        try:
            out = helm.Chart.load(chart).render(values, name="tessera", namespace="tessera", is_install=True)
        except helm.HelmError as e:
            fail(problems, "%s: helm template: %s" % (name, e))
            continue
        text = "".join("---\n# Source: %s\n%s\n" % (p, out[p].strip()) for p in sorted(out)
                       if out[p].strip() and not p.endswith("NOTES.txt"))
        with open(os.path.join(outdir, name + ".yaml"), "w") as f:
            f.write(text)
        docs = [d for d in yaml.safe_load_all(text) if d]
        print("ok   %s: helm template (%d objects: %s)" % (
            name, len(docs), ", ".join(sorted({d["kind"] for d in docs}))))
        check_rendering(name, docs, problems, outdir)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
