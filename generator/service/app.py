"""The HTTP face of the decision service (SPEC §10): decide, health, metrics.

`POST /v1/decide` takes the current release once, decides on the event loop
(tens of microseconds), hands the record to the decision log and answers only
when the log's group commit made it durable. An invalid transaction is a
`422` naming every problem; no loaded release, or a log that cannot write,
is a `503`; anything else a `500`. No error path can produce an `APPROVE`:
the answer is built from a decision that the log accepted, or not at all.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mu.generator.decisionlog import Entry, LogWriter
from mu.generator.service.metrics import CONTENT_TYPE_LATEST, Metrics
from mu.generator.service.release import Releases

_JSON = "application/json"


class Workers(Protocol):
    """Whoever delivers the actions: the delivery process, or in-process workers."""

    @property
    def alive(self) -> bool:
        """Whether deliveries are being made."""


@dataclass
class Service:
    """What the handlers share: the releases, the log, the workers and the metrics."""

    releases: Releases
    writer: LogWriter
    workers: Workers
    metrics: Metrics
    max_body_bytes: int

    def problems(self) -> list[str]:
        """Why the service is not healthy; empty when it is."""
        out = []
        if self.releases.current is None:
            refusal = self.releases.refusal
            out.append(f"no verified release is loaded: {refusal.message if refusal else ''}")
        if not self.writer.alive:
            out.append("the decision log cannot be written")
        if not self.workers.alive:
            out.append("the delivery workers are not running")
        return out


def _json(status: int, body: dict[str, Any]) -> Response:
    data = json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
    return Response(data, status_code=status, media_type=_JSON)


class Decider:
    """`POST /v1/decide` as a bare ASGI callable: the one path on which every request
    lands, so it skips the framework's request and response objects (a third of the
    CPU per decision); everything else goes through Starlette."""

    def __init__(self, service: Service) -> None:
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await self._body(scope, receive)
        if body is None:
            status, answer = self._refuse(413, {
                "error": f"the transaction is larger than {self.service.max_body_bytes} bytes"
            })
        else:
            status, answer = await self.decide(body)
        data = json.dumps(answer, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode("ascii")),
            ],
        })
        await send({"type": "http.response.body", "body": data})

    async def _body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The request body, or None when it is larger than the limit."""
        limit = self.service.max_body_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > limit):
                return None
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return b""  # the client went away; the empty body is refused as invalid
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    def _refuse(self, status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.service.metrics.refused.labels(status=str(status)).inc()
        return status, body

    async def decide(self, body: bytes) -> tuple[int, dict[str, Any]]:
        """The status and answer for one transaction body."""
        service = self.service
        started = time.perf_counter()
        release = service.releases.current  # taken once: a switch never changes this decision
        if release is None:
            refusal = service.releases.refusal
            return self._refuse(503, {
                "error": "no verified release is loaded; nothing is decided",
                "reason": refusal.message if refusal else "",
                "hint": refusal.hint if refusal else "",
            })
        package = release.package
        try:
            transaction = package.parse_transaction(body)
            decision = package.evaluate(transaction)
        except package.InvalidTransaction as exc:
            return self._refuse(422, {
                "error": "invalid transaction",
                "problems": [{"field": p.field, "message": p.message} for p in exc.problems],
            })
        except Exception as exc:  # EnforcementError or a defect: never a decision
            return self._refuse(500, {
                "error": f"the enforcer could not decide: {type(exc).__name__}"
            })
        actions = release.actions_of(decision)
        reasons = [r.to_dict() for r in decision.reasons]
        entry = Entry.of(
            release.digest, transaction, decision.outcome, tuple(reasons), tuple(actions)
        )
        try:
            committed = await asyncio.wrap_future(service.writer.submit(entry))
        except Exception as exc:  # not durable, so not decided: the client must retry
            return self._refuse(503, {
                "error": "the decision could not be logged durably, so it was not made",
                "reason": f"{type(exc).__name__}: {exc}",
            })
        service.metrics.decisions.labels(outcome=decision.outcome).inc()
        service.metrics.latency.observe(time.perf_counter() - started)
        return 200, {
            "decision_id": committed.decision_id,
            "outcome": decision.outcome,
            "transaction_id": decision.transaction_id,
            "transaction_type": decision.transaction_type,
            "reasons": reasons,
            "actions": actions,
            "release": release.digest,
            "time": committed.time,
        }


def make_app(service: Service) -> ASGIApp:
    """The service's ASGI application: `POST /v1/decide` by `Decider`, the rest by Starlette."""
    metrics = service.metrics
    decider = Decider(service)

    async def decide(request: Request) -> Response:
        # Reached only by a request the fast path did not take (it takes every POST).
        return _json(405, {"error": "use POST"})

    async def health(request: Request) -> Response:
        problems = service.problems()
        release = service.releases.current
        body: dict[str, Any] = {
            "status": "ok" if not problems else "unavailable",
            "release": release.digest if release else None,
            "sequence": release.sequence if release else None,
            "log_seq": service.writer.last_seq,
            "problems": problems,
        }
        if release is None and service.releases.refusal is not None:
            body["hint"] = service.releases.refusal.hint
        return _json(200 if not problems else 503, body)

    async def metrics_endpoint(request: Request) -> Response:
        data = await asyncio.to_thread(metrics.render)
        return Response(data, media_type=CONTENT_TYPE_LATEST)

    framework = Starlette(
        routes=[
            Route("/v1/decide", decide, methods=["POST"]),
            Route("/v1/health", health, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ]
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/v1/decide"
            and scope["method"] == "POST"
        ):
            await decider(scope, receive, send)
        else:
            await framework(scope, receive, send)

    return app
