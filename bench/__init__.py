"""Benchmark of the policy check at estate scale (`make bench`).

`bench.estate` generates synthetic estates with the real components under the mock runtime;
`bench.run` times the offline plan, `burst check`, the bare `opa eval` floor and checkov, and
writes `bench/results.json`, `bench/check-vs-opa.png` and the table in `bench/README.md`.
"""
