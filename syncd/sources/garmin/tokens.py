"""A clinic's Garmin tokens, kept in the database so that every replica uses the same ones.

garminconnect works from a token folder whose refresh token rotates: once one machine has
refreshed, the copy on any other machine is dead. In a clinic (``[[athletes]]``) the database
is therefore the authority: a credential row per athlete (``garmin.token_store``) holds the
folder's ``garmin_tokens.json`` and ``profile.json`` with their SHA-256 and a version that
counts the saves. A sign-in waiting for its MFA code (``mfa_pending.json``) stays in the
folder where it started.

Around each Garmin pass (inside the athlete's fetch claim, so that no other pass runs) and
after each sign-in, the folder and the database are brought into agreement by
:func:`reconcile`. Beside the folder, ``.<name>.db-copy.json`` remembers the SHA-256 the two
last agreed on; with it a difference has one reading:

- the database changed since (another replica refreshed, a sign-in elsewhere): the folder
  takes the database's files;
- only the folder changed (a refresh whose save failed, the database being unreachable): the
  database takes the folder's files; overwriting them would lose the live refresh token;
- the database holds nothing yet and the folder has tokens (a clinic from before this): the
  folder is adopted.

A single athlete's install keeps its folder alone: one machine, one copy, and the folder may
be a garminconnect token store that other tools share.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog

from connectors.garmin import tokens
from syncd.errors import SyncdError
from syncd.sources.garmin.folders import CREDENTIAL
from syncd.store.credentials import put_credential, read_credential
from syncd.store.database import Store

if TYPE_CHECKING:
    from syncd.app import App

log = structlog.get_logger("syncd.sources.garmin.tokens")

# The folder's files the database holds; a pending MFA sign-in is not among them.
SHARED_FILES = (tokens.TOKEN_FILE, tokens.PROFILE_FILE)
Outcome = Literal["agreed", "saved", "adopted", "taken", "nothing"]
_ANY = "*"  # a save that replaces whatever the database holds (a sign-in)


@dataclass(frozen=True, slots=True)
class TokenFiles:
    """The shared files of a token folder (or of its database copy) and their SHA-256."""

    files: dict[str, str] = field(repr=False)
    version: int = 0

    @property
    def sha256(self) -> str:
        """The SHA-256 of the files (names and contents); the same for equal folders."""
        text = json.dumps(self.files, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    @property
    def has_tokens(self) -> bool:
        """True when ``garmin_tokens.json`` is among the files."""
        return tokens.TOKEN_FILE in self.files


def read_folder(folder: Path) -> TokenFiles:
    """The shared files present in ``folder`` (none when it does not exist)."""
    files = {}
    for name in SHARED_FILES:
        with suppress(FileNotFoundError, NotADirectoryError):
            files[name] = (folder / name).read_text(encoding="utf-8")
    return TokenFiles(files)


def load_copy(store: Store, athlete_id: int) -> TokenFiles | None:
    """The athlete's tokens as the database holds them, or ``None``."""
    with store.read() as tx:
        value = read_credential(tx, athlete_id, CREDENTIAL)
    return _copy_of(value) if value is not None else None


def reconcile(store: Store, athlete_id: int, folder: Path, *, now: datetime,
              athlete: str) -> Outcome:
    """Bring ``folder`` and the database's copy into agreement (see the module's rules) and
    say what moved: ``agreed`` (nothing to do), ``saved`` or ``adopted`` (the folder went to
    the database), ``taken`` (the database's files went to the folder), or ``nothing`` (no
    tokens anywhere). Raises :class:`~syncd.errors.StorageError` when the database or the
    folder cannot be written."""
    local = read_folder(folder)
    stored = load_copy(store, athlete_id)
    if stored is None:
        if not local.has_tokens:
            return "nothing"
        if _save(store, athlete_id, folder, local, expected=None, now=now):
            log.info("garmin tokens adopted into the database", athlete=athlete)
            return "adopted"
        stored = load_copy(store, athlete_id)  # a sign-in saved meanwhile: it wins
        if stored is None:
            return "nothing"
    if stored.sha256 == local.sha256:
        if _agreed_on(folder) != local.sha256:
            _remember(folder, local.sha256)
        return "agreed"
    agreed = _agreed_on(folder)
    if agreed == stored.sha256 and local.has_tokens:
        # Only the folder changed since the two agreed: its refresh token is the live one.
        if _save(store, athlete_id, folder, local, expected=stored.sha256, now=now):
            log.debug("garmin tokens saved to the database", athlete=athlete)
            return "saved"
        stored = load_copy(store, athlete_id)
        if stored is None:
            return "nothing"
    if agreed is not None and agreed != local.sha256 and local.has_tokens:
        log.warning("garmin tokens changed both here and in the database; the database's "
                    "copy is used", athlete=athlete, folder=str(folder))
    _take(folder, stored)
    log.info("garmin tokens taken from the database", athlete=athlete, version=stored.version)
    return "taken"


