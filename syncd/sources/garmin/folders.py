"""Where each athlete's Garmin token folder is, and the credential that copies it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syncd.app import App

# The credential row holding a clinic athlete's token folder (syncd.sources.garmin.tokens).
CREDENTIAL = "garmin.token_store"


def token_dir(app: App) -> Path:
    """The Garmin token store of ``app``'s athlete: ``[garmin] token_store`` (default
    ``garmin/`` in the state directory) for a single athlete; in a clinic, a folder per athlete
    inside it."""
    section = app.settings.garmin
    base = (section.token_store if section is not None and section.token_store is not None
            else app.settings.state_dir / "garmin")
    if not app.settings.clinic:
        return base
    return base / "athletes" / app.profile.name
