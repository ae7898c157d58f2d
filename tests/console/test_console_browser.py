"""The web console in a real browser: headless Chromium against a real quick-start
``alto server`` on loopback, both shared by the module.

Each test is a flow a person follows (sign in, deploy, stop, destroy, create a user), as
the console shows it. Screenshots of the main pages land in ``test-output/console/``
(``ALTO_TEST_OUTPUT`` to move it), for a look at what the run saw.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cs import CloudStack, CloudStackApiException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.clients.conftest import (
    PASSWORD,
    QUICKSTART_HOSTS,
    admin_client,
    create_account,
    quickstart_catalog,
    quickstart_server,
    ssh_public_key,
    unique,
    user_keys,
    wait_hosts_up,
)
from tests.support.browser import Console, axe_core, require_chromium
from tests.support.server import LiveServer

# One worker runs the whole module, so one server and one browser serve it under xdist.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("console_browser")]

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
def image_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on loopback, and its base URL: where the templates
    a test registers come from."""
    root = tmp_path_factory.mktemp("images")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(cloud: LiveServer) -> Iterator[Console]:
    console = Console(cloud.endpoint.removesuffix("api"), OUTPUT / "console")
    try:
        yield console
    finally:
        console.close()


@pytest.fixture
def console(browser: Console, request: pytest.FixtureRequest) -> Iterator[Console]:
    """The module's browser as a new visitor would find it; what it showed last is saved
    as ``last-<test>.png``, to see where a failed flow stopped."""
    browser.start_over()
    yield browser
    browser.screenshot(f"last-{request.node.name}")


def _tenant(admin: CloudStack) -> dict[str, Any]:
    """A new user account; its single user's username is the account's name."""
    return create_account(admin, unique("tenant"))


def _admin_password(cloud: LiveServer) -> str:
    return str(cloud.admin["password"])


def test_wrong_password_shows_the_apis_words(console: Console, admin: CloudStack) -> None:
    account = _tenant(admin)
    console.sign_in(account["name"], "not-the-password")
    console.wait_text("#notice", "please provide valid credentials")
    console.page("signin")  # still there, nothing signed in
    console.sign_in(account["name"], PASSWORD)
    console.page("vms")
    assert account["name"] in console.wait("#who").text


def test_deploy_through_the_wizard_then_stop_and_destroy(
    console: Console, admin: CloudStack
) -> None:
    account = _tenant(admin)
    group = admin.createAffinityGroup(
        name=unique("apart"),
        type="host anti-affinity",
        account=account["name"],
        domainid=account["domainid"],
        fetch_result=True,
    )["affinitygroup"]
    console.sign_in(account["name"], PASSWORD)
    console.page("vms")
    console.screenshot("vms-empty")
    console.press("Deploy a VM")
    console.page("deploy")
    for step in ("Zone", "Template", "Offering", "Network", "Key pair", "Affinity groups"):
        console.wait_text("#deploy legend", step)
        if step == "Offering":
            console.screenshot("deploy-wizard")
        if step == "Affinity groups":
            console.choose(group["name"], within="#deploy")
        console.press("Next")
    console.wait_text("#deploy legend", "Name and review")
    review = console.wait("#review").text
    for choice in ("zone1", "Simulated Linux", "Small Instance", "default network", group["name"]):
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
    assert [joined["id"] for joined in vm["affinitygroup"]] == [group["id"]]

    console.press("Stop")
    console.wait_text("main .status", "Stopping: done.")
    console.wait_text(".facts", "Stopped")
    assert admin.listVirtualMachines(id=vm["id"], listall=True)["virtualmachine"][0]["state"] == (
        "Stopped"
    )

    console.fill("#change-offering", serviceofferingid="Medium Instance (2 x 1000 MHz, 2 GB)")
    console.press("Change offering", within="#change-offering")
    console.wait_text(".facts", "Medium Instance")
    changed = admin.listVirtualMachines(id=vm["id"], listall=True)["virtualmachine"][0]
    assert changed["serviceofferingname"] == "Medium Instance"

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


