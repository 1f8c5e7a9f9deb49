"""``[server] tokens``: named tokens (inline or ``token_file``), the single ``token`` named
``operator``, and the problems reported together: a name or token used twice, an empty
token, a name that is not plain; no token value in any message or dump."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.config import load_settings
from syncd.errors import ConfigError


def _write(folder: Path, server: str) -> Path:
    path = folder / "syncd.toml"
    path.write_text(f"[server]\n{server}", encoding="utf-8")
    return path


def test_named_tokens_from_the_file_and_token_files(tmp_path: Path) -> None:
    (tmp_path / "lee.token").write_text("tok-lee-from-a-file\n", encoding="utf-8")
    path = _write(tmp_path, 'token = "tok-operator"\n'
                            '[[server.tokens]]\nname = "dr-weber"\ntoken = "tok-weber"\n'
                            '[[server.tokens]]\nname = "nurse lee"\ntoken_file = "lee.token"\n')

    settings = load_settings(path, env={})

    assert settings.server.named_tokens() == [
        ("operator", "tok-operator"), ("dr-weber", "tok-weber"),
        ("nurse lee", "tok-lee-from-a-file")]
    dumped = json.dumps(settings.redacted_dict()) + repr(settings)
    assert not any(secret in dumped for secret in ("tok-operator", "tok-weber", "tok-lee"))


@pytest.mark.parametrize(("server", "expected"), [
    ('[[server.tokens]]\nname = "a"\ntoken = "x1"\n[[server.tokens]]\nname = "A"\n'
     'token = "x2"\n', "the name 'a' is used twice"),
    ('token = "x0"\n[[server.tokens]]\nname = "operator"\ntoken = "x1"\n',
     "the single [server] token is named \"operator\""),
    ('[[server.tokens]]\nname = "a"\ntoken = "same-secret"\n[[server.tokens]]\nname = "b"\n'
     'token = "same-secret"\n', "two entries have the same token"),
    ('[[server.tokens]]\nname = "a"\ntoken = "  "\n', "server.tokens[1].token: is empty"),
    ('[[server.tokens]]\nname = "-x"\ntoken = "x1"\n', "server.tokens[1].name"),
    ('[[server.tokens]]\nname = "a"\ntoken_file = "missing.token"\n',
     "server.tokens[1].token_file: cannot read"),
])
def test_token_problems_name_the_entry(tmp_path: Path, server: str, expected: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(_write(tmp_path, server), env={})
    assert any(expected in problem for problem in refused.value.problems)
    assert "same-secret" not in str(refused.value)
