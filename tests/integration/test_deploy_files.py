"""Deployment files: deploy/kubernetes/*.yaml, deploy/strata.toml,
deploy/systemd/strata.service, deploy/Dockerfile (+ its scripts and the root
.dockerignore). Static checks, plus `strata --check-config` on every config
they carry and a run of the Docker healthcheck script against a stub HTTP
server. No cluster, systemd or Docker daemon is needed.

STRATA_DEPLOY_DIR points the test at another copy of deploy/ (to see a check
fail on a broken copy without touching the real files)."""

import configparser
import http.server
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import tomllib
import unittest

import yaml

import strata_harness as h

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.environ.get("STRATA_DEPLOY_DIR") or os.path.join(REPO, "deploy")
K8S = os.path.join(DEPLOY, "kubernetes")
IMAGE_CONFIG = "/etc/strata/strata.toml"  # where the image's entrypoint reads it

_UNITS = {"": 1, "B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3,
          "KIB": 1 << 10, "MIB": 1 << 20, "GIB": 1 << 30, "TIB": 1 << 40}
_QUANT = {"": 1, "k": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4,
          "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}


def strata_size(v):
    """Strata size ('448MiB', 1048576) -> bytes."""
    if isinstance(v, int):
        return v
    m = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", str(v))
    if not m or m.group(2).upper() not in _UNITS:
        raise ValueError("not a Strata size: %r" % v)
    return int(m.group(1)) * _UNITS[m.group(2).upper()]


def strata_seconds(v):
    """Strata duration ('10s', '250ms', 5000) -> seconds."""
    if isinstance(v, int):
        return v / 1000.0
    m = re.fullmatch(r"\s*(\d+)\s*(ms|s|m|h|d|)\s*", str(v))
    if not m:
        raise ValueError("not a Strata duration: %r" % v)
    mult = {"": 0.001, "ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return int(m.group(1)) * mult


def k8s_quantity(v):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([a-zA-Z]*)", str(v))
    if not m or m.group(2) not in _QUANT:
        raise ValueError("not a Kubernetes quantity: %r" % v)
    return float(m.group(1)) * _QUANT[m.group(2)]


def systemd_seconds(v):
    total = 0.0
    for num, unit in re.findall(r"(\d+)\s*(ms|min|s|m|h|)", v):
        total += int(num) * {"ms": 0.001, "": 1, "s": 1, "min": 60, "m": 60, "h": 3600}[unit]
    return total


def run_strata(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRATA_")}
    env.update(env_extra or {})
    return subprocess.run([h.STRATA, *args], capture_output=True, text=True, env=env,
                          timeout=30)


_help = None


def strata_help():
    global _help
    if _help is None:
        r = run_strata("--help")
        assert r.returncode == 0, r.stderr
        _help = r.stdout
    return _help


def help_flags():
    return set(re.findall(r"(?m)^\s+(--[a-z0-9_.-]+)", strata_help()))


def help_envs():
    return set(re.findall(r"\benv (STRATA_[A-Z0-9_]+)", strata_help()))


class CheckConfigMixin:
    def assert_check_config(self, path, *flags, env_extra=None):
        r = run_strata("--check-config", path, *flags, env_extra=env_extra)
        self.assertEqual(r.returncode, 0, "strata --check-config %s failed:\n%s%s"
                         % (path, r.stdout, r.stderr))


# --------------------------------------------------------------------------
class KubernetesTest(unittest.TestCase, CheckConfigMixin):
    @classmethod
    def setUpClass(cls):
        cls.files = sorted(f for f in os.listdir(K8S) if f.endswith((".yaml", ".yml")))
        cls.docs = []  # (file, doc)
        for f in cls.files:
            with open(os.path.join(K8S, f)) as fh:
                for d in yaml.safe_load_all(fh):
                    if d is not None:
                        cls.docs.append((f, d))

    def manifests(self):
        return [(f, d) for f, d in self.docs if f not in ("kustomization.yaml", "kustomization.yml")]

    def test_every_document_has_api_version_kind_name(self):
        self.assertTrue(self.manifests(), "no manifests in " + K8S)
        for f, d in self.docs:
            self.assertIsInstance(d, dict, f)
            for k in ("apiVersion", "kind"):
                self.assertTrue(d.get(k), "%s: a document without %s" % (f, k))
            if d["kind"] != "Kustomization":
                self.assertTrue((d.get("metadata") or {}).get("name"),
                                "%s: %s without metadata.name" % (f, d["kind"]))

    def test_kustomization_lists_every_manifest(self):
        kust = [d for f, d in self.docs if d.get("kind") == "Kustomization"]
        self.assertEqual(len(kust), 1, "want one kustomization.yaml")
        res = kust[0].get("resources") or []
        for r in res:
            self.assertTrue(os.path.isfile(os.path.join(K8S, r)), "kustomization lists missing " + r)
        for f in {f for f, _ in self.manifests()}:
            self.assertIn(f, res, "kustomization.yaml does not list " + f)

    # -- helpers ------------------------------------------------------------
    def pod_specs(self):
        out = []
        for f, d in self.manifests():
            if d["kind"] == "Pod":
                out.append((d["metadata"]["name"], d["spec"]))
            elif d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
                out.append((d["metadata"]["name"], d["spec"]["template"]["spec"]))
        self.assertTrue(out, "no Pod or workload with a pod template")
        return out

    def configmap_toml(self):
        """Returns (configmap name, key, parsed TOML, TOML text)."""
        for f, d in self.manifests():
            if d["kind"] == "ConfigMap":
                for k, v in (d.get("data") or {}).items():
                    if k.endswith(".toml"):
                        return d["metadata"]["name"], k, tomllib.loads(v), v
        self.fail("no ConfigMap with a .toml key")

    def strata_container(self, spec):
        def is_strata(c):
            return c.get("name") == "strata" or "strata" in str(c.get("image", "")).split("/")[-1]
        regular = [c for c in spec.get("containers") or [] if is_strata(c)]
        self.assertFalse(regular, "Strata must be a native sidecar (initContainers), "
                         "not under containers")
        init = [c for c in spec.get("initContainers") or [] if is_strata(c)]
        self.assertEqual(len(init), 1, "want exactly one Strata container in initContainers")
        return init[0]

    def admin_port(self):
        _, _, cfg, _ = self.configmap_toml()
        listen = cfg.get("admin", {}).get("listen", "127.0.0.1:9100")
        host, _, port = listen.rpartition(":")
        return host, int(port)

    def resolve_port(self, container, port):
        if isinstance(port, int):
            return port
        for p in container.get("ports") or []:
            if p.get("name") == port:
                return p["containerPort"]
        self.fail("probe names port %r that the container does not declare" % port)

    # -- checks -------------------------------------------------------------
    def test_strata_is_a_native_sidecar(self):
        for name, spec in self.pod_specs():
            c = self.strata_container(spec)
            self.assertEqual(c.get("restartPolicy"), "Always",
                             "%s: the Strata init container needs restartPolicy: Always" % name)
            self.assertTrue(spec.get("containers"), "%s: no app container" % name)

    def test_probes_hit_the_admin_port(self):
        host, port = self.admin_port()
        self.assertNotIn(host, ("127.0.0.1", "localhost", "::1", "[::1]"),
                         "admin.listen on loopback: kubelet probes come via the pod IP")
        want = {"startupProbe": "/readyz", "readinessProbe": "/readyz", "livenessProbe": "/healthz"}
        for name, spec in self.pod_specs():
            c = self.strata_container(spec)
            for probe, path in want.items():
                self.assertIn(probe, c, "%s: Strata has no %s" % (name, probe))
                get = c[probe].get("httpGet") or {}
                self.assertEqual(get.get("path"), path, "%s: %s path" % (name, probe))
                self.assertEqual(self.resolve_port(c, get.get("port")), port,
                                 "%s: %s port vs admin.listen %s" % (name, probe, port))

    def test_socket_volume_shared_at_the_configured_path(self):
        _, _, cfg, _ = self.configmap_toml()
        sock = cfg["server"]["socket"]
        sock_dir = os.path.dirname(sock)
        for name, spec in self.pod_specs():
            volumes = {v["name"]: v for v in spec.get("volumes") or []}
            s = self.strata_container(spec)
            mounts = [m for m in s.get("volumeMounts") or [] if m["mountPath"] == sock_dir]
            self.assertEqual(len(mounts), 1, "%s: Strata does not mount %s (server.socket %s)"
                             % (name, sock_dir, sock))
            vol = mounts[0]["name"]
            self.assertIn("emptyDir", volumes.get(vol, {}), "%s: socket volume %r is not an emptyDir"
                          % (name, vol))
            for c in spec["containers"]:
                self.assertIn((vol, sock_dir),
                              [(m["name"], m["mountPath"]) for m in c.get("volumeMounts") or []],
                              "%s: container %s does not mount %r at %s"
                              % (name, c["name"], vol, sock_dir))

    def test_config_mounted_where_the_image_reads_it(self):
        cm_name, key, _, _ = self.configmap_toml()
        for name, spec in self.pod_specs():
            c = self.strata_container(spec)
            vols = {v["name"]: v for v in spec.get("volumes") or []}
            found = False
            for m in c.get("volumeMounts") or []:
                v = vols.get(m["name"], {})
                if (v.get("configMap") or {}).get("name") == cm_name:
                    path = os.path.join(m["mountPath"], key) if "subPath" not in m else m["mountPath"]
                    self.assertEqual(path, IMAGE_CONFIG, "%s: config mounted at %s" % (name, path))
                    found = True
            self.assertTrue(found, "%s: ConfigMap %s not mounted in Strata" % (name, cm_name))
            if c.get("command"):
                self.assertIn(IMAGE_CONFIG, c["command"] + (c.get("args") or []))

    def test_data_paths_are_on_volumes(self):
        # readOnlyRootFilesystem: l3 and the WAL must be on a mounted volume.
        _, _, cfg, _ = self.configmap_toml()
        paths = []
        if cfg.get("l3", {}).get("enabled", True):
            paths.append(cfg.get("l3", {}).get("path", "./data/l3"))
        if cfg.get("wal", {}).get("enabled", True):
            paths.append(cfg.get("wal", {}).get("path", "./data/wal"))
        for name, spec in self.pod_specs():
            mounts = [m["mountPath"].rstrip("/") + "/" for m in
                      self.strata_container(spec).get("volumeMounts") or []]
            for p in paths:
                self.assertTrue(os.path.isabs(p), "relative data path %s" % p)
                self.assertTrue(any(p.startswith(m) for m in mounts),
                                "%s: %s is not under a mounted volume" % (name, p))

    def test_resources_and_security(self):
        for name, spec in self.pod_specs():
            psc = spec.get("securityContext") or {}
            for c in (spec.get("initContainers") or []) + spec["containers"]:
                lim = (c.get("resources") or {}).get("limits") or {}
                self.assertIn("memory", lim, "%s/%s: no memory limit" % (name, c["name"]))
                self.assertIn("cpu", lim, "%s/%s: no cpu limit" % (name, c["name"]))
                csc = c.get("securityContext") or {}
                self.assertTrue(csc.get("runAsNonRoot", psc.get("runAsNonRoot")),
                                "%s/%s: runAsNonRoot not set" % (name, c["name"]))
                self.assertNotEqual(csc.get("runAsUser", psc.get("runAsUser")), 0)
            sc = self.strata_container(spec).get("securityContext") or {}
            self.assertIs(sc.get("readOnlyRootFilesystem"), True, name)
            self.assertIs(sc.get("allowPrivilegeEscalation"), False, name)
            self.assertIn("ALL", (sc.get("capabilities") or {}).get("drop") or [], name)

    def test_grace_period_exceeds_shutdown_timeout(self):
        _, _, cfg, _ = self.configmap_toml()
        drain = strata_seconds(cfg.get("server", {}).get("shutdown_timeout", "10s"))
        for name, spec in self.pod_specs():
            grace = spec.get("terminationGracePeriodSeconds", 30)
            self.assertGreater(grace, drain, "%s: terminationGracePeriodSeconds %s <= "
                               "server.shutdown_timeout %ss" % (name, grace, drain))

    def test_l1_fits_the_memory_limit(self):
        # deploy/README.md: l1.max_bytes + l3.block_cache <= ~60% of the limit.
        _, _, cfg, _ = self.configmap_toml()
        l1 = strata_size(cfg.get("l1", {}).get("max_bytes", "256MiB"))
        bc = strata_size(cfg.get("l3", {}).get("block_cache", "64MiB"))
        for name, spec in self.pod_specs():
            mem = k8s_quantity(self.strata_container(spec)["resources"]["limits"]["memory"])
            self.assertLessEqual(l1 + bc, 0.6 * mem, "%s: l1.max_bytes + l3.block_cache = %d "
                                 "bytes, more than 60%% of the %d-byte limit" % (name, l1 + bc, mem))

    def test_strata_env_names_exist(self):
        known = help_envs()
        self.assertIn("STRATA_SERVER_SOCKET", known, "cannot read env names from --help")
        for name, spec in self.pod_specs():
            for e in self.strata_container(spec).get("env") or []:
                if e["name"].startswith("STRATA_"):
                    self.assertIn(e["name"], known, "%s: unknown Strata variable" % name)

    def test_configmap_passes_check_config(self):
        _, _, _, text = self.configmap_toml()
        for name, spec in self.pod_specs():
            env = {e["name"]: str(e["value"]) for e in self.strata_container(spec).get("env") or []
                   if e["name"].startswith("STRATA_") and "value" in e}
            with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
                f.write(text)
            self.addCleanup(os.unlink, f.name)
            self.assert_check_config(f.name, env_extra=env)


# --------------------------------------------------------------------------
class ProductionConfigTest(unittest.TestCase, CheckConfigMixin):
    def test_check_config(self):
        self.assert_check_config(os.path.join(DEPLOY, "strata.toml"))

    def test_paths(self):
        with open(os.path.join(DEPLOY, "strata.toml"), "rb") as f:
            cfg = tomllib.load(f)
        self.assertEqual(cfg["server"]["socket"], "/run/strata/strata.sock")
        self.assertEqual(cfg["l3"]["path"], "/var/lib/strata/l3")
        self.assertEqual(cfg["wal"]["path"], "/var/lib/strata/wal")


# --------------------------------------------------------------------------
class SystemdTest(unittest.TestCase):
    UNIT = os.path.join(DEPLOY, "systemd", "strata.service")

    @classmethod
    def setUpClass(cls):
        cls.cp = configparser.ConfigParser(strict=False, interpolation=None,
                                           empty_lines_in_values=False)
        cls.cp.optionxform = str
        with open(cls.UNIT) as f:
            cls.cp.read_file(f)
        with open(os.path.join(DEPLOY, "strata.toml"), "rb") as f:
            cls.cfg = tomllib.load(f)

    def svc(self, key):
        self.assertTrue(self.cp.has_option("Service", key), "[Service] has no " + key)
        return self.cp.get("Service", key).strip()

    def test_sections(self):
        for s in ("Unit", "Service", "Install"):
            self.assertTrue(self.cp.has_section(s), "no [%s]" % s)
        self.assertTrue(self.cp.get("Install", "WantedBy", fallback=""))

    def test_required_settings(self):
        want = {
            "DynamicUser": "yes", "RuntimeDirectory": "strata", "StateDirectory": "strata",
            "ConfigurationDirectory": "strata", "Restart": "on-failure", "KillSignal": "SIGTERM",
            "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
            "NoNewPrivileges": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
            "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
        }
        for k, v in want.items():
            self.assertEqual(self.svc(k), v, k)
        fams = self.svc("RestrictAddressFamilies").split()
        self.assertEqual(sorted(fams), ["AF_INET", "AF_INET6", "AF_UNIX"])
        self.assertIn("@system-service", self.svc("SystemCallFilter").split())
        self.assertTrue(self.svc("LimitNOFILE"))
        self.assertTrue(self.svc("MemoryMax"))

    def test_stop_timeout_exceeds_shutdown_timeout(self):
        drain = strata_seconds(self.cfg["server"].get("shutdown_timeout", "10s"))
        self.assertGreater(systemd_seconds(self.svc("TimeoutStopSec")), drain)

    def test_paths_match_the_directories(self):
        self.assertEqual(os.path.dirname(self.cfg["server"]["socket"]),
                         "/run/" + self.svc("RuntimeDirectory"))
        state = "/var/lib/" + self.svc("StateDirectory") + "/"
        self.assertTrue(self.cfg["l3"]["path"].startswith(state))
        self.assertTrue(self.cfg["wal"]["path"].startswith(state))

    def argv(self, key):
        argv = shlex.split(self.svc(key).lstrip("-@:+!"))
        self.assertTrue(os.path.isabs(argv[0]), key + ": binary path must be absolute")
        self.assertEqual(os.path.basename(argv[0]), "strata")
        return argv

    def test_exec_lines(self):
        conf_dir = "/etc/" + self.svc("ConfigurationDirectory")
        flags = help_flags() | {"--config", "--check-config", "--print-config"}
        pre, start = self.argv("ExecStartPre"), self.argv("ExecStart")
        self.assertEqual(pre[1:], ["--check-config", conf_dir + "/strata.toml"])
        self.assertIn("--config", start)
        self.assertEqual(start[start.index("--config") + 1], conf_dir + "/strata.toml")
        for a in pre[1:] + start[1:]:
            if a.startswith("-"):
                self.assertIn(a.split("=", 1)[0], flags, "flag %s is not in strata --help" % a)
        # ExecStart's argv, with the config mapped to deploy/strata.toml, is accepted.
        local = [os.path.join(DEPLOY, "strata.toml") if a == conf_dir + "/strata.toml" else a
                 for a in start[1:]]
        r = run_strata(*local, "--print-config")
        self.assertEqual(r.returncode, 0, r.stderr)

    @unittest.skipUnless(shutil.which("systemd-analyze"), "no systemd-analyze")
    def test_systemd_analyze_verify(self):
        d = tempfile.mkdtemp(prefix="strata-unit-")
        self.addCleanup(shutil.rmtree, d, True)
        shutil.copy(h.STRATA, os.path.join(d, "strata"))
        with open(self.UNIT) as f:
            text = f.read().replace("/usr/local/bin/strata", os.path.join(d, "strata"))
        unit = os.path.join(d, "strata.service")
        with open(unit, "w") as f:
            f.write(text)
        r = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True,
                           timeout=60)
        problems = [l for l in (r.stdout + r.stderr).splitlines() if "strata.service" in l]
        self.assertEqual(problems, [], "systemd-analyze verify:\n" + r.stdout + r.stderr)


# --------------------------------------------------------------------------
def dockerfile_instructions(path):
    """[(INSTRUCTION, argument text)], continuations joined, comments dropped."""
    out, cur = [], ""
    with open(path) as f:
        for line in f:
            s = line.strip()
            if not cur and (not s or s.startswith("#")):
                continue
            if cur and s.startswith("#"):
                continue
            if s.endswith("\\"):
                cur += s[:-1] + " "
                continue
            cur += s
            ins, _, arg = cur.strip().partition(" ")
            out.append((ins.upper(), arg.strip()))
            cur = ""
    return out


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ins = dockerfile_instructions(os.path.join(DEPLOY, "Dockerfile"))
        stages, cur = [], None
        for i, a in cls.ins:
            if i == "FROM":
                cur = (a, [])
                stages.append(cur)
            elif cur is not None:
                cur[1].append((i, a))
        cls.stages = stages

    def runtime(self, name):
        return [a for i, a in self.stages[-1][1] if i == name]

    def test_two_stages(self):
        self.assertGreaterEqual(len(self.stages), 2, "want a build and a runtime stage")
        m = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", self.stages[0][0], re.I)
        self.assertTrue(m, "the build stage needs a name: " + self.stages[0][0])
        self.assertEqual(m.group(1), "debian:12")
        self.assertEqual(self.stages[-1][0].split()[0], "debian:12-slim")
        copies = " ".join(self.runtime("COPY"))
        self.assertIn("--from=" + m.group(2), copies)
        build = " ".join(a for i, a in self.stages[0][1] if i == "RUN")
        for s in ("-DSTRATA_BUILD_TESTS=OFF", "-DCMAKE_BUILD_TYPE=Release", "--target strata"):
            self.assertIn(s, build)

    def test_runtime_user_not_root(self):
        users = self.runtime("USER")
        self.assertTrue(users, "no USER in the runtime stage")
        self.assertNotIn(users[-1].split(":")[0], ("root", "0"))

    def test_ports_volumes_signal(self):
        self.assertIn("9100", " ".join(self.runtime("EXPOSE")).replace("/tcp", "").split())
        vols = " ".join(self.runtime("VOLUME"))
        self.assertIn("/run/strata", vols)
        self.assertIn("/var/lib/strata", vols)
        self.assertEqual(self.runtime("STOPSIGNAL"), ["SIGTERM"])
        self.assertIn("deploy/strata.toml " + IMAGE_CONFIG, " ".join(self.runtime("COPY")))

    def test_runtime_packages_cover_the_linked_libraries(self):
        if not (shutil.which("ldd") and shutil.which("dpkg-query") and shutil.which("apt-cache")):
            self.skipTest("needs ldd, dpkg-query and apt-cache")
        run = " ".join(self.runtime("RUN"))
        m = re.search(r"apt-get install ([^&;]*)", run)
        self.assertTrue(m, "the runtime stage installs nothing with apt-get")
        pkgs = {p for p in m.group(1).split() if not p.startswith("-")}
        covered = set(pkgs) | {"libc6", "libstdc++6", "libgcc-s1"}
        r = subprocess.run(["apt-cache", "depends", *sorted(pkgs)], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, "apt-cache depends %s: %s" % (sorted(pkgs), r.stderr))
        covered |= {d.split(":")[0] for d in re.findall(r"Depends: (\S+)", r.stdout)}
        ldd = subprocess.run(["ldd", h.STRATA], capture_output=True, text=True).stdout
        # A sanitizer build (CI's second pass) links its runtime; the image
        # is a release build and does not.
        libs = [lib for lib in re.findall(r"=> (/\S+)", ldd)
                if not re.search(r"/lib(asan|ubsan|lsan|tsan)\.so", lib)]
        # Debian 12 is merged-/usr: dpkg may know a library under /lib or /usr/lib.
        cands = {}
        for lib in libs:
            real = os.path.realpath(lib)
            for c in (lib, real, re.sub(r"^/usr/lib/", "/lib/", real),
                      re.sub(r"^/lib/", "/usr/lib/", real)):
                cands.setdefault(c, lib)
        r = subprocess.run(["dpkg-query", "-S", *cands], capture_output=True, text=True)
        owner = {}
        for line in r.stdout.splitlines():
            pkg, _, path = line.partition(": ")
            if path in cands:
                owner.setdefault(cands[path], pkg.split(":")[0].strip())
        for lib in libs:
            if lib not in owner:
                continue  # not from a Debian package (a local build): nothing to check
            self.assertIn(owner[lib], covered, "strata links %s (package %s), which the runtime "
                          "stage neither installs nor gets through %s" % (lib, owner[lib], sorted(pkgs)))
        self.assertTrue(owner, "dpkg knows none of the libraries strata links")

    def script(self, instr):
        args = self.runtime(instr)
        self.assertTrue(args, "no " + instr)
        m = re.search(r"(/\S*/)?([\w.-]+\.sh)", args[-1])
        self.assertTrue(m, "%s runs no script: %s" % (instr, args[-1]))
        path = os.path.join(DEPLOY, m.group(2))
        self.assertTrue(os.path.isfile(path), path + " missing")
        self.assertTrue(os.access(path, os.X_OK), path + " not executable")
        self.assertIn("deploy/" + m.group(2), " ".join(self.runtime("COPY")))
        r = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(path) as f:
            return path, f.read()

    def test_entrypoint_checks_config_then_execs(self):
        _, text = self.script("ENTRYPOINT")
        code = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
        check = code.find("strata --check-config")
        run = code.find("exec strata --config")
        self.assertGreaterEqual(check, 0, "entrypoint does not run strata --check-config")
        self.assertGreater(run, check, "entrypoint must exec strata --config after the check")

    def test_healthcheck_script_works(self):
        hc = self.runtime("HEALTHCHECK")
        self.assertTrue(hc and "/healthz" in hc[-1], "HEALTHCHECK must ask /healthz")
        self.assertNotRegex(hc[-1], r"\b(curl|wget)\b", "no curl or wget in debian:12-slim")
        path, _ = self.script("HEALTHCHECK")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200 if self.path == "/healthz" else 503)
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        port = srv.server_address[1]

        def check(listen, *args):
            env = dict(os.environ, STRATA_ADMIN_LISTEN=listen, HEALTHCHECK_TIMEOUT="3")
            return subprocess.run([path, *args], env=env, capture_output=True, timeout=20).returncode

        self.assertEqual(check("0.0.0.0:%d" % port, "/healthz"), 0, "200 must be healthy")
        self.assertNotEqual(check("0.0.0.0:%d" % port, "/readyz"), 0, "503 must be unhealthy")
        srv.shutdown()
        srv.server_close()
        self.assertNotEqual(check("0.0.0.0:%d" % port, "/healthz"), 0, "no listener: unhealthy")

    def test_dockerignore(self):
        with open(os.path.join(os.path.dirname(DEPLOY), ".dockerignore")) as f:
            lines = {l.strip() for l in f if l.strip() and not l.startswith("#")}
        for want in (".git", "build*/", "data/"):
            self.assertIn(want, lines, ".dockerignore lacks " + want)


if __name__ == "__main__":
    unittest.main(argv=h.init(sys.argv))
