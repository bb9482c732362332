"""Evaluate the policy pack over a normalised plan with OPA, in one request, failing closed.

Two modes, both through opa-python-client:

* local (default): start `opa run --server` on a free loopback port with the pack's modules and
  the guardrails data, evaluate, and stop the server again (always, also on errors);
* remote (`--opa-url`): upload every module and the guardrails into an existing server first.

The check fails closed: an unreachable server, an undefined `data.burst.main.report`, a result of
the wrong shape, a resource count that does not match the input, or a rule package that exists in
the pack but did not report, all raise BurstError (exit 2), never a pass. Which packages are rule
sets, and the rules' METADATA, the same server tells (`GET /v1/policies`, `check.inventory`).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from burst_platform.check import children
from burst_platform.check.guardrails import GUARDRAILS_DATA_PATH
from burst_platform.check.inventory import Inventory, inventory_of
from burst_platform.check.model import OPA, POLICY_SEVERITIES, Finding, RuleInfo
from burst_platform.errors import BurstError
from burst_platform.tools import find_opa

REPORT_PACKAGE = "burst.main"
REPORT_RULE = "report"
DEFAULT_TIMEOUT = 120.0
"""Seconds the client waits for OPA (the library default of 1.5 s is too short for big plans)."""
STARTUP_TIMEOUT = 30.0

_PACKAGE_LINE = re.compile(r"^package\s+([A-Za-z_][\w.]*)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PolicyModule:
    """One Rego module of the pack."""

    path: Path
    relative: str
    """Path relative to the policy directory; also the policy id when uploading."""
    package: str
    text: str


@dataclass
class PolicyPack:
    """The Rego modules of a policy directory (tests excluded) and the packages they define."""

    directory: Path
    modules: list[PolicyModule] = field(default_factory=list)

    @property
    def packages(self) -> set[str]:
        """Every package defined by the modules."""
        return {m.package for m in self.modules}


def load_policy_pack(directory: Path) -> PolicyPack:
    """Read every `.rego` module under `directory`, except `*_test.rego` and hidden directories."""
    if not directory.is_dir():
        raise BurstError(f"{directory}: policy directory not found")
    modules = []
    problems = []
    for current, subdirs, files in os.walk(directory):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if not name.endswith(".rego") or name.endswith("_test.rego"):
                continue
            path = Path(current) / name
            relative = path.relative_to(directory).as_posix()
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                problems.append(f"{path}: cannot read: {error}")
                continue
            match = _PACKAGE_LINE.search(text)
            if match is None:
                problems.append(f"{path}: no package declaration")
                continue
            modules.append(PolicyModule(path, relative, match.group(1), text))
    if problems:
        raise BurstError(problems)
    if not modules:
        raise BurstError(f"{directory}: no Rego policies found (excluding *_test.rego)")
    pack = PolicyPack(directory, modules)
    if REPORT_PACKAGE not in pack.packages:
        raise BurstError(
            f"{directory}: package {REPORT_PACKAGE} (the report entry point) not found"
        )
    return pack


# ---------------------------------------------------------------------------------------------
# The OPA binary and a local server
# ---------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _loader_arg(path: Path, prefix: str | None = None) -> str:
    text = str(path.resolve())
    if ":" in text:
        text = "file://" + text
    return f"{prefix}:{text}" if prefix else text


class LocalServer:
    """`opa run --server` on a free loopback port with the pack and the guardrails loaded.

    `start()` returns at once (OPA compiles the pack while the caller reads its input); `wait()`
    blocks until `/health` answers and returns `(host, port)`; `stop()` (also on `__exit__`)
    terminates the server. Compile errors in the pack surface as BurstError with OPA's message.
    """

    def __init__(
        self,
        opa: Path,
        pack: PolicyPack,
        guardrails: Mapping[str, Any],
        startup_timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        self.opa = opa
        self.pack = pack
        self.guardrails = guardrails
        self.startup_timeout = startup_timeout
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Launch the server process (without waiting for it)."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="burst-check-opa-")
        tmp = Path(self._tmp.name)
        data_file = tmp / "guardrails.json"
        data_file.write_text(json.dumps(self.guardrails))
        self.port = _free_port()
        command = [
            str(self.opa), "run", "--server", "--addr", f"127.0.0.1:{self.port}",
            "--log-level", "error", "--skip-version-check", "--shutdown-grace-period", "1",
            *(_loader_arg(m.path) for m in self.pack.modules),
            _loader_arg(data_file, GUARDRAILS_DATA_PATH.replace("/", ".")),
        ]  # fmt: skip
        with (tmp / "opa.log").open("wb") as log:
            try:
                self._process = children.spawn(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,  # OPA prints load errors to stdout
                    stderr=subprocess.STDOUT,
                    preexec_fn=children.die_with_parent,
                )
            except OSError as error:
                self.stop()
                raise BurstError(f"cannot run OPA ({self.opa}): {error.strerror}") from None

    def wait(self) -> tuple[str, int]:
        """Block until the server is ready; restart on a port clash (at most twice)."""
        _import_opa_client()
        from opa_client.errors import ConnectionsError
        from opa_client.opa import OpaClient

        for attempt in range(3):
            process = self._process
            if process is None:
                raise BurstError("OPA server not started")
            deadline = time.monotonic() + self.startup_timeout
            with OpaClient(host="127.0.0.1", port=self.port, timeout=2.0, retries=0) as probe:
                while time.monotonic() < deadline and process.poll() is None:
                    try:
                        if probe.wait_for_ready(timeout=0.2, interval=0.02):
                            return "127.0.0.1", self.port
                    except ConnectionsError:
                        continue
            if process.poll() is None:
                self.stop()
                raise BurstError(f"OPA did not become ready within {self.startup_timeout:.0f}s")
            log = self._log()
            if "address already in use" not in log or attempt == 2:
                self.stop()
                raise BurstError(
                    _opa_startup_problems(log, self.pack.directory, process.returncode)
                )
            self.start()
        raise AssertionError("unreachable")  # pragma: no cover

    def _log(self) -> str:
        if self._tmp is None:
            return ""
        path = Path(self._tmp.name) / "opa.log"
        return path.read_text(errors="replace").strip() if path.exists() else ""

    def stop(self) -> None:
        """Terminate the server (kill it if it does not stop) and remove its files."""
        process, self._process = self._process, None
        tmp, self._tmp = self._tmp, None
        try:
            if process is not None:
                _stop(process)
        finally:
            if tmp is not None:
                tmp.cleanup()

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None


def _stop(process: subprocess.Popen[bytes]) -> None:
    children.stop(process)  # a throw-away server holds nothing worth a graceful shutdown


def _opa_startup_problems(log: str, directory: Path, code: int | None = None) -> list[str]:
    lines = [line.strip() for line in log.splitlines() if line.strip().strip("^")]
    if not lines:
        how = ""
        if code is not None and code < 0:
            how = (
                f" (killed by {signal.Signals(-code).name})"
                if -code in signal.valid_signals()
                else ""
            )
        elif code:
            how = f" (exit status {code})"
        return [f"{directory}: OPA failed to start{how}"]
    return [f"{directory}: OPA could not load the policies:", *lines[:20]]


# ---------------------------------------------------------------------------------------------
# Remote server
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerAddress:
    """Where an OPA server listens, parsed from `--opa-url`."""

    host: str
    port: int
    ssl: bool

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"{'https' if self.ssl else 'http'}://{self.host}:{self.port}"


def parse_opa_url(url: str) -> ServerAddress:
    """Parse `http(s)://host[:port]` (no path: the client always talks to `/v1`)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BurstError(f"--opa-url {url!r}: expected http://host:port or https://host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BurstError(f"--opa-url {url!r}: must not have a path, query or fragment")
    try:
        port = parts.port
    except ValueError:
        raise BurstError(f"--opa-url {url!r}: invalid port") from None
    ssl = parts.scheme == "https"
    return ServerAddress(parts.hostname, port or (443 if ssl else 80), ssl)


def _import_opa_client() -> None:
    """Make `opa_client.opa` importable without the package's asyncio half.

    `opa_client/__init__.py` also imports the async client and with it aiohttp, a quarter of a
    second of start-up the check never uses (bench/README.md). The package is registered from its
    spec without running `__init__`; the first access to a package-level name runs it after all.
    """
    if "opa_client" in sys.modules:
        return
    spec = importlib.util.find_spec("opa_client")
    if spec is None or spec.loader is None:
        raise BurstError("opa-python-client is not installed: run `make setup`")
    package = importlib.util.module_from_spec(spec)
    loader = spec.loader

    def initialise(name: str) -> Any:
        del package.__getattr__
        loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = initialise  # type: ignore[method-assign]
    sys.modules["opa_client"] = package


MAX_RESPONSE_BYTES = 512 * 1024 * 1024
"""Largest report accepted from OPA (a 16,000-resource plan's report is a few MB)."""


class OpaHttpError(Exception):
    """OPA answered with an HTTP error status; `body` is the (bounded) response body."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


class ResponseTooLarge(Exception):
    """The response grew beyond MAX_RESPONSE_BYTES."""


def request_bounded(
    session: Any, url: str, body: bytes | None, timeout: float
) -> tuple[int, bytes]:
    """POST `body` (GET if None) and read the whole response within `timeout` seconds in total
    (connect, send, every byte of the answer) and at most MAX_RESPONSE_BYTES; a server that
    streams forever or too much raises `requests.Timeout` or ResponseTooLarge instead of
    outliving `--opa-timeout`.

    The request runs in a daemon thread that is abandoned at the deadline (the check then exits).
    """
    import requests

    outcome: list[Any] = []
    done = threading.Event()

    def fetch() -> None:
        try:
            with session.request(
                "GET" if body is None else "POST",
                url,
                data=body,
                headers={} if body is None else {"Content-Type": "application/json"},
                timeout=timeout,
                stream=True,
            ) as response:
                chunks, size = [], 0
                for chunk in response.iter_content(chunk_size=1 << 16):
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise ResponseTooLarge(f"more than {MAX_RESPONSE_BYTES} bytes")
                    chunks.append(chunk)
                outcome.append((response.status_code, b"".join(chunks)))
        except BaseException as error:  # handed to the waiting thread
            outcome.append(error)
        finally:
            done.set()

    threading.Thread(target=fetch, name="opa-request", daemon=True).start()
    if not done.wait(timeout):
        raise requests.Timeout(f"no complete answer within {timeout:.0f}s")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    status, content = result
    return int(status), bytes(content)


def _token() -> str | None:
    """The bearer token for `--opa-url` servers (`$BURST_OPA_TOKEN`), if any."""
    return os.environ.get("BURST_OPA_TOKEN") or None


def _client(address: ServerAddress, timeout: float, retries: int = 2) -> Any:
    """opa-python-client's OpaClient for `address`: health, uploads (its public API only)."""
    _import_opa_client()
    from opa_client.opa import OpaClient

    return OpaClient(
        host=address.host,
        port=address.port,
        ssl=address.ssl,
        token=_token(),
        timeout=timeout,
        retries=retries,
    )


def upload_pack(client: Any, pack: PolicyPack, guardrails: Mapping[str, Any]) -> None:
    """Upload the guardrails and every module (id = path relative to the policy directory).

    Modules are uploaded in rounds: a module whose dependencies are not on the server yet fails to
    compile and is retried after the others; what still fails when a round makes no progress is a
    real error and raises BurstError with OPA's messages.
    """
    from opa_client.errors import RegoParseError

    client.update_or_create_data(dict(guardrails), GUARDRAILS_DATA_PATH)
    pending = list(pack.modules)
    errors: dict[str, str] = {}
    while pending:
        failed = []
        for module in pending:
            try:
                client.update_policy_from_string(
                    module.text, endpoint=module.relative, rego_compat=False
                )
            except RegoParseError as error:
                errors[module.relative] = _rego_error_text(error)
                failed.append(module)
        if len(failed) == len(pending):
            raise BurstError(
                [
                    f"{pack.directory / m.relative}: OPA rejected the module: {errors[m.relative]}"
                    for m in failed
                ]
            )
        pending = failed


def _rego_error_text(error: Exception) -> str:
    details = getattr(error, "errors", None)
    if isinstance(details, list) and details:
        parts = []
        for item in details[:3]:
            if isinstance(item, Mapping):
                loc = item.get("location") or {}
                where = (
                    f"line {loc.get('row')}: "
                    if isinstance(loc, Mapping) and loc.get("row")
                    else ""
                )
                parts.append(f"{where}{item.get('message', item)}")
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return " ".join(str(a) for a in error.args) or type(error).__name__


# ---------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """What OPA reported: the findings, the rule packages that ran and the resource count."""

    findings: list[Finding]
    packages: list[str]
    resources: int
    undecided: list[str] = field(default_factory=list)
    """Rules that need the whole stack and could not be judged (the preview leaves some out)."""
    rules: list[RuleInfo] = field(default_factory=list)
    """The pack's annotated rules, as the server compiled them."""


def query_report(address: ServerAddress, document: Mapping[str, Any], timeout: float) -> Any:
    """POST the whole plan to `data.burst.main.report` in one request; return OPA's answer.

    The one request opa-python-client cannot make: its `query_rule` bounds each read, not the
    answer, so a server that drips bytes would outlive `--opa-timeout`, and its encoder spends a
    tenth of a second on a 20 MB plan. So this request is a bounded POST of its own
    (`request_bounded`, orjson), with the TLS verification and bearer token the client gets.
    """
    path = f"{REPORT_PACKAGE.replace('.', '/')}/{REPORT_RULE}"
    try:
        body = orjson.dumps({"input": document})
    except orjson.JSONEncodeError:  # e.g. integers beyond 64 bits
        body = json.dumps({"input": document}).encode()
    return _call(address, f"/v1/data/{path}", body, timeout, "evaluate data.burst.main.report")


def fetch_inventory(
    address: ServerAddress, timeout: float, ids: Collection[str] | None
) -> Inventory:
    """The rule inventory of the policies OPA compiled (`GET /v1/policies`, their ASTs with the
    parsed `# METADATA`), restricted to the policy ids in `ids` if given."""
    answer = _call(address, "/v1/policies", None, timeout, "list its policies")
    result = answer.get("result") if isinstance(answer, Mapping) else None
    if not isinstance(result, list):
        raise BurstError(f"OPA at {_where(address)} listed no policies (/v1/policies)")
    return inventory_of(result, ids)


def _where(address: ServerAddress) -> str:
    local = address.host == "127.0.0.1" and not address.ssl
    return "the local OPA server" if local else address.url


def _call(address: ServerAddress, path: str, body: bytes | None, timeout: float, what: str) -> Any:
    """One bounded request to OPA (see `request_bounded`) and its JSON answer; every failure is
    one BurstError line naming the server and `what` it could not do."""
    import requests

    where = _where(address)
    token = _token()
    try:
        with requests.Session() as session:
            session.verify = address.ssl
            if token:
                session.headers["Authorization"] = f"Bearer {token}"
            status, content = request_bounded(session, f"{address.url}{path}", body, timeout)
        if status >= 400:
            raise OpaHttpError(status, content)
        return orjson.loads(content)
    except OpaHttpError as error:
        raise BurstError(f"OPA at {where} could not {what}: {_http_error(error)}") from None
    except ResponseTooLarge as error:
        raise BurstError(f"OPA at {where} answered with {error}: refused") from None
    except requests.Timeout:
        raise BurstError(f"OPA at {where} did not answer in time (raise --opa-timeout)") from None
    except requests.RequestException as error:
        raise BurstError(f"OPA at {where} unreachable: {type(error).__name__}") from None
    except ValueError:
        raise BurstError(f"OPA at {where} answered with something that is not JSON") from None


def _http_error(error: OpaHttpError) -> str:
    try:
        body = json.loads(error.body)
    except ValueError:
        return f"HTTP {error.status}: {error.body[:300].decode(errors='replace')}"
    message = body.get("message", "") if isinstance(body, Mapping) else ""
    inner = body.get("errors") if isinstance(body, Mapping) else None
    if isinstance(inner, list) and inner and isinstance(inner[0], Mapping):
        message = f"{message}: {inner[0].get('message', '')}"
    code = body.get("code", "") if isinstance(body, Mapping) else ""
    return f"HTTP {error.status} {code}: {message}".strip()


def validate_report(response: Any, expected_packages: set[str], resource_count: int) -> Evaluation:
    """Check the raw response of `data.burst.main.report` and turn it into findings.

    Raises BurstError (fail closed) if the result is undefined or has the wrong shape, if OPA saw
    a different number of resources than were sent, or if an expected rule package is missing.
    """
    target = "data.burst.main.report"
    if not isinstance(response, Mapping):
        raise BurstError(f"OPA returned an invalid response for {target}")
    if "result" not in response:
        raise BurstError(
            f"OPA returned no result for {target} (undefined): the burst.main package or the "
            "guardrails data is missing; the check cannot be made"
        )
    result = response["result"]
    if not isinstance(result, Mapping):
        raise BurstError(f"{target} is not an object: {type(result).__name__}")
    problems = []
    findings_raw = result.get("findings")
    packages = result.get("packages")
    resources = result.get("resources")
    if not isinstance(findings_raw, list):
        problems.append(f"{target}.findings: missing or not a list")
        findings_raw = []
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        problems.append(f"{target}.packages: missing or not a list of package names")
        packages = []
    if not isinstance(resources, int) or isinstance(resources, bool):
        problems.append(f"{target}.resources: missing or not a number")
    elif resources != resource_count:
        problems.append(
            f"{target}.resources: OPA saw {resources} resources but {resource_count} were sent"
        )
    findings = []
    for index, raw in enumerate(findings_raw):
        finding = _finding(raw)
        if isinstance(finding, str):
            if len(problems) < 20:
                problems.append(f"{target}.findings[{index}]: {finding}")
            continue
        findings.append(finding)
    undecided = result.get("undecided")
    if not isinstance(undecided, list) or not all(isinstance(u, str) for u in undecided):
        problems.append(f"{target}.undecided: missing or not a list of rule ids")
        undecided = []
    missing = sorted(expected_packages - set(packages))
    if missing:
        problems.append(
            f"rule package(s) {', '.join(missing)} did not report: the policy pack is incomplete "
            "or the server holds other policies"
        )
    if problems:
        raise BurstError(problems)
    return Evaluation(findings, sorted(packages), resource_count, sorted(undecided))


def _finding(raw: object) -> Finding | str:
    if not isinstance(raw, Mapping):
        return "not an object"
    for key in ("rule", "severity", "resource", "message"):
        if not isinstance(raw.get(key), str):
            return f"{key}: missing or not a string"
    if raw["severity"] not in POLICY_SEVERITIES:
        return f"severity: {raw['severity']!r} is not one of {', '.join(POLICY_SEVERITIES)}"
    for key in ("title", "remediation"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            return f"{key}: not a string"
    return Finding(
        rule=raw["rule"],
        severity=raw["severity"],
        resource=raw["resource"],
        message=raw["message"],
        engine=OPA,
        title=raw.get("title") or "",
        remediation=raw.get("remediation") or "",
    )


class Engine:
    """OPA for one check: a local server (started on enter) or an existing one (`opa_url`).

    Use as a context manager; `evaluate()` sends the whole plan in one request and validates the
    report. The local server starts on enter so that OPA compiles the pack while the caller reads
    and normalises its input; it is stopped on exit, whatever happened.
    """

    def __init__(
        self,
        pack: PolicyPack,
        guardrails: Mapping[str, Any],
        opa_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        root: Path | None = None,
        required_packages: Collection[str] = (),
    ) -> None:
        self.pack = pack
        self.guardrails = guardrails
        self.required_packages = frozenset(required_packages)
        """Rule sets the report must list beyond the pack's own (another pack's, see pipeline)."""
        self.timeout = timeout
        self.address = parse_opa_url(opa_url) if opa_url is not None else None
        self._server = (
            None if opa_url is not None else LocalServer(find_opa(root), pack, guardrails)
        )

    def __enter__(self) -> Engine:
        if self._server is not None:
            self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.stop()

    @property
    def local(self) -> bool:
        """Whether this check runs its own OPA server (no `--opa-url`)."""
        return self._server is not None

    def wait_ready(self) -> None:
        """Block until the local server answers (nothing to wait for with `--opa-url`)."""
        if self._server is not None:
            self._server.wait()

    def evaluate(self, document: Mapping[str, Any]) -> Evaluation:
        """Evaluate `data.burst.main.report` over `document`; fail closed on anything odd.

        The rule inventory is read from the same server while it evaluates: the report must
        list every rule set the compiled pack declares (and `required_packages`).
        """
        resources = document.get("resources")
        count = len(resources) if isinstance(resources, Sequence) else 0
        if self._server is not None:
            host, port = self._server.wait()
            address, ids = ServerAddress(host, port, False), None  # it holds only the pack
        else:
            assert self.address is not None  # noqa: S101 - set whenever there is no local server
            address, ids = self.address, {m.relative for m in self.pack.modules}
            self._upload(address)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="opa-inventory") as pool:
            inventory = pool.submit(fetch_inventory, address, self.timeout, ids)
            response = query_report(address, document, self.timeout)
            rules = inventory.result()
        expected = (rules.rule_sets | self.required_packages) - {REPORT_PACKAGE}
        evaluation = validate_report(response, set(expected), count)
        evaluation.rules = rules.rules
        return evaluation

    def _upload(self, address: ServerAddress) -> None:
        """Load the pack and the guardrails into the `--opa-url` server, once it answers."""
        import requests
        from opa_client.errors import ConnectionsError

        probe_timeout = min(self.timeout, 5.0)
        with _client(address, timeout=probe_timeout, retries=0) as probe:
            try:
                probe.wait_for_ready(timeout=probe_timeout, interval=0.2)
            except ConnectionsError:
                raise BurstError(
                    f"OPA server at {address.url} is unreachable or not ready"
                ) from None
        with _client(address, self.timeout) as client:
            try:
                upload_pack(client, self.pack, self.guardrails)
            except BurstError:
                raise
            except requests.RequestException as error:
                raise BurstError(
                    f"OPA server at {address.url}: upload failed: {type(error).__name__}"
                ) from None
            except Exception as error:  # opa_client raises its own error types on HTTP errors
                raise BurstError(
                    f"OPA server at {address.url}: upload failed: {_rego_error_text(error)}"
                ) from None


def evaluate(
    document: Mapping[str, Any],
    pack: PolicyPack,
    guardrails: Mapping[str, Any],
    opa_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    root: Path | None = None,
    required_packages: Collection[str] = (),
) -> Evaluation:
    """Evaluate the plan in one request to `data.burst.main.report` (see `Engine`)."""
    with Engine(pack, guardrails, opa_url, timeout, root, required_packages) as engine:
        return engine.evaluate(document)
