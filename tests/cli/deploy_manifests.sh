#!/usr/bin/env bash
# tests/cli/deploy_manifests.sh — the container and Kubernetes files under
# deploy/ agree with the binary. No container engine or cluster runs here, so
# they are parsed and checked, not run:
#   - every YAML file under deploy/ parses (every document of it);
#   - every fraudwatch container (Kubernetes workloads, compose services) runs
#     `run` or `console` with options that command's --help lists, each given
#     its value, and environment names its --help lists (--kafka-config's
#     KAFKA_* names too), from Secrets and ConfigMaps that exist with that key;
#   - ports: containerPorts, probes, Services' targetPorts, compose's published
#     ports and healthchecks, Prometheus annotations, the console's --engines
#     URLs and Prometheus's targets all name the --metrics-port (engine) or
#     --port (console) given, and that port listens beyond 127.0.0.1;
#   - probes: the engine's liveness is /health and readiness /ready, the
#     console's /health; a StatefulSet's engines take the pod name as
#     FW_INSTANCE_ID (downward API) and its serviceName is a headless Service;
#   - the engine has a memory limit and --max-memory below it; the autoscaler
#     targets an engine workload, reads a metric docs/monitoring.md lists and
#     stops at the partition count; the rules file a ConfigMap mounts for
#     --rules passes `fraudwatch rules check`;
#   - the Dockerfile: its build stage runs scripts/deps.sh and the CMake
#     build and install, its runtime stage is debian:12-slim with a non-root
#     user, ENTRYPOINT ["fraudwatch"], CMD ["run"], EXPOSE of exactly the ports
#     above, a HEALTHCHECK on /health, environment names `run --help` lists, and
#     a package for every shared library the binary links (readelf -d).
# Needs python3 with PyYAML (Debian: python3-yaml); without it: exit 77.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
ROOT="${FW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
fail() { echo "FAIL (deploy_manifests): $*" >&2; exit 1; }
command -v python3 >/dev/null ||
    { echo "SKIP: python3 is needed to parse the YAML under deploy/" >&2; exit 77; }
python3 -c 'import yaml' 2>/dev/null ||
    { echo "SKIP: python3 has no yaml module (Debian: python3-yaml)" >&2; exit 77; }
[ -d "$ROOT/deploy" ] || fail "no deploy/ under $ROOT"
"$FW_BIN" run --help >/dev/null 2>&1 || fail "fraudwatch run --help failed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 - "$ROOT" "$FW_BIN" "$tmp" <<'PY'
import glob, os, re, shlex, shutil, subprocess, sys
from urllib.parse import urlsplit
import yaml

root, fw, tmp = sys.argv[1:4]
fails, skipped = [], []


def fail(msg):
    fails.append(msg)


def ok(msg):
    print("ok: " + msg)


def rel(path):
    return os.path.relpath(path, root)


