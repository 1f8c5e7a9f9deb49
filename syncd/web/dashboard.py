"""``GET /``: the dashboard, server-rendered pages of plain HTML and CSS.

An athlete's page: the current plan week (prescribed against actual), the weekly chart, open
alerts with their advice, the last sessions with their run/walk split, a form to log pain and
each source's sync state. A single athlete's page is ``/``; with several athletes ``/`` is the
therapist's overview (:mod:`syncd.web.clinic_page`) and each athlete's page is
``/athletes/{name}``. Every value is escaped; nothing on the page needs a script.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from functools import partial
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from syncd.errors import SyncdError
from syncd.progress import WeekSummary, step_text
from syncd.sharing import CLINIC, Audience, safe_alert, safe_week
from syncd.store.dashboard import recent_sessions
from syncd.web.chart import weekly_chart
from syncd.web.checkin_form import checkin_section
from syncd.web.clinic_page import athlete_path, pain_action, render_overview
from syncd.web.context import WebContext, context_of, scrub
from syncd.web.logins import logins_of
from syncd.web.pain_form import FormProblem, pain_section, read_pain_form
from syncd.web.security import COOKIE, AccessPolicy, client_of, session_of
from syncd.web.session_list import attribution, has_strava, sessions_section, weekly_bands
from syncd.web.sharing_view import token_audience, withdrawn_at
from syncd.web.style import CSS

if TYPE_CHECKING:
    from syncd.app import App

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 4096
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, logged: int | None = None, error: str | None = None
                    ) -> HTMLResponse:
    """The only athlete's page, or with several athletes the therapist's overview."""
    context = context_of(request)
    if await run_in_threadpool(context.several):
        try:
            summary = await context.cached_async("overview", context.clinic_summary)
        except SyncdError as err:
            return page("syncd", f'<h1>syncd</h1><p class="notice bad">{escape(str(err))}</p>')
        return page("syncd: athletes", render_overview(scrub(summary)) + logout_form(context))
    return page("syncd", await run_in_threadpool(
        lambda: render_dashboard(context, logged=logged, error=error)) + logout_form(context))


@router.get("/athletes/{name}", response_class=HTMLResponse)
def athlete_page(request: Request, name: str, logged: int | None = None,
                 error: str | None = None) -> HTMLResponse:
    """One athlete's page (404 for an athlete this syncd does not watch)."""
    context = context_of(request)
    try:
        app = context.athlete_app(name)
    except HTTPException as refused:
        return page("syncd: no such athlete", _refusal(refused), refused.status_code)
    return page(f"syncd: {name}", render_dashboard(context, app, logged=logged, error=error)
                + logout_form(context))


def logout_form(context: WebContext) -> str:
    """A log-out button, when a token (and so a log-in) is configured."""
    if not context.app.settings.server.named_tokens():
        return ""
    return ('<form method="post" action="/logout" class="logout">'
            '<button type="submit">Log out</button></form>')


@router.post("/dashboard/pain")
async def log_pain(request: Request, athlete: str | None = None) -> Response:
    """The dashboard's pain form: record the score, then show the page again (303). With
    several athletes the form names its athlete (``?athlete=NAME``)."""
    context = context_of(request)
    try:
        app = context.athlete_app(athlete)
    except HTTPException as refused:
        return page("syncd: no such athlete", _refusal(refused), refused.status_code)
    back = athlete_path(app) if context.several() else "/"
    try:
        form = read_pain_form(await read_form_values(request))
    except FormProblem as problem:
        return RedirectResponse(f"{back}?error={problem.field}#pain", status_code=303)
    _, result = await run_in_threadpool(partial(
        app.record_pain, form.score, None, form.note, when=form.when, symptoms=form.symptoms))
    context.wrote()
    if result.raised and context.scheduler is not None:
        context.scheduler.dispatch_soon()
    return RedirectResponse(f"{back}?logged={form.score}#pain", status_code=303)


