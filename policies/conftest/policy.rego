# METADATA
# title: conftest entry point
# description: >-
#   conftest queries `deny`, `warn` and `violation` in package main by default. This package
#   re-exports burst.main's, so `conftest test -p policies -d burst.guardrails:<guardrails>` on
#   anything fails exactly when `burst check` would deny, and never passes on an input the pack
#   cannot judge (a raw `pulumi preview --json` gives main.input_not_normalised).
package main

import data.burst.main as burst

deny contains msg if some msg in burst.deny

warn contains msg if some msg in burst.warn