# ---- what the binary accepts: `fraudwatch CMD --help` ----------------------
def help_of(cmd):
    text = subprocess.run([fw, cmd, "--help"], capture_output=True, text=True).stdout
    opts = {}   # flag -> (takes a value, canonical flag, default or None)
    paras, cur = [], None
    for line in text.splitlines():
        m = re.match(r" {2,6}(-\S.*)$", line)
        if m:
            cur = [m.group(1)]
            paras.append(cur)
        elif cur is not None and re.match(r" {20,}\S", line):
            cur.append(line.strip())
        else:
            cur = None
    for para in paras:
        spec = re.split(r"\s{2,}", para[0].strip())[0]
        parts = [p.split() for p in spec.split(", ")]
        takes = any(len(p) > 1 for p in parts)
        longs = [p[0] for p in parts if p[0].startswith("--")]
        canon = longs[0] if longs else parts[0][0]
        d = re.search(r"\(default ([^;)]*)", " ".join(para))
        for p in parts:
            opts[p[0]] = (takes, canon, d.group(1).strip() if d else None)
    flat = " ".join(text.split())
    envs = set()
    for m in re.finditer(r"\benv ([A-Z][A-Z0-9_]*(?:, [A-Z][A-Z0-9_]*)*)\)", flat):
        envs.update(m.group(1).split(", "))
    # --kafka-config: "KAFKA_SECURITY_PROTOCOL, ... set the matching property"
    m = re.search(r"separated by ';'\)\. (.*?) set the matching property", flat)
    if m:
        envs.update(re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", m.group(1)))
    return opts, envs


HELP = {c: help_of(c) for c in ("run", "console")}
for cmd, must_opt, must_env in (
        ("run", ["--instance-id", "--metrics-port", "--rules", "--max-memory"],
         ["FW_INSTANCE_ID", "FW_METRICS_PORT", "KAFKA_SASL_PASSWORD"]),
        ("console", ["--database-url", "--port", "--bind"],
         ["FW_DATABASE_URL", "KAFKA_SASL_USERNAME"])):
    opts, envs = HELP[cmd]
    missing = [o for o in must_opt if o not in opts] + [e for e in must_env if e not in envs]
    if missing or len(opts) < 10:
        print("FAIL (deploy_manifests): cannot read `fraudwatch %s --help` "
              "(%d options, %d env names; missing %s)" % (cmd, len(opts), len(envs), missing),
              file=sys.stderr)
        sys.exit(1)
print("read: run --help: %d options, %d env names; console --help: %d options, %d env names"
      % (len(HELP["run"][0]), len(HELP["run"][1]),
         len(HELP["console"][0]), len(HELP["console"][1])))


def parse_argv(where, argv):
    """argv after the binary: (command, {canonical flag: value}) or None."""
    if not argv:
        argv = ["run"]   # the image's CMD
    cmd = argv[0]
    if cmd not in HELP:
        fail("%s: runs `fraudwatch %s`, expected run or console" % (where, cmd))
        return None
    opts = HELP[cmd][0]
    vals, i = {}, 1
    while i < len(argv):
        a = str(argv[i])
        name, eq, val = a.partition("=") if a.startswith("--") else (a, "", "")
        if not a.startswith("-") or a == "-":
            fail("%s: stray argument %r to `fraudwatch %s`" % (where, a, cmd))
        elif name not in opts:
            fail("%s: `fraudwatch %s` has no option %s (see fraudwatch %s --help)"
                 % (where, cmd, name, cmd))
            if not eq and i + 1 < len(argv) and not str(argv[i + 1]).startswith("-"):
                i += 1   # its value, most likely
        elif opts[name][0]:
            if not eq:
                if i + 1 >= len(argv) or str(argv[i + 1]).startswith("--"):
                    fail("%s: %s needs a value" % (where, name))
                else:
                    i += 1
                    val = str(argv[i])
            vals[opts[name][1]] = val
        elif eq:
            fail("%s: %s takes no value" % (where, name))
        else:
            vals[opts[name][1]] = True
        i += 1
    return cmd, vals


def check_env_names(where, cmd, names):
    envs = HELP[cmd][1]
    for n in names:
        if n not in envs:
            fail("%s: environment name %s is not one `fraudwatch %s --help` lists"
                 % (where, n, cmd))


def setting(cmd, vals, env, flag, env_names, image_env):
    """A flag wins over the environment, the environment over the image's."""
    if flag in vals:
        return vals[flag]
    for e in env_names:
        if e in env:
            return env[e]
    for e in env_names:
        if e in image_env:
            return image_env[e]
    return HELP[cmd][0][flag][2]


def fw_ports(cmd, vals, env, image_env):
    """(port, bind address) the command's HTTP server listens on."""
    if cmd == "run":
        port = setting(cmd, vals, env, "--metrics-port", ["FW_METRICS_PORT", "METRICS_PORT"],
                       image_env)
        bind = setting(cmd, vals, env, "--metrics-bind", ["FW_METRICS_BIND", "METRICS_BIND"],
                       image_env)
    else:
        port = setting(cmd, vals, env, "--port", ["FW_CONSOLE_PORT", "CONSOLE_PORT"], image_env)
        bind = setting(cmd, vals, env, "--bind", ["FW_CONSOLE_BIND"], image_env)
    m = re.match(r"\d+", str(port or ""))
    return (int(m.group(0)) if m else 0), str(bind or "").split()[0:1]


def check_listen(where, cmd, port, bind):
    flag = "--metrics-port" if cmd == "run" else "--port"
    if not 0 < port < 65536:
        fail("%s: no %s: nothing for the probes and ports to reach" % (where, flag))
    if bind and bind[0] in ("127.0.0.1", "localhost", "::1"):
        fail("%s: listens on %s only: unreachable from outside the container" % (where, bind[0]))


# ---- every YAML file parses ------------------------------------------------
ymls = sorted(set(glob.glob(os.path.join(root, "deploy", "**", "*.yaml"), recursive=True)
                  + glob.glob(os.path.join(root, "deploy", "**", "*.yml"), recursive=True)))
docs = {}
for path in ymls:
    try:
        with open(path) as f:
            docs[path] = [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        fail("%s does not parse: %s" % (rel(path), " ".join(str(e).split())))
ok("%d YAML files under deploy/ parse (%d documents)"
   % (len(docs), sum(len(v) for v in docs.values())))

# ---- the Dockerfile --------------------------------------------------------
dockerfile = os.path.join(root, "deploy", "docker", "Dockerfile")
stages, image_env, expose, uid = [], {}, set(), None
if not os.path.isfile(dockerfile):
    fail("no deploy/docker/Dockerfile")
else:
    logical, cur = [], ""
    for line in open(dockerfile):
        s = line.rstrip("\n")
        if not cur and re.match(r"\s*#", s):
            continue
        if re.match(r"\s*#", s):   # a comment inside a continued instruction
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        if cur.strip():
            logical.append(cur.strip())
        cur = ""
    for ins in logical:
        word, _, rest = ins.partition(" ")
        word = word.upper()
        if word == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), re.I)
            stages.append({"image": m.group(1), "name": m.group(2), "ins": []})
        elif stages:
            stages[-1]["ins"].append((word, rest.strip()))
    if len(stages) < 2:
        fail("Dockerfile: %d stage(s), expected a build and a runtime stage" % len(stages))
    else:
        build, run_st = stages[0], stages[-1]

        def runs(stage):
            return " ".join(r for w, r in stage["ins"] if w == "RUN")

        for st in (build, run_st):
            if st["image"] != "debian:12-slim":
                fail("Dockerfile: a stage is FROM %s, expected debian:12-slim" % st["image"])
        b = runs(build)
        if not re.search(r"(^|[\s;&/])scripts/deps\.sh\b", b):
            fail("Dockerfile: the build stage does not run scripts/deps.sh")
        for want in (r"cmake -S \. -B build -DCMAKE_BUILD_TYPE=Release",
                     r"cmake --build build", r"cmake --install build --prefix /opt/fraudwatch"):
            if not re.search(want, b):
                fail("Dockerfile: the build stage does not run `%s`" % want.replace("\\", ""))
        copies = [r for w, r in run_st["ins"] if w == "COPY"]
        if not any(("--from=%s" % build["name"]) in c and "/opt/fraudwatch" in c
                   for c in copies):
            fail("Dockerfile: the runtime stage does not copy /opt/fraudwatch from the build")
        users = [r for w, r in run_st["ins"] if w == "USER"]
        if not users or users[-1].split(":")[0] in ("root", "0"):
            fail("Dockerfile: the runtime stage runs as root (USER %s)" % users)
        m = re.search(r"--uid (\d+)", runs(run_st))
        uid = int(m.group(1)) if m else None
        final = dict((w, r) for w, r in run_st["ins"])
        if final.get("ENTRYPOINT", "").replace(" ", "") != '["fraudwatch"]':
            fail("Dockerfile: ENTRYPOINT %s, expected [\"fraudwatch\"]" % final.get("ENTRYPOINT"))
        if final.get("CMD", "").replace(" ", "") != '["run"]':
            fail("Dockerfile: CMD %s, expected [\"run\"]" % final.get("CMD"))
        for w, r in run_st["ins"]:
            if w == "ENV":
                for k, v in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S*)", r):
                    image_env[k] = v
            elif w == "EXPOSE":
                expose.update(int(p.split("/")[0]) for p in r.split())
        check_env_names("Dockerfile ENV", "run",
                        [k for k in image_env if k not in ("PATH",)])
        hc = final.get("HEALTHCHECK", "")
        m = re.search(r"https?://[^/\s:]+:(\d+)(/\S*)", hc)
        if not m:
            fail("Dockerfile: no HEALTHCHECK asking http://HOST:PORT/health")
        else:
            img_port = int(image_env.get("FW_METRICS_PORT", "0"))
            if m.group(2) != "/health" or int(m.group(1)) != img_port:
                fail("Dockerfile: HEALTHCHECK asks :%s%s, the engine serves /health on "
                     "FW_METRICS_PORT=%s" % (m.group(1), m.group(2), img_port))
        # The runtime packages cover every library the binary links.
        pkgs = set()
        for w, r in run_st["ins"]:
            if w == "RUN":
                for m in re.finditer(r"apt-get install((?:\s+[-\w.+=]+)+)", r):
                    pkgs.update(t for t in m.group(1).split() if not t.startswith("-"))
        ldconfig = shutil.which("ldconfig") or ("/sbin/ldconfig"
                                                if os.path.exists("/sbin/ldconfig") else None)
        if not shutil.which("readelf") or not shutil.which("dpkg-query") or not ldconfig:
            skipped.append("readelf, ldconfig or dpkg-query missing: "
                           "runtime libraries not checked")
        else:
            dyn = subprocess.run(["readelf", "-d", fw], capture_output=True, text=True).stdout
            cache = subprocess.run([ldconfig, "-p"], capture_output=True, text=True).stdout
            # A sanitizer build's runtimes (ASan, UBSan) are not the release image's.
            needed = [lib for lib in re.findall(r"\(NEEDED\).*\[(.+)\]", dyn)
                      if not re.match(r"lib(a|ub|l|t|hwa)san\.so", lib)]
            for lib in needed:
                m = re.search(r"^\s*%s \(.*\) => (\S+)" % re.escape(lib), cache, re.M)
                owner = None
                if m:
                    for p in (m.group(1), os.path.realpath(m.group(1))):
                        q = subprocess.run(["dpkg-query", "-S", p], capture_output=True,
                                           text=True)
                        if q.returncode == 0:
                            owner = q.stdout.split(":")[0]
                            break
                if owner is None:
                    fail("%s links %s, whose Debian package was not found" % (fw, lib))
                elif owner != "libc6" and owner not in pkgs:
                    fail("Dockerfile: the runtime stage does not install %s (for %s)"
                         % (owner, lib))
            ok("Dockerfile: runtime packages cover the %d libraries the binary links (%s)"
               % (len(needed), " ".join(sorted(pkgs))))
    ignore = os.path.join(root, ".dockerignore")
    if not os.path.isfile(ignore) or not re.search(r"^build\b", open(ignore).read(), re.M):
        fail(".dockerignore (the build context's root) must keep build trees out")
    ok("Dockerfile: %d stages; build runs scripts/deps.sh; EXPOSE %s"
       % (len(stages), sorted(expose)))

