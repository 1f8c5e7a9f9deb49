"""The monthly monitoring report over HTTP (DESIGN section 13): ``GET /reports/monitoring?
month=YYYY-MM[&athlete=NAME][&format=json|html|csv]``, behind the server token. JSON by
default (the same object as ``syncd report monitoring --format json``); ``html`` is a
print-friendly page, ``csv`` the table ``syncd report monitoring`` prints.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from syncd.pipeline.monitoring import monitoring_report
from syncd.pipeline.monitoring_table import report_csv
from syncd.web.context import WebContext, web_context
from syncd.web.dashboard import page
from syncd.web.report_page import render_report

router = APIRouter()
Context = Annotated[WebContext, Depends(web_context)]


@router.get("/reports/monitoring", summary="The monthly monitoring report",
            response_class=JSONResponse,
            responses={200: {"content": {"application/json": {"schema": {"type": "object"}},
                                         "text/html": {"schema": {"type": "string"}},
                                         "text/csv": {"schema": {"type": "string"}}}},
                       400: {"description": "the month is not YYYY-MM"},
                       404: {"description": "no such athlete"}})
async def monitoring(context: Context,
                     month: Annotated[str, Query(min_length=7, max_length=7,
                                                 description="the month, YYYY-MM")],
                     athlete: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
                     format: Literal["json", "html", "csv"] = "json") -> Response:
    """Per athlete (or the one named): days with data in the month and per 30-day period,
    sessions done against prescribed, pain reports and their trend, alerts raised and who
    acknowledged them, when, with the notes."""
    apps = [context.athlete_app(athlete)] if athlete else context.apps()
    try:
        report: dict[str, Any] = await run_in_threadpool(
            monitoring_report, apps, month, context.app.clock())
    except ValueError as err:
        raise HTTPException(400, str(err)) from None
    if format == "html":
        return page(f"syncd: monitoring report {month}", render_report(report))
    if format == "csv":
        return Response(report_csv(report), media_type="text/csv; charset=utf-8", headers={
            "content-disposition": f'attachment; filename="monitoring-{month}.csv"'})
    return JSONResponse(report)
