"""The JSON routes of DESIGN section 7 (a contract): ``/healthz``, ``/status``, ``/alerts``,
``/weeks``, ``POST /pain`` and ``/metrics``.

With several athletes, ``?athlete=NAME`` picks one: without it ``/status`` is the clinic's
overview, ``/alerts`` lists every athlete's, and ``/weeks`` and ``POST /pain`` answer 400.

Handlers are plain functions: FastAPI runs them in its thread pool, so a slow database query
never blocks the event loop that answers ``/healthz``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from syncd.app import App
from syncd.models import PainReport, PainWhen, Symptom
from syncd.sharing import OWN
from syncd.store.acks import ack_fields
from syncd.store.alerts import list_alerts
from syncd.store.outbox import STALL_AFTER, delivery_health
from syncd.web.acks import alerts_with_acks
from syncd.web.context import WebContext, web_context
from syncd.web.metrics import CONTENT_TYPE, render_metrics
from syncd.web.sharing_view import (
    alerts_for_clinic,
    status_for_clinic,
    token_audience,
    weeks_for_clinic,
    withdrawals,
    withdrawn_at,
)

router = APIRouter()
Context = Annotated[WebContext, Depends(web_context)]
# A report more than this far in the future is a typo (or a wrong clock), not a plan.
FUTURE_SLACK = timedelta(minutes=10)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
AthleteName = Annotated[str | None, Query(
    min_length=1, max_length=100,
    description="the athlete (needed when this syncd watches several)")]


class Problem(BaseModel):
    """Why a request was refused."""

    detail: str


ATHLETE_ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "several athletes: name one with ?athlete=NAME"},
    404: {"model": Problem, "description": "no such athlete"},
}


class DeliveryHealth(BaseModel):
    """Alerts that are not getting out: deliveries failed for good in the last 7 days, and
    pending ones no attempt reached for an hour (beyond the digest's wait)."""

    failed: int = 0
    stalled: int = 0


class Health(BaseModel):
    """Whether the daemon works: the database answers and the scheduler runs jobs (else
    ``unhealthy``, 503); ``degraded`` (200) while alert deliveries fail or stall."""

    status: Literal["ok", "degraded", "unhealthy"]
    database: Literal["ok", "unreachable"]
    scheduler: Literal["ok", "stale", "absent"]
    deliveries: DeliveryHealth = DeliveryHealth()


class AlertOut(BaseModel):
    """An alert: the ``data`` object of the webhook payload (DESIGN section 6)."""

    model_config = ConfigDict(extra="allow")

    id: str
    athlete: str
    rule: str
    severity: Literal["info", "warning", "critical"]
    status: Literal["open", "resolved"]
    subject: dict[str, Any]
    # ``null`` where a clinic may not see them: the figures of a Strava session (``band``
    # says where it fell against the prescription instead).
    observed: float | None
    limit: float | None
    unit: str | None
    message: str
    advice: str
    activity_ids: list[str]
    created_at: str
    resolved_at: str | None = None


def _whole_number(value: Any) -> Any:
    """A JSON number without a fraction (``4`` or ``4.0``); text and booleans are refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number from 0 to 10")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be a whole number from 0 to 10")
        return int(value)
    return value


class PainIn(BaseModel):
    """A pain score on the 0-10 scale; ``at`` without an offset is the athlete's local time
    (default: now); ``when`` it hurt and the warning ``symptoms`` that came with it (an
    unknown value is a 422 naming the field and the allowed values)."""

    model_config = ConfigDict(extra="forbid")

    score: Annotated[int, BeforeValidator(_whole_number)] = Field(ge=0, le=10)
    at: datetime | None = None
    note: str | None = Field(default=None, max_length=500)
    when: PainWhen = Field(default=PainWhen.OTHER, description="when it hurt")
    # Room for each symptom twice (a form that repeats one), and no more.
    symptoms: list[Symptom] = Field(default_factory=list, max_length=2 * len(Symptom),
                                    description="warning symptoms; any one raises red_flag")

    @field_validator("note")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 and c not in "\t\n\r" for c in value):
            raise ValueError("must not contain control characters")
        return value


class PainOut(BaseModel):
    """The stored report and the alerts it raised."""

    id: str
    score: int
    at: str
    local_at: str | None
    note: str | None
    when: str
    symptoms: list[str]
    raised: list[AlertOut]


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}},
            summary="Liveness: database reachable and scheduler running")
def healthz(context: Context) -> JSONResponse:
    """200 when the database answers and the scheduler's heartbeat is fresh, else 503."""
    database: Literal["ok", "unreachable"] = "ok" if context.database_ok() else "unreachable"
    scheduler = context.scheduler_state()
    healthy = database == "ok" and scheduler != "stale"
    deliveries = _delivery_health(context) if database == "ok" else DeliveryHealth()
    degraded = bool(deliveries.failed or deliveries.stalled)
    body = Health(status="unhealthy" if not healthy else "degraded" if degraded else "ok",
                  database=database, scheduler=scheduler, deliveries=deliveries)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


def _delivery_health(context: WebContext) -> DeliveryHealth:
    """Failed and stalled deliveries (a digest's events wait their interval first)."""
    app = context.app
    alerts = app.settings.alerts
    wait = alerts.digest_interval if alerts.email_mode == "digest" else timedelta(0)
    with app.store.read() as tx:
        failed, stalled = delivery_health(tx, app.clock(), STALL_AFTER + wait)
    return DeliveryHealth(failed=failed, stalled=stalled)


@router.get("/status", summary="Plan week, prescribed vs actual, open alerts, sources",
            response_class=JSONResponse,
            responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}},
                       404: ATHLETE_ANSWERS[404]})