# ---- Kubernetes ------------------------------------------------------------
k8s = [(p, d) for p, ds in docs.items() if "/deploy/kubernetes/" in p for d in ds]
objs = {}
for p, d in k8s:
    if not isinstance(d, dict) or not d.get("kind") or not d.get("apiVersion") \
            or not (d.get("metadata") or {}).get("name"):
        fail("%s: a document without apiVersion, kind or metadata.name" % rel(p))
        continue
    objs[(d["kind"], d["metadata"]["name"])] = (p, d)


def keys_of(kind, name):
    o = objs.get((kind, name))
    if not o:
        return None
    return set((o[1].get("data") or {})) | set((o[1].get("stringData") or {}))


def pod_spec(d):
    spec = d.get("spec") or {}
    if d["kind"] == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    t = spec.get("template")
    return (t.get("metadata") or {}, t.get("spec") or {}) if isinstance(t, dict) else None


def resolve_port(container, port):
    for cp in container.get("ports") or []:
        if port == cp.get("name") or port == cp.get("containerPort"):
            return cp.get("containerPort")
    return port if isinstance(port, int) else None


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


engines, consoles = [], []   # (where, kind, name, labels, container, vals, port, env)
workloads = []
for (kind, name), (p, d) in objs.items():
    ps = pod_spec(d)
    if not ps:
        continue
    meta, spec = ps
    labels = meta.get("labels") or {}
    workloads.append((kind, name, labels, spec, d, meta))
    for c in spec.get("containers") or []:
        if "fraudwatch" not in str(c.get("image", "")):
            continue
        where = "%s: %s/%s container %s" % (rel(p), kind, name, c.get("name"))
        argv = [str(a) for a in (c.get("command") or [])] + [str(a) for a in c.get("args") or []]
        if c.get("command"):
            if os.path.basename(argv[0]) != "fraudwatch":
                fail("%s: command %s does not start with fraudwatch" % (where, argv[0]))
            argv = argv[1:]
        parsed = parse_argv(where, argv)
        if not parsed:
            continue
        cmd, vals = parsed
        env = {}
        for e in c.get("env") or []:
            env[e["name"]] = e.get("value")
            ref = (e.get("valueFrom") or {})
            for rk, kind2 in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                if rk in ref:
                    keys = keys_of(kind2, ref[rk].get("name"))
                    if keys is None or ref[rk].get("key") not in keys:
                        fail("%s: %s from %s %s key %s, not in the manifests"
                             % (where, e["name"], kind2, ref[rk].get("name"), ref[rk].get("key")))
        for ef in c.get("envFrom") or []:
            for rk, kind2 in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                if rk in ef:
                    keys = keys_of(kind2, ef[rk].get("name"))
                    if keys is None:
                        fail("%s: envFrom %s %s is not in the manifests"
                             % (where, kind2, ef[rk].get("name")))
                    for k in keys or ():
                        env[k] = None
        check_env_names(where, cmd, env)
        port, bind = fw_ports(cmd, vals, env, image_env)
        check_listen(where, cmd, port, bind)
        for cp in c.get("ports") or []:
            if cp.get("containerPort") != port:
                fail("%s: containerPort %s, but it listens on %s"
                     % (where, cp.get("containerPort"), port))
        want = {"livenessProbe": "/health",
                "readinessProbe": "/ready" if cmd == "run" else "/health",
                "startupProbe": "/health"}
        for probe, path in want.items():
            pr = c.get(probe)
            if pr is None:
                if probe != "startupProbe":
                    fail("%s: no %s" % (where, probe))
                continue
            hg = pr.get("httpGet") or {}
            if hg.get("path") != path:
                fail("%s: %s asks %s, expected %s" % (where, probe, hg.get("path"), path))
            if resolve_port(c, hg.get("port")) != port:
                fail("%s: %s on port %s, it listens on %s" % (where, probe, hg.get("port"), port))
        ann = (meta.get("annotations") or {}).get("prometheus.io/port")
        if ann is not None and int(ann) != port:
            fail("%s: prometheus.io/port %s, metrics on %s" % (where, ann, port))
        if expose and port not in expose:
            fail("%s: port %s is not one the Dockerfile EXPOSEs %s"
                 % (where, port, sorted(expose)))
        sc = dict(spec.get("securityContext") or {}, **(c.get("securityContext") or {}))
        if uid is not None and sc.get("runAsUser") not in (None, uid):
            fail("%s: runAsUser %s, the image's user is %s" % (where, sc.get("runAsUser"), uid))
        if sc.get("runAsNonRoot") is not True:
            fail("%s: runAsNonRoot is not set" % where)
        # Volumes: ConfigMaps and Secrets that exist, with the keys mounted.
        vols = {v["name"]: v for v in spec.get("volumes") or []}
        mounts = {m["mountPath"].rstrip("/"): m["name"] for m in c.get("volumeMounts") or []}
        for mp, vn in mounts.items():
            if vn not in vols:
                fail("%s: volumeMount %s of no volume %s" % (where, mp, vn))
        entry = (where, kind, name, labels, c, vals, port, env, spec)
        (engines if cmd == "run" else consoles).append(entry)
        if cmd == "console":
            continue
        # --rules: a file of a mounted ConfigMap, checked by `fraudwatch rules check`.
        rules = setting(cmd, vals, env, "--rules", ["FW_RULES", "RULES_FILE"], image_env)
        if rules and rules != "built-in defaults":
            d_, base = os.path.dirname(rules), os.path.basename(rules)
            vol = vols.get(mounts.get(d_))
            cm = (vol or {}).get("configMap")
            if not cm:
                fail("%s: --rules %s is not in a mounted ConfigMap" % (where, rules))
            else:
                key = base
                for it in cm.get("items") or []:
                    if it.get("path") == base:
                        key = it.get("key")
                o = objs.get(("ConfigMap", cm.get("name")))
                text = ((o or (None, {}))[1].get("data") or {}).get(key)
                if text is None:
                    fail("%s: ConfigMap %s has no %s for --rules" % (where, cm.get("name"), key))
                else:
                    rf = os.path.join(tmp, "rules-%s.json" % cm.get("name"))
                    open(rf, "w").write(text)
                    q = subprocess.run([fw, "rules", "check", rf], capture_output=True,
                                       text=True)
                    if q.returncode != 0:
                        fail("%s: ConfigMap %s's %s fails `fraudwatch rules check`: %s"
                             % (where, cm.get("name"), key, (q.stdout + q.stderr).strip()))
                    else:
                        ok("ConfigMap %s's %s passes `fraudwatch rules check`"
                           % (cm.get("name"), key))
        # Memory: a limit, and --max-memory below it.
        limit = ((c.get("resources") or {}).get("limits") or {}).get("memory")
        mm = setting(cmd, vals, env, "--max-memory", ["FW_MAX_MEMORY"], image_env)
        units = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}

        def size(s, binary):
            m = re.fullmatch(r"([0-9.]+)([KMG]i?)?", str(s))
            if not m:
                return None
            u = m.group(2) or ""
            if binary and u in ("K", "M", "G"):   # --max-memory's 4G is 4 GiB
                u += "i"
            return float(m.group(1)) * units[u]

        if not limit:
            fail("%s: no memory limit (resources.limits.memory)" % where)
        elif str(mm).endswith("%"):
            if not 0 < float(str(mm)[:-1]) < 100:
                fail("%s: --max-memory %s is not a share below the limit" % (where, mm))
        elif size(mm, True) is None or not 0 < size(mm, True) < size(limit, False):
            fail("%s: --max-memory %s is not below the memory limit %s" % (where, mm, limit))
        if kind == "StatefulSet":
            iid = [e for e in c.get("env") or [] if e["name"] == "FW_INSTANCE_ID"]
            ref = iid and ((iid[0].get("valueFrom") or {}).get("fieldRef") or {})
            if "--instance-id" in vals or not ref or ref.get("fieldPath") != "metadata.name":
                fail("%s: FW_INSTANCE_ID must be the pod's name (fieldRef metadata.name)" % where)

