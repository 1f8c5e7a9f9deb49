"""Garmin's hooks: its token folder (per athlete in a clinic, kept in the database around each
pass) and ``syncd auth garmin``."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from syncd.sources.garmin import cli
from syncd.sources.garmin.folders import token_dir
from syncd.sources.hooks import AddCommand, SourceHooks

if TYPE_CHECKING:
    from syncd.app import App


class GarminHooks(SourceHooks):
    """Garmin Connect through garminconnect's token folder."""

    title = "Garmin"

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

    def register_commands(self, add: AddCommand) -> None:
        """``syncd auth garmin``."""
        cli.register(add)
