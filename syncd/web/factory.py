"""The HTTP application: FastAPI with the routes of DESIGN section 7, behind the Host-header
and token guard, with no CORS (nothing here is meant for another origin)."""

from __future__ import annotations

from importlib.metadata import version
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from syncd.errors import StorageError, SyncdError
from syncd.runtime.exposure import check_exposure
from syncd.sources.registry import all_hooks
from syncd.web import acks as web_acks
from syncd.web import api, calendar, checkin, dashboard, onboarding, patient_page
from syncd.web import reports as web_reports
from syncd.web.context import WebContext
from syncd.web.security import AccessGuard, AccessPolicy

if TYPE_CHECKING:
    from syncd.app import App
    from syncd.runtime.scheduler import Scheduler

DESCRIPTION = """The local status endpoint of syncd: the current plan week, prescribed against
actual, open alerts, pain reports and Prometheus metrics. Every route but `/healthz` (and the
Strava webhook callback, `/strava/webhook`, the patients' onboarding links, `/onboard/...`,
the morning check-in's links, `/checkin/...`, a patient's own page, `/me/...`, and the plan's
calendar feed, `/calendar/...`) needs `Authorization: Bearer <token>` when `[server] token` is
configured."""


def create_app(app: App, *, scheduler: Scheduler | None = None) -> FastAPI:
    """The ASGI application serving ``app`` (and showing ``scheduler``'s state when given).
    Raises :class:`~syncd.errors.ConfigError` when ``[server] listen`` reaches beyond loopback
    without a token."""
    check_exposure(app.settings.server)
    web = FastAPI(title="syncd", version=version("syncd"), description=DESCRIPTION,
                  docs_url=None, redoc_url=None)
    web.state.syncd = WebContext(app, scheduler)
    web.include_router(api.router)
    web.include_router(web_acks.router)
    web.include_router(web_reports.router)
    web.include_router(dashboard.router)
    # A source's service (Strava) posts from the internet, unsigned and without our token:
    # its callback checks what it can itself. Patients open their onboarding links from
    # anywhere, without the token, too: these are the only paths reachable through
    # [server] public_url.
    public_paths: list[str] = []
    for hooks in all_hooks():
        for router in hooks.routes():
            web.include_router(router)
        public_paths += hooks.public_paths()
    web.include_router(onboarding.router)
    # A patient's own page opens with their own link, without the token.
    web.include_router(patient_page.router)
    # The morning check-in's links are opened from the athlete's mail, without the token.
    web.include_router(checkin.router)
    # A phone calendar subscribes to the plan's feed with its own key, without the token.
    web.include_router(calendar.router)
    policy = AccessPolicy.from_settings(
        app.settings.server, public_paths=[*public_paths, onboarding.LINK_PATH,
                                           checkin.LINK_PATH, calendar.LINK_PATH,
                                           patient_page.PAGE_PATH])
    web.state.policy = policy
    web.add_exception_handler(SyncdError, _syncd_error)
    web.add_exception_handler(RequestValidationError, api.invalid_request)
    web.add_middleware(AccessGuard, policy=policy, login_page=dashboard.login_asgi)
    return web


async def _syncd_error(request: Request, err: Exception) -> JSONResponse:
    # The messages of SyncdError are written for users and hold no secret.
    status = 503 if isinstance(err, StorageError) else 500
    return JSONResponse({"detail": str(err)}, status_code=status)
