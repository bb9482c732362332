"""Write the OPA input of a plan with the engine's own code, in a fresh process, and time it.

`python -m bench.prepare PLAN GUARDRAILS INPUT_OUT DATA_OUT` reads the preview document the way
`burst check` does (`normalise.read_json`), normalises it (`normalise_preview`), encodes it as the
engine's request body is encoded (`orjson.dumps({"input": ...})`), writes the input document
to INPUT_OUT and the validated guardrails as JSON to DATA_OUT (what the engine hands OPA), and
prints the seconds of each step and the resource count as JSON. A fresh process keeps the
timings free of the benchmark's own heap (the generator holds a large one).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson


def prepare(plan: Path, guardrails: Path, input_out: Path, data_out: Path) -> dict[str, Any]:
    """Normalise `plan` into `input_out` and `guardrails` into `data_out`; return timings."""
    from burst_platform.check.guardrails import load_guardrails
    from burst_platform.check.normalise import normalise_preview, read_json

    start = time.perf_counter()
    document = read_json(plan)
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    normalised = normalise_preview(document, source=str(plan)).document
    normalise_s = time.perf_counter() - start
    start = time.perf_counter()
    body = orjson.dumps({"input": normalised})
    encode_s = time.perf_counter() - start
    input_out.write_text(json.dumps(normalised))
    data_out.write_text(json.dumps(load_guardrails(guardrails)))
    return {
        "read_plan_json_s": round(read_s, 4),
        "normalise_s": round(normalise_s, 4),
        "encode_request_s": round(encode_s, 4),
        "request_bytes": len(body),
        "resources": len(normalised["resources"]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: four paths in, one JSON line out."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    plan, guardrails, input_out, data_out = (Path(a) for a in args)
    print(json.dumps(prepare(plan, guardrails, input_out, data_out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