def keep_sign_in(app: App, folder: Path) -> None:
    """After a sign-in wrote ``folder``: in a clinic, save its tokens to the database at once,
    replacing whatever was there (a new sign-in is the newest word). Does nothing for a
    single athlete, or when the folder holds no tokens."""
    if not app.settings.clinic:
        return
    local = read_folder(folder)
    if local.has_tokens:
        _save(app.store, app.athlete_id, folder, local, expected=_ANY, now=app.clock())
        log.info("garmin sign-in saved to the database", athlete=app.athlete.name)


@contextmanager
def shared_tokens(app: App, folder: Path) -> Iterator[None]:
    """Around one Garmin pass of ``app``'s athlete (inside the fetch claim): take the
    database's tokens into ``folder`` before, save a refreshed token after, whether the
    pass succeeded or failed (a refresh may come before a failure)."""
    name, athlete_id = app.athlete.name, app.athlete_id
    reconcile(app.store, athlete_id, folder, now=app.clock(), athlete=name)
    try:
        yield
    except Exception:
        try:
            reconcile(app.store, athlete_id, folder, now=app.clock(), athlete=name)
        except SyncdError as err:
            # The pass's own error is the one to report; the folder keeps the live token
            # and the next pass saves it (only the folder changed since they agreed).
            log.error("garmin tokens not saved to the database", athlete=name, error=str(err))
        raise
    reconcile(app.store, athlete_id, folder, now=app.clock(), athlete=name)


def agreement_file(folder: Path) -> Path:
    """Where the SHA-256 that ``folder`` and the database last agreed on is kept: beside the
    folder, so that the folder holds garminconnect's files alone."""
    return folder.with_name(f".{folder.name}.db-copy.json")


# -- the database -------------------------------------------------------------------------------


def _copy_of(value: Any) -> TokenFiles:
    """The files of a credential value; what is not a shared file's text is left out."""
    files = value.get("files") if isinstance(value, dict) else None
    kept = {name: text for name, text in (files or {}).items()
            if name in SHARED_FILES and isinstance(text, str)}
    version = value.get("version") if isinstance(value, dict) else None
    return TokenFiles(kept, version if isinstance(version, int) else 0)


def _save(store: Store, athlete_id: int, folder: Path, local: TokenFiles, *,
          expected: str | None, now: datetime) -> bool:
    """Store ``local`` as the athlete's copy when the database still holds the copy whose
    SHA-256 is ``expected`` (``None``: no copy; :data:`_ANY`: whatever it holds), then note
    the agreement beside ``folder``. False, with nothing written, when another save came
    first."""
    with store.write() as tx:
        value = read_credential(tx, athlete_id, CREDENTIAL, for_update=True)
        current = _copy_of(value) if value is not None else None
        if expected != _ANY and (current.sha256 if current else None) != expected:
            return False
        version = (current.version if current else 0) + 1
        put_credential(tx, athlete_id, CREDENTIAL,
                       {"files": dict(local.files), "sha256": local.sha256, "version": version},
                       now)
    _remember(folder, local.sha256)
    return True


# -- the folder ---------------------------------------------------------------------------------


def _take(folder: Path, stored: TokenFiles) -> None:
    """Make ``folder``'s shared files those of the database (0600 files, written whole)."""
    for name in SHARED_FILES:
        if name in stored.files:
            tokens.write_private(folder / name, stored.files[name])
        else:
            # A profile the database lacks would belong to an earlier sign-in.
            with suppress(FileNotFoundError):
                (folder / name).unlink()
    _remember(folder, stored.sha256)


def _agreed_on(folder: Path) -> str | None:
    data = tokens.read_json(agreement_file(folder))
    value = data.get("sha256") if data else None
    return value if isinstance(value, str) else None


def _remember(folder: Path, sha256: str) -> None:
    tokens.write_private(agreement_file(folder), json.dumps({"sha256": sha256}))
