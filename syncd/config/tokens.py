"""Named server tokens: ``[server] tokens``, a list of ``{name, token}`` (or ``token_file``),
one per person who reaches the HTTP API (each therapist of a clinic), so that what they do
(acknowledging an alert) is recorded under their name. The single ``[server] token`` of
earlier versions is still accepted: it is the token named :data:`OPERATOR`.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

# The name of the single ``[server] token`` (and of ``token_file``).
OPERATOR = "operator"
TOKEN_NAME_MAX = 64
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]*$")


class NamedToken(BaseModel):
    """One ``[[server.tokens]]`` entry: who holds the token, and the token."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = Field(min_length=1, max_length=TOKEN_NAME_MAX)
    token: SecretStr

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("must start with a letter or digit and hold only letters, "
                             "digits, spaces and . _ @ -, e.g. \"dr-weber\"")
        return value

    @field_validator("token")
    @classmethod
    def _not_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty; give the token (or token_file, a file holding it)")
        return value


def token_problems(single: SecretStr | None, tokens: list[NamedToken]) -> list[str]:
    """What is wrong with the tokens as a whole: a name or a token used twice (the token
    must say who used it), or the single ``token`` beside an entry named ``operator``."""
    names = [t.name.lower() for t in tokens]
    if single is not None and single.get_secret_value():
        names.append(OPERATOR)
    problems = [f"[server] tokens: the name {name!r} is used twice; names must be unique"
                + (" (the single [server] token is named \"operator\")" if name == OPERATOR
                   else "")
                for name in sorted({n for n in names if names.count(n) > 1})]
    values = [t.token.get_secret_value() for t in tokens]
    if len(set(values)) != len(values):
        problems.append("[server] tokens: two entries have the same token; give each "
                        "person their own")
    return problems


def named_tokens(single: SecretStr | None, tokens: list[NamedToken]) -> list[tuple[str, str]]:
    """Every configured token as ``(name, token)``: the single one as ``operator`` first."""
    out = [(OPERATOR, single.get_secret_value())] if single is not None else []
    out += [(t.name, t.token.get_secret_value()) for t in tokens]
    return [(name, token) for name, token in out if token]


def token_tables(server: Any) -> list[tuple[str, dict[str, Any]]]:
    """The ``[[server.tokens]]`` tables of a raw configuration, with their labels, so that
    each ``token_file`` is read as every other secret's file is."""
    tokens = server.get("tokens") if isinstance(server, dict) else None
    if not isinstance(tokens, list):
        return []
    return [(f"server.tokens[{i}].token", t) for i, t in enumerate(tokens, 1)]

