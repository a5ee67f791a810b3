#!/usr/bin/env python3
"""What each target of deploy/docker/Dockerfile puts in its image, read from the Dockerfile.

    python3 scripts/dockerfile_stages.py expect TARGET [BINARIES]   # JSON: entrypoint, user, files

`files` are the binaries the target copies into /usr/local/bin from stage `binaries`, which is
stage `build` (compiled from source) or stage `prebuilt` (the `tessera-bin` build context),
as the build argument BINARIES chooses. scripts/check_images.sh compares the images it built
with this; scripts/tests/test_dockerfile.py checks that both choices give the same images.
"""
import json
import os
import re
import shlex
import sys

DOCKERFILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "deploy", "docker", "Dockerfile")


def instructions(text):
    """[(INSTRUCTION, rest)] with continuation lines joined and comments dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        if not cur and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        word, _, rest = cur.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        cur = ""
    return out


class Dockerfile:
    def __init__(self, text):
        self.args, self.stages, self.order = {}, {}, []
        stage = None
        for ins, rest in instructions(text):
            if ins == "ARG" and stage is None:
                name, _, default = rest.partition("=")
                self.args[name] = default
            elif ins == "FROM":
                m = re.match(r"(\S+)\s+AS\s+(\S+)$", rest, re.I)
                base, name = (m.group(1), m.group(2)) if m else (rest, None)
                stage = {"base": base, "copies": [], "entrypoint": None, "user": None, "run": []}
                self.stages[name] = stage
                self.order.append(name)
            elif stage is not None:
                if ins == "COPY":
                    self._copy(stage, rest)
                elif ins == "ENTRYPOINT":
                    stage["entrypoint"] = json.loads(rest)
                elif ins == "USER":
                    stage["user"] = rest
                elif ins == "RUN":
                    stage["run"].append(rest)

    @staticmethod
    def _copy(stage, rest):
        words = shlex.split(rest)
        src_from = None
        while words and words[0].startswith("--"):
            flag = words.pop(0)
            if flag.startswith("--from="):
                src_from = flag.split("=", 1)[1]
        stage["copies"].append({"from": src_from, "sources": words[:-1], "dest": words[-1]})

    def resolve(self, name, binaries):
        """The FROM chain of a stage, the stage itself first; ARG references expanded."""
        chain = []
        while name in self.stages:
            chain.append(name)
            base = self.stages[name]["base"]
            name = base.replace("${BINARIES}", binaries)
        return chain

    def stage_outputs(self, name):
        """The binaries a binaries-providing stage leaves in /out."""
        s = self.stages[name]
        out = []
        for c in s["copies"]:
            if c["dest"].rstrip("/") == "/out":
                out += [os.path.basename(p) for p in c["sources"]]
        for r in s["run"]:
            m = re.search(r"for b in ([^;]+); do\s+cp \"target/\$\{dir\}/\$\{b\}\" /out/", r)
            if m:
                out += m.group(1).split()
        return sorted(out)

    def expect(self, target, binaries=None):
        """entrypoint, user and /usr/local/bin files of `target` with BINARIES=`binaries`."""
        binaries = binaries or self.args.get("BINARIES", "build")
        provider = self.resolve("binaries", binaries)[1]
        available = set(self.stage_outputs(provider))
        files, entrypoint, user = [], None, None
        for name in self.resolve(target, binaries):
            s = self.stages[name]
            entrypoint = entrypoint if entrypoint is not None else s["entrypoint"]
            user = user if user is not None else s["user"]
            for c in s["copies"]:
                if c["from"] == "binaries":
                    for src in c["sources"]:
                        b = os.path.basename(src)
                        if b not in available:
                            raise ValueError("%s copies %s, which stage %s does not make" % (target, b, provider))
                        files.append(b)
        return {"entrypoint": entrypoint, "user": user, "files": sorted(files), "binaries_from": provider}


def load(path=DOCKERFILE):
    with open(path) as f:
        return Dockerfile(f.read())


def main(argv):
    if len(argv) < 3 or argv[1] != "expect":
        sys.exit("usage: dockerfile_stages.py expect TARGET [BINARIES]")
    print(json.dumps(load().expect(argv[2], argv[3] if len(argv) > 3 else None)))


if __name__ == "__main__":
    main(sys.argv)
