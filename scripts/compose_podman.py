"""Turns one service of compose.yaml into `podman run` arguments, so that scripts/check_images.sh
runs each container with exactly compose.yaml's settings: environment, health check, user,
read-only root, tmpfs, dropped capabilities, security options, and command.

Reads the output of `docker-compose -f compose.yaml config --format json` (interpolated, anchors
merged) on stdin:

    python3 scripts/compose_podman.py run-args SERVICE   # NUL-separated podman run flags
    python3 scripts/compose_podman.py command SERVICE    # NUL-separated command (may be empty)
    python3 scripts/compose_podman.py interval SERVICE   # the health check interval in seconds

Ports, volumes, images and depends_on are left to the caller.
"""
import json
import re
import sys

UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "ns": 1e-9}


def seconds(duration):
    """A compose duration ("1m30s", "10s", "500ms") in seconds."""
    parts = re.findall(r"([0-9.]+)(h|ms|m|s|us|ns)", str(duration))
    if not parts:
        raise SystemExit("compose_podman: cannot read the duration %r" % (duration,))
    return sum(float(n) * UNITS[u] for n, u in parts)


def health_args(check):
    test = check.get("test")
    if not test or test == ["NONE"]:
        return []
    if isinstance(test, str):
        cmd = test
    elif test[0] == "CMD":
        cmd = json.dumps(test[1:])  # a JSON array: podman runs it without a shell
    elif test[0] == "CMD-SHELL":
        cmd = test[1]
    else:
        raise SystemExit("compose_podman: unknown health check form %r" % (test,))
    out = ["--health-cmd", cmd]
    for key, flag in (("interval", "--health-interval"), ("timeout", "--health-timeout"),
                      ("start_period", "--health-start-period")):
        if key in check:
            out += [flag, "%gs" % seconds(check[key])]
    if "retries" in check:
        out += ["--health-retries", str(check["retries"])]
    return out


def run_args(s):
    out = []
    for key, value in sorted((s.get("environment") or {}).items()):
        out += ["--env", "%s=%s" % (key, "" if value is None else value)]
    out += health_args(s.get("healthcheck") or {})
    if s.get("user"):
        out += ["--user", str(s["user"])]
    if s.get("read_only"):
        out.append("--read-only")
    for t in s.get("tmpfs") or []:
        out += ["--tmpfs", t]
    for cap in s.get("cap_drop") or []:
        out += ["--cap-drop", cap]
    for opt in s.get("security_opt") or []:
        # compose writes "no-new-privileges:true"; podman wants "no-new-privileges"
        out += ["--security-opt", "no-new-privileges" if opt.startswith("no-new-privileges") else opt]
    return out


def main(argv):
    if len(argv) != 3 or argv[1] not in ("run-args", "command", "interval"):
        raise SystemExit(__doc__)
    services = json.load(sys.stdin)["services"]
    if argv[2] not in services:
        raise SystemExit("compose_podman: compose.yaml has no service %r" % argv[2])
    s = services[argv[2]]
    if argv[1] == "interval":
        print("%g" % seconds((s.get("healthcheck") or {}).get("interval", "30s")))
        return
    items = run_args(s) if argv[1] == "run-args" else list(s.get("command") or [])
    sys.stdout.write("".join(i + "\0" for i in items))


if __name__ == "__main__":
    main(sys.argv)