async def status(context: Context, athlete: AthleteName = None) -> JSONResponse:
    """What ``syncd status --json`` prints, with each source's next run and whether a pass
    is running. With several athletes and none named: the clinic's overview, every athlete
    with their plan week, this week's compliance, open alerts by severity and last sync."""
    # async, and a cached body returned as is: the route a monitor polls stays cheap.
    if athlete is None and context.several():
        body = await context.cached_async("overview", context.clinic_summary)
        return JSONResponse(jsonable_encoder({**context.extra_status(), **body}))
    app = context.athlete_app(athlete)
    body = await context.cached_async(f"status:{app.profile.name}",
                                      lambda: _status_shown(app))
    return JSONResponse(jsonable_encoder(
        {**context.extra_status(), **body,
         "sources": context.sources(body.get("sources") or {}, app)}))


@router.get("/alerts", response_model=list[AlertOut], summary="Open alerts, newest first",
            responses={404: ATHLETE_ANSWERS[404]})
async def alerts(context: Context, athlete: AthleteName = None, all: Annotated[bool, Query(
        description="include resolved alerts")] = False) -> list[dict[str, Any]]:
    """The alerts as the webhook delivers them (every athlete's, each naming its athlete,
    when several are watched and none is named), each with its acknowledgements
    (``acknowledged``: the first, or ``null``; ``acks``: every one)."""
    return await alerts_with_acks(context.app.store, await _alerts(context, athlete, all))


async def _alerts(context: WebContext, athlete: str | None, all: bool
                  ) -> list[dict[str, Any]]:
    """The alerts ``GET /alerts`` lists, without their acknowledgements."""
    if athlete is None and context.several():
        return await context.cached_async(f"alerts:*:{all}", lambda: every_alert(context, all))
    app = context.athlete_app(athlete)
    return await context.cached_async(f"alerts:{app.profile.name}:{all}", lambda: _shown(
        [app], [alert.payload_data() for alert in app.alerts(include_resolved=all)]))


def every_alert(context: WebContext, include_resolved: bool) -> list[dict[str, Any]]:
    """The alerts of every watched athlete, newest first (one query)."""
    watched = {app.profile.name for app in context.apps()}
    with context.app.store.read() as tx:
        found = list_alerts(tx, None, include_resolved=include_resolved)
    return _shown(context.apps(),
                  [alert.payload_data() for alert in found if alert.athlete in watched])


