"""The ``cs`` client (sync GET and POST, asyncio, and its CLI) against a live server.

``cs`` signs with ``signatureversion=3`` and ``expires``, unwraps the single
``<command>response`` key, raises ``CloudStackApiException`` on any non-200 answer,
polls ``queryAsyncJobResult`` for ``fetch_result`` and pages with ``pagesize=500`` for
``fetch_list``: each of those is a contract these tests hold the server to.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cs import AIOCloudStack, CloudStack, CloudStackApiException

from tests.clients.conftest import (
    admin_client,
    create_account,
    create_database,
    unique,
    user_fields,
    user_keys,
)
from tests.support.postgres import TemporaryPostgres
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow


def api_error(call: Callable[[], object]) -> dict[str, Any]:
    """Run a failing ``cs`` call; return the error body after checking HTTP status = code."""
    with pytest.raises(CloudStackApiException) as raised:
        call()
    error: dict[str, Any] = raised.value.error
    assert raised.value.response.status_code == error["errorcode"]
    return error


def marvin_regions(cs: CloudStack, region_id: int) -> None:
    """CloudStack's Marvin region test: add, list by id and compare, remove, list empty."""
    endpoint = f"http://region{region_id}.example:8080/client/api"
    added = cs.addRegion(id=region_id, name=f"Region{region_id}", endpoint=endpoint)
    assert added["region"]["id"] == region_id
    listed = cs.listRegions(id=region_id)
    assert listed["count"] == 1
    region = listed["region"][0]
    assert (region["id"], region["name"], region["endpoint"]) == (
        region_id,
        f"Region{region_id}",
        endpoint,
    )
    assert cs.removeRegion(id=region_id) == {"success": "true"}
    assert cs.listRegions(id=region_id) == {}


def identity_with_chosen_uuids(cs: CloudStack) -> None:
    """Marvin's identity checks: a domain, account and users created with UUIDs we choose."""
    domain_id, account_id, first_id, second_id = (str(uuid.uuid4()) for _ in range(4))
    domain_name = unique("dom")
    domain = cs.createDomain(name=domain_name, domainid=domain_id)["domain"]
    assert (domain["id"], domain["name"]) == (domain_id, domain_name)
    assert [d["id"] for d in cs.listDomains(id=domain_id)["domain"]] == [domain_id]

    name = unique("acct")
    account = create_account(cs, name, domainid=domain_id, accountid=account_id, userid=first_id)
    assert (account["id"], account["name"], account["domainid"]) == (account_id, name, domain_id)
    assert [u["id"] for u in account["user"]] == [first_id]
    assert cs.listAccounts(id=account_id)["account"][0]["name"] == name

    username = unique("user")
    user = cs.createUser(
        account=name, domainid=domain_id, userid=second_id, **user_fields(username)
    )
    assert (user["user"]["id"], user["user"]["username"]) == (second_id, username)
    found = cs.listUsers(id=second_id)["user"]
    assert [(u["username"], u["account"], u["domainid"]) for u in found] == [
        (username, name, domain_id)
    ]
    members = cs.listUsers(account=name, domainid=domain_id)
    assert sorted(u["id"] for u in members["user"]) == sorted([first_id, second_id])


def error_codes(cs: CloudStack) -> None:
    """Bad input is 431 naming the parameter, an unknown command 432, a user's reach 531."""
    missing = api_error(lambda: cs.addRegion(id=7, endpoint="http://r7.example/client/api"))
    assert missing["errorcode"] == 431
    assert "name" in missing["errortext"]
    assert cs.listRegions(id=7) == {}

    unknown = api_error(lambda: cs.listCumulusClouds())
    assert unknown["errorcode"] == 432

    account = create_account(cs, unique("plain"))
    key, secret = user_keys(cs, account["user"][0]["id"])
    user = CloudStack(endpoint=cs.endpoint, key=key, secret=secret, method=cs.method)
    assert 1 in [r["id"] for r in user.listRegions()["region"]]
    denied = api_error(lambda: user.addRegion(id=7, name="Mine", endpoint="http://r7/client/api"))
    assert denied["errorcode"] == 531
    assert cs.listRegions(id=7) == {}

    forged = CloudStack(endpoint=cs.endpoint, key=key, secret="not-the-secret", method=cs.method)
    assert api_error(lambda: forged.listRegions())["errorcode"] == 401


def sync_basics(cs: CloudStack, region_id: int) -> None:
    marvin_regions(cs, region_id)
    identity_with_chosen_uuids(cs)
    error_codes(cs)


def test_sync_client_basics(admin_cs: CloudStack) -> None:
    sync_basics(admin_cs, region_id=2)


def test_post_mode(live: LiveServer) -> None:
    sync_basics(admin_client(live, method="post"), region_id=3)


def test_sync_client_on_postgresql(
    postgres: TemporaryPostgres, tmp_path_factory: pytest.TempPathFactory
) -> None:
    database_url = create_database(postgres, "alto_cs")
    data_dir = tmp_path_factory.mktemp("cs-postgres") / "data"
    with LiveServer(data_dir, database_url=database_url) as server:
        sync_basics(admin_client(server), region_id=2)


