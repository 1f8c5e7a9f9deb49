"""Acknowledging alerts over HTTP (DESIGN section 13): ``POST /alerts/{id}/ack`` with
``{"note": "..."}``, recorded under the name of the server token the request carried, and the
acknowledgements ``GET /alerts`` shows with each alert.

These routes sit behind the server token: a patient never reaches them, so the names of the
clinic's tokens appear only here and on the clinic's channels.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from syncd.pipeline.acks import Acknowledged, UnknownAlert, acknowledge, with_acks
from syncd.store import Store
from syncd.store.acks import ack_fields
from syncd.text import NOTE_MAX
from syncd.web.context import WebContext, web_context
from syncd.web.security import token_name_of

router = APIRouter()
Context = Annotated[WebContext, Depends(web_context)]
# A single athlete's syncd without a token: whoever acknowledged sits at this machine.
LOCAL = "local"


class AckIn(BaseModel):
    """What was done about the alert (optional; cleaned of control characters)."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=NOTE_MAX)


class AckEntry(BaseModel):
    """One acknowledgement: who (the token's name), when, and the note."""

    by: str
    at: str
    note: str


class AckOut(BaseModel):
    """The alert's acknowledgements after this one: ``acknowledged`` is the first (which
    counts), ``acks`` every one, oldest first; ``first`` says whether this one was."""

    id: str
    athlete: str
    first: bool
    acknowledged: AckEntry
    acks: list[AckEntry]


@router.post("/alerts/{alert_id}/ack", response_model=AckOut, status_code=201,
             summary="Acknowledge an alert, with a note",
             responses={404: {"description": "no alert has this id"}})
def ack_alert(request: Request, context: Context,
              alert_id: Annotated[str, Path(min_length=1, max_length=64)],
              body: AckIn | None = None) -> dict[str, Any]:
    """Record that the holder of the request's token acknowledged the alert (a second
    acknowledgement is kept as a further note; the first stays the alert's), and queue an
    ``alert.acknowledged`` event for the clinic's webhooks."""
    by = token_name_of(request.scope) or LOCAL
    try:
        done = acknowledge(context.app, alert_id, by, body.note if body else None)
    except UnknownAlert as err:
        raise HTTPException(404, str(err)) from err
    context.wrote()
    if context.scheduler is not None:
        context.scheduler.dispatch_soon()
    return ack_out(done)


def ack_out(done: Acknowledged) -> dict[str, Any]:
    """The response body of an acknowledgement."""
    return {"id": done.alert.id, "athlete": done.alert.athlete, "first": done.first,
            **ack_fields(done.acks)}


async def alerts_with_acks(store: Store, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`with_acks` in the thread pool (it reads the database)."""
    return await run_in_threadpool(with_acks, store, alerts)
