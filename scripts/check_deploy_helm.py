"""Lints and renders helm/tessera offline through the Helm 4 Go SDK (PyPI helm-python-sdk), for
scripts/check_deploy.sh. Run it with the deploy venv's Python:

    python scripts/check_deploy_helm.py CHART OUTDIR [NAME=VALUES.yaml ...]

For each NAME (plus `default`, the chart's own values) it runs `helm lint --strict` and writes the
rendering to OUTDIR/NAME.yaml, for kubernetes-validate. kubernetes-validate has no schema for
CRDs, so the KEDA ScaledObject is checked here instead, against the fields KEDA documents for
its nats-jetstream trigger. It also checks what the chart promises whatever the values:
ingest and clusterer run exactly one replica, every container runs as non-root with a read-only
root file system and no capabilities. Exit status 1 on any failure.
"""
import os
import sys

import helm_python as helm
import yaml

KEDA_TRIGGER_KEYS = {"natsServerMonitoringEndpoint", "account", "stream", "consumer", "lagThreshold",
                     "activationLagThreshold", "useHttps"}
KEDA_SPEC_KEYS = {"scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval",
                  "cooldownPeriod", "triggers", "advanced", "fallback", "idleReplicaCount"}


def fail(problems, what):
    problems.append(what)
    print("FAIL %s" % what)


def check_rendering(name, docs, problems):
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for dname, d in deployments.items():
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
        check_rendering(name, docs, problems)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