for kind, name, labels, spec, d, meta in workloads:
    if kind == "StatefulSet":
        svc = objs.get(("Service", (d.get("spec") or {}).get("serviceName")))
        if not svc or (svc[1].get("spec") or {}).get("clusterIP") != "None":
            fail("StatefulSet %s: serviceName %s is not a headless Service of the manifests"
                 % (name, (d.get("spec") or {}).get("serviceName")))
    sel = (((d.get("spec") or {}).get("selector") or {}).get("matchLabels")) or {}
    if not matches(sel, labels):
        fail("%s %s: its selector does not match its pods' labels" % (kind, name))

pods = engines + consoles
for (kind, name), (p, d) in objs.items():
    spec = d.get("spec") or {}
    if kind == "Service":
        sel = spec.get("selector") or {}
        chosen = [e for e in pods if matches(sel, e[3])]
        if not chosen:
            fail("Service %s selects no fraudwatch pod (%s)" % (name, sel))
        for sp in spec.get("ports") or []:
            tp = sp.get("targetPort", sp.get("port"))
            for e in chosen:
                if resolve_port(e[4], tp) != e[6]:
                    fail("Service %s: port %s targets %s, %s listens on %s"
                         % (name, sp.get("port"), tp, e[0], e[6]))
    elif kind == "PodDisruptionBudget":
        sel = (spec.get("selector") or {}).get("matchLabels") or {}
        if not any(matches(sel, e[3]) for e in pods):
            fail("PodDisruptionBudget %s selects no fraudwatch pod" % name)
    elif kind == "HorizontalPodAutoscaler":
        ref = spec.get("scaleTargetRef") or {}
        target = [e for e in engines if (e[1], e[2]) == (ref.get("kind"), ref.get("name"))]
        if not target:
            fail("HorizontalPodAutoscaler %s: scales %s %s, not an engine of the manifests"
                 % (name, ref.get("kind"), ref.get("name")))
        else:
            e = target[0]
            parts = setting("run", e[5], e[7], "--partitions", ["FW_PARTITIONS"], image_env)
            if int(spec.get("maxReplicas", 0)) > int(parts):
                fail("HorizontalPodAutoscaler %s: maxReplicas %s beyond the %s partitions"
                     % (name, spec.get("maxReplicas"), parts))
        mon = open(os.path.join(root, "docs", "monitoring.md")).read()
        for m in spec.get("metrics") or []:
            mn = (((m.get(m.get("type", "").lower()) or {}).get("metric")) or {}).get("name")
            if mn and mn.startswith("fraudwatch_") and "`%s" % mn not in mon:
                fail("HorizontalPodAutoscaler %s: metric %s is not in docs/monitoring.md"
                     % (name, mn))