def _refusal(refused: HTTPException) -> str:
    return (f'<h1>syncd</h1><p class="notice bad">{escape(str(refused.detail))}</p>'
            '<p><a href="/">All athletes</a></p>')


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the token typed into the login form; on success open a session (a new random
    cookie, valid for :data:`~syncd.web.logins.SESSION_LIFETIME`). Wrong tokens from one
    address are braked: past a few, the form answers 429 until the wait is over, without
    looking at what was typed."""
    policy: AccessPolicy = request.app.state.policy
    sessions, throttle = logins_of(request.app.state)
    now, client = context_of(request).app.clock(), client_of(request.scope)
    form = await read_form(request)
    wait = throttle.wait(client, now)
    if wait:
        return login_page(status_code=429, wait=wait)
    name = policy.token_name(form.get("token") or "")
    if name is None:
        throttle.failed(client, now)
        return login_page(status_code=401, failed=True)
    throttle.succeeded(client)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(COOKIE, sessions.open(now, name), httponly=True, samesite="strict",
                        max_age=int(sessions.lifetime.total_seconds()), path="/",
                        secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    """End the session the request's cookie holds, and forget the cookie."""
    sessions, _ = logins_of(request.app.state)
    session = session_of(request.headers.get("cookie"))
    if session is not None:
        sessions.end(session)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def read_form(request: Request) -> dict[str, str]:
    """A small url-encoded form's fields (first value of each); see :func:`read_form_values`."""
    fields = await read_form_values(request)
    return {key: values[0] for key, values in fields.items() if values}


async def read_form_values(request: Request) -> dict[str, list[str]]:
    """A small url-encoded form's fields, every value of each (ticked checkboxes of one
    name); a body past :data:`MAX_FORM_BYTES` is cut there, so no form can fill the memory."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            break
    return parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))


def page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    """A complete HTML document with the dashboard's style and security headers."""
    html = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def login_page(status_code: int = 401, failed: bool = False,
               wait: timedelta | None = None) -> HTMLResponse:
    """The form a browser sees when a token is configured and it has not logged in (with
    ``wait``: too many wrong tokens, try again after it)."""
    notice = '<p class="notice bad">That token is not right.</p>' if failed else ""
    if wait is not None:
        seconds = max(1, math.ceil(wait.total_seconds()))
        notice = (f'<p class="notice bad">Too many wrong tokens. Try again in {seconds} '
                  "seconds.</p>")
    body = (
        "<h1>syncd</h1><section><h2>Log in</h2>"
        "<p>This syncd asks for its access token ([server] token).</p>" + notice
        + '<form method="post" action="/login"><label>Token '
        '<input type="password" name="token" autocomplete="current-password" required>'
        '</label> <button type="submit">Log in</button></form></section>'
    )
    response = page("syncd: log in", body, status_code)
    response.headers["WWW-Authenticate"] = 'Bearer realm="syncd"'
    if wait is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(wait.total_seconds())))
    return response


async def login_asgi(scope: Any, receive: Any, send: Any) -> None:
    """The login page as a bare ASGI app, for the access guard."""
    await login_page()(scope, receive, send)


# -- rendering ------------------------------------------------------------------------------


