"""Logging in to Garmin once (``syncd auth garmin``); afterwards only the token store is used.

Three ways in:

- :func:`login` with email and password. When Garmin asks for an MFA code, ``ask_code``
  (a terminal prompt) supplies it at once; without one (a headless server) the pending
  sign-in is kept in the token store and :func:`finish_mfa` completes it later with the code;
- :func:`adopt` takes over an existing garminconnect token store after checking that Garmin
  accepts it.

The password is used for one sign-in and never written anywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from garminconnect import (
    Garmin,
    GarminConnectAuthenticationError,
    GarminConnectConnectionError,
    GarminConnectTooManyRequestsError,
)

from connectors.garmin import tokens
from connectors.garmin.fetching import PROFILE_PATH
from connectors.garmin.session import DEFAULT_RETRY, Retry, new_garmin, translate
from syncd.errors import AuthError, RateLimited, SyncdError, TransientError

AGAIN = "run `syncd auth garmin` again"


@dataclass(frozen=True, slots=True)
class LoginResult:
    """How a login ended: ``done``, or waiting for the MFA code sent by ``mfa_method``."""

    done: bool
    display_name: str | None = None
    mfa_method: str | None = None


def login(folder: Path, api_url: str | None, email: str, password: str,
          ask_code: Callable[[], str] | None, retry: Retry = DEFAULT_RETRY) -> LoginResult:
    """Sign in with email and password and write the token store in ``folder``."""
    garmin = new_garmin(api_url, retry, email=email, password=password, return_on_mfa=True)
    with _sign_in_errors():
        status, client_state = garmin.login()
        if status == "needs_mfa":
            if ask_code is None:
                tokens.save_pending(folder, {"client_state": client_state, "api_url": api_url,
                                             "started": datetime.now(UTC).isoformat()})
                return LoginResult(False, mfa_method=_mfa_method(client_state))
            garmin.resume_login(client_state, ask_code().strip())
    return _keep(garmin, folder)


def finish_mfa(folder: Path, api_url: str | None, code: str,
               retry: Retry = DEFAULT_RETRY) -> LoginResult:
    """Complete the sign-in that :func:`login` left waiting for its MFA code."""
    pending = tokens.load_pending(folder)
    if not pending or not isinstance(pending.get("client_state"), dict):
        raise AuthError(f"no Garmin sign-in is waiting for a code in {folder}; run "
                        "`syncd auth garmin` first")
    garmin = new_garmin(api_url, retry)
    with _sign_in_errors():
        garmin.resume_login(pending["client_state"], code.strip())
    result = _keep(garmin, folder)
    tokens.clear_pending(folder)
    return result


def adopt(folder: Path, api_url: str | None, source: Path, retry: Retry = DEFAULT_RETRY
          ) -> LoginResult:
    """Copy an existing garminconnect token store into ``folder`` once Garmin accepts it."""
    path = source / tokens.TOKEN_FILE if source.is_dir() else source
    if source.is_dir() and (source / "oauth2_token.json").exists() and not path.exists():
        raise AuthError(f"{source} is an older garth token store, which garminconnect 0.3 "
                        "cannot use; log in with `syncd auth garmin` instead")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise AuthError(f"cannot read the Garmin token store {path} ({err.strerror}); give "
                        "the folder that holds garmin_tokens.json") from err
    garmin = new_garmin(api_url, retry)
    try:
        garmin.client.loads(text)
    except GarminConnectConnectionError as err:
        raise AuthError(f"{path} holds no Garmin tokens; {AGAIN} with a password "
                        "instead") from err
    profile = _get_profile(garmin)
    garmin.display_name = profile.get("displayName")
    garmin.profile_id = profile.get("profileId")
    return _keep(garmin, folder)


def _keep(garmin: Garmin, folder: Path) -> LoginResult:
    """Write the tokens and the profile; the password goes nowhere."""
    if garmin.profile_id is None:
        profile = _get_profile(garmin)
        garmin.display_name = profile.get("displayName") or garmin.display_name
        garmin.profile_id = profile.get("profileId")
    tokens.write_private(tokens.token_file(folder), garmin.client.dumps())
    tokens.save_profile(folder, garmin.profile_id, garmin.display_name)
    return LoginResult(True, display_name=garmin.display_name)


def _get_profile(garmin: Garmin) -> dict[str, Any]:
    """The social profile, which also proves that Garmin accepts the tokens."""
    try:
        profile = garmin.connectapi(PROFILE_PATH)
    except Exception as err:
        raise translate(err, "the profile", datetime.now(UTC) + timedelta(hours=1)) from err
    return profile if isinstance(profile, dict) else {}


def _mfa_method(client_state: Any) -> str | None:
    method = client_state.get("method") if isinstance(client_state, dict) else None
    return method if isinstance(method, str) and method else None


@contextmanager
def _sign_in_errors() -> Iterator[None]:
    """Turn garminconnect's sign-in failures into errors that say what to do."""
    try:
        yield
    except SyncdError:
        raise
    except Exception as err:
        raise _sign_in_error(err) from err


def _sign_in_error(err: Exception) -> SyncdError:
    text = str(err)
    if isinstance(err, GarminConnectTooManyRequestsError):
        return RateLimited("Garmin is refusing sign-ins from here for now (HTTP 429/427); "
                           f"wait an hour, then {AGAIN}")
    if isinstance(err, GarminConnectAuthenticationError) and "client_state" in text:
        return AuthError(f"the Garmin sign-in waiting for its code can no longer be finished; "
                         f"{AGAIN}")
    if isinstance(err, GarminConnectAuthenticationError) and "MFA" in text:
        return AuthError("Garmin did not accept the MFA code; run `syncd auth garmin "
                         "--mfa-code CODE` with the newest code, or start over with "
                         "`syncd auth garmin`")
    if isinstance(err, GarminConnectAuthenticationError):
        return AuthError(f"Garmin did not accept the email and password; check them and "
                         f"{AGAIN}")
    return TransientError(f"cannot sign in to Garmin ({_short(text)}); check the network "
                          f"and {AGAIN}")


def _short(text: str) -> str:
    """The first line of a library message (garminconnect keeps tickets and tokens out)."""
    return (text.splitlines()[0] if text else "no answer")[:200]
