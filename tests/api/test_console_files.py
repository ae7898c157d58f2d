"""The web console's files under ``/client/``: served with their security and caching
headers, revalidated by ETag, and never in the way of the API at ``/client/api``."""

from __future__ import annotations

import re

import httpx

from altostratus.api.console import CONSOLE_DIRECTORY


async def test_the_console_page_is_served_with_a_strict_policy(http: httpx.AsyncClient) -> None:
    response = await http.get("/client/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="js/main.js">' in response.text
    policy = {
        part.strip().split(" ", 1)[0]: part.strip().split(" ", 1)[1]
        for part in response.headers["content-security-policy"].split(";")
    }
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert policy["frame-ancestors"] == "'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_unchanged_files_are_revalidated_not_sent_again(http: httpx.AsyncClient) -> None:
    first = await http.get("/client/js/main.js")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert first.headers["cache-control"] == "no-cache"
    again = await http.get("/client/js/main.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_the_bare_path_leads_to_the_console(http: httpx.AsyncClient) -> None:
    response = await http.get("/client")
    assert response.status_code in {301, 307, 308}
    assert response.headers["location"].endswith("/client/")


async def test_the_api_stays_at_client_api(http: httpx.AsyncClient) -> None:
    for path in ("/client/api", "/client/api/"):
        response = await http.get(path, params={"command": "listZones", "response": "json"})
        assert response.status_code == 401, path
        assert response.json()["listzonesresponse"]["errorcode"] == 401


async def test_unknown_files_are_404(http: httpx.AsyncClient) -> None:
    assert (await http.get("/client/nothing-here.js")).status_code == 404
    assert (await http.get("/client/../pyproject.toml")).status_code == 404


def test_the_console_has_no_inline_script_and_builds_no_markup_from_strings() -> None:
    """What the policy forbids would break the console in the browser, and markup built
    from API strings would let a VM's name run as script: neither is in the sources."""
    pages = list(CONSOLE_DIRECTORY.rglob("*.html"))
    scripts = list(CONSOLE_DIRECTORY.rglob("*.js"))
    assert pages
    assert scripts
    for page in pages:
        for tag in re.findall(r"<script\b[^>]*>", page.read_text()):
            assert "src=" in tag, (page, tag)
        assert not re.search(r"\son[a-z]+=", page.read_text()), page
        assert "style=" not in page.read_text(), page
    for script in scripts:
        text = script.read_text()
        for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function"):
            assert forbidden not in text, (script, forbidden)
