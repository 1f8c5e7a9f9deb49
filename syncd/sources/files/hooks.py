"""The file source's hooks: in a clinic each athlete reads their own ``watch`` folders."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from syncd.sources.hooks import SourceHooks

if TYPE_CHECKING:
    from syncd.app import App


class FilesHooks(SourceHooks):
    """FIT, GPX and TCX files dropped in watched folders."""

    title = "Files"

    def used_by(self, app: App) -> bool:
        """A clinic's athlete needs folders of their own: one shared folder cannot tell
        patients apart."""
        return not app.settings.clinic or bool(app.profile.watch)

    def athlete_settings(self, app: App, section: Any) -> Any:
        """The section with the athlete's own ``watch`` folders, when they have some."""
        if section is not None and app.profile.watch:
            return section.model_copy(update={"watch": list(app.profile.watch)})
        return section
