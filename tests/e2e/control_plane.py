"""A throw-away Kubernetes control plane on loopback for `make e2e`: etcd, kube-apiserver and
kube-controller-manager from `make engine`, a CA made for the run, one token in `system:masters`.

Nothing listens beyond 127.0.0.1, every port is picked free at start, and `stop()` kills the
processes and removes the directory. The controller manager is there because the API server alone
never finishes a foreground deletion (the garbage collector runs in the controller manager), so
without it `pulumi destroy` of a namespace hangs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from burst_platform.check.children import die_with_parent

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / ".tools" / "bin"
READY_SECONDS = 60


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_group(
    command: list[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run `command` in a process group of its own, output captured; on a timeout or an
    interrupt the whole group is killed (the CLI's plugins and language host with it)."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=die_with_parent,
    )  # fmt: skip
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@dataclass
class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager; `kubeconfig` is valid once `start()`
    returns."""

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="burst-e2e-")))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    api_port: int = 0
    _resources: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)

    @property
    def server(self) -> str:
        """URL of the API server."""
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def kubeconfig_path(self) -> Path:
        """A kubeconfig file for the cluster admin (token auth)."""
        return self.directory / "kubeconfig"

    def kubeconfig(self) -> str:
        """The admin kubeconfig as text."""
        return self.kubeconfig_path.read_text()

    def start(self) -> ControlPlane:
        """Start the three processes and wait until the API server is ready."""
        self._certificates()
        etcd_client, etcd_peer = free_port(), free_port()
        self.api_port = free_port()
        self._spawn(
            "etcd",
            "--data-dir", str(self.directory / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{etcd_client}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_client}",
            "--listen-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{etcd_peer}",
            "--initial-cluster", f"default=http://127.0.0.1:{etcd_peer}",
            "--log-level", "error",
        )  # fmt: skip
        (self.directory / "tokens.csv").write_text(f'{self.token},admin,admin,"system:masters"\n')
        pki = self.directory
        self._spawn(
            "kube-apiserver",
            f"--etcd-servers=http://127.0.0.1:{etcd_client}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            f"--tls-cert-file={pki / 'server.crt'}",
            f"--tls-private-key-file={pki / 'server.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--token-auth-file={pki / 'tokens.csv'}",
            "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--endpoint-reconciler-type=none",
            # as on EKS: privileged containers reach admission (and the burst policies there)
            "--allow-privileged=true",
        )
        self.kubeconfig_path.write_text(json.dumps(self._kubeconfig()))
        self._wait_ready()
        self._spawn(
            "kube-controller-manager",
            f"--kubeconfig={self.kubeconfig_path}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            "--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service-lb-controller,-route",
            "--leader-elect=false",
        )
        return self

    def stop(self) -> None:
        """Kill the processes (newest first) and remove the directory."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        shutil.rmtree(self.directory, ignore_errors=True)

    def request(
        self,
        method: str,
        path: str,
        body: object | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, Any]]:
        """One call to the API server as the admin: (HTTP status, decoded JSON answer).
        `content_type` says what a PATCH is (`application/merge-patch+json`, ...)."""
        context = ssl.create_default_context(cafile=str(self.directory / "ca.crt"))
        request = urllib.request.Request(  # noqa: S310 (our own https URL on loopback)
            f"{self.server}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def collection_path(self, obj: Mapping[str, Any]) -> str:
        """The URL path of the collection `obj` is created in, found by API discovery."""
        api_version, kind = obj["apiVersion"], obj["kind"]
        group_path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        if (api_version, kind) not in self._resources:
            status, listed = self.request("GET", group_path)
            if status != 200:
                raise AssertionError(f"the API server does not serve {api_version}: {status}")
            for resource in listed["resources"]:
                if "/" not in resource["name"]:
                    key = (api_version, resource["kind"])
                    self._resources[key] = (resource["name"], resource["namespaced"])
        plural, namespaced = self._resources[(api_version, kind)]
        if namespaced:
            return f"{group_path}/namespaces/{obj['metadata']['namespace']}/{plural}"
        return f"{group_path}/{plural}"

    def dry_run_create(self, obj: Mapping[str, Any]) -> tuple[bool, str]:
        """Create `obj` with `dryRun=All` and strict field validation, as `kubectl apply
        --dry-run=server --validate=strict` does: (accepted, the server's message)."""
        path = f"{self.collection_path(obj)}?dryRun=All&fieldValidation=Strict"
        status, answer = self.request("POST", path, obj)
        return status in (200, 201), str(answer.get("message", ""))

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run kubectl against the cluster."""
        result = run_group(["kubectl", f"--kubeconfig={self.kubeconfig_path}", *args])
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result

    def spawn(
        self, binary: str, *args: str, env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `.tools/bin/<binary>` beside the control plane, its output in
        `<directory>/<binary>.log`: `stop()` ends it first, and it dies with the test process."""
        log = (self.directory / f"{binary}.log").open("wb")
        process = subprocess.Popen(
            [str(TOOLS / binary), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
            env=None if env is None else dict(env),
            preexec_fn=die_with_parent,  # no server outlives the tests, even on SIGKILL
        )
        self.processes.append(process)
        return process

    def _spawn(self, binary: str, *args: str) -> None:
        self.spawn(binary, *args)

    def _certificates(self) -> None:
        pki = self.directory
        (pki / "san.cnf").write_text(
            "[req]\ndistinguished_name=dn\n[dn]\n[ext]\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"
        )
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                 "/CN=burst-e2e-ca", "-keyout", "ca.key", "-out", "ca.crt", cwd=pki)  # fmt: skip
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kube-apiserver",
                 "-keyout", "server.key", "-out", "server.csr", cwd=pki)  # fmt: skip
        _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "1", "-extfile", "san.cnf", "-extensions", "ext",
                 "-out", "server.crt", cwd=pki)  # fmt: skip
        _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
        _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)

    def _kubeconfig(self) -> dict[str, object]:
        import base64

        ca = base64.b64encode((self.directory / "ca.crt").read_bytes()).decode()
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "e2e",
                    "cluster": {"server": self.server, "certificate-authority-data": ca},
                }
            ],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": "admin"}}],
            "current-context": "e2e",
        }

    def _wait_ready(self) -> None:
        context = ssl.create_default_context(cafile=str(self.directory / "ca.crt"))
        request = urllib.request.Request(  # noqa: S310 (our own https URL on loopback)
            f"{self.server}/readyz", headers={"Authorization": f"Bearer {self.token}"}
        )
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"{process.args[0]} exited: see {self.directory}")
            try:
                with urllib.request.urlopen(request, context=context, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the API server was not ready in {READY_SECONDS} s")


def environment(home: Path) -> dict[str, str]:
    """The environment the real Pulumi CLI runs in: the built engine first on PATH, a scratch
    PULUMI_HOME, no update check and no plugin downloads."""
    return {
        **os.environ,
        "PATH": f"{TOOLS}{os.pathsep}{os.environ.get('PATH', '')}",
        "PULUMI_HOME": str(home),
        "PULUMI_CONFIG_PASSPHRASE": "burst-e2e",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PYTHONPATH": str(ROOT),
    }
