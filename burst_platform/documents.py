"""Strict reading of every JSON and YAML document burst reads: one line per problem, no traceback.

A later duplicate key must not silently hide an earlier one (a clean copy of a setting after the
real one), so duplicate keys are refused in both formats. YAML aliases are refused: an alias
bomb is a few lines that expand into gigabytes when the document is serialised. Nesting depth and
file size are bounded, and a file that is not UTF-8 is named as such.
"""

from __future__ import annotations

import difflib
import json
import math
import sys
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from burst_platform.errors import BurstError

MAX_BYTES = 512 * 1024 * 1024
"""Largest document read (a 16,000-resource preview is about 31 MB)."""

MAX_DEPTH = 200
"""Deepest nesting of objects and lists accepted (Kubernetes objects in a preview reach ~30)."""

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictYamlLoader(_BaseLoader):  # type: ignore[misc]
    """libyaml's safe loader (when present) that refuses duplicate keys and aliases."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """Construct a node; a node met a second time is an alias (`*name`) and refused."""
        if node in self.constructed_objects or node in self.recursive_objects:
            raise yaml.constructor.ConstructorError(
                None, None, "aliases (*name) are not allowed", node.start_mark
            )
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Construct a mapping; a key that appears twice is refused."""
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, list | dict):
                    continue  # unhashable keys fail below with PyYAML's own message
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            self.constructed_objects.clear()  # the keys above are constructed again below
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


def _stack_depth() -> int:
    frame: FrameType | None = sys._getframe()
    depth = 0
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    return depth


class _DepthLimit:
    """Lower the interpreter's recursion limit so that parsing stops at MAX_DEPTH levels."""

    def __enter__(self) -> None:
        self.previous = sys.getrecursionlimit()
        sys.setrecursionlimit(_stack_depth() + MAX_DEPTH + 10)

    def __exit__(self, *exc: object) -> None:
        sys.setrecursionlimit(self.previous)


def read_bytes(path: Path, kind: str) -> bytes:
    """The bytes of a file; a missing, unreadable or oversized file is a BurstError naming it."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise BurstError(f"{path}: {size} bytes, more than the {MAX_BYTES} a {kind} may have")
        return path.read_bytes()
    except FileNotFoundError:
        raise BurstError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise BurstError(f"{path}: is a directory, expected a {kind} file") from None
    except OSError as error:
        raise BurstError(f"{path}: cannot read: {error.strerror}") from None


def write_text(path: Path, text: str, what: str) -> None:
    """Write `text` (UTF-8) to `path`, creating its directory; failure is a BurstError naming
    the file and `what` it was to hold (the preview, the report, the input)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise BurstError(f"{path}: cannot write {what}: {error.strerror}") from None


def read_text(path: Path, kind: str) -> str:
    """A file as UTF-8 text; anything else is a BurstError naming the file."""
    try:
        return read_bytes(path, kind).decode("utf-8")
    except UnicodeDecodeError as error:
        raise BurstError(f"{path}: not UTF-8 text (byte {error.start})") from None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
    return document


def parse_json(data: bytes | str, source: str) -> Any:
    """Parse JSON strictly (duplicate keys, depth); problems are a BurstError naming `source`."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as error:
        raise BurstError(f"{source}: not UTF-8 text (byte {error.start})") from None
    try:
        with _DepthLimit():
            return json.loads(text, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as error:
        raise BurstError(
            f"{source}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise BurstError(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:  # from _reject_duplicates
        raise BurstError(f"{source}: invalid JSON: {error}") from None


def read_json(path: Path) -> Any:
    """Read a JSON file strictly; problems become a BurstError naming the file."""
    return parse_json(read_bytes(path, "JSON"), str(path))


def _yaml_problem(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    at = f" at line {mark.line + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"invalid YAML{at}: {problem}"


def _check_depth(value: Any, source: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH (YAML is constructed without recursion)."""
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise BurstError(f"{source}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(current, dict):
            stack.extend((v, depth + 1) for v in current.values())
        elif isinstance(current, list):
            stack.extend((v, depth + 1) for v in current)


def yaml_documents(text: str, source: str) -> Iterator[tuple[int, Any]]:
    """(1-based start line, object) of every YAML document in `text`, read strictly."""
    loader = StrictYamlLoader(text)
    try:
        while True:
            try:
                with _DepthLimit():
                    if not loader.check_node():
                        return
                    node = loader.get_node()
                    value = loader.construct_document(node)
            except yaml.YAMLError as error:
                raise BurstError(f"{source}: {_yaml_problem(error)}") from None
            except ValueError as error:  # a value YAML resolves but cannot build: 2027-02-30
                raise BurstError(f"{source}: invalid YAML value: {error}") from None
            except RecursionError:
                raise BurstError(f"{source}: nested more than {MAX_DEPTH} levels deep") from None
            _check_depth(value, source)
            yield node.start_mark.line + 1, value
    finally:
        loader.dispose()


def parse_yaml(text: str, source: str) -> Any:
    """One YAML document, read strictly (an empty text is None)."""
    documents = list(yaml_documents(text, source))
    if len(documents) > 1:
        raise BurstError(f"{source}: {len(documents)} YAML documents, expected one")
    return documents[0][1] if documents else None


def read_yaml(path: Path) -> Any:
    """Read a one-document YAML file strictly; problems become a BurstError naming the file."""
    return parse_yaml(read_text(path, "YAML"), str(path))


def key_hint(key: object, allowed: Collection[str]) -> str:
    """` (did you mean 'x'?)` for a close known key, else the list of known keys."""
    close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(allowed))})"


def unknown_keys(mapping: Mapping[Any, Any], allowed: Collection[str], where: str) -> list[str]:
    """One problem per key of `mapping` not in `allowed`, with a "did you mean" when close."""
    return [
        f"{where}: unknown key {key!r}{key_hint(key, allowed)}"
        for key in mapping
        if key not in allowed
    ]


def is_finite_number(value: object) -> bool:
    """True for an int or a finite float (YAML's .nan and .inf are not numbers to compare)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value)
