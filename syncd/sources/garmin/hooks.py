"""Garmin's hooks: its token folder (per athlete in a clinic, kept in the database around each
pass), ``syncd auth garmin`` and the sign-in pages of an invite link."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.errors import StorageError
from syncd.sources.garmin import cli
from syncd.sources.garmin.folders import CREDENTIAL, token_dir
from syncd.sources.hooks import AddCommand, SourceHooks
from syncd.sources.registry import enabled_sources

if TYPE_CHECKING:
    from fastapi import APIRouter

    from connectors.base import Connector
    from syncd.app import App


class GarminHooks(SourceHooks):
    """Garmin Connect through garminconnect's token folder."""

    title = "Garmin"
    credential = CREDENTIAL

    def connector_state(self, app: App) -> dict[str, Any]:
        """In a clinic, the athlete's own token folder (``token_dir``)."""
        return {"token_dir": token_dir(app)} if app.settings.clinic else {}

    def around_fetch(self, app: App) -> AbstractContextManager[None]:
        """In a clinic, a pass takes its tokens from the database and saves a refreshed one
        there (:mod:`syncd.sources.garmin.tokens`), so that every replica holds the live one;
        a single athlete's folder is left alone."""
        if not app.settings.clinic:
            return nullcontext()
        # Imported here: it loads garminconnect, which only a Garmin pass needs.
        from syncd.sources.garmin.tokens import shared_tokens

        return shared_tokens(app, token_dir(app))

    def after_pass(self, app: App, connector: Connector) -> None:
        """The coming planned sessions on the athlete's Garmin calendar (``[garmin]
        push_workouts``), or syncd's entries taken off it when that is turned off
        (:mod:`syncd.sources.garmin.push`)."""
        # Imported here: they load garminconnect, which only a Garmin pass needs.
        from connectors.garmin import GarminConnector
        from connectors.garmin.workout_calendar import WorkoutCalendar
        from syncd.sources.garmin.push import push

        if not isinstance(connector, GarminConnector):
            return
        with self.around_fetch(app):  # a clinic's rotated tokens go back to the database
            push(app, WorkoutCalendar(connector.session()), connector.settings)

    def connected(self, app: App, stored: bool) -> bool:
        """Configured for the athlete, with tokens in the database (a clinic keeps them
        there too: connected on every replica) or in the athlete's token folder."""
        # Imported here: connectors.garmin loads garminconnect.
        from connectors.garmin import tokens

        return (app.settings.garmin is not None and self.name in enabled_sources(app)
                and (stored or (token_dir(app) / tokens.TOKEN_FILE).is_file()))

    def athlete_files(self, app: App) -> list[Path]:
        """A clinic athlete's token folder and what it last agreed on with the database; a
        single athlete's store is the configured folder: only syncd's files in it."""
        from connectors.garmin import tokens
        from syncd.sources.garmin.tokens import agreement_file

        settings = app.settings
        if settings.garmin is None and not settings.clinic:
            return []
        folder = token_dir(app)
        if settings.clinic:
            found = [folder] if folder.is_dir() else []
            agreed = agreement_file(folder)  # what the folder and the database agreed on
            return found + ([agreed] if agreed.is_file() else [])
        return [folder / name for name in (tokens.TOKEN_FILE, tokens.PROFILE_FILE,
                                           tokens.PENDING_FILE) if (folder / name).is_file()]

    def adopt_sign_in(self, app: App, staging: Path) -> None:
        """Copy the tokens and profile of the sign-in in ``staging`` into the athlete's token
        folder and, in a clinic, the database that every replica syncs from. Raises
        :class:`~syncd.errors.StorageError` when they cannot be read or written."""
        from connectors.garmin import tokens
        from syncd.sources.garmin.tokens import keep_sign_in

        folder = token_dir(app)
        for name in (tokens.TOKEN_FILE, tokens.PROFILE_FILE):
            try:
                text = (staging / name).read_text(encoding="utf-8")
            except OSError as err:
                raise StorageError(f"cannot read the Garmin sign-in's {name} in {staging}: "
                                   f"{err.strerror}; send the athlete a new invite") from err
            tokens.write_private(folder / name, text)
        keep_sign_in(app, folder)

    def register_commands(self, add: AddCommand) -> None:
        """``syncd auth garmin``."""
        cli.register(add)

    def routes(self) -> list[APIRouter]:
        """The Garmin sign-in of an invite link (``/onboard/{token}/garmin``)."""
        from syncd.sources.garmin import onboarding  # FastAPI, only for the HTTP application

        return [onboarding.router]
