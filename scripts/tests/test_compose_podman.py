"""Checks for scripts/compose_podman.py: compose.yaml's settings become the right podman flags.

    python3 -m unittest discover -s scripts/tests -v
"""
import io
import json
import os
import sys
import unittest
from unittest import mock

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, SCRIPTS)
import compose_podman  # noqa: E402

SERVICE = {
    "environment": {"TESSERA__BUS__URL": "nats://nats:4222", "OTEL_EXPORTER_OTLP_ENDPOINT": None},
    "healthcheck": {"test": ["CMD", "/usr/local/bin/tessera-ingest", "--health",
                             "http://127.0.0.1:9090/readyz"],
                    "interval": "1m30s", "timeout": "3s", "retries": 6, "start_period": "500ms"},
    "user": "65532:65532",
    "read_only": True,
    "tmpfs": ["/tmp"],
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "command": ["--config", "/etc/x.conf"],
}


def run(mode, service=SERVICE):
    stdin = io.StringIO(json.dumps({"services": {"s": service}}))
    out = io.StringIO()
    with mock.patch.object(sys, "stdin", stdin), mock.patch.object(sys, "stdout", out):
        compose_podman.main(["compose_podman.py", mode, "s"])
    return out.getvalue()


class ComposePodmanTest(unittest.TestCase):
    def test_run_args_carry_environment_health_and_hardening(self):
        args = run("run-args").split("\0")[:-1]
        self.assertEqual(args[:4], ["--env", "OTEL_EXPORTER_OTLP_ENDPOINT=",
                                    "--env", "TESSERA__BUS__URL=nats://nats:4222"])
        i = args.index("--health-cmd")
        # a JSON array: podman runs it without a shell, as compose's CMD form does
        self.assertEqual(json.loads(args[i + 1]), SERVICE["healthcheck"]["test"][1:])
        flags = dict(zip(args[i + 2::2], args[i + 3::2]))
        self.assertEqual(flags["--health-interval"], "90s")
        self.assertEqual(flags["--health-start-period"], "0.5s")
        self.assertEqual(flags["--health-retries"], "6")
        for expected in (["--user", "65532:65532"], ["--tmpfs", "/tmp"], ["--cap-drop", "ALL"],
                         ["--security-opt", "no-new-privileges"]):
            self.assertIn(expected, [args[j:j + 2] for j in range(len(args) - 1)])
        self.assertIn("--read-only", args)

    def test_command_and_interval(self):
        self.assertEqual(run("command"), "--config\0/etc/x.conf\0")
        self.assertEqual(run("interval").strip(), "90")
        self.assertEqual(run("command", {}), "")

    def test_shell_form_and_bad_durations(self):
        s = dict(SERVICE, healthcheck={"test": ["CMD-SHELL", "redis-cli ping"]})
        self.assertIn("--health-cmd\0redis-cli ping\0", run("run-args", s))
        with self.assertRaises(SystemExit):
            compose_podman.seconds("soon")


if __name__ == "__main__":
    unittest.main()