def check_engine_urls(where, urls, hosts):
    """--engines URLs: hosts -> the metrics port of that engine."""
    for u in filter(None, (x.strip() for x in str(urls).split(","))):
        s = urlsplit(u)
        if s.hostname not in hosts:
            fail("%s: --engines %s names no engine of the manifests" % (where, u))
        elif s.port != hosts[s.hostname] or s.path != "/metrics":
            fail("%s: --engines %s, the engine serves :%s/metrics"
                 % (where, u, hosts[s.hostname]))


hosts = {}
for e in engines:
    d = objs[(e[1], e[2])][1]
    svc = (d.get("spec") or {}).get("serviceName")
    for i in range(int((d.get("spec") or {}).get("replicas", 1))):
        if svc:
            hosts["%s-%d.%s" % (e[2], i, svc)] = e[6]
for c in consoles:
    if "--engines" in c[5]:
        check_engine_urls(c[0], c[5]["--engines"], hosts)
if k8s:
    ok("kubernetes: %d objects; %d engine and %d console containers: options, environment, "
       "ports, probes, Services, budget, autoscaler" % (len(objs), len(engines), len(consoles)))

# ---- compose ---------------------------------------------------------------
compose_path = os.path.join(root, "deploy", "docker", "compose.yaml")
cdir = os.path.dirname(compose_path)
services = ((docs.get(compose_path) or [{}])[0] or {}).get("services") or {}
if not services:
    fail("deploy/docker/compose.yaml: no services")
