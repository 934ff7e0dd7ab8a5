"""The enforcer runtime: validation, decisions and the action runner.

This module is the same for every ontology; what a policy says lives in
`schema.py` and in one module per control under `controls/`. It uses only the
Python standard library, so the package deploys anywhere without mu.

Reading guide:

1. `Engine.validate` checks a transaction against the schema and collects every
   problem before raising `InvalidTransaction`; the result is a `Tx`.
2. `Engine.evaluate` runs every control that applies to the transaction's type,
   in control id order, and returns a `Decision`: REJECT if any control
   rejects, else REVIEW if any asks for review, else APPROVE. Notify and ledger
   actions follow in `dependsOn` order.
3. `run_actions` delivers a decision's actions with isolation, bounded retries
   and a dead-letter record; it never raises and never changes the decision.

The runtime fails closed: whatever cannot be decided raises `InvalidTransaction`
or `EnforcementError` and never yields APPROVE. Money is `decimal.Decimal`,
never float.
"""

# This package is the source of the generated `enforcers/runtime.py` (SPEC §5),
# kept as real modules so that mypy --strict and ruff check it. The renderer
# (`generator.compile.render.runtime_source`) assembles one module from it: the
# docstring above, verbatim, then the merged standard-library imports of the
# parts, then the body of each part in order — `decision.py` (the pure
# decision), then `actions.py` (action delivery) — and prepends the generated
# header. So the docstring speaks of "this module": the one that is generated.
# Nothing here may import anything but the standard library (import-linter).
