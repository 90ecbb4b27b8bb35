"""Logins and roles for the web chat (`bot.settings`): parsing ``--auth``, auth files and the
environment, who may edit, and ``serve`` refusing a non-loopback address without a login."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import (ENV_AUTH, ENV_AUTH_FILE, EDITOR, READER, Access, Login, NotAllowed, is_loopback,
                          parse_login, read_auth_file, resolve_access)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_auth_env(monkeypatch):
    monkeypatch.delenv(ENV_AUTH, raising=False)
    monkeypatch.delenv(ENV_AUTH_FILE, raising=False)


@pytest.mark.parametrize("text, expected", [
    ("alice:s3cret", Login("alice", "s3cret", READER)),  # no role: reader (editing is given, never assumed)
    ("alice:s3cret:editor", Login("alice", "s3cret", EDITOR)),
    ("alice:s3cret:Editor", Login("alice", "s3cret", EDITOR)),
    ("alice:s3cret:reader", Login("alice", "s3cret", READER)),
    ("bob:pa:ss:word", Login("bob", "pa:ss:word", READER)),  # colons inside a password
    ("bob:pa:ss:editor", Login("bob", "pa:ss", EDITOR)),
    ("  carol:pw  ", Login("carol", "pw", READER)),
])
def test_parse_login(text, expected):
    assert parse_login(text) == expected


@pytest.mark.parametrize("text", ["alice", "alice:", ":SECRET", ":SECRET:editor", "a b:SECRET", "", "alice::editor",
                                  "alice:" + "S" * 201])
def test_a_bad_login_is_refused_in_one_line_without_showing_the_password(text):
    with pytest.raises(ValueError, match=r"^--auth: ") as err:
        parse_login(text)
    assert "SECRET" not in str(err.value) and "S" * 50 not in str(err.value) and "\n" not in str(err.value)


def test_auth_file_lines_comments_and_errors(tmp_path):
    f = tmp_path / "logins.txt"
    f.write_text("# who may use the chat\n\nalice:one:editor\nbob:two\n", encoding="utf-8")
    assert read_auth_file(f) == [Login("alice", "one", EDITOR), Login("bob", "two", READER)]
    f.write_text("alice:one:editor\nnot a login\n", encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{f}:2: expected USER:PASSWORD"):
        read_auth_file(f)
    f.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no USER:PASSWORD"):
        read_auth_file(f)
    with pytest.raises(ValueError, match=r"--auth-file .*missing.txt: cannot read \(No such file"):
        read_auth_file(tmp_path / "missing.txt")


@pytest.mark.parametrize("host, loop", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
                                        ("localhost", True), ("0.0.0.0", False), ("192.168.1.5", False),
                                        ("::", False), ("example.org", False)])
def test_is_loopback(host, loop):
    assert is_loopback(host) is loop


def test_without_logins_loopback_edits_public_reads_and_anything_else_is_refused():
    assert resolve_access("127.0.0.1") == Access((), anonymous=EDITOR)
    with pytest.raises(ValueError, match="refusing to serve on 0.0.0.0 without a login.*--public"):
        resolve_access("0.0.0.0")
    public = resolve_access("0.0.0.0", public=True)
    assert public.role_of(None) == READER and not public.can_edit(None) and not public.required
    with pytest.raises(NotAllowed, match="read-only"):
        public.require_editor(None)


def test_logins_from_flags_file_and_environment(tmp_path, monkeypatch):
    f = tmp_path / "logins"
    f.write_text("carol:three:editor\n", encoding="utf-8")
    access = resolve_access("0.0.0.0", ["alice:one:editor", "bob:two"], f)
    assert access.required and [login.user for login in access.logins] == ["alice", "bob", "carol"]
    assert access.check_password("alice", "one") and not access.check_password("alice", "two")
    assert not access.check_password("nobody", "one") and not access.check_password("bob", "")
    assert access.role_of("alice") == EDITOR and access.role_of("bob") == READER and access.role_of("eve") is None
    assert access.role_of(None) is None  # with logins, nobody is anonymous
    access.require_editor("carol")
    with pytest.raises(NotAllowed, match="only an editor may add or remove transcripts; user 'bob' has the role"):
        access.require_editor("bob")
    # The environment counts only when no flag gives a login.
    monkeypatch.setenv(ENV_AUTH, "dave:four:editor, erin:five")
    assert [login.user for login in resolve_access("0.0.0.0").logins] == ["dave", "erin"]
    assert [login.user for login in resolve_access("0.0.0.0", ["alice:one"]).logins] == ["alice"]
    monkeypatch.delenv(ENV_AUTH)
    monkeypatch.setenv(ENV_AUTH_FILE, str(f))
    assert resolve_access("0.0.0.0").role_of("carol") == EDITOR
    with pytest.raises(ValueError, match="user 'alice' is given more than once"):
        resolve_access("127.0.0.1", ["alice:one", "alice:two:editor"])


def test_logins_from_the_config_file_come_last(tmp_path, monkeypatch):
    from bot.settings import Settings

    logins = tmp_path / "logins.txt"
    logins.write_text("carol:three:editor\n", encoding="utf-8")
    config = tmp_path / "transcript-bot.toml"
    config.write_text(f'host = "0.0.0.0"\nauth_file = "{logins}"\n', encoding="utf-8")
    settings = Settings.resolve(config=config)
    assert settings.auth_file == logins
    access = resolve_access(settings.host, config_auth_file=settings.auth_file)
    assert access.role_of("carol") == EDITOR
    assert resolve_access(settings.host, ["alice:one"], config_auth_file=settings.auth_file).role_of("carol") is None
    monkeypatch.setenv(ENV_AUTH, "dave:four")
    assert resolve_access(settings.host, config_auth_file=settings.auth_file).role_of("carol") is None
    config.write_text("auth_file = 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="auth_file must be the path of a logins file"):
        Settings.resolve(config=config)


def run(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in (ENV_AUTH, ENV_AUTH_FILE)}
    env.update({"HF_HUB_OFFLINE": "1", **(env_extra or {})})
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=120)


@pytest.mark.parametrize("args, env, message", [
    (["--host", "0.0.0.0"], {}, "transcript-bot serve: refusing to serve on 0.0.0.0 without a login: anyone who "
                                "can reach it could read the corpus; add --auth USER:PASSWORD[:editor] (or "
                                "--auth-file FILE), or --public to serve it to everyone, read-only"),
    (["--host", "0.0.0.0", "--auth", "alice"], {}, "transcript-bot serve: --auth: expected USER:PASSWORD"),
    (["--auth-file", "/nonexistent/logins"], {}, "transcript-bot serve: --auth-file /nonexistent/logins: cannot read"),
    ([], {"TRANSCRIPT_BOT_HOST": "10.1.2.3"}, "transcript-bot serve: refusing to serve on 10.1.2.3 without a login"),
    ([], {ENV_AUTH: "x"}, f"transcript-bot serve: {ENV_AUTH}: expected USER:PASSWORD"),
])
def test_serve_refuses_in_one_line_before_anything_loads(tmp_path, args, env, message):
    out = run("serve", "--index", str(tmp_path / "no-index"), "--corpus", str(tmp_path), *args, env_extra=env)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith(message) and len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr and out.stdout == ""
