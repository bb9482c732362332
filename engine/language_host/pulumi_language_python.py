"""burst's minimal Pulumi language host for Python (`pulumi-language-python`).

Upstream's language host is a Go program (`sdk/python/cmd/pulumi-language-python`) that the Go
module proxy does not serve, so this module re-implements the part of it that `pulumi preview`,
`pulumi up`, `pulumi destroy` and `pulumi stack output` need, over the `LanguageRuntime` gRPC stubs
that the installed Python SDK ships (`pulumi.runtime.proto`). See engine/README.md.

Two modes, chosen by the first argument:

* ``[--tracing URL] [--logtostderr] [-v=N] [ENGINE_ADDRESS]`` (what the Pulumi CLI passes): serve
  `pulumirpc.LanguageRuntime` on 127.0.0.1 and print the port as the first stdout line.
* ``exec --monitor ... PROGRAM [ARGS...]``: the program runner. `Run` starts it in a child process
  with the program's Python interpreter; it does what upstream's exec shim
  (`sdk/python/cmd/pulumi-language-python-exec`) does: read `PULUMI_CONFIG` /
  `PULUMI_CONFIG_SECRET_KEYS`, configure `pulumi.runtime.Settings`, chdir to `--pwd` and run the
  program with `runpy` inside `pulumi.runtime.run_in_stack`. Exit code 32 means "the error was
  already reported to the engine" and is answered with `RunResponse.bail`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import inspect
import json
import logging
import os
import queue
import re
import runpy
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import IO, Any, NoReturn

import grpc  # type: ignore[import-untyped]
from google.protobuf import empty_pb2, json_format  # type: ignore[import-untyped]
from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2

LOG = logging.getLogger("pulumi-language-python")

# Program runner exit code for "an actionable error was already shown" (upstream's value).
EXIT_ALREADY_REPORTED = 32
# pulumi's rpcutil.MaxRPCMessageSize (400 MiB); config maps and args can be large.
MAX_MESSAGE_BYTES = 400 * 1024 * 1024
# How often the host checks that the engine that started it is still alive (upstream: 5 min).
ENGINE_HEALTH_INTERVAL_S = 60.0
# Grace period for running programs when the host is asked to stop (the CLI kills after 5 s).
STOP_GRACE_S = 3.0
# Python packages with a `pulumi` prefix that have no provider plugin (upstream's list).
PACKAGES_WITHOUT_PLUGINS = frozenset(
    {"pulumi-policy", "pulumi_policy", "pulumi-esc-sdk", "pulumi_esc_sdk"}
)

# Runs in the program's interpreter: prints its installed distributions (name, version, the
# content of `<location>/<module>/pulumi-plugin.json` if any) as JSON on stdout.
_INVENTORY_SCRIPT = r"""
import importlib.metadata as md, json, os, sys
out, seen = [], set()
for dist in md.distributions():
    name = dist.metadata["Name"]
    if not name or name.lower() in seen:
        continue
    seen.add(name.lower())
    plugin = None
    path = os.path.join(str(dist.locate_file("")), name.replace("-", "_"), "pulumi-plugin.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            plugin = json.load(f)
    out.append({"name": name, "version": dist.version, "plugin": plugin})
json.dump(out, sys.stdout)
"""


class HostError(Exception):
    """A request the host cannot serve; its text is shown to the user by the CLI."""


# ---------------------------------------------------------------------------------------------
# Program options and interpreter selection
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PythonOptions:
    """`runtime.options` of Pulumi.yaml, as upstream's `parseOptions` reads them."""

    root: str
    program_dir: str
    virtualenv: str = ""
    toolchain: str = "pip"
    typechecker: str = ""

    @classmethod
    def from_info(cls, info: language_pb2.ProgramInfo) -> PythonOptions:
        """Read the options of a `ProgramInfo`; only the pip toolchain is supported."""
        raw: dict[str, Any] = json_format.MessageToDict(info.options) if info.options else {}
        values: dict[str, str] = {}
        for key in ("virtualenv", "toolchain", "typechecker"):
            if key in raw:
                if not isinstance(raw[key], str):
                    raise HostError(f"{key} option must be a string")
                values[key] = raw[key]
        toolchain = values.get("toolchain", "pip")
        if toolchain not in ("pip", "poetry", "uv"):
            raise HostError(f"unsupported toolchain option: {toolchain}")
        if toolchain != "pip":
            raise HostError(
                f"toolchain {toolchain!r} is not supported by burst's language host "
                "(engine/language_host); use toolchain: pip"
            )
        typechecker = values.get("typechecker", "")
        if typechecker not in ("", "mypy", "pyright"):
            raise HostError(f"unsupported typechecker option: {typechecker}")
        return cls(
            root=info.root_directory,
            program_dir=info.program_directory or info.root_directory,
            virtualenv=values.get("virtualenv", ""),
            toolchain=toolchain,
            typechecker=typechecker,
        )

    def virtualenv_path(self) -> str:
        """The virtualenv directory (relative paths are relative to the project root), or ''."""
        if not self.virtualenv:
            return ""
        return os.path.normpath(os.path.join(self.root or os.getcwd(), self.virtualenv))

    def python(self) -> str:
        """The interpreter that runs the program.

        `<virtualenv>/bin/python` when the `virtualenv` option is set (like upstream), else
        `PULUMI_PYTHON_CMD` if set (upstream's override), else the interpreter running this host
        (the repository's `.venv/bin/python`, or `BURST_PYTHON`, chosen by the launcher).
        """
        venv = self.virtualenv_path()
        if venv:
            python = os.path.join(venv, "bin", "python")
            if not os.path.isdir(venv):
                raise HostError(
                    f"The 'virtualenv' option in Pulumi.yaml is set to {self.virtualenv!r}, "
                    f"but {venv!r} does not exist; create it (make setup) and install the "
                    "dependencies into it"
                )
            if not os.access(python, os.X_OK):
                raise HostError(
                    f"The 'virtualenv' option in Pulumi.yaml is set to {self.virtualenv!r}, "
                    f"but {venv!r} is not a virtual environment (no bin/python)"
                )
            return python
        return os.environ.get("PULUMI_PYTHON_CMD") or sys.executable

    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment for child processes: ours, with the virtualenv activated."""
        env = dict(os.environ)
        venv = self.virtualenv_path()
        if venv:
            # What upstream's toolchain.ActivateVirtualEnv does.
            env.pop("PYTHONHOME", None)
            env["VIRTUAL_ENV"] = venv
            env["PATH"] = os.pathsep.join([os.path.join(venv, "bin"), env.get("PATH", "")])
        env.update(extra or {})
        return env


def pep440_to_semver(version: str) -> str | None:
    """Convert a PEP 440 package version to a plugin version, as upstream does.

    `1.2` -> `1.2.0`, `1.2.3a4` -> `1.2.3-alpha.4`, `1.2.3rc4` -> `1.2.3-rc.4`,
    `1.2.3.post4` -> `1.2.3+post4`, `1.2.3.dev5` -> `1.2.3+dev5`, `1.2.3.post4.dev5` ->
    `1.2.3+post4dev5`. Returns None for what cannot be converted (epochs, local versions).
    """
    match = re.fullmatch(
        r"(\d+(?:\.\d+)*)(?:(a|b|rc)(\d*))?(?:\.post(\d*))?(?:\.dev(\d*))?", version
    )
    if not match:
        return None
    release, pre_kind, pre_num, post, dev = match.groups()
    segments = release.split(".")
    segments += ["0"] * (3 - len(segments))
    result = ".".join(segments)
    if pre_kind:
        result += "-" + {"a": "alpha", "b": "beta", "rc": "rc"}[pre_kind] + "." + pre_num
    if post is not None:
        result += "+post" + post
    if dev is not None:
        result += ("" if post is not None else "+") + "dev" + dev
    return result


def _inventory(opts: PythonOptions) -> list[dict[str, Any]]:
    """The distributions installed for the program's interpreter (see `_INVENTORY_SCRIPT`)."""
    python = opts.python()
    try:
        proc = subprocess.run(  # noqa: S603 - fixed script, interpreter chosen by the project
            [python, "-c", _INVENTORY_SCRIPT],
            cwd=opts.program_dir or None,
            env=opts.environ(),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HostError(f"could not list the packages of {python}: {exc}") from exc
    if proc.returncode != 0:
        raise HostError(
            f"could not list the packages of {python} (exit {proc.returncode}): "
            f"{proc.stderr.strip()}"
        )
    result: list[dict[str, Any]] = json.loads(proc.stdout)
    return result


def required_packages(opts: PythonOptions) -> list[plugin_pb2.PackageDependency]:
    """Provider plugins of the Pulumi packages installed for the program (upstream's rule).

    A package counts when it ships a `pulumi-plugin.json` or its name starts with `pulumi-` /
    `pulumi_`; `resource: false` in that file, or a version that cannot be converted to semver,
    leaves it out. Name, version and server come from the file, else from the package.
    """
    packages: list[plugin_pb2.PackageDependency] = []
    for dist in _inventory(opts):
        name: str = dist["name"]
        plugin: dict[str, Any] | None = dist["plugin"]
        if plugin is None and not name.startswith(("pulumi-", "pulumi_")):
            continue
        if name in PACKAGES_WITHOUT_PLUGINS:
            continue
        plugin = plugin or {}
        if plugin and not plugin.get("resource", False):
            continue
        plugin_name = plugin.get("name") or name.removeprefix("pulumi-").removeprefix("pulumi_")
        version = plugin.get("version") or pep440_to_semver(dist["version"])
        if not version:
            LOG.info("skipping %s: cannot derive a plugin version from %s", name, dist["version"])
            continue
        if not version.startswith("v"):
            version = "v" + version
        dep = plugin_pb2.PackageDependency(
            name=plugin_name, kind="resource", version=version, server=plugin.get("server") or ""
        )
        param = plugin.get("parameterization")
        if param:
            dep.parameterization.CopyFrom(
                plugin_pb2.PackageParameterization(
                    name=param.get("name", ""),
                    version=param.get("version", ""),
                    value=base64.b64decode(param.get("value") or ""),
                )
            )
        packages.append(dep)
    return packages


# ---------------------------------------------------------------------------------------------
# The gRPC service
# ---------------------------------------------------------------------------------------------


def _sdk_version() -> str:
    """The installed Python SDK's version, reported as this host's plugin version."""
    from importlib import metadata

    try:
        return metadata.version("pulumi")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _describe_exit(code: int) -> str:
    """Text for a program's non-zero exit, worded like upstream's host."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"program exited unexpectedly: killed by {signal.Signals(-code).name}"
        return f"program exited unexpectedly: killed by signal {-code}"
    return f"program exited with non-zero exit code: {code}"


class LanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    """`pulumirpc.LanguageRuntime` for Python programs; other RPCs answer `UNIMPLEMENTED`."""

    def __init__(self, engine_address: str, tracing: str) -> None:
        self.engine_address = engine_address
        self.tracing = tracing
        self._children: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()

    # -- helpers --------------------------------------------------------------------------

    def _fail(self, context: grpc.ServicerContext, exc: Exception) -> NoReturn:
        """Abort the RPC with the error's text (UNKNOWN, shown by the CLI as the error)."""
        LOG.info("request failed: %s", exc)
        context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        raise HostError(str(exc))  # not reached: abort() raises

    def _spawn(self, argv: list[str], env: dict[str, str], cwd: str | None) -> int:
        """Run a child with our stdout/stderr (the CLI shows them as program output)."""
        sys.stdout.flush()
        sys.stderr.flush()
        proc = subprocess.Popen(argv, env=env, cwd=cwd)  # noqa: S603 - argv built by us
        with self._lock:
            self._children.add(proc)
        try:
            return proc.wait()
        finally:
            with self._lock:
                self._children.discard(proc)

    def stop_children(self, grace: float) -> None:
        """Terminate running programs: SIGTERM, then SIGKILL after `grace` seconds."""
        with self._lock:
            children = list(self._children)
        for proc in children:
            with contextlib.suppress(OSError):
                proc.terminate()
        for proc in children:
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    proc.kill()

    def exec_arguments(self, req: language_pb2.RunRequest) -> list[str]:
        """The program runner's command line, as upstream's `constructArguments` builds it."""
        args: list[str] = []

        def maybe(key: str, value: str) -> None:
            if value:
                args.extend(["--" + key, value])

        maybe("monitor", req.monitor_address)
        maybe("engine", self.engine_address)
        maybe("project", req.project)
        maybe("root_directory", req.info.root_directory)
        maybe("stack", req.stack)
        maybe("pwd", req.pwd)
        maybe("dry_run", "true" if req.dryRun else "false")
        maybe("parallel", str(req.parallel))
        maybe("tracing", self.tracing)
        maybe("organization", req.organization)
        # The engine always sends an entry point ("." for the program directory).
        args.append(req.info.entry_point or req.program or ".")
        args.extend(req.args)
        return args

    def _typecheck(self, opts: PythonOptions, python: str, env: dict[str, str]) -> str:
        """Run the `typechecker` option's checker like upstream; returns error text or ''."""
        argv = [python, "-m", opts.typechecker]
        venv = opts.virtualenv_path()
        if opts.typechecker == "mypy" and venv:
            argv += ["--exclude", os.path.relpath(venv, opts.program_dir)]
        argv.append(opts.program_dir)
        code = self._spawn(argv, env, opts.program_dir)
        if code != 0:
            return f"{opts.typechecker} failed: exit status {code}"
        return ""

    # -- RPCs -----------------------------------------------------------------------------

    def Handshake(
        self, request: language_pb2.LanguageHandshakeRequest, context: grpc.ServicerContext
    ) -> language_pb2.LanguageHandshakeResponse:
        """Take the engine address when the CLI attaches (`PULUMI_DEBUG_LANGUAGES=python:PORT`)."""
        self.engine_address = request.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(
        self, request: empty_pb2.Empty, context: grpc.ServicerContext
    ) -> plugin_pb2.PluginInfo:
        """Report the installed Python SDK's version as this plugin's version."""
        return plugin_pb2.PluginInfo(version=_sdk_version())

    def GetRequiredPackages(
        self, request: language_pb2.GetRequiredPackagesRequest, context: grpc.ServicerContext
    ) -> language_pb2.GetRequiredPackagesResponse:
        """List the provider plugins of the Pulumi packages installed for the program."""
        try:
            packages = required_packages(PythonOptions.from_info(request.info))
        except HostError as exc:
            self._fail(context, exc)
        return language_pb2.GetRequiredPackagesResponse(packages=packages)

    def GetRequiredPlugins(
        self, request: language_pb2.GetRequiredPluginsRequest, context: grpc.ServicerContext
    ) -> language_pb2.GetRequiredPluginsResponse:
        """Older form of `GetRequiredPackages` (no parameterization), for older CLIs."""
        try:
            packages = required_packages(PythonOptions.from_info(request.info))
        except HostError as exc:
            self._fail(context, exc)
        plugins = [
            plugin_pb2.PluginDependency(
                name=p.name, kind=p.kind, version=p.version, server=p.server
            )
            for p in packages
            if not p.HasField("parameterization")
        ]
        return language_pb2.GetRequiredPluginsResponse(plugins=plugins)

    def Run(
        self, request: language_pb2.RunRequest, context: grpc.ServicerContext
    ) -> language_pb2.RunResponse:
        """Run the program with the program runner (`exec` mode) and wait for it."""
        if not self.engine_address:
            self._fail(context, HostError("must call Handshake before Run when attached"))
        if request.attach_debugger:
            return language_pb2.RunResponse(
                error="attaching a debugger is not supported by burst's language host"
            )
        try:
            opts = PythonOptions.from_info(request.info)
            python = opts.python()
        except HostError as exc:
            return language_pb2.RunResponse(error=str(exc))
        extra = {"PULUMI_CONFIG_SECRET_KEYS": json.dumps(list(request.configSecretKeys))}
        if request.config:
            extra["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env = opts.environ(extra)
        if opts.typechecker:
            error = self._typecheck(opts, python, env)
            if error:
                return language_pb2.RunResponse(error=error)
        argv = [python, os.path.abspath(__file__), "exec", *self.exec_arguments(request)]
        LOG.debug("launching program: %s", argv)
        try:
            code = self._spawn(argv, env, None)
        except OSError as exc:
            return language_pb2.RunResponse(
                error=f"problem executing program (could not run language executor): {exc}"
            )
        if code == 0:
            return language_pb2.RunResponse()
        if code == EXIT_ALREADY_REPORTED:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=_describe_exit(code))

    def RunPlugin(
        self, request: language_pb2.RunPluginRequest, context: grpc.ServicerContext
    ) -> Iterator[language_pb2.RunPluginResponse]:
        """Run a Python plugin (a policy pack: `PulumiPolicy.yaml` with `runtime: python`).

        What upstream's RunPlugin does for a plain directory: `<python> <program directory>
        ARGS...` (its `__main__.py`) in `pwd`, with the request's environment, the interpreter of
        the `virtualenv` option (relative to the plugin directory; default `venv`, never the
        ambient Python), stdout and stderr streamed back as they come, then the exit code. The
        CLI cancels the call when it is done with the plugin: the child is then terminated.
        """
        try:
            opts = PythonOptions.from_info(request.info)
            if not opts.virtualenv:  # upstream: plugins never run on the ambient interpreter
                opts = dataclasses.replace(opts, virtualenv="venv")
            python = opts.python()
        except HostError as exc:
            self._fail(context, exc)
        program = request.info.program_directory or opts.root
        if not os.path.isfile(os.path.join(program, "__main__.py")):
            self._fail(context, HostError(f"plugin is not runnable: {program} has no __main__.py"))
        env = dict(os.environ)
        for entry in request.env:
            key, sep, value = entry.partition("=")
            if sep:
                env[key] = value
        env = dict(opts.environ(env))
        argv = [python, program, *request.args]
        LOG.debug("launching plugin: %s", argv)
        try:
            proc = subprocess.Popen(  # noqa: S603 - argv built by us
                argv,
                env=env,
                cwd=request.pwd or None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            self._fail(context, HostError(f"problem executing plugin program: {exc}"))
        with self._lock:
            self._children.add(proc)
        context.add_callback(lambda: _terminate(proc))
        chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()

        def pump(stream: IO[bytes], name: str) -> None:
            with contextlib.suppress(OSError, ValueError):
                while chunk := os.read(stream.fileno(), 65536):
                    chunks.put((name, chunk))
            chunks.put((name, b""))

        streams = ((proc.stdout, "stdout"), (proc.stderr, "stderr"))
        for stream, name in streams:
            if stream is None:  # not reached: both are pipes
                self._fail(context, HostError("plugin output is not a pipe"))
            threading.Thread(target=pump, args=(stream, name), daemon=True).start()
        try:
            open_streams = 2
            while open_streams:
                name, chunk = chunks.get()
                if not chunk:
                    open_streams -= 1
                elif name == "stdout":
                    yield language_pb2.RunPluginResponse(stdout=chunk)
                else:
                    yield language_pb2.RunPluginResponse(stderr=chunk)
            code = proc.wait()
            if code != 0:  # upstream sends the code only when it is not 0 (0: end of stream)
                yield language_pb2.RunPluginResponse(exitcode=code if code > 0 else 128 - code)
        finally:
            _terminate(proc)
            with self._lock:
                self._children.discard(proc)

    def About(
        self, request: language_pb2.AboutRequest, context: grpc.ServicerContext
    ) -> language_pb2.AboutResponse:
        """Report the program's interpreter and its version."""
        try:
            opts = (
                PythonOptions.from_info(request.info)
                if request.HasField("info")
                else PythonOptions(root=os.getcwd(), program_dir=os.getcwd())
            )
            python = opts.python()
            if python == sys.executable:
                version = ".".join(map(str, sys.version_info[:3]))
            else:
                out = subprocess.run(  # noqa: S603
                    [python, "--version"],
                    capture_output=True,
                    text=True,
                    check=True,
                    env=opts.environ(),
                    timeout=60,
                ).stdout
                version = out.strip().removeprefix("Python ").strip()
        except (HostError, OSError, subprocess.SubprocessError) as exc:
            self._fail(context, exc)
        return language_pb2.AboutResponse(executable=python, version=version)

    def GetProgramDependencies(
        self, request: language_pb2.GetProgramDependenciesRequest, context: grpc.ServicerContext
    ) -> language_pb2.GetProgramDependenciesResponse:
        """List the distributions installed for the program's interpreter (`pulumi about`)."""
        try:
            dists = _inventory(PythonOptions.from_info(request.info))
        except HostError as exc:
            self._fail(context, exc)
        return language_pb2.GetProgramDependenciesResponse(
            dependencies=[
                language_pb2.DependencyInfo(name=d["name"], version=d["version"]) for d in dists
            ]
        )

    def Cancel(self, request: empty_pb2.Empty, context: grpc.ServicerContext) -> empty_pb2.Empty:
        """Acknowledge shutdown; a running program stops on its own when the engine goes away."""
        return empty_pb2.Empty()


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """Stop a plugin the CLI is done with: SIGTERM, SIGKILL if it is still there after 5 s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(OSError):
        proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            proc.kill()


def _engine_watchdog(address: str, stop: threading.Event) -> None:
    """Set `stop` when the engine stops answering (upstream's `rpcutil.Healthcheck`)."""
    channel = grpc.insecure_channel(address)
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    try:
        while not stop.wait(ENGINE_HEALTH_INTERVAL_S):
            try:
                check(b"", timeout=10)
            except grpc.RpcError as exc:
                if exc.code() == grpc.StatusCode.UNAVAILABLE:
                    LOG.info("engine at %s is gone; shutting down", address)
                    stop.set()
    finally:
        channel.close()


def serve(argv: list[str]) -> int:
    """Serve `LanguageRuntime` until SIGINT/SIGTERM (or the engine disappears)."""
    parser = argparse.ArgumentParser(prog="pulumi-language-python")
    parser.add_argument("--tracing", default="", help="Zipkin-compatible tracing endpoint")
    parser.add_argument("--logtostderr", action="store_true", help="log to stderr")
    parser.add_argument("-v", dest="verbose", default="0", help="log verbosity (-v=N)")
    # Flags of upstream's host that the CLI no longer passes; accepted and ignored.
    for obsolete in ("--virtualenv", "--root", "--typechecker", "--toolchain", "--use-executor"):
        parser.add_argument(obsolete, default="", help=argparse.SUPPRESS)
    parser.add_argument("engine_address", nargs="?", default="", help="the engine's gRPC address")
    args, _unknown = parser.parse_known_args(argv)
    if args.logtostderr:
        verbose = int(args.verbose) if str(args.verbose).isdigit() else 0
        logging.basicConfig(
            stream=sys.stderr,
            level=logging.DEBUG if verbose >= 5 else logging.INFO,
            format="pulumi-language-python: %(message)s",
        )

    host = LanguageHost(args.engine_address, args.tracing)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="langhost"),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ],
    )
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(host, server)
    port = server.add_insecure_port("127.0.0.1:0")
    if port == 0:
        print("pulumi-language-python: could not bind a port on 127.0.0.1", file=sys.stderr)
        return 1
    server.start()

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.engine_address:
        threading.Thread(
            target=_engine_watchdog, args=(args.engine_address, stop), daemon=True
        ).start()

    # The CLI reads the port from the first stdout line; nothing may be printed before it.
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()

    while not stop.wait(1.0):
        pass
    done = server.stop(grace=STOP_GRACE_S)
    host.stop_children(STOP_GRACE_S)
    done.wait(STOP_GRACE_S)
    return 0


# ---------------------------------------------------------------------------------------------
# The program runner (upstream's pulumi-language-python-exec)
# ---------------------------------------------------------------------------------------------


def _abs_module_path(mod_path: str) -> str:
    path, ext = os.path.splitext(mod_path)
    if not ext:
        path = os.path.join(path, "__main__")
    return os.path.abspath(path)


def _user_stacktrace(program: str) -> str:
    """The current exception's traceback, cut to the frames from the user's program on."""
    frames = traceback.extract_tb(sys.exc_info()[2])
    for index, frame in enumerate(frames):
        if _abs_module_path(program) == _abs_module_path(frame.filename):
            return traceback.format_exc(limit=-(len(frames) - index))
    return traceback.format_exc()


def exec_program(argv: list[str]) -> int:
    """Run a Pulumi program connected to the engine; upstream's exec shim, step by step."""
    import pulumi
    import pulumi.runtime

    ap = argparse.ArgumentParser(prog="pulumi-language-python exec")
    ap.add_argument("--project")
    ap.add_argument("--root_directory")
    ap.add_argument("--stack")
    ap.add_argument("--parallel")
    ap.add_argument("--dry_run")
    ap.add_argument("--pwd")
    ap.add_argument("--monitor")
    ap.add_argument("--engine")
    ap.add_argument("--tracing")
    ap.add_argument("--organization")
    ap.add_argument("PROGRAM")
    ap.add_argument("ARGS", nargs="*")
    args = ap.parse_args(argv)

    # Config first, so that later reads are fast.
    pulumi.runtime.set_all_config(
        pulumi.runtime.get_config_env(), pulumi.runtime.get_config_secret_keys_env()
    )
    settings_kwargs: dict[str, Any] = {
        "monitor": args.monitor,
        "engine": args.engine,
        "project": args.project,
        "stack": args.stack,
        "parallel": int(args.parallel) if args.parallel else None,
        "dry_run": args.dry_run == "true",
        "organization": args.organization,
        "root_directory": args.root_directory,
    }
    accepted = inspect.signature(pulumi.runtime.Settings.__init__).parameters
    settings = pulumi.runtime.Settings(
        **{k: v for k, v in settings_kwargs.items() if k in accepted}
    )
    pulumi.runtime.configure(settings)

    sys.argv = [args.PROGRAM, *args.ARGS]
    if args.pwd:
        os.chdir(args.pwd)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    executor: futures.ThreadPoolExecutor | None = None
    if settings.parallel is not None:
        executor = futures.ThreadPoolExecutor(max_workers=max(settings.parallel, 1) * 4)
        loop.set_default_executor(executor)
    # The programming model leaves futures unobserved when a deployment fails; asyncio's
    # complaints about that are noise (upstream silences them the same way).
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)

    program = os.path.abspath(args.PROGRAM)
    exit_code = 1

    def run() -> None:
        try:
            runpy.run_path(args.PROGRAM, run_name="__main__")
        except ImportError as exc:
            # A directory without __main__.py: the only frames are ours and runpy's.
            modules = [
                runpy.__file__ if f.filename == "<frozen runpy>" else f.filename
                for f in traceback.extract_tb(exc.__traceback__)
            ]
            if set(modules) == {__file__, runpy.__file__} and modules[-1] == runpy.__file__:
                pulumi.log.error(f"unable to find main python program `__main__.py` in `{program}`")
                sys.exit(EXIT_ALREADY_REPORTED)
            raise

    try:
        loop.run_until_complete(pulumi.runtime.run_in_stack(run))
        exit_code = 0
    except pulumi.RunError as exc:
        pulumi.log.error(str(exc))
    except Exception:
        pulumi.log.error(
            "Program failed with an unhandled exception:\n" + _user_stacktrace(program)
        )
        exit_code = EXIT_ALREADY_REPORTED
    finally:
        if executor is not None:
            executor.shutdown(wait=True)
        loop.close()
        sys.stdout.flush()
        sys.stderr.flush()
    return exit_code


def main(argv: list[str]) -> int:
    """Dispatch: `exec ...` runs a program, anything else serves the language host."""
    if argv[:1] == ["exec"]:
        return exec_program(argv[1:])
    return serve(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
