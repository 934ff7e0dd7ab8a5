"""The enforcer runtime: validation, decisions and the action runner.

This module is the same for every ontology; what a policy says lives in
`schema.py` and in one module per control under `controls/`. It uses only the
Python standard library, so the package deploys anywhere without mu.

Reading guide:

1. `Engine.validate` checks a transaction against the schema and collects every
   problem before raising `InvalidTransaction`; the result is a `Tx`. Party
   ids are held in their normal form (`party_id`), and declared patterns and
   allowed values are enforced before any control runs.
2. `Engine.evaluate` decides with the plan `Engine` compiled for the
   transaction's type at import (`TypePlan`): conditions indexed by their first
   test, approval rules by currency and threshold, segregation rules by the
   parties they separate. The result is a `Decision`: REJECT if any control
   rejects, else REVIEW if any asks for review, else APPROVE; notify and ledger
   actions follow in `dependsOn` order; the trace is made when first read.
3. `run_actions` delivers a decision's actions with isolation, bounded retries
   and a dead-letter record; it never raises and never changes the decision.
4. `parse_transaction` reads transaction JSON strictly (a duplicate key is an
   `InvalidTransaction`), for callers who start from text.

The runtime fails closed: whatever cannot be decided raises `InvalidTransaction`
or `EnforcementError` and never yields APPROVE. Money is `decimal.Decimal`,
never float.
"""

# This package is the source of the generated `enforcers/runtime.py` (SPEC §5),
# kept as real modules so that mypy --strict and ruff check it. The renderer
# (`generator.compile.render.runtime_source`) assembles one module from it: the
# docstring above, verbatim, then the merged standard-library imports of the
# parts, then the body of each part in order (`render.RUNTIME_PARTS`: values,
# decision, specs, parse, fields, plan, engine, actions) — and prepends the generated
# header. So the docstring speaks of "this module": the one that is generated.
# Nothing here may import anything but the standard library (import-linter).
