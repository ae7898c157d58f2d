"""``alto usage report``: the consolidated usage of every region as CSV.

It asks one region's API (``listUsageRecords allregions=true``, signed with the given
keys, so it reports what those keys may see) and writes one line per account, region
and usage type, then one total line per account and usage type over every region
(``region`` is ``all``). A region that could not be asked is a ``missing`` line, and
the command then exits with status 2: a report short of a region is never mistaken
for a complete one.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TextIO

import httpx
import typer
from rich.console import Console

from altostratus.security.signatures import sign

__all__ = ["COLUMNS", "app", "report", "report_command", "report_rows"]

app = typer.Typer(help="Usage metered in every region.", no_args_is_help=True)

COLUMNS = (
    "account",
    "accountid",
    "domain",
    "regionid",
    "regionname",
    "usagetype",
    "rawusage",
    "records",
    "status",
)
_MISSING_EXIT = 2


@dataclass
class _Sum:
    account: str
    domain: str
    region_name: str
    hours: float = 0.0
    records: int = 0


def _hours(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def report_rows(
    records: Iterable[Mapping[str, Any]], missing: Iterable[Mapping[str, Any]]
) -> list[list[str]]:
    """The report's lines (without the header), sorted by account, region and type."""
    sums: dict[tuple[str, str, int], _Sum] = {}
    for record in records:
        key = (str(record["accountid"]), str(record["regionid"]), int(record["usagetype"]))
        line = sums.setdefault(
            key, _Sum(record["account"], record["domain"], record.get("regionname") or "")
        )
        line.hours += float(record["rawusage"])
        line.records += 1
    totals: dict[tuple[str, int], _Sum] = {}
    for (account_id, _region, usage_type), line in sums.items():
        total = totals.setdefault((account_id, usage_type), _Sum(line.account, line.domain, ""))
        total.hours += line.hours
        total.records += line.records
    rows = [
        [s.account, account, s.domain, region, s.region_name, str(t), _hours(s.hours),
         str(s.records), "ok"]
        for (account, region, t), s in sorted(sums.items(), key=lambda item: _order(item[0]))
    ]  # fmt: skip
    rows += [
        [s.account, account, s.domain, "all", "", str(t), _hours(s.hours), str(s.records),
         "total"]
        for (account, t), s in sorted(totals.items())
    ]  # fmt: skip
    rows += [
        ["", "", "", str(m["regionid"]), str(m["regionname"]), "", "", "", "missing"]
        for m in missing
    ]
    return rows


def _order(key: tuple[str, str, int]) -> tuple[str, int, int]:
    account, region, usage_type = key
    return account, int(region), usage_type


def _fetch(
    endpoint: str, keys: Mapping[str, str], params: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    query = {
        **params,
        "command": "listUsageRecords",
        "allregions": "true",
        "pagesize": "-1",
        "response": "json",
        "apikey": keys["apikey"],
    }
    query["signature"] = sign(query, keys["secretkey"])
    response = httpx.get(endpoint, params=query, timeout=120)
    (body,) = response.json().values()
    if response.status_code != 200:
        raise RuntimeError(f"{response.status_code}: {body.get('errortext', response.text)}")
    return list(body.get("usagerecord", [])), list(body.get("missingregion", []))


def report(
    out: TextIO,
    endpoint: str,
    keys: Mapping[str, str],
    params: Mapping[str, str],
) -> int:
    """Write the CSV to ``out``; the number of regions missing from it."""
    records, missing = _fetch(endpoint, keys, params)
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(report_rows(records, missing))
    return len(missing)


@app.command("report")
def report_command(
    startdate: Annotated[str, typer.Option(help="First day (yyyy-MM-dd) or time.")],
    enddate: Annotated[str, typer.Option(help="Last day (yyyy-MM-dd, included) or time.")],
    credentials: Annotated[
        Path | None,
        typer.Option(help="JSON with endpoint, apikey and secretkey (a region's admin.json)."),
    ] = None,
    endpoint: Annotated[str | None, typer.Option(help="A region's API endpoint.")] = None,
    apikey: Annotated[str | None, typer.Option(help="API key of the caller.")] = None,
    secretkey: Annotated[str | None, typer.Option(help="Its secret key.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account (with domainid).")] = None,
    accountid: Annotated[str | None, typer.Option(help="Only this account, by id.")] = None,
    domainid: Annotated[str | None, typer.Option(help="Only this domain's accounts.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV file (default: standard output).")
    ] = None,
) -> None:
    """Write the usage of every region, consolidated, as CSV."""
    console = Console(stderr=True, soft_wrap=True)
    given = json.loads(credentials.read_text()) if credentials is not None else {}
    url = endpoint or given.get("endpoint")
    key, secret = apikey or given.get("apikey"), secretkey or given.get("secretkey")
    if url is None or key is None or secret is None:
        console.print("[red]error:[/] give --credentials, or --endpoint, --apikey and --secretkey")
        raise typer.Exit(1)
    keys = {"apikey": str(key), "secretkey": str(secret)}
    params = {"startdate": startdate, "enddate": enddate}
    for name, value in (("account", account), ("accountid", accountid), ("domainid", domainid)):
        if value is not None:
            params[name] = value
    try:
        if output is None:
            missing = report(sys.stdout, url, keys, params)
        else:
            with output.open("w", newline="") as out:
                missing = report(out, url, keys, params)
    except (RuntimeError, httpx.HTTPError) as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from None
    if missing:
        console.print(f"[yellow]warning:[/] {missing} region(s) could not be asked: see 'missing'")
        raise typer.Exit(_MISSING_EXIT)
