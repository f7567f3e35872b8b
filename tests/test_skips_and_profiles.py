"""tests.support's own rules: skip locally but fail under CI, and the Hypothesis
profile each place runs."""

from __future__ import annotations

import pytest
from hypothesis import settings

from tests.support.hypothesis_profiles import chosen_profile
from tests.support.skips import in_ci, need_tool, skip_or_fail


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("TRUE", True), ("", False), ("false", False)]
)
def test_ci_is_recognised_by_its_variable(value: str, expected: bool) -> None:
    assert in_ci({"CI": value}) is expected
    assert in_ci({}) is False


def test_a_missing_need_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="a font is missing"):
        skip_or_fail("a font is missing")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="a font is missing"):
        skip_or_fail("a font is missing")


def test_a_missing_tool_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"qpdf is not installed \(Debian: qpdf\)"):
        need_tool("qpdf", "qpdf")


def test_a_present_tool_is_found_by_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/opt/bin/{name}")
    assert need_tool("qpdf", "qpdf") == "/opt/bin/qpdf"


@pytest.mark.parametrize(
    ("environ", "profile"),
    [
        ({"CI": "true"}, "ci"),
        ({}, "dev"),
        ({"CI": "true", "HYPOTHESIS_PROFILE": "dev"}, "dev"),
        ({"HYPOTHESIS_PROFILE": "ci"}, "ci"),
    ],
)
def test_the_profile_follows_ci_unless_chosen(environ: dict[str, str], profile: str) -> None:
    assert chosen_profile(environ) == profile


def test_ci_runs_more_examples_always_the_same_and_without_deadline() -> None:
    ci, dev = settings.get_profile("ci"), settings.get_profile("dev")
    assert ci.max_examples > dev.max_examples
    assert ci.derandomize and not dev.derandomize
    assert ci.deadline is None


def test_this_run_uses_the_chosen_profile() -> None:
    expected, loaded = settings.get_profile(chosen_profile()), settings.default
    assert loaded is not None
    assert loaded.max_examples == expected.max_examples
    assert loaded.derandomize == expected.derandomize
