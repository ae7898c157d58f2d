"""Debian's Chromium, headless, driven by Selenium through Debian's chromedriver.

A :class:`Console` is one browser on one server's ``/client/``, with the steps a person
takes there (sign in, press a button, read the banner) so the tests read as flows.
Waits are for something to appear, with a limit; nothing is asserted about time.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

__all__ = ["CHROMEDRIVER", "CHROMIUM", "Console", "axe_core", "require_chromium"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
#: axe-core, fetched from the npm registry by ``scripts/test`` (never committed).
AXE_CORE = Path(
    os.environ.get("ALTO_AXE_CORE", Path(__file__).parents[2] / ".cache/axe-core/axe.min.js")
)
#: The impacts an accessibility finding must not have on the console's pages.
SERIOUS = frozenset({"serious", "critical"})
#: How long a step may take to show its result (a VM deploy on a loaded CI machine), and
#: how often to look meanwhile.
WAIT = 30
POLL = 0.05


def _missing(message: str) -> NoReturn:
    """Skip the calling test for want of ``message``'s tool; fail instead under
    ``ALTO_REQUIRE_BROWSER=1`` (CI, where ``scripts/test`` installs the tools)."""
    if os.environ.get("ALTO_REQUIRE_BROWSER") == "1":
        pytest.fail(f"ALTO_REQUIRE_BROWSER=1 but {message}")
    pytest.skip(message)


def require_chromium() -> None:
    """Debian's chromium and chromium-driver, or skip (see :func:`_missing`)."""
    if not (Path(CHROMIUM).exists() and shutil.which(CHROMEDRIVER) is not None):
        _missing("the console tests need Debian's chromium and chromium-driver")


def axe_core() -> str:
    """axe-core's source, or skip (see :func:`_missing`)."""
    if not AXE_CORE.exists():
        _missing(f"no axe-core at {AXE_CORE}: scripts/test fetches it")
    return AXE_CORE.read_text()


class Console:
    def __init__(self, base_url: str, screenshots: Path) -> None:
        self.base_url = base_url
        self.screenshots = screenshots
        screenshots.mkdir(parents=True, exist_ok=True)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in (
            "--headless=new",
            "--no-sandbox",  # tests run as root in a container
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=1200,900",
        ):
            options.add_argument(argument)
        self.driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))

    def close(self) -> None:
        self.driver.quit()

    def start_over(self) -> None:
        """A new visitor: no cookies, no session in the tab."""
        self.driver.get(self.base_url)
        self.driver.delete_all_cookies()
        self.driver.execute_script("sessionStorage.clear()")
        self.driver.get(self.base_url)

    def wait(self, css: str) -> WebElement:
        element: WebElement = WebDriverWait(self.driver, WAIT, poll_frequency=POLL).until(
            expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
        )
        return element

    def wait_text(self, css: str, text: str) -> WebElement:
        WebDriverWait(self.driver, WAIT, poll_frequency=POLL).until(
            expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
        )
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def wait_gone(self, css: str, text: str) -> None:
        """Wait until the element at ``css`` no longer shows ``text``."""
        WebDriverWait(self.driver, WAIT, poll_frequency=POLL).until_not(
            expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
        )

    def page(self, name: str) -> None:
        """Wait until the router has shown page ``name`` (``main[data-page]``)."""
        self.wait(f'main[data-page="{name}"]')

    def fill(self, form: str, **values: str) -> None:
        for name, value in values.items():
            control = self.wait(f'{form} [name="{name}"]')
            if control.tag_name == "select":
                control.find_element(By.XPATH, f'.//option[normalize-space()="{value}"]').click()
            else:
                control.clear()
                control.send_keys(value)

    def press(self, label: str, within: str = "main") -> None:
        """Press the enabled button (or button-like link) whose text or accessible name
        (``aria-label``) is ``label``."""
        named = f'(normalize-space()="{label}" or @aria-label="{label}")'
        xpath = f".//*[(self::button or self::a) and {named} and not(@disabled)]"
        scope = self.wait(within)
        WebDriverWait(self.driver, WAIT, poll_frequency=POLL).until(
            lambda _: scope.find_elements(By.XPATH, xpath)
        )
        scope.find_element(By.XPATH, xpath).click()

    def choose(self, name: str, within: str = "main") -> None:
        """Tick the radio button or checkbox whose choice is called ``name``."""
        xpath = f'.//label[.//strong[normalize-space()="{name}"]]//input'
        self.wait(within).find_element(By.XPATH, xpath).click()

    def sign_in(self, username: str, password: str, domain: str | None = None) -> None:
        self.page("signin")
        self.fill(
            "#signin",
            username=username,
            password=password,
            **({"domain": domain} if domain else {}),
        )
        self.press("Sign in")

    def session_key(self) -> str:
        return str(
            self.driver.execute_script(
                "return JSON.parse(sessionStorage.getItem('altostratus.session')).sessionkey"
            )
        )

    def go(self, hash_path: str) -> None:
        self.driver.execute_script("location.hash = arguments[0]", hash_path)

    @contextmanager
    def phone_width(self) -> Iterator[None]:
        """A phone-sized window (390 CSS pixels wide) for the block's steps."""
        before = self.driver.get_window_size()
        self.driver.set_window_size(390, 844)
        try:
            yield
        finally:
            self.driver.set_window_size(before["width"], before["height"])

    def fits_the_window(self) -> bool:
        """Nothing on the page needs sideways scrolling to be read."""
        return bool(
            self.driver.execute_script(
                "return document.documentElement.scrollWidth <= window.innerWidth"
            )
        )

    def serious_accessibility_findings(self, axe: str) -> list[str]:
        """axe-core's WCAG 2 A/AA findings on the page as shown, serious or critical ones
        only, each as its rule, impact and first offending element."""
        if not self.driver.execute_script("return typeof axe !== 'undefined'"):
            self.driver.execute_script(axe)  # once per page load: the hash router keeps it
        violations: list[dict[str, Any]] = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']})"
            ".then((results) => done(results.violations));"
        )
        return [
            f"{v['id']} ({v['impact']}): {v['nodes'][0]['html']}"
            for v in violations
            if v["impact"] in SERIOUS
        ]

    def screenshot(self, name: str) -> Path:
        path = self.screenshots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path
