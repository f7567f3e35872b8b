"""The declared floors and the pinned rendering libraries agree with pyproject.toml (issue 18,
item 6; docs/operations.md, "Pinned rendering libraries, and the declared floors")."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def _pins(name: str) -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints" / name).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            package, _, version = line.partition("==")
            pins[_norm(package)] = Version(version)
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["pg"]
    return [Requirement(d) for d in deps]


def _floor(req: Requirement) -> Version:
    floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
    assert len(floors) == 1, f"{req} must state one floor (>=)"
    return floors[0]


def test_every_runtime_dependency_is_pinned_at_its_floor() -> None:
    pins = _pins("floors.txt")
    for req in _runtime():
        name = _norm(req.name)
        assert name in pins, f"constraints/floors.txt has no pin for {req.name}"
        pin, floor = pins[name], _floor(req)
        assert pin in req.specifier, f"{req.name}=={pin} is outside {req.specifier}"
        # The floor's own release, or a patch of it where that release has no wheel.
        assert pin.release[: len(floor.release)] == floor.release or (
            pin.release[:2] == floor.release[:2]
        ), f"{req.name}: floors.txt pins {pin}, pyproject.toml's floor is {floor}"
    extra = set(pins) - {_norm(r.name) for r in _runtime()}
    assert not extra, f"constraints/floors.txt pins what is not a runtime dependency: {extra}"


def test_the_rendering_pins_are_admitted_by_pyproject() -> None:
    declared = {_norm(r.name): r for r in _runtime()}
    pins = _pins("rendering.txt")
    assert {"reportlab", "pikepdf", "fonttools", "zxing-cpp", "pyhanko"} <= set(pins)
    for name, pin in pins.items():
        assert name in declared, f"rendering.txt pins {name}, not a runtime dependency"
        assert pin in declared[name].specifier, f"{name}=={pin} is outside {declared[name]}"


def test_ci_installs_the_pins_and_runs_the_floors_job() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    floors = (ROOT / ".ci" / "floors").read_text(encoding="utf-8")
    assert "-c constraints/floors.txt" in floors and "pytest" in floors
    assert "set -euo pipefail" in floors, "a failing floors suite must fail CI"
    # Every CI run runs the floors job, in a line of its own (not commented out), after the suite.
    lines = [line.strip() for line in ci.splitlines()]
    assert "bash .ci/floors" in lines
    assert ci.index(".venv/bin/pytest -n 2") < ci.index("bash .ci/floors")
    assert "-c constraints/rendering.txt" in ci
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -q -c constraints/rendering.txt -e '.[test]' && .venv/bin/pytest -n 2" in ci
    assert "pip install -q -c constraints/rendering.txt -e '.[test]' && .venv/bin/pytest -n 2" in (
        readme
    )
