#!/usr/bin/env python3
"""dockerfile_chroot.py - build deploy/docker/Dockerfile without a container engine.

Usage: dockerfile_chroot.py DOCKERFILE CONTEXT BASE_TAR WORKDIR

Carries out the Dockerfile's instructions the way `docker build` does, on
plain directories: each FROM debian:12-slim stage starts from BASE_TAR (a
Debian 12 minbase tree made by debootstrap), RUN runs its shell command
chrooted into the stage's tree (in a private mount namespace with /proc, so
nothing is left mounted), COPY copies from CONTEXT (minus .dockerignore) or,
with --from, from an earlier stage's tree. The network is the host's, as with
Docker's default bridge reaching the outside.

An instruction it does not know stops it with an error: the file is never
built partly and reported as built. At the end it prints the last stage's
configuration as WORKDIR/image.json (its tree, environment, user and its
uid:gid, working directory, entrypoint, command, health check and ports) for
the test to run it.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

BASE_IMAGES = {"debian:12-slim", "debian:bookworm-slim"}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def die(msg):
    print("dockerfile_chroot: " + msg, file=sys.stderr)
    sys.exit(1)


def instructions(path):
    """(line number, keyword, argument text) per instruction; continuations joined."""
    out, buf, start = [], "", 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            s = line.rstrip("\n")
            if not buf and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if buf and s.lstrip().startswith("#"):
                continue  # a comment inside a continued instruction
            if not buf:
                start = n
            if s.endswith("\\"):
                buf += s[:-1] + " "
                continue
            buf += s
            kw, _, rest = buf.strip().partition(" ")
            out.append((start, kw.upper(), rest.strip()))
            buf = ""
    if buf:
        die("%s:%d: the file ends inside a continued line" % (path, start))
    return out


def ignore_rules(context):
    rules = []
    try:
        with open(os.path.join(context, ".dockerignore")) as f:
            for line in f:
                p = line.strip()
                if not p or p.startswith("#"):
                    continue
                neg = p.startswith("!")
                p = p[1:] if neg else p
                p = p.strip("/")
                rx = ""
                i = 0
                while i < len(p):
                    if p.startswith("**/", i):
                        rx += "(?:.*/)?"
                        i += 3
                    elif p.startswith("**", i):
                        rx += ".*"
                        i += 2
                    elif p[i] == "*":
                        rx += "[^/]*"
                        i += 1
                    elif p[i] == "?":
                        rx += "[^/]"
                        i += 1
                    else:
                        rx += re.escape(p[i])
                        i += 1
                rules.append((re.compile(rx + r"\Z"), neg))
    except FileNotFoundError:
        pass
    return rules


def ignored(rel, rules):
    """Docker's rule: the last pattern matching the path or a parent decides."""
    parts = rel.split("/")
    out = False
    for rx, neg in rules:
        for k in range(1, len(parts) + 1):
            if rx.match("/".join(parts[:k])):
                out = not neg
                break
    return out


def copy_path(src, dst):
    if os.path.isdir(src) and not os.path.islink(src):
        os.makedirs(dst, exist_ok=True)
        for name in os.listdir(src):
            copy_path(os.path.join(src, name), os.path.join(dst, name))
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.lexists(dst) and not os.path.isdir(dst):
            os.unlink(dst)
        shutil.copy2(src, dst, follow_symlinks=False)


def copy_context(context, rules, srcs, root, dest):
    for src in srcs:
        base = os.path.normpath(os.path.join(context, src))
        if not (base + "/").startswith(context + "/"):
            die("COPY %s: outside the build context" % src)
        if not os.path.exists(base):
            die("COPY %s: not in the build context" % src)
        if os.path.isdir(base):
            for d, dirs, files in os.walk(base):
                reld = os.path.relpath(d, context)
                dirs[:] = [x for x in dirs
                           if not ignored(os.path.normpath(os.path.join(reld, x)), rules)]
                for name in files:
                    rel = os.path.normpath(os.path.join(reld, name))
                    if ignored(rel, rules):
                        continue
                    sub = os.path.relpath(os.path.join(d, name), base)
                    copy_path(os.path.join(d, name), os.path.join(root, dest.lstrip("/"), sub))
        else:
            to = dest
            if dest.endswith("/") or len(srcs) > 1:
                to = os.path.join(dest, os.path.basename(base))
            copy_path(base, os.path.join(root, to.lstrip("/")))


def numeric_user(root, spec):
    """USER name[:group] as uid:gid, looked up in the stage's own /etc/passwd."""
    name, _, group = spec.partition(":")
    uid = gid = None
    with open(os.path.join(root, "etc/passwd")) as f:
        for line in f:
            fields = line.split(":")
            if fields[0] == name or fields[2] == name:
                uid, gid = fields[2], fields[3]
    if uid is None:
        die("USER %s: no such user in the stage's /etc/passwd" % spec)
    if group:
        gid = group
        with open(os.path.join(root, "etc/group")) as f:
            for line in f:
                fields = line.split(":")
                if fields[0] == group:
                    gid = fields[2]
    return "%s:%s" % (uid, gid)