def test_a_data_disk_is_created_attached_and_detached(
    console: Console, cloud: LiveServer, admin: CloudStack
) -> None:
    account = _tenant(admin)
    key, secret = user_keys(admin, account["user"][0]["id"])
    owner = CloudStack(
        endpoint=cloud.endpoint, key=key, secret=secret, fetch_result=True, poll_interval=0.1
    )
    catalog = quickstart_catalog(admin)
    vm = owner.deployVirtualMachine(
        zoneid=catalog.zone_id,
        templateid=catalog.template_id,
        serviceofferingid=catalog.small_offering_id,
        name=unique("db"),
    )["virtualmachine"]
    console.sign_in(account["name"], PASSWORD)
    console.page("vms")
    console.press("Volumes", within="nav")
    console.page("volumes")
    disk = unique("data")
    console.fill("#new-volume", name=disk, diskofferingid="Small (5 GB)")
    console.press("Create", within="#new-volume")
    console.wait_text("main h1", disk)
    console.fill("#attach", virtualmachineid=f"{vm['name']} (Running)")
    console.press("Attach", within="#attach")
    console.wait_text(".facts", vm["name"])
    [attached] = owner.listVolumes(name=disk)["volume"]
    assert attached["virtualmachineid"] == vm["id"]
    console.screenshot("volume")

    # A refused request shows the API's own words next to the form; nothing changes.
    with pytest.raises(CloudStackApiException) as refused:
        owner.resizeVolume(id=attached["id"], size=1)
    console.fill("#resize", size="1")
    console.press("Resize", within="#resize")
    said = console.wait_text("#resize .status", "Resize failed:").text
    assert said == f"Resize failed: {refused.value.error['errortext']}"
    assert owner.listVolumes(name=disk)["volume"][0]["size"] == attached["size"]

    console.press("Detach")
    console.wait("#attach")
    assert "virtualmachineid" not in owner.listVolumes(name=disk)["volume"][0]
    console.press("Delete")
    console.page("volumes")
    console.wait_text("main h1", "Volumes")
    assert owner.listVolumes(name=disk).get("volume", []) == []


def test_key_pairs_are_created_once_shown_registered_and_deleted(
    console: Console, cloud: LiveServer, admin: CloudStack
) -> None:
    account = _tenant(admin)
    key, secret = user_keys(admin, account["user"][0]["id"])
    owner = CloudStack(endpoint=cloud.endpoint, key=key, secret=secret)
    console.sign_in(account["name"], PASSWORD)
    console.page("vms")
    console.press("Key pairs", within="nav")
    console.page("keypairs")
    made = unique("made")
    console.fill("#new-keypair", name=made)
    console.press("Create", within="#new-keypair")
    private = console.wait_text("#private-key pre", "PRIVATE KEY").text
    assert private.startswith("-----BEGIN")
    console.press("Done", within="#private-key")
    console.wait_text("main table", made)

    public, fingerprint = ssh_public_key()
    brought = unique("brought")
    console.fill("#register-keypair", name=brought, publickey=public)
    console.press("Register", within="#register-keypair")
    console.wait_text("main table", brought)
    pairs = {pair["name"]: pair for pair in owner.listSSHKeyPairs()["sshkeypair"]}
    assert set(pairs) == {made, brought}
    assert pairs[brought]["fingerprint"] == fingerprint

    console.press(f"Delete {made}", within="main table")
    console.wait_gone("main table", made)
    assert [pair["name"] for pair in owner.listSSHKeyPairs()["sshkeypair"]] == [brought]


def test_a_user_issues_api_keys_that_cs_can_use(
    console: Console, cloud: LiveServer, admin: CloudStack
) -> None:
    account = _tenant(admin)
    console.sign_in(account["name"], PASSWORD)
    console.page("vms")
    console.press("My account", within="nav")
    console.page("profile")
    console.wait_text("#api-keys", "No API keys yet.")
    console.press("Generate new keys")
    codes = console.wait_text("#api-keys", "Secret key").find_elements(By.TAG_NAME, "code")
    key, secret = (code.text for code in codes)
    cs = CloudStack(endpoint=cloud.endpoint, key=key, secret=secret)
    assert [zone["name"] for zone in cs.listZones()["zone"]] == ["zone1"]