c_engines, c_consoles = {}, {}
for sname, s in services.items():
    where = "compose.yaml: service %s" % sname
    for dep in (s.get("depends_on") or []):
        if dep not in services:
            fail("%s: depends on %s, no such service" % (where, dep))
    for v in s.get("volumes") or []:
        src = v.split(":")[0] if isinstance(v, str) else (v.get("source") or "")
        if src.startswith((".", "/")):
            full = os.path.normpath(os.path.join(cdir, src))
            if not full.startswith(root + os.sep):
                fail("%s: mounts %s, outside the repository" % (where, src))
            elif not os.path.exists(full):
                fail("%s: mounts %s, which does not exist" % (where, rel(full)))
    b = s.get("build")
    if b is not None:
        ctx = b if isinstance(b, str) else b.get("context", ".")
        df = "Dockerfile" if isinstance(b, str) else b.get("dockerfile", "Dockerfile")
        full = os.path.normpath(os.path.join(cdir, ctx, df))
        if full != dockerfile:
            fail("%s: builds %s, not deploy/docker/Dockerfile" % (where, rel(full)))
        if os.path.normpath(os.path.join(cdir, ctx)) != root:
            fail("%s: build context %s is not the repository's root" % (where, ctx))
    if "fraudwatch" not in str(s.get("image", "")) and b is None:
        continue
    ep = s.get("entrypoint")
    cmdl = s.get("command") or []
    cmdl = shlex.split(cmdl) if isinstance(cmdl, str) else [str(x) for x in cmdl]
    if ep:
        ep = shlex.split(ep) if isinstance(ep, str) else [str(x) for x in ep]
        if os.path.basename(ep[0]) != "fraudwatch":
            fail("%s: entrypoint %s is not fraudwatch" % (where, ep[0]))
        cmdl = ep[1:] + cmdl
    parsed = parse_argv(where, cmdl)
    if not parsed:
        continue
    cmd, vals = parsed
    env = s.get("environment") or {}
    if isinstance(env, list):
        env = dict((x.split("=", 1) + [None])[:2] for x in env)
    env = {k: (None if v is None else str(v)) for k, v in env.items()}
    check_env_names(where, cmd, env)
    port, bind = fw_ports(cmd, vals, env, image_env)
    check_listen(where, cmd, port, bind)
    if expose and port not in expose:
        fail("%s: port %s is not one the Dockerfile EXPOSEs %s" % (where, port, sorted(expose)))
    for pm in s.get("ports") or []:
        target = pm.get("target") if isinstance(pm, dict) else str(pm).split(":")[-1]
        if int(str(target).split("/")[0]) != port:
            fail("%s: publishes container port %s, it listens on %s" % (where, target, port))
    hc = s.get("healthcheck")
    if hc is None:
        if cmd != "run" or image_env.get("FW_METRICS_PORT") != str(port):
            fail("%s: no healthcheck, and the image's asks the engine's port" % where)
    elif not hc.get("disable"):
        t = hc.get("test")
        t = " ".join(t) if isinstance(t, list) else str(t)
        m = re.search(r"https?://[^/\s:]+:(\d+)(/\S*)", t)
        if not m or int(m.group(1)) != port or m.group(2) != "/health":
            fail("%s: healthcheck %r does not ask :%s/health" % (where, t, port))
    (c_engines if cmd == "run" else c_consoles)[sname] = (vals, env, port)

