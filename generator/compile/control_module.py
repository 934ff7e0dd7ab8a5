"""One control's module: what the renderer checks in its IR, and its template context.

`check_control` holds one `ControlIR` to what the template may write (an id fit
for a file name, a known kind, a plain decimal threshold, ...);
`control_context` re-checks its compiled condition and hoists the condition's
decimal literals into module constants. Both read the one control and nothing
else, so a control module is a function of its own IR (and the generator's
name and version, in its header): `render.render_control`.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable
from typing import Any

from mu.generator.compile.conditions.hoist import Hoisted, hoist_decimals
from mu.generator.compile.conditions.safety import verify_source
from mu.generator.compile.ir import ControlIR
from mu.generator.compile.model import CONTROL_KINDS, EFFECTS, OUTCOMES, PARTIES

# Identifiers become file names and module names, so they are held to the
# contract's pattern (SPEC §3) even though validation upstream checks it too.
_CONTROL_ID_RE = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)
# The same plain decimal notation the runtime accepts for amounts.
_DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?", re.ASCII)


def check_control(c: ControlIR) -> None:
    """Raise `ValueError` unless `c` holds what its module may be written from.

    Checks one control alone; that no id appears twice is the package's check.
    """
    cid = c.control_id
    if type(cid) is not str or not _CONTROL_ID_RE.fullmatch(cid):
        raise ValueError(f"control id {cid!r} does not match [a-z][a-z0-9_]*")
    if c.kind not in CONTROL_KINDS:
        raise ValueError(f"control `{cid}` has unknown kind `{c.kind}`")
    if c.kind == "approval":
        threshold = c.amount_threshold
        if type(threshold) is not str or not _DECIMAL_RE.fullmatch(threshold):
            raise ValueError(f"control `{cid}` has no plain decimal amount threshold")
    if c.kind == "condition" and c.effect not in EFFECTS:
        raise ValueError(f"control `{cid}` has effect {c.effect!r}, not REJECT or REVIEW")
    if not set(c.on_outcome) <= set(OUTCOMES):
        raise ValueError(f"control `{cid}` has an unknown outcome in {c.on_outcome!r}")
    if not set(c.separates) <= set(PARTIES):
        raise ValueError(f"control `{cid}` separates an unknown party in {c.separates!r}")


def check_controls(controls: list[ControlIR]) -> None:
    """`check_control` for each of `controls`, in order, and no control id twice."""
    seen: set[str] = set()
    for c in controls:
        cid = c.control_id
        if type(cid) is not str or not _CONTROL_ID_RE.fullmatch(cid):
            raise ValueError(f"control id {cid!r} does not match [a-z][a-z0-9_]*")
        if cid in seen:
            raise ValueError(f"control id `{cid}` appears twice")
        seen.add(cid)
        check_control(c)


def control_context(control: ControlIR) -> dict[str, Any]:
    """The template variables of `control.py.j2` for `control` (whose checks passed).

    Raises `ValueError` if its compiled condition or guard is not one the
    renderer may insert.
    """
    source = None if control.when is None else control.when.source
    rest = None if control.when is None else control.when.rest_source
    uses_decimal = False
    decimals: tuple[str, ...] = ()
    if source is not None:
        tokens = _check_condition(control.control_id, source)
        rest_tokens = None if rest is None else _check_condition(control.control_id, rest)
        uses_decimal = _names_decimal(tokens) or _names_decimal(rest_tokens or ())
        try:
            hoisted = hoist_decimals(source, tokens=tokens)
            # The rest is part of the condition: it reuses the condition's names.
            rested = None
            if rest is not None:
                rested = hoist_decimals(rest, hoisted.decimals, tokens=rest_tokens)
            decimals = hoisted.decimals if rested is None else rested.decimals
            constants = frozenset(f"_D{index}" for index in range(len(decimals)))
            _verify_hoisted(source, hoisted, constants)
            if rested is not None and rest is not None:
                _verify_hoisted(rest, rested, constants)
        except RuntimeError as exc:
            why = f"compiled condition of control `{control.control_id}`: {exc}"
            raise ValueError(why) from None
        source = hoisted.source
        rest = None if rested is None else rested.source
    return {
        "c": control,
        "when_source": source,
        "rest_source": rest,
        # (name, canonical decimal text) of each hoisted literal, for the template.
        "decimals": [(f"_D{index}", text) for index, text in enumerate(decimals)],
        "condition_text": None if control.when is None else control.when.text,
        "guard": None if control.when is None else _checked_guard(control),
        "guard_is_condition": control.when is not None and control.when.guard_is_condition,
        # Import Decimal only where it is used, so the module stays lint-clean.
        "needs_decimal": control.kind == "approval" or uses_decimal,
    }


def _names_decimal(tokens: Iterable[tokenize.TokenInfo]) -> bool:
    # In a source the whitelist accepted, the name `Decimal` can only be read
    # (a call of it): no attribute, keyword or definition may carry that name.
    return any(t.type == tokenize.NAME and t.string == "Decimal" for t in tokens)


def _verify_hoisted(source: str, hoisted: Hoisted, constants: frozenset[str]) -> None:
    # A source with nothing hoisted out of it is the very text `_check_condition`
    # verified with fewer names allowed, so checking it again could not fail.
    if hoisted.source != source:
        verify_source(hoisted.source, constants=constants)


def _checked_guard(control: ControlIR) -> tuple[object, ...] | None:
    """The condition's guard, if it has the shape the runtime indexes (else ValueError)."""
    assert control.when is not None
    guard = control.when.guard
    if guard is None:
        return None
    shape_ok = type(guard) is tuple and (
        (len(guard) == 4 and guard[0] == "range" and guard[2] in ("<", "<=", ">", ">="))
        or (len(guard) == 3 and guard[0] == "member" and type(guard[2]) is tuple and guard[2])
    )
    if not shape_ok or type(guard[1]) is not str or guard[1] not in control.when.fields:
        raise ValueError(f"control `{control.control_id}` has a malformed guard {guard!r}")
    if control.when.rest_source is not None and control.when.guard_is_condition:
        raise ValueError(f"control `{control.control_id}` has a rest beside a whole guard")
    if control.when.guard_is_condition and control.when.fields != (guard[1],):
        # A condition that is one test reads exactly the field it tests.
        raise ValueError(f"control `{control.control_id}` has a malformed guard {guard!r}")
    return guard


def _check_condition(control_id: str, source: str) -> list[tokenize.TokenInfo]:
    """Re-check a compiled condition before it becomes code; return its tokens.

    Hoisting reads the tokens, so each source is tokenized once and parsed once here.
    """

    def reject(why: str) -> ValueError:
        return ValueError(f"compiled condition of control `{control_id}` rejected: {why}")

    if type(source) is not str or not source.strip():
        raise reject("it is empty")
    # One logical line, no comments: it is pasted inside `return bool(...)`, so a
    # comment or line break could swallow or split the surrounding code.
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise reject(f"it does not tokenize ({exc})") from None
    for tok in tokens:
        if tok.type in (tokenize.COMMENT, tokenize.NL) or (
            tok.type == tokenize.NEWLINE and tok.string
        ):
            raise reject("it spans lines or holds a comment")
    # The same whitelist the condition compiler applies to its own output:
    # re-checked here because the IR could have been built by other code.
    try:
        verify_source(source)
    except RuntimeError as exc:
        raise reject(str(exc)) from None
    return tokens