def test_a_user_registers_a_template_from_a_url(
    console: Console, cloud: LiveServer, admin: CloudStack, image_files: tuple[Path, str]
) -> None:
    """The page follows the download by itself: the template becomes usable with no
    reload, and a URL that answers 404 ends in an error the user can read."""
    root, base = image_files
    (root / "disk.qcow2").write_bytes(os.urandom(3 << 20))
    account = _tenant(admin)
    console.sign_in(account["name"], PASSWORD)
    console.page("vms")
    console.press("Templates", within="nav")
    console.page("templates")
    console.wait_text("main", "You have registered no templates.")
    name, broken = unique("image"), unique("broken")
    for template, path in ((name, "disk.qcow2"), (broken, "missing.qcow2")):
        console.fill(
            "#register-template", name=template, url=f"{base}/{path}", hypervisor="Simulator"
        )
        console.press("Register", within="#register-template")
        console.wait_text("main", template)
    console.wait_text("main", "Download Complete")
    console.wait_text("main", "Download Error")
    usable = console.wait_text("main table", name)
    assert broken not in usable.text
    listed = admin.listTemplates(templatefilter="all", listall=True)["template"]
    mine = {t["name"]: t for t in listed if t["account"] == account["name"]}
    assert (mine[name]["isready"], mine[name]["size"], mine[name]["format"]) == (
        True,
        3 << 20,
        "QCOW2",
    )
    assert "404" in mine[broken]["status"]
    assert not mine[broken]["isready"]
    console.screenshot("templates")


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

    console.fill("#reset-password", id=member, password="Reset-by-admin-2")
    console.press("Reset password", within="#reset-password")
    console.wait_text("#reset-password .status", "Reset password: done.")

    console.press("Sign out", within="#who")
    console.wait_text("#notice", "signed out")
    console.sign_in(member, PASSWORD)
    console.wait_text("#notice", "please provide valid credentials")
    console.sign_in(member, "Reset-by-admin-2")
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
    console.wait_text("#notice", "disabled")
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
    console.wait_text("#notice", "Your session has ended")
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
        console.wait_text("#notice", "cannot be reached")
    finally:
        console.driver.delete_network_conditions()
    console.press("Filter")  # back online: the page works again, still signed in
    console.wait_text("#vm-list", "No virtual machines match.")


def test_an_admin_sees_capacity_replication_and_the_servers(
    console: Console, cloud: LiveServer, admin: CloudStack
) -> None:
    console.sign_in("admin", _admin_password(cloud))
    console.page("vms")
    console.press("Infrastructure", within="nav")
    console.page("infrastructure")
    console.wait_text("#replication", "entries waiting to be applied")
    meters = console.driver.find_elements(By.CSS_SELECTOR, "main meter")
    figures = admin.listCapacity()["capacity"]
    assert sorted(int(m.get_attribute("value") or -1) for m in meters) == sorted(
        f["capacityused"] for f in figures
    )
    [server] = admin.listManagementServers()["managementserver"]
    assert server["name"] in console.wait("main").text
    console.screenshot("infrastructure")


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
        "affinity": ("#/affinity", "affinity", "#new-affinity-group"),
        "volumes": ("#/volumes", "volumes", "main h1"),
        "templates": ("#/templates", "templates", "#register-template"),
        "events": ("#/events", "events", "#event-list"),
        "profile": ("#/profile", "profile", "#api-keys"),
        "infrastructure": ("#/infrastructure", "infrastructure", "main table"),
    }
    for name, (path, page, ready) in pages.items():
        console.go(path)
        console.page(page)
        console.wait(ready)
        findings[name] = console.serious_accessibility_findings(axe)
    assert {page: found for page, found in findings.items() if found} == {}


def test_signing_in_and_the_wizard_work_from_the_keyboard(
    console: Console, admin: CloudStack
) -> None:
    """No mouse: the page starts in the first field, Tab moves, Enter submits, the arrow
    keys choose within a step's radio group."""
    account = _tenant(admin)
    console.page("signin")
    typing = ActionChains(console.driver)
    typing.send_keys(account["name"], Keys.TAB, PASSWORD, Keys.ENTER).perform()
    console.page("vms")

    console.go("#/deploy")
    for step in ("Zone", "Template", "Offering", "Network", "Key pair", "Affinity groups"):
        console.wait_text("#deploy legend", step)
        keys = [Keys.ARROW_DOWN, Keys.ENTER] if step == "Offering" else [Keys.ENTER]
        ActionChains(console.driver).send_keys(*keys).perform()
    console.wait_text("#deploy legend", "Name and review")
    review = console.wait("#review").text
    assert "Medium Instance" in review
    assert "Small Instance" not in review
