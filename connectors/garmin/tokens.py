"""The Garmin token store: a private folder (0700) of private files (0600).

- ``garmin_tokens.json``: garminconnect's own token file (access token, rotating refresh
  token, client id), so that garminconnect's tools and syncd can share a store;
- ``profile.json``: the Garmin profile id and display name, which the gear calls need;
  written at login so that polling never spends a request on it;
- ``mfa_pending.json``: a login waiting for its MFA code (``syncd auth garmin --mfa-code``).
  It holds the sign-in session's cookies, so it is as private as a password, and is removed
  as soon as the login completes.

No password is ever written here.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from syncd.errors import StorageError

TOKEN_FILE = "garmin_tokens.json"  # noqa: S105 - a file name
PROFILE_FILE = "profile.json"
PENDING_FILE = "mfa_pending.json"


def default_token_dir(token_store: Path | None, state_dir: Path) -> Path:
    """``[garmin] token_store`` when set, else ``garmin/`` in the state directory."""
    return token_store if token_store is not None else state_dir / "garmin"


def ensure_private_dir(folder: Path) -> None:
    """Create ``folder`` (and parents) and make it 0700 whatever the umask."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
    except OSError as err:
        raise StorageError(f"cannot create the Garmin token store {folder}: {err.strerror}; "
                           "make its parent writable by the syncd user or set [garmin] "
                           "token_store elsewhere") from err


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, as a 0600 file in a 0700 folder."""
    ensure_private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except OSError as err:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise StorageError(f"cannot write {path}: {err.strerror}; check the free space and "
                           "that the syncd user owns the Garmin token store") from err


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or ``None`` when the file is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def token_file(folder: Path) -> Path:
    """The token file inside a token store folder."""
    return folder / TOKEN_FILE


def stored_refresh_token(folder: Path) -> str | None:
    """The refresh token currently on disk (to notice another process rotating it)."""
    data = read_json(token_file(folder))
    value = data.get("di_refresh_token") if data else None
    return value if isinstance(value, str) else None


def save_profile(folder: Path, profile_id: int | None, display_name: str | None) -> None:
    """Remember the Garmin profile (id and display name) beside the tokens."""
    write_private(folder / PROFILE_FILE,
                  json.dumps({"profile_id": profile_id, "display_name": display_name}))


def load_profile_id(folder: Path) -> int | None:
    """The profile id saved at login, if any."""
    data = read_json(folder / PROFILE_FILE)
    value = data.get("profile_id") if data else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def save_pending(folder: Path, state: dict[str, Any]) -> None:
    """Keep a login that waits for its MFA code."""
    write_private(folder / PENDING_FILE, json.dumps(state))


def load_pending(folder: Path) -> dict[str, Any] | None:
    """The login waiting for its MFA code, if any."""
    return read_json(folder / PENDING_FILE)


def clear_pending(folder: Path) -> None:
    """Forget a pending login (done, or abandoned)."""
    with contextlib.suppress(FileNotFoundError):
        (folder / PENDING_FILE).unlink()