def render_dashboard(context: WebContext, app: App | None = None, *,
                     logged: int | None = None, error: str | None = None,
                     audience: Audience | None = None) -> str:
    """The page body of ``app``'s athlete (default: the running App's) as ``audience`` may
    see it (default: whoever holds the server token); a storage failure shows as a notice
    instead of a blank page."""
    app = app if app is not None else context.app
    audience = audience or token_audience(app)
    several = context.several()
    try:
        withdrawn = withdrawn_at(app) if audience == CLINIC else None
        if withdrawn is not None:
            return withdrawn_notice(app, withdrawn, several)
        status = scrub(app.status())
        weeks = app.weeks()
        # Most severe first: a pain stop must be the first thing a runner reads.
        alerts = sorted((scrub(_alert(a.payload_data(), audience)) for a in app.alerts()),
                        key=lambda a: SEVERITY_ORDER.get(a["severity"], 3))
        with app.store.read() as tx:
            sessions = recent_sessions(tx, app.athlete_id)
    except SyncdError as err:
        return f'<h1>syncd</h1><p class="notice bad">{escape(str(err))}</p>'
    sources = context.sources(status.get("sources") or {}, app)
    back = ('<p class="muted"><a href="/">All athletes</a></p>'
            if several and audience == CLINIC else "")
    hidden = audience == CLINIC and has_strava(weeks)
    # The forms post with the server token: not on a patient's own page.
    token = audience == CLINIC or not app.settings.clinic
    if audience == CLINIC:
        status = {**status, "week": safe_week(status.get("week"))}
    return "\n".join([
        f'<header><h1>syncd</h1><p class="muted">{escape(str(status["athlete"]))} · '
        f'today {escape(status["today"])}</p>{back}</header>',
        _week_section(status),
        "" if hidden else _cross_training_section(weeks, status),
        weekly_bands(weeks) if hidden else
        '<section><h2>Weekly running minutes</h2>'
        f"{weekly_chart(weeks)}"
        '<p class="legend"><span class="key actual"></span> run '
        '<span class="key over"></span> above plan <span class="key plan"></span> plan</p>'
        "</section>",
        checkin_section(app, app.clock(), several) if token else "",
        _alerts_section(alerts),
        sessions_section(sessions, audience, weeks),
        pain_section(logged, error, pain_action(app) if several else None) if token else "",
        _sources_section(sources),
        attribution(sessions, audience),
    ])


def _alert(data: dict[str, Any], audience: Audience) -> dict[str, Any]:
    """An alert's data as ``audience`` may see it."""
    return safe_alert(data) if audience == CLINIC else data


def withdrawn_notice(app: App, withdrawn: datetime, several: bool) -> str:
    """The therapist's page of a patient who withdrew their consent: nothing but that."""
    back = '<p class="muted"><a href="/">All athletes</a></p>' if several else ""
    return (f'<header><h1>syncd</h1><p class="muted">{escape(app.athlete.name)}</p>{back}'
            f'</header><section id="sharing"><p class="notice">{escape(app.athlete.name)} '
            f"withdrew their consent to share on {withdrawn.date().isoformat()}: nothing of "
            "theirs is shown from then on.</p></section>")


def _cross_training_section(weeks: list[WeekSummary], status: dict[str, Any]) -> str:
    """This week's cross-training, sport and minutes: welcome, and never running load."""
    start = (status.get("week") or {}).get("week_start")
    week = next((w for w in weeks if w.start.isoformat() == start), None)
    done = ", ".join(f"{escape(sport)} {minutes:.0f} min"
                     for sport, minutes in (week.cross_training if week else ()))
    return ('<section id="cross-training"><h2>Cross-training this week</h2>'
            f'<p>{done or "None yet."}</p><p class="muted">Rides, swims, the elliptical and '
            "strength work are welcome; they never count as running.</p></section>")


