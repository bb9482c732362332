"""The pinned Kueue controller (`make engine`: `.tools/bin/kueue`) against the e2e API server,
with its webhooks served on loopback, so that admission, preemption and flavor assignment in the
e2e tests are Kueue's own decisions.

Why webhooks on, at a loopback URL (and not webhooks off with Jobs created suspended):

* Kueue v0.19.2 cannot run without serving certificates anyway. With its internal certificate
  management off, `cmd/kueue` reads the metrics certificate from the fixed path
  `/etc/kueue/metrics/certs` (a pod's secret mount) and exits without it; this machine's `/etc`
  is not ours to write. With it on (the chart's default), its cert-controller rotator must find
  the webhook Secret and inject the CA into the webhook configurations and into the conversion
  webhooks of five CRDs, and fails when a CRD has no conversion webhook (`strategy: None`, as the
  CRD bases have). So the CRDs need a conversion webhook Kueue serves, and with that in place the
  validating and mutating webhooks cost nothing more.
* With the webhooks the path is the production one: `pulumi up` of the program's ClusterQueues,
  ResourceFlavors and LocalQueues goes through Kueue's validation, and a Job is suspended by
  Kueue's mutating webhook, not by the test.
* The API server cannot reach a webhook Service (no kube-proxy, no cluster network), so every
  `clientConfig` is a `url: https://127.0.0.1:<port>/<path>` instead. The certificates are made
  for the run: a CA (`kueue-ca`, as cert-controller names its own) and a serving certificate for
  both `127.0.0.1` (the URL the API server calls) and `kueue-webhook-service.kueue-system.svc`
  (the name the rotator checks). They are put into the Secret the rotator manages, valid beyond
  its 90-day look-ahead, so it keeps them and injects this CA, which is the one the
  configurations already carry.

The Configuration is the program's own (`components.team_queues.kueue_configuration()`: the
integrations, `manageJobsWithoutQueueName`, `waitForPodsReady`), with only what a process on
loopback needs changed: ports and bind addresses, the certificate directory, one replica without
leader election, and the visibility API server off (an aggregated API the tests do not use).
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from burst_platform.components.team_queues import KUEUE_NAMESPACE, kueue_configuration
from tests.e2e.control_plane import ROOT, ControlPlane, _openssl, free_port

WEBHOOK_MANIFESTS = ROOT / ".tools" / "kueue" / "webhook-manifests.yaml"
"""Kueue's webhook configurations (config/components/webhook/manifests.yaml of the pinned
module), copied by `make engine` beside the binary."""

WEBHOOK_SERVICE = "kueue-webhook-service"
WEBHOOK_SECRET = "kueue-webhook-server-cert"  # noqa: S105 (a Secret's name)
WEBHOOK_CONFIGURATION_PREFIX = "kueue-"
"""The chart's names, which Kueue's certificate rotator looks for (its defaults)."""

CONVERSION_CRDS = (
    "localqueues.kueue.x-k8s.io",
    "clusterqueues.kueue.x-k8s.io",
    "workloads.kueue.x-k8s.io",
    "cohorts.kueue.x-k8s.io",
    "multikueueclusters.kueue.x-k8s.io",
)
"""The CRDs Kueue serves conversion for (v1beta1 <-> v1beta2), as its rotator lists them."""

WEBHOOK_GROUPS = frozenset({"", "batch", "kueue.x-k8s.io"})
"""API groups whose webhooks are installed: Pods, Jobs and Kueue's own objects. The others
(Deployments, StatefulSets, JobSets, Ray, Kubeflow, ...) match nothing the tests create."""

SYSTEM_NAMESPACES = ["kube-system", KUEUE_NAMESPACE]
"""Namespaces the Job and Pod webhooks leave alone (the chart's namespaceSelector)."""

READY_SECONDS = 90


@dataclass
class Kueue:
    """A Kueue controller process of the control plane `cluster`; `start()` returns once its
    readiness probe passes (certificates in place, webhooks served, controllers started)."""

    cluster: ControlPlane
    directory: Path = field(init=False)
    webhook_port: int = 0
    health_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.directory = self.cluster.directory / "kueue"

    @property
    def log(self) -> Path:
        """The controller's log."""
        return self.cluster.directory / "kueue.log"

    def start(self) -> Kueue:
        """Certificates, Secret, conversion and admission webhooks, then the process."""
        self.directory.mkdir(exist_ok=True)
        self.webhook_port, self.health_port = free_port(), free_port()
        ca = self._certificates()
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": KUEUE_NAMESPACE}}
        self._apply(namespace)
        certs = self.directory / "certs"
        self._apply(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": WEBHOOK_SECRET, "namespace": KUEUE_NAMESPACE},
                "data": {
                    name: base64.b64encode((certs / name).read_bytes()).decode()
                    for name in ("ca.crt", "ca.key", "tls.crt", "tls.key")
                },
            }
        )
        for crd in CONVERSION_CRDS:
            self._patch_crd(crd, self._conversion(ca))
        for configuration in self.webhook_configurations(ca):
            self._apply(configuration)
        config = self.directory / "config.yaml"
        config.write_text(yaml.safe_dump(self.configuration()))
        env = {"PATH": "/usr/bin:/bin", "KUBECONFIG": str(self.cluster.kubeconfig_path)}
        self.process = self.cluster.spawn(
            "kueue", f"--config={config}", "--feature-gates=VisibilityOnDemand=false", env=env
        )
        self._wait_ready()
        return self

    def stop(self) -> None:
        """End the process and take the webhooks out of the API server's path again (the CRDs
        back to `strategy: None`), so the control plane serves other tests as before."""
        for kind in ("mutatingwebhookconfigurations", "validatingwebhookconfigurations"):
            for name in ("mutating", "validating"):
                self.cluster.request(
                    "DELETE",
                    f"/apis/admissionregistration.k8s.io/v1/{kind}/"
                    f"{WEBHOOK_CONFIGURATION_PREFIX}{name}-webhook-configuration",
                )
        for crd in CONVERSION_CRDS:
            self._patch_crd(crd, {"strategy": "None", "webhook": None})
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def configuration(self) -> dict[str, Any]:
        """The program's Kueue Configuration, bound to loopback for one process."""
        config = copy.deepcopy(kueue_configuration())
        config.update(
            {
                "namespace": KUEUE_NAMESPACE,
                "health": {"healthProbeBindAddress": f"127.0.0.1:{self.health_port}"},
                "metrics": {"bindAddress": f"127.0.0.1:{free_port()}"},
                "webhook": {
                    "host": "127.0.0.1",
                    "port": self.webhook_port,
                    "certDir": str(self.directory / "certs"),
                },
                "leaderElection": {"leaderElect": False},
                "internalCertManagement": {
                    "enable": True,
                    "webhookServiceName": WEBHOOK_SERVICE,
                    "webhookSecretName": WEBHOOK_SECRET,
                },
            }
        )
        return config

    def webhook_configurations(self, ca: str) -> Iterator[dict[str, Any]]:
        """Kueue's own webhook configurations, each `clientConfig` a loopback URL with `ca`."""
        for document in yaml.safe_load_all(WEBHOOK_MANIFESTS.read_text()):
            if not document:
                continue
            configuration = copy.deepcopy(document)
            name = configuration["metadata"]["name"]
            configuration["metadata"] = {"name": f"{WEBHOOK_CONFIGURATION_PREFIX}{name}"}
            webhooks = []
            for webhook in configuration["webhooks"]:
                groups = {g for rule in webhook["rules"] for g in rule["apiGroups"]}
                if not groups <= WEBHOOK_GROUPS:
                    continue
                path = webhook["clientConfig"]["service"]["path"]
                webhook["clientConfig"] = {
                    "url": f"https://127.0.0.1:{self.webhook_port}{path}",
                    "caBundle": ca,
                }
                if groups & {"", "batch"}:
                    webhook["namespaceSelector"] = {
                        "matchExpressions": [
                            {
                                "key": "kubernetes.io/metadata.name",
                                "operator": "NotIn",
                                "values": SYSTEM_NAMESPACES,
                            }
                        ]
                    }
                webhooks.append(webhook)
            configuration["webhooks"] = webhooks
            yield configuration

    def _conversion(self, ca: str) -> dict[str, Any]:
        return {
            "strategy": "Webhook",
            "webhook": {
                "clientConfig": {
                    "url": f"https://127.0.0.1:{self.webhook_port}/convert",
                    "caBundle": ca,
                },
                "conversionReviewVersions": ["v1"],
            },
        }

    def _patch_crd(self, name: str, conversion: Mapping[str, Any]) -> None:
        status, answer = self.cluster.request(
            "PATCH",
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}",
            {"spec": {"conversion": conversion}},
            content_type="application/merge-patch+json",
        )
        if status != 200:
            raise AssertionError(f"patching the conversion of {name}: {status} {answer}")

    def _apply(self, obj: Mapping[str, Any]) -> None:
        status, answer = self.cluster.request("POST", self.cluster.collection_path(obj), obj)
        if status not in (200, 201):
            raise AssertionError(f"creating {obj['kind']} {obj['metadata']['name']}: {answer}")

    def _certificates(self) -> str:
        """The CA and serving certificate (PEM in `<directory>/certs`); returns the CA as a
        base64 `caBundle`. cert-controller reads the CA key as PKCS#1 and checks the CA for
        the DNS name `kueue-ca`, the serving certificate for the service name, both valid
        beyond its 90-day look-ahead."""
        certs = self.directory / "certs"
        certs.mkdir(exist_ok=True)
        (certs / "ext.cnf").write_text(
            "[req]\ndistinguished_name=dn\n[dn]\n"
            "[ca]\nbasicConstraints=critical,CA:TRUE\n"
            "keyUsage=critical,keyCertSign,digitalSignature,keyEncipherment\n"
            "subjectAltName=DNS:kueue-ca\n"
            "[server]\nbasicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
            f"subjectAltName=DNS:{WEBHOOK_SERVICE}.{KUEUE_NAMESPACE}.svc,IP:127.0.0.1\n"
        )
        _openssl("genrsa", "-traditional", "-out", "ca.key", "2048", cwd=certs)
        _openssl("req", "-x509", "-new", "-key", "ca.key", "-days", "3650", "-subj",
                 "/O=kueue/CN=kueue-ca", "-config", "ext.cnf", "-extensions", "ca",
                 "-out", "ca.crt", cwd=certs)  # fmt: skip
        _openssl("genrsa", "-traditional", "-out", "tls.key", "2048", cwd=certs)
        _openssl("req", "-new", "-key", "tls.key", "-subj",
                 f"/CN={WEBHOOK_SERVICE}.{KUEUE_NAMESPACE}.svc", "-config", "ext.cnf",
                 "-out", "tls.csr", cwd=certs)  # fmt: skip
        _openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "365", "-extfile", "ext.cnf", "-extensions",
                 "server", "-out", "tls.crt", cwd=certs)  # fmt: skip
        return base64.b64encode((certs / "ca.crt").read_bytes()).decode()

    def _wait_ready(self) -> None:
        url = f"http://127.0.0.1:{self.health_port}/readyz"
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"kueue exited {self.process.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200 and self._webhooks_answer():
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"kueue was not ready in {READY_SECONDS} s:\n{self.tail()}")

    def _webhooks_answer(self) -> bool:
        """The API server reaches Kueue's webhooks: a server-side dry run of a ResourceFlavor
        goes through Kueue's defaulting and validation (a refused call would be an error)."""
        flavor = {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "ResourceFlavor",
            "metadata": {"name": "burst-e2e-probe"},
        }
        accepted, _ = self.cluster.dry_run_create(flavor)
        return accepted

    def tail(self, lines: int = 8) -> str:
        """The last lines of the controller's log."""
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def summary(obj: Mapping[str, Any]) -> str:
    """One object as compact JSON, for assertion messages."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)