ids = [setting("run", v, e, "--instance-id", ["FW_INSTANCE_ID"], {})
       for v, e, _ in c_engines.values()]
groups = {setting("run", v, e, "--group-id", ["FW_GROUP_ID", "GROUP_ID", "KAFKA_GROUP_ID"], {})
          for v, e, _ in c_engines.values()}
if len(c_engines) < 2 or len(set(ids)) != len(ids) or len(groups) != 1:
    fail("compose.yaml: engines %s: expected two or more, one group %s, each its own "
         "instance id %s" % (sorted(c_engines), sorted(map(str, groups)), ids))
for sname, (vals, env, port) in c_consoles.items():
    if "--engines" in vals:
        check_engine_urls("compose.yaml: service %s" % sname, vals["--engines"],
                          {k: v[2] for k, v in c_engines.items()})
    for need in ("FW_DATABASE_URL", "CONSOLE_TOKEN"):
        if need not in env and "--database-url" not in vals:
            fail("compose.yaml: service %s: no %s" % (sname, need))
# Prometheus, when its configuration is there: it scrapes every engine.
prom = os.path.join(root, "deploy", "prometheus", "prometheus.yml")
if os.path.isfile(prom) and prom in docs and c_engines:
    targets = set()
    for job in (docs[prom][0] or {}).get("scrape_configs") or []:
        for sc in job.get("static_configs") or []:
            targets.update(sc.get("targets") or [])
    for sname, (_, _, port) in c_engines.items():
        if "%s:%d" % (sname, port) not in targets:
            fail("deploy/prometheus/prometheus.yml: no target %s:%d for compose's engine "
                 "(targets: %s)" % (sname, port, sorted(targets)))