def expand(value, env):
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), value)


def main():
    if len(sys.argv) != 5:
        die("usage: dockerfile_chroot.py DOCKERFILE CONTEXT BASE_TAR WORKDIR")
    dockerfile, context, base_tar, work = sys.argv[1:]
    context = os.path.realpath(context)
    rules = ignore_rules(context)
    stages, st = {}, None
    for n, kw, arg in instructions(dockerfile):
        where = "%s:%d: %s" % (os.path.basename(dockerfile), n, kw)
        if kw == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?\s*\Z", arg, re.I)
            if not m or m.group(1) not in BASE_IMAGES:
                die("%s %s: only %s can be made here" % (where, arg, " or ".join(BASE_IMAGES)))
            name = m.group(2) or str(len(stages))
            root = os.path.join(work, "stage-" + name)
            shutil.rmtree(root, ignore_errors=True)
            os.makedirs(root)
            subprocess.run(["tar", "-xf", base_tar, "-C", root], check=True)
            shutil.copy2("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
            st = {"name": name, "rootfs": root, "env": {"PATH": DEFAULT_PATH},
                  "workdir": "/", "user": "root", "expose": [], "entrypoint": None,
                  "cmd": None, "healthcheck": None}
            stages[name] = st
            print("== %s (stage %s)" % (where, name), flush=True)
            continue
        if st is None:
            die("%s before FROM" % where)
        root = st["rootfs"]
        if kw == "WORKDIR":
            st["workdir"] = os.path.join(st["workdir"], expand(arg, st["env"]))
            os.makedirs(os.path.join(root, st["workdir"].lstrip("/")), exist_ok=True)
        elif kw == "COPY":
            words = shlex.split(arg)
            src_root = None
            while words and words[0].startswith("--"):
                opt = words.pop(0)
                if opt.startswith("--from="):
                    if opt[7:] not in stages:
                        die("%s %s: no such stage" % (where, opt))
                    src_root = stages[opt[7:]]["rootfs"]
                else:
                    die("%s: option %s is not supported here" % (where, opt))
            if len(words) < 2:
                die("%s: needs a source and a destination" % where)
            dest = words[-1]
            if not dest.startswith("/"):
                dest = os.path.join(st["workdir"], dest) + ("/" if dest.endswith("/") else "")
            if src_root:
                for src in words[:-1]:
                    copy_path(os.path.join(src_root, src.lstrip("/")),
                              os.path.join(root, dest.lstrip("/")))
            else:
                copy_context(context, rules, words[:-1], root, dest)
        elif kw == "RUN":
            if arg.startswith("["):
                die("%s: the exec form is not supported here" % where)
            print("== %s %s" % (where, " ".join(arg.split())[:100]), flush=True)
            env = ["%s=%s" % kv for kv in sorted(st["env"].items())] + ["HOME=/root"]
            inner = ["chroot"]
            if st["user"] != "root":
                inner.append("--userspec=" + numeric_user(root, st["user"]))
            inner += [root, "/usr/bin/env", "-i"] + env + \
                ["/bin/sh", "-c", "cd %s && %s" % (shlex.quote(st["workdir"]), arg)]
            cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'mount -t proc proc "$1/proc" && shift && exec "$@"', "sh", root] + inner
            r = subprocess.run(cmd)
            if r.returncode:
                die("%s failed with exit status %d" % (where, r.returncode))
        elif kw == "ENV":
            pairs = shlex.split(arg)
            if pairs and "=" not in pairs[0]:
                pairs = [pairs[0] + "=" + " ".join(pairs[1:])]  # ENV KEY value
            for p in pairs:
                k, _, v = p.partition("=")
                st["env"][k] = expand(v, st["env"])
        elif kw == "USER":
            st["user"] = arg
        elif kw == "EXPOSE":
            st["expose"] += arg.split()
        elif kw == "HEALTHCHECK":
            m = re.search(r"\bCMD\s+(.*)\Z", arg)
            if not m:
                die("%s: no CMD" % where)
            st["healthcheck"] = m.group(1)
        elif kw in ("ENTRYPOINT", "CMD"):
            try:
                st[kw.lower()] = json.loads(arg)
            except ValueError:
                die("%s: only the exec (JSON) form is supported here" % where)
        elif kw in ("LABEL", "ARG"):
            pass
        else:
            die("%s: instruction not supported here" % where)
    if st is None:
        die("no FROM in " + dockerfile)
    st["userspec"] = numeric_user(st["rootfs"], st["user"]) if st["user"] != "root" else "0:0"
    with open(os.path.join(work, "image.json"), "w") as f:
        json.dump(st, f, indent=1)


if __name__ == "__main__":
    main()
