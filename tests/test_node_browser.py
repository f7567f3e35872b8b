"""The 查验 pages in a real browser: Debian's headless Chromium driven by Playwright, against a
real ``receipts serve`` process on a free loopback port over the seeded city of
:mod:`tests.support.node` (docs/operations.md, "Browser tests of the 查验 page").

One browser for the whole session and one node for this module; each test opens its own
browser context (a fresh profile: no cookies, no cache). Screenshots of every page the tests
see are saved under ``tests/artifacts/browser/`` (``RECEIPTS_TEST_ARTIFACTS`` moves them); the
folder is printed at the end of the session. Without ``/usr/bin/chromium`` (Debian package
``chromium``) the tests skip, and fail under ``CI=true`` (``.ci/run`` installs it). Playwright
never downloads a browser here.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.node import PERSON_PAYER, PUBLIC_BASE_URL, SeededCity, seeded_city
from tests.support.processes import wait_until
from tests.support.skips import need_tool, skip_or_fail
from tests.support.workspaces import ENV, ok, receipts

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

pytestmark = pytest.mark.slow  # a browser and a node process: a few seconds for the module

ARTIFACTS = Path(os.environ.get("RECEIPTS_TEST_ARTIFACTS", Path(__file__).parent / "artifacts"))
SHOTS = ARTIFACTS / "browser"
PHONE: ViewportSize = {"width": 375, "height": 667}
_WIDE_OPEN = 'rate_per_minute = 100000\nrate_burst = 10000\naccess_log = "logs/access.jsonl"\n'
"""``[serve]`` keys opening the rate limit for the tests' many look-ups from one address."""


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread while
# it is open, and any later test in the same worker that calls asyncio.run (pyHanko's PAdES
# signing does) would fail. pytest tears a module fixture down before the next module's tests.
@pytest.fixture(scope="module")
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    """Headless Chromium (Debian's), one for this module."""
    executable = need_tool("chromium", "chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright is not installed (pip install -e '.[test]')")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(Path(executable).resolve()), args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print(f"\nbrowser tests: screenshots in {SHOTS.resolve()}")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> SeededCity:
    """The seeded city, its rate limit opened for the tests' many look-ups from one address."""
    seeded = seeded_city(tmp_path_factory.mktemp("browser"))
    config = seeded.home / "receipts.toml"
    text = config.read_text(encoding="utf-8")
    if "\n[serve]\n" in text:
        text = text.replace("\n[serve]\n", f"\n[serve]\n{_WIDE_OPEN}", 1)
    else:
        text += f"\n[serve]\n{_WIDE_OPEN}"
    config.write_text(text, encoding="utf-8")
    return seeded


@pytest.fixture(scope="module")
def node(city: SeededCity) -> Iterator[str]:
    """``receipts serve`` over the city in a subprocess; its base URL. Stopped with SIGTERM
    afterwards, which must end it cleanly."""
    port = _free_port()
    argv = [sys.executable, "-m", "cli", "--home", str(city.home), "serve", "--port", str(port)]
    process = subprocess.Popen(
        argv,
        env=os.environ | ENV,
        cwd=Path(__file__).parent.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _healthy(base):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                errors = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"receipts serve did not start: {errors}")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        wait_until(lambda: process.poll() is not None, 40, "receipts serve stops on SIGTERM")
    errors = process.stderr.read().decode() if process.stderr else ""
    assert process.returncode == 0, errors
    assert "Traceback" not in errors, errors


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser context (desktop size) that accepts downloads."""
    ctx = browser.new_context(accept_downloads=True, locale="zh-CN")
    yield ctx
    ctx.close()


def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artefact."""
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def look_up(page: Page, base: str, code: str, number: str, check: str, amount: str = "") -> None:
    """Fill in the 查验 form on the front page and submit it."""
    page.goto(f"{base}/")
    page.fill("#code", code)
    page.fill("#number", number)
    page.fill("#check", check)
    if amount:
        page.fill("#amount", amount)
    with page.expect_navigation():
        page.click("#lookup-submit")


def test_lookup_shows_the_receipts_status(
    context: BrowserContext, node: str, city: SeededCity
) -> None:
    page = context.new_page()
    issued = city.receipts[2]
    # The check code as a person copies it from paper: upper case, the amount given.
    look_up(page, node, city.code, "2", issued.check_code.upper(), f"{issued.total:.2f}")
    shot(page, "lookup-issued")
    assert page.inner_text("#status") == "有效"
    assert page.inner_text("#receipt-number") == "0000000002"
    assert page.inner_text("#amount") == f"{issued.total:.2f} 元"
    assert "银川市总工会" in page.inner_text("#issuer")
    payer = page.inner_text("#payer")
    assert payer != PERSON_PAYER and payer.startswith(PERSON_PAYER[0]) and "*" in payer

    look_up(page, node, city.code, "1", city.receipts[1].check_code)
    shot(page, "lookup-reversed")
    status = page.inner_text("#status")
    assert status.startswith("已冲红") and f"{city.code}-0000000003" in status


def test_wrong_check_code_shows_the_same_page_as_a_missing_receipt(
    context: BrowserContext, node: str, city: SeededCity
) -> None:
    page = context.new_page()
    texts = {}
    for name, number, check in [
        ("wrong-check-code", "2", "zzzzzz"),
        ("missing-receipt", "9", city.receipts[2].check_code),
        ("written-off", "11", city.receipts[2].check_code),
        ("wrong-amount", "2", city.receipts[2].check_code),
    ]:
        look_up(page, node, city.code, number, check, "1.00" if name == "wrong-amount" else "")
        shot(page, f"not-found-{name}")
        assert page.locator("#not-found").count() == 1, name
        texts[name] = (page.title(), page.inner_text("body"), page.content())
    assert len(set(texts.values())) == 1, "the 'not found' pages differ"
    assert "未查到" in texts["missing-receipt"][1]


