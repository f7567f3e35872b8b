"""The ``[smtp]`` table (docs/delivery.md, "Configuration"): defaults, every bad value refused
with a line naming the key, the password only from the environment; and the Message-ID, the
same on every try of one receipt to one address and different for another address."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from receipts.delivery.config import PASSWORD_ENV, smtp_config
from receipts.delivery.message import message_id
from receipts.errors import ConfigurationError
from receipts.workspace import Workspace
from tests.support.workspaces import federation

BASE = {"host": "smtp.example.cn", "from": "shouju@yinchuan-union.example.cn"}


def workspace(tmp_path: Path, table: dict[str, Any]) -> Workspace:
    ws = federation(tmp_path / "city", "640100")
    return Workspace(ws.home, type(ws.config)(**{**vars(ws.config), "smtp": table}))


def test_defaults_and_the_password_from_the_environment(tmp_path: Path) -> None:
    config = smtp_config(workspace(tmp_path, dict(BASE)), {})
    assert (config.port, config.starttls, config.implicit_tls) == (587, True, False)
    assert (config.username, config.password, config.ca_file) == (None, None, None)
    assert (config.timeout, config.retries, config.retry_delay) == (30, 2, 5)
    assert config.sender_domain == "yinchuan-union.example.cn"
    ws = workspace(tmp_path / "b", {**BASE, "username": "shouju", "implicit_tls": True})
    config = smtp_config(ws, {PASSWORD_ENV: "pw"})
    assert (config.port, config.starttls, config.implicit_tls) == (465, False, True)
    assert config.password == "pw"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "no mail server configured"),
        ({**BASE, "password": "x"}, "a password does not belong in the file"),
        ({**BASE, "pasword": "x"}, "unknown keys pasword"),
        ({"from": BASE["from"]}, "host is required"),
        ({"host": "smtp.example.cn"}, "from is required"),
        ({**BASE, "from": "收据@example.cn"}, "from: email"),
        ({**BASE, "host": "smtp.example.cn\r\nRCPT TO:<x@y.cn>"}, "host must be one line"),
        ({**BASE, "port": "587"}, "port must be a whole number from 1 to 65535"),
        ({**BASE, "port": 70000}, "port must be a whole number"),
        ({**BASE, "port": True}, "port must be a whole number"),
        ({**BASE, "starttls": "yes"}, "starttls must be true or false"),
        ({**BASE, "starttls": True, "implicit_tls": True}, "not both"),
        ({**BASE, "username": "u", "starttls": False}, "username needs starttls = true"),
        ({**BASE, "username": "u"}, f"needs {PASSWORD_ENV} set"),
        ({**BASE, "ca_file": "nowhere.pem"}, "is not a file"),
        ({**BASE, "retries": 11}, "retries must be a whole number from 0 to 10"),
        ({**BASE, "retry_delay": -1}, "retry_delay must be a number from 0 to 600"),
        ({**BASE, "timeout": 0}, "timeout must be a number from 1 to 600"),
    ],
)
def test_bad_tables_are_refused(tmp_path: Path, table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=r"\[smtp\]") as raised:
        smtp_config(workspace(tmp_path, table), {})
    assert message in str(raised.value)


def test_the_message_id_is_the_same_on_every_try() -> None:
    digest = "ab" * 32
    one = message_id("64710126", 42, digest, "caiwu@helanshan.example.cn", "example.cn")
    assert one == message_id("64710126", 42, digest, "CAIWU@helanshan.example.cn", "example.cn")
    assert one.startswith("<udr.64710126.0000000042.") and one.endswith("@example.cn>")
    assert one != message_id("64710126", 42, digest, "other@helanshan.example.cn", "example.cn")
    assert one != message_id("64710126", 42, "cd" * 32, "caiwu@helanshan.example.cn", "example.cn")


def test_with_operators_a_clerk_delivers_and_an_auditor_may_not(tmp_path: Path) -> None:
    """docs/security.md, the role matrix: ``deliver`` is a clerk's."""
    from tests.support.operators import as_operator, with_operators

    home = with_operators(tmp_path / "city", names=("李静", "张晓梅", "王芳"))
    refused = as_operator(home, "王芳", "deliver", "--dry-run")
    assert refused.exit_code == 2, refused.output
    assert refused.stderr.startswith("error: 王芳 is an auditor; delivering receipts needs a clerk")
    allowed = as_operator(home, "张晓梅", "--json", "deliver", "--dry-run")
    assert allowed.exit_code == 0, allowed.output
    assert '"counts": {}' in allowed.stdout