def test_fetch_result_returns_the_async_job_result(admin_cs: CloudStack) -> None:
    account = create_account(admin_cs, unique("gone"))
    result = admin_cs.deleteAccount(id=account["id"], fetch_result=True)
    assert str(result["success"]).lower() == "true"
    assert admin_cs.listAccounts(listall=True, name=account["name"]) == {}


def test_async_command_without_fetch_result_answers_a_job_id(admin_cs: CloudStack) -> None:
    account = create_account(admin_cs, unique("job"))
    answer = admin_cs.deleteAccount(id=account["id"])
    assert set(answer) == {"jobid"}
    job = admin_cs.queryAsyncJobResult(jobid=answer["jobid"])
    for _ in range(200):  # the job runs in the server's executor, not in the request
        if job["jobstatus"] != 0:
            break
        time.sleep(0.05)
        job = admin_cs.queryAsyncJobResult(jobid=answer["jobid"])
    assert (job["jobid"], job["jobstatus"], job["jobresultcode"]) == (answer["jobid"], 1, 0)
    assert "deleteaccount" in job["cmd"].lower()


def test_fetch_list_pages_past_500_without_duplicates(admin_cs: CloudStack) -> None:
    name = unique("many")
    domain_id = admin_cs.createDomain(name=unique("crowd"))["domain"]["id"]
    first = create_account(admin_cs, f"{name}-0", account=name, domainid=domain_id)
    created = {first["user"][0]["id"]}
    for index in range(1, 520):
        user = admin_cs.createUser(
            account=name, domainid=domain_id, **user_fields(f"{name}-{index}")
        )
        created.add(user["user"]["id"])

    page = admin_cs.listUsers(listall=True, page=1, pagesize=500)
    assert len(page["user"]) == 500
    assert page["count"] > 520

    users = admin_cs.listUsers(fetch_list=True, listall=True)
    ids = [user["id"] for user in users]
    assert len(ids) == len(set(ids)) == page["count"]
    assert created <= set(ids)
    mine = admin_cs.listUsers(fetch_list=True, domainid=domain_id)
    assert {user["id"] for user in mine} == created


async def test_asyncio_client(live: LiveServer) -> None:
    admin = live.admin
    async with AIOCloudStack(
        endpoint=live.endpoint,
        key=admin["apikey"],
        secret=admin["secretkey"],
        poll_interval=0.1,
        job_timeout=30,
    ) as cs:
        answers = await asyncio.gather(*(cs.listRegions() for _ in range(10)))
        assert {a["region"][0]["name"] for a in answers} == {"Local"}

        await cs.addRegion(id=4, name="Region4", endpoint="http://region4.example/client/api")
        assert (await cs.listRegions(id=4))["region"][0]["name"] == "Region4"
        assert await cs.removeRegion(id=4) == {"success": "true"}
        assert await cs.listRegions(id=4) == {}

        created = await cs.createAccount(accounttype=0, **user_fields(unique("aio")))
        account = created["account"]
        result = await cs.deleteAccount(id=account["id"], fetch_result=True)
        assert str(result["success"]).lower() == "true"
        assert await cs.listAccounts(listall=True, name=account["name"]) == {}

        with pytest.raises(CloudStackApiException) as raised:
            await cs.removeRegion(id=99)
        assert raised.value.error["errorcode"] == 431
        assert raised.value.response.status == 431


def run_cli(server: LiveServer, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``cs`` command line, configured only through its environment variables."""
    admin = server.admin
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSTACK_")}
    env.update(
        HOME=str(home),
        CLOUDSTACK_ENDPOINT=server.endpoint,
        CLOUDSTACK_KEY=admin["apikey"],
        CLOUDSTACK_SECRET=admin["secretkey"],
        CLOUDSTACK_POLL_INTERVAL="0.1",
    )
    cli = Path(sys.executable).parent / "cs"
    return subprocess.run(
        [str(cli), *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_cli(live: LiveServer, admin_cs: CloudStack, tmp_path: Path) -> None:
    listed = run_cli(live, tmp_path, "listRegions")
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)["region"]] == ["Local"]

    endpoint = "http://region5.example/client/api"
    added = run_cli(live, tmp_path, "addRegion", "id=5", "name=Region 5", f"endpoint={endpoint}")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["region"] == admin_cs.listRegions(id=5)["region"][0]
    removed = run_cli(live, tmp_path, "--post", "removeRegion", "id=5")
    assert removed.returncode == 0, removed.stderr
    assert admin_cs.listRegions(id=5) == {}

    account = create_account(admin_cs, unique("cli"))
    deleted = run_cli(live, tmp_path, "deleteAccount", f"id={account['id']}")
    assert deleted.returncode == 0, deleted.stderr
    assert str(json.loads(deleted.stdout)["success"]).lower() == "true"

    failed = run_cli(live, tmp_path, "removeRegion", "id=99")
    assert failed.returncode != 0
    error = json.loads(failed.stdout)["removeregionresponse"]
    assert error["errorcode"] == 431
    assert "CloudStack error" in failed.stderr