def _week_section(status: dict[str, Any]) -> str:
    week = status.get("week")
    plan = status.get("plan")
    if not week:
        return "<section><h2>This week</h2><p>No week to show.</p></section>"
    actual = week["actual"]
    dates = f'{escape(week["week_start"])} to {escape(week["week_end"])}'
    if not week.get("plan_week"):
        what = "After the plan" if plan else "No plan"
        return (f'<section id="week"><h2>This week</h2><p>{what} ({dates}): '
                f'{actual["sessions"]} sessions, {actual["run_min"]:g} min running.</p>'
                "</section>")
    prescribed = week["prescribed"]
    if actual.get("band"):
        return _band_week(week, plan, dates)
    volume = prescribed.get("volume_min") or 0
    share = min(actual["run_min"] / volume, 1.5) if volume else 0
    over = " over" if volume and actual["run_min"] > volume else ""
    return (
        f'<section id="week"><h2>Plan week {week["plan_week"]}'
        f'{" of " + str(plan["weeks"]) if plan else ""}</h2>'
        f'<p class="muted">{dates}{_step_note(week)}</p>'
        f'<dl class="figures"><div><dt>Sessions</dt><dd>{actual["sessions"]} / '
        f'{prescribed["sessions"]}</dd></div>'
        f'<div><dt>Running</dt><dd>{actual["run_min"]:g} / {volume:g} min</dd></div>'
        f'<div><dt>Each session</dt><dd>run {prescribed["run_min"]:g} of '
        f'{prescribed["session_min"]:g} min</dd></div></dl>'
        f'<div class="meter{over}"><span style="width:{share / 1.5 * 100:.0f}%"></span></div>'
        "</section>"
    )


def _band_week(week: dict[str, Any], plan: dict[str, Any] | None, dates: str) -> str:
    """This week as the therapist sees it with a Strava session in it: counts and band."""
    actual, prescribed = week["actual"], week["prescribed"]
    return (f'<section id="week"><h2>Plan week {week["plan_week"]}'
            f'{" of " + str(plan["weeks"]) if plan else ""}</h2>'
            f'<p class="muted">{dates}{_step_note(week)}</p>'
            f'<dl class="figures"><div><dt>Sessions</dt><dd>{actual["sessions"]} / '
            f'{prescribed["sessions"]}</dd></div><div><dt>Running</dt>'
            f'<dd>{escape(actual["band"])}</dd></div></dl></section>')


def _step_note(week: dict[str, Any]) -> str:
    """`` · stepped back from week 3`` (or ``week 2 repeated``) for a gated plan that did not
    simply move on this week."""
    how = step_text(week.get("plan_week"), week.get("step"))
    step = escape(str(week.get("step")))
    return f' · <span class="step" data-step="{step}">{escape(how)}</span>' if how else ""


def _alerts_section(alerts: list[dict[str, Any]]) -> str:
    if not alerts:
        return '<section id="alerts"><h2>Open alerts</h2><p>None. Keep to the plan.</p></section>'
    items = "".join(
        f'<li class="alert {escape(a["severity"])}" data-rule="{escape(a["rule"])}">'
        f'<span class="badge">{escape(a["severity"])}</span> '
        f'<strong>{escape(a["message"])}</strong><br>{escape(a["advice"])}</li>'
        for a in alerts)
    return f'<section id="alerts"><h2>Open alerts ({len(alerts)})</h2><ul>{items}</ul></section>'


def _when(local: datetime) -> str:
    return escape(local.strftime("%a %d %b %H:%M"))


def _sources_section(sources: dict[str, dict[str, Any]]) -> str:
    if not sources:
        return '<section id="sources"><h2>Sources</h2><p>No source configured.</p></section>'
    rows = "".join(_source_row(name, state) for name, state in sources.items())
    return ('<section id="sources"><h2>Sources</h2><table><thead><tr><th>Source</th>'
            "<th>Last success</th><th>Next</th><th>State</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></section>")


def _source_row(name: str, state: dict[str, Any]) -> str:
    if state.get("running"):
        condition = "syncing now"
    elif state.get("last_error"):
        condition = f'<span class="bad">{escape(str(state["last_error"]))}</span>'
    else:
        condition = "ok" if state.get("last_success_at") else "not synced yet"
    return (f"<tr><td>{escape(name)}</td><td>{_moment(state.get('last_success_at'))}</td>"
            f"<td>{_moment(state.get('next_run_at'), '-')}</td><td>{condition}</td></tr>")


def _moment(value: Any, empty: str = "never") -> str:
    if value is None:
        return empty
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return escape(text.replace("T", " ")[:16])