def test_pdf_downloads_and_verifies(
    context: BrowserContext, node: str, city: SeededCity, tmp_path: Path
) -> None:
    page = context.new_page()
    look_up(page, node, city.code, "2", city.receipts[2].check_code)
    with page.expect_download() as download_info:
        page.click("#pdf-download")
    download = download_info.value
    assert download.suggested_filename == f"{city.code}-0000000002.pdf"
    saved = tmp_path / download.suggested_filename
    download.save_as(str(saved))
    assert saved.read_bytes().startswith(b"%PDF-")
    result = receipts(city.home, "verify", str(saved))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("VALID    ")


def _upload(page: Page, base: str, file: Path, name: str) -> None:
    page.goto(f"{base}/verify")
    page.set_input_files("#file", str(file))
    with page.expect_navigation():
        page.click("#upload-submit")
    shot(page, name)


def test_upload_shows_the_findings(
    context: BrowserContext, node: str, city: SeededCity, tmp_path: Path
) -> None:
    page = context.new_page()
    good = tmp_path / "receipt-2.xml"
    good.write_text(ok(city.home, "show", city.code, "2", "--xml"), encoding="utf-8")
    _upload(page, node, good, "upload-valid")
    assert page.inner_text("#verdict").startswith("文件核验通过")
    assert page.inner_text("#status") == "有效"

    tampered = tmp_path / "tampered.xml"
    total = f"{city.receipts[2].total:.2f}"
    text = good.read_text(encoding="utf-8")
    assert f">{total}<" in text
    tampered.write_text(text.replace(f">{total}<", ">9999.00<"), encoding="utf-8")
    _upload(page, node, tampered, "upload-tampered")
    assert page.inner_text("#verdict") == "文件未通过核验。"
    findings = page.locator("ul.findings li")
    assert findings.count() >= 1
    expected = receipts(city.home, "--json", "verify", str(tampered))
    assert expected.exit_code == 1
    codes = set(re.findall(r'"code": "([a-z0-9_.-]+)"', expected.stdout))
    shown = {findings.nth(i).locator("code").inner_text() for i in range(findings.count())}
    assert shown == codes, (shown, codes)


def _fits(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def test_pages_fit_a_phone(browser: Browser, node: str, city: SeededCity, tmp_path: Path) -> None:
    phone = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, locale="zh-CN"
    )
    try:
        page = phone.new_page()
        visits: list[tuple[str, Any]] = [
            ("phone-index", lambda: page.goto(f"{node}/")),
            (
                "phone-result",
                lambda: look_up(page, node, city.code, "1", city.receipts[1].check_code),
            ),
            ("phone-not-found", lambda: look_up(page, node, city.code, "9", "abcdef")),
            ("phone-upload", lambda: page.goto(f"{node}/verify")),
        ]
        for name, visit in visits:
            visit()
            shot(page, name)
            assert _fits(page) <= PHONE["width"], f"{name}: {_fits(page)} px wide"
        good = tmp_path / "receipt-1.xml"
        good.write_text(ok(city.home, "show", city.code, "1", "--xml"), encoding="utf-8")
        _upload(page, node, good, "phone-findings")
        assert _fits(page) <= PHONE["width"], f"findings: {_fits(page)} px wide"
    finally:
        phone.close()


def test_pages_work_without_javascript(
    browser: Browser, node: str, city: SeededCity, tmp_path: Path
) -> None:
    plain = browser.new_context(java_script_enabled=False, accept_downloads=True)
    try:
        page = plain.new_page()
        look_up(page, node, city.code, "2", city.receipts[2].check_code)
        shot(page, "no-javascript-result")
        assert page.inner_text("#status") == "有效"
        with page.expect_download() as download_info:
            page.click("#pdf-download")
        saved = tmp_path / "no-js.pdf"
        download_info.value.save_as(str(saved))
        assert saved.read_bytes().startswith(b"%PDF-")
        _upload(page, node, saved, "no-javascript-findings")
        assert page.inner_text("#verdict").startswith("文件核验通过")
    finally:
        plain.close()


def test_chinese_text_renders_with_glyphs(
    context: BrowserContext, node: str, city: SeededCity
) -> None:
    """Two different headings of four Chinese characters each render as different pixels: with
    no CJK font both would be four identical empty boxes (tofu)."""
    page = context.new_page()
    page.goto(f"{node}/")
    front = page.locator("h1").first.screenshot()
    assert page.locator("h1").first.inner_text() == "收据查验"
    look_up(page, node, city.code, "2", city.receipts[2].check_code)
    assert page.locator("h1").first.inner_text() == "查验结果"
    result = page.locator("h1").first.screenshot()
    assert front != result, "Chinese text renders as empty boxes: is fonts-wqy-zenhei installed?"


def test_a_phone_opening_the_qr_code_sees_the_result(
    browser: Browser, node: str, city: SeededCity
) -> None:
    """The QR code's URL (under the city's public base URL, here served on loopback) opens the
    result page, its seal checked."""
    scanned = city.receipts[2].qr
    assert scanned.startswith(PUBLIC_BASE_URL + "/q?")
    phone = browser.new_context(viewport=PHONE, is_mobile=True, locale="zh-CN")
    try:
        page = phone.new_page()
        page.goto(node + scanned.removeprefix(PUBLIC_BASE_URL))
        shot(page, "phone-qr-scan")
        assert page.inner_text("#status") == "有效"
        assert page.inner_text("#seal") == "二维码签章核验通过。"
        assert _fits(page) <= PHONE["width"]
    finally:
        phone.close()
