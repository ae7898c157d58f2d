"""The web console in a real browser: headless Chromium against a real quick-start
``alto server`` on loopback, both shared by the module.

Each test is a flow a person follows (sign in, deploy, stop, destroy, create a user), as
the console shows it. Screenshots of the main pages land in ``test-output/console/``
(``ALTO_TEST_OUTPUT`` to move it), for a look at what the run saw.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cs import CloudStack

from tests.clients.conftest import (
    PASSWORD,
    QUICKSTART_HOSTS,
    admin_client,
    create_account,
    quickstart_server,
    unique,
    wait_hosts_up,
)
from tests.support.browser import Console, axe_core, require_chromium
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

OUTPUT = Path(os.environ.get("ALTO_TEST_OUTPUT", Path(__file__).parents[2] / "test-output"))


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_chromium()
    with quickstart_server(tmp_path_factory.mktemp("console") / "data") as server:
        wait_hosts_up(admin_client(server), QUICKSTART_HOSTS)
        yield server


@pytest.fixture(scope="module")
def admin(cloud: LiveServer) -> CloudStack:
    return admin_client(cloud)


@pytest.fixture(scope="module")
def browser(cloud: LiveServer) -> Iterator[Console]:
    console = Console(cloud.endpoint.removesuffix("api"), OUTPUT / "console")
    try:
        yield console
    finally:
        console.close()


@pytest.fixture
def console(browser: Console) -> Console:
    """The module's browser as a new visitor would find it."""
    browser.start_over()
    return browser


def _tenant(admin: CloudStack) -> dict[str, Any]:
    """A new user account; its single user's username is the account's name."""
    return create_account(admin, unique("tenant"))


def _admin_password(cloud: LiveServer) -> str:
    return str(cloud.admin["password"])


def test_wrong_password_shows_the_apis_words(console: Console, admin: CloudStack) -> None:
    account = _tenant(admin)
    console.sign_in(account["name"], "not-the-password")
    assert "please provide valid credentials" in console.notice()
    console.page("signin")  # still there, nothing signed in
    console.sign_in(account["name"], PASSWORD)
    console.page("vms")
    assert account["name"] in console.wait("#who").text


def test_deploy_through_the_wizard_then_stop_and_destroy(
    console: Console, admin: CloudStack
) -> None:
    account = _tenant(admin)
    console.sign_in(account["name"], PASSWORD)
    console.page("vms")
    console.screenshot("vms-empty")
    console.press("Deploy a VM")
    console.page("deploy")
    for step in ("Zone", "Template", "Offering", "Network", "Key pair"):
        console.wait_text("#deploy legend", step)
        if step == "Offering":
            console.screenshot("deploy-wizard")
        console.press("Next")
    console.wait_text("#deploy legend", "Name and review")
    review = console.wait("#review").text
    for choice in ("zone1", "Simulated Linux", "Small Instance", "default network"):
        assert choice in review
    name = unique("web")
    console.fill("#deploy", name=name)
    console.press("Deploy")

    console.page("vms")
    console.wait_text("main h1", name)
    assert console.wait_text(".facts", "Running")
    console.screenshot("vm-details")
    with console.phone_width():
        console.screenshot("vm-details-phone")
        assert console.fits_the_window()
    [vm] = admin.listVirtualMachines(name=name, listall=True)["virtualmachine"]
    assert (vm["state"], vm["account"], vm["templatename"]) == (
        "Running",
        account["name"],
        "Simulated Linux",
    )

    console.press("Stop")
    console.wait_text("main .status", "Stopping: done.")
    console.wait_text(".facts", "Stopped")
    assert admin.listVirtualMachines(id=vm["id"], listall=True)["virtualmachine"][0]["state"] == (
        "Stopped"
    )

    console.press("Destroy")
    console.press("Yes, destroy")
    console.wait_text("main .status", "Destroying: done.")
    console.wait_text(".facts", "Destroyed")
    assert admin.listVirtualMachines(id=vm["id"], listall=True)["virtualmachine"][0]["state"] == (
        "Destroyed"
    )

    console.go("#/vms")
    console.page("vms")
    console.fill("form[role=search]", keyword=name)
    console.press("Filter")
    console.wait_text("#vm-list", "No virtual machines match.")