# Grafana, when its provisioning is there: the dashboards' path is where compose
# mounts them, the datasource a service of compose.
gdir = os.path.join(root, "deploy", "grafana", "provisioning")
mounts = {}
for s in services.values():
    for v in s.get("volumes") or []:
        if isinstance(v, str) and v.startswith("."):
            mounts[os.path.normpath(os.path.join(cdir, v.split(":")[0]))] = v.split(":")[1]
for path, ds in docs.items():
    if not path.startswith(gdir + os.sep) or not services:
        continue
    for prov in (ds[0] or {}).get("providers") or []:
        want = mounts.get(os.path.join(root, "deploy", "grafana", "dashboards"))
        have = (prov.get("options") or {}).get("path", "").rstrip("/")
        if have != want:
            fail("%s: dashboards from %s, compose mounts deploy/grafana/dashboards at %s"
                 % (rel(path), have, want))
    for src in (ds[0] or {}).get("datasources") or []:
        host = urlsplit(src.get("url", "")).hostname
        if host not in services:
            fail("%s: datasource %s on %s, not a service of compose.yaml"
                 % (rel(path), src.get("name"), host))
ok("compose.yaml: %d services; engines %s, consoles %s: options, environment, ports, "
   "healthchecks, mounts" % (len(services), sorted(c_engines), sorted(c_consoles)))

if fails:
    for f in fails:
        print("FAIL (deploy_manifests): " + f, file=sys.stderr)
    sys.exit(1)
for s in skipped:
    print("SKIP: " + s, file=sys.stderr)
sys.exit(77 if skipped else 0)
PY
rc=$?
[ "$rc" = 0 ] || exit "$rc"
echo "ok: deploy/ agrees with fraudwatch run --help and console --help"
