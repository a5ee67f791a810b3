"""deploy/docker/Dockerfile gives the same images whether the binaries are compiled in its own
`build` stage (users, `docker compose build`) or taken prebuilt (CI's scripts/check_images.sh):
the same entrypoint, user and binaries in every runtime target.

    python3 -m unittest discover -s scripts/tests -v
"""
import os
import sys
import unittest

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, SCRIPTS)
import dockerfile_stages  # noqa: E402

TARGETS = ["ingest", "embedder", "clusterer", "publisher", "decider", "dashboard", "cli",
           "embedder-cuda"]


class DockerfileTest(unittest.TestCase):
    def setUp(self):
        self.d = dockerfile_stages.load()

    def test_both_stages_make_the_same_binaries(self):
        built = self.d.stage_outputs("build")
        self.assertEqual(built, self.d.stage_outputs("prebuilt"))
        self.assertIn("tessera", built)
        self.assertEqual(len(built), 7, built)

    def test_users_build_from_source_by_default(self):
        self.assertEqual(self.d.args.get("BINARIES"), "build")
        self.assertEqual(self.d.expect("cli")["binaries_from"], "build")

    def test_every_target_is_the_same_either_way(self):
        for t in TARGETS:
            src = self.d.expect(t, "build")
            pre = self.d.expect(t, "prebuilt")
            self.assertEqual(src["binaries_from"], "build")
            self.assertEqual(pre["binaries_from"], "prebuilt")
            for key in ("entrypoint", "user", "files"):
                self.assertEqual(src[key], pre[key], "%s: %s differs" % (t, key))
            self.assertEqual(src["user"], "65532:65532", t)
            self.assertEqual(len(src["files"]), 1, t)
            self.assertEqual(src["entrypoint"], ["/usr/local/bin/" + src["files"][0]], t)

    def test_a_copy_of_a_binary_no_stage_makes_is_caught(self):
        text = open(dockerfile_stages.DOCKERFILE).read().replace(
            "COPY --from=binaries /out/tessera-ingest", "COPY --from=binaries /out/tessera-nothing")
        with self.assertRaises(ValueError):
            dockerfile_stages.Dockerfile(text).expect("ingest", "prebuilt")


if __name__ == "__main__":
    unittest.main()