def test_an_admin_creates_a_user_who_then_signs_in(
    console: Console, cloud: LiveServer, admin: CloudStack
) -> None:
    console.sign_in("admin", _admin_password(cloud))
    console.page("vms")
    console.press("Accounts", within="nav")
    console.page("accounts")
    name = unique("team")
    console.fill(
        "#new-account",
        accounttype="User",
        username=name,
        password=PASSWORD,
        email=f"{name}@example.org",
        firstname="Team",
        lastname="Lead",
    )
    console.press("Create account", within="#new-account")
    console.wait_text("main h1", f"Account {name}")
    member = unique("member")
    console.fill(
        "#new-user",
        username=member,
        password=PASSWORD,
        email=f"{member}@example.org",
        firstname="Team",
        lastname="Member",
    )
    console.press("Add user", within="#new-user")
    console.wait_text("#users", member)
    console.screenshot("account-users")
    [user] = admin.listUsers(username=member, listall=True)["user"]
    assert (user["account"], user["state"]) == (name, "enabled")

    console.press("Sign out", within="#who")
    assert "signed out" in console.notice()
    console.sign_in(member, PASSWORD)
    console.page("vms")
    nav = console.wait("nav").text
    assert "Virtual machines" in nav
    assert "Accounts" not in nav  # a user's console has no admin pages


def test_a_disabled_user_is_told_why(
    console: Console, cloud: LiveServer, admin: CloudStack
) -> None:
    account = _tenant(admin)
    username = account["name"]
    console.sign_in("admin", _admin_password(cloud))
    console.page("vms")
    console.go(f"#/accounts/{account['id']}")
    console.wait_text("#users", username)
    console.press("Disable", within="#users")
    console.wait_text("#users", "disabled")
    console.press("Sign out", within="#who")
    console.sign_in(username, PASSWORD)
    assert "disabled" in console.notice()
    console.page("signin")


def test_an_ended_session_goes_back_to_sign_in(console: Console, admin: CloudStack) -> None:
    account = _tenant(admin)
    console.sign_in(account["name"], PASSWORD)
    console.page("vms")
    # The session ends elsewhere (another tab signs out; the timeout does the same).
    key = console.session_key()
    answer = httpx.post(
        console.base_url + "api",
        params={"response": "json"},
        data={"command": "logout", "sessionkey": key},
    )
    assert answer.status_code == 200, answer.text
    console.press("Key pairs", within="nav")
    assert "Your session has ended" in console.notice()
    console.page("signin")
    console.sign_in(account["name"], PASSWORD)
    console.page("keypairs")  # back where the user was going


def test_the_session_cookie_alone_does_not_call_the_api(
    console: Console, admin: CloudStack
) -> None:
    """The browser holds the session cookies; a request carrying only them (what another
    site could make it send) is refused, the same request with the session key works."""
    account = _tenant(admin)
    console.sign_in(account["name"], PASSWORD)
    console.page("vms")
    script = """
        const [key, done] = arguments;
        const body = new URLSearchParams({command: "listZones"});
        if (key) body.set("sessionkey", key);
        fetch("api?response=json", {method: "POST", body, credentials: "include"})
            .then((response) => done(response.status));
    """
    assert console.driver.get_cookie("sessionkey") is not None
    assert console.driver.execute_async_script(script, None) == 401
    assert console.driver.execute_async_script(script, console.session_key()) == 200


def test_an_unreachable_server_is_said_plainly(console: Console, admin: CloudStack) -> None:
    account = _tenant(admin)
    console.sign_in(account["name"], PASSWORD)
    console.page("vms")
    console.driver.set_network_conditions(offline=True, latency=0, throughput=0)
    try:
        console.press("Filter")
        assert "cannot be reached" in console.notice()
    finally:
        console.driver.delete_network_conditions()
    console.press("Filter")  # back online: the page works again, still signed in
    console.wait_text("#vm-list", "No virtual machines match.")


def test_the_main_pages_have_no_serious_accessibility_findings(
    console: Console, cloud: LiveServer, admin: CloudStack
) -> None:
    axe = axe_core()
    console.page("signin")
    findings = {"signin": console.serious_accessibility_findings(axe)}
    account = _tenant(admin)
    console.sign_in("admin", _admin_password(cloud))
    console.page("vms")
    # What to check: the hash, the router's page name, what shows the page is loaded.
    pages = {
        "vms": ("#/vms", "vms", "#vm-list"),
        "deploy": ("#/deploy", "deploy", "#deploy legend"),
        "accounts": ("#/accounts", "accounts", "#new-account"),
        "account": (f"#/accounts/{account['id']}", "accounts", "#users table"),
        "keypairs": ("#/keypairs", "keypairs", "main h1"),
        "volumes": ("#/volumes", "volumes", "main h1"),
        "infrastructure": ("#/infrastructure", "infrastructure", "main table"),
    }
    for name, (path, page, ready) in pages.items():
        console.go(path)
        console.page(page)
        console.wait(ready)
        findings[name] = console.serious_accessibility_findings(axe)
    assert {page: found for page, found in findings.items() if found} == {}