def _shown(apps: list[App], alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``alerts`` as the token's holder may see them (the therapist, in a clinic)."""
    if not apps or token_audience(apps[0]) == OWN:
        return alerts
    return alerts_for_clinic(alerts, withdrawals(apps))


def _status_shown(app: App) -> dict[str, Any]:
    """``app``'s status as the token's holder may see it."""
    status = app.status()
    if token_audience(app) == OWN:
        return status
    return status_for_clinic(status, withdrawn_at(app))


def _weeks_shown(app: App) -> list[dict[str, Any]]:
    """``app``'s weeks as the token's holder may see them."""
    weeks = [week.as_dict() for week in app.weeks()]
    if token_audience(app) == OWN:
        return weeks
    return weeks_for_clinic(weeks, withdrawn_at(app))


@router.get("/weeks", summary="Plan against actual, week by week", responses=ATHLETE_ANSWERS)
async def weeks(context: Context, athlete: AthleteName = None) -> list[dict[str, Any]]:
    """Every week from the plan start (or the last eight weeks) to the later of today and the
    plan's end."""
    app = context.athlete_app(athlete)
    return await context.cached_async(f"weeks:{app.profile.name}", lambda: _weeks_shown(app))


@router.post("/pain", status_code=201, response_model=PainOut, responses=ATHLETE_ANSWERS,
             summary="Record a pain score and evaluate")
def pain(context: Context, report: PainIn, athlete: AthleteName = None
         ) -> PainOut | JSONResponse:
    """Store the report; a score at or above the plan's ``pain_stop`` raises an alert at
    once, and the dispatcher is woken to deliver it."""
    app = context.athlete_app(athlete)
    at = report.at
    if at is not None:
        if at.tzinfo is None:
            at = at.replace(tzinfo=ZoneInfo(app.athlete.timezone))
        problem = _time_problem(at, app.clock())
        if problem:
            return JSONResponse({"detail": [{"loc": ["body", "at"], "msg": problem,
                                             "type": "value_error"}]}, status_code=422)
    stored, result = app.record_pain(report.score, at, report.note, when=report.when,
                                     symptoms=report.symptoms)
    context.wrote()
    if result.raised and context.scheduler is not None:
        context.scheduler.dispatch_soon()
    # Just raised: nobody has acknowledged them (the same objects as GET /alerts).
    return pain_out(stored, [AlertOut(**a.payload_data(), **ack_fields([]))
                             for a in result.raised])


async def invalid_request(request: Request, err: Exception) -> JSONResponse:
    """422 naming what is wrong (FastAPI's answer), with the input echoed only as JSON can
    carry it: ``1e400``, ``NaN`` or a body that is not UTF-8 made the default answer itself
    fail (a 500)."""
    errors = err.errors() if isinstance(err, RequestValidationError) else []
    return JSONResponse({"detail": jsonable_encoder(_json_safe(errors))}, status_code=422)


def _json_safe(value: Any) -> Any:
    """``value`` with every number JSON cannot hold (infinite, not a number) as its text, and
    bytes (a body that is not JSON) as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def _time_problem(at: datetime, now: datetime) -> str | None:
    try:
        moment = at.astimezone(UTC)
    except (OverflowError, ValueError):
        return "is out of range"
    if moment < EARLIEST:
        return "is before 2000; give the time of the pain report"
    if moment > now + FUTURE_SLACK:
        return "is in the future; give the time the pain was felt"
    return None


def pain_out(report: PainReport, raised: list[AlertOut]) -> PainOut:
    """The response body for a stored report."""
    return PainOut(id=report.id, score=report.score,
                   at=report.at_utc.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   local_at=report.local_at.isoformat() if report.local_at else None,
                   note=report.note, when=report.when, symptoms=list(report.symptoms),
                   raised=raised)


@router.get("/metrics", response_class=Response, summary="Prometheus metrics",
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics(context: Context) -> Response:
    """Sync passes, errors, activities, alerts by rule and severity, deliveries, quota."""
    return Response(render_metrics(context.app, context.scheduler), media_type=CONTENT_TYPE)
