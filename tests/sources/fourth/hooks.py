"""The fourth source's hooks: its connector, a command and a route."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from fastapi import APIRouter

from syncd.sources.hooks import AddCommand, SourceHooks
from syncd.sources.registry import source_settings
from tests.sources.fourth.connector import FeedConnector

if TYPE_CHECKING:
    from connectors.base import Connector
    from syncd.app import App

router = APIRouter()


@router.get("/fourth/feed")
def feed_status() -> dict[str, str]:
    """Says the source's route is mounted."""
    return {"source": "fourth"}


def cmd_feed(app: App, args: argparse.Namespace) -> int:
    """``syncd fourth-feed``: how many entries the feed holds."""
    section = source_settings(app, "fourth")
    entries = json.loads(section.feed.read_text("utf-8"))
    print(f"fourth feed {section.feed.name}: {len(entries)} entries")
    return 0


class FourthHooks(SourceHooks):
    """A JSON feed file."""

    def connector_class(self) -> type[Connector]:
        """The feed connector (not in ``connectors.base.REGISTRY``)."""
        return FeedConnector

    def register_commands(self, add: AddCommand) -> None:
        """``syncd fourth-feed``."""
        add("fourth-feed", cmd_feed, "count the entries of the fourth source's feed")

    def routes(self) -> list[APIRouter]:
        """``GET /fourth/feed``."""
        return [router]
