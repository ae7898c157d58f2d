"""Configuration: one typed, frozen model; defaults < TOML file < ``ALTO_*`` < flags.

The TOML file is ``--config`` or ``ALTO_CONFIG``; every field can also be set as
``ALTO_<FIELD>`` (``ALTO_DATABASE_URL``). Values written as ``ENC(...)`` are decrypted
with the key file at start-up (``alto secret encrypt``).

The fields marked ``Dynamic`` may also change at run time: a root admin's
``updateConfiguration`` stores an override in the database (for the whole region or
one zone, cluster, domain or account), and services read the effective value
(``core/configuration.py``). The others need a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["SCOPES", "Dynamic", "Scope", "Settings", "dynamic_settings", "load_settings"]

#: CloudStack's configuration scopes that Altostratus settings use, broadest first.
Scope = Literal["global", "zone", "cluster", "domain", "account"]
SCOPES: tuple[Scope, ...] = ("global", "zone", "cluster", "domain", "account")


@dataclass(frozen=True)
class Dynamic:
    """Marks a setting that may change at run time, under its CloudStack-style name.

    ``scopes``: where an override may be set besides ``global`` (every dynamic setting
    has a global value); the narrowest override that applies wins.
    """

    name: str
    category: str
    group: str
    subgroup: str
    scopes: tuple[Scope, ...] = ()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALTO_", frozen=True, extra="forbid")

    config: Path | None = Field(
        None, description="The TOML file these settings were read from (--config)."
    )
    data_dir: Path = Field(Path("data"), description="Directory for the SQLite file and keys.")
    database_url: str | None = Field(
        None,
        description="postgresql://user:pass@host:port/db (libpq's multi-host form with "
        "target_session_attrs=read-write for a Patroni cluster); default: SQLite in data_dir.",
    )
    read_database_url: str | None = Field(
        None,
        description="PostgreSQL replica(s) that serve list* commands (libpq URL, e.g. "
        "target_session_attrs=prefer-standby); read-your-writes is kept.",
    )
    database_retry_seconds: float = Field(
        30.0,
        ge=0,
        description="Seconds an API request retries across a database failover before 534.",
    )
    server_heartbeat_interval: float = Field(
        5.0, gt=0, description="Seconds between a management server's membership heartbeats."
    )
    server_down_after: float = Field(
        20.0, gt=0, description="Seconds without heartbeat after which peers declare a server Down."
    )
    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port the API listens on.")
    workers: int = Field(1, ge=1, description="Server processes (uvicorn workers).")
    public_endpoint: str | None = Field(
        None, description="URL clients use to reach this region's API (default from host/port)."
    )
    region_id: int = Field(1, ge=1, description="This region's id (first start only).")
    region_name: str = Field("Local", min_length=1, description="This region's name (first start).")
    key_file: Path | None = Field(
        None, description="Key that encrypts secrets at rest; default data_dir/secret.key."
    )
    session_timeout: Annotated[int, Dynamic("session.timeout", "Advanced", "Access", "Session")] = (
        Field(1800, ge=60, description="Seconds a login session stays valid.")
    )
    login_attempts_allowed: Annotated[
        int, Dynamic("incorrect.login.attempts.allowed", "Advanced", "Access", "Account")
    ] = Field(
        5,
        ge=1,
        description="Consecutive failed logins after which a user may no longer log in "
        "(its API keys keep working) until an admin enables it or resets its password.",
    )
    login_source_failures: int = Field(
        10,
        ge=1,
        description="Failed logins from one client address within login_source_window "
        "after which that address is refused logins (429) until the window moves on.",
    )
    login_source_window: float = Field(
        300.0,
        gt=0,
        description="Seconds over which failed logins per address are counted, by every "
        "server of the region together (whole seconds).",
    )
    api_throttling_enabled: Annotated[
        bool, Dynamic("api.throttling.enabled", "Advanced", "Access", "API")
    ] = Field(
        False,
        description="Limit the API requests of each account (root admins excepted) to "
        "api.throttling.max per api.throttling.interval, counted over the whole region.",
    )
    api_throttling_interval: Annotated[
        int, Dynamic("api.throttling.interval", "Advanced", "Access", "API")
    ] = Field(1, ge=1, description="Seconds of the window API requests are counted in.")
    api_throttling_max: Annotated[
        int, Dynamic("api.throttling.max", "Advanced", "Access", "API")
    ] = Field(25, ge=1, description="API requests an account may make per window.")
    counter_flush_interval: float = Field(
        0.1,
        gt=0,
        description="Seconds between a server's flushes of its API and failed-login counts to "
        "the region's (what another server may not yet know of; docs/throttling.md).",
    )
    behind_proxy: bool = Field(
        False,
        description="Behind a TLS-terminating reverse proxy or load balancer: session cookies "
        "are marked Secure and the client address is the last hop of X-Forwarded-For.",
    )
    password_time_cost: int = Field(3, ge=1, description="argon2id passes.")
    password_memory_kib: int = Field(65536, ge=8, description="argon2id memory per hash.")
    password_parallelism: int = Field(1, ge=1, description="argon2id lanes.")
    default_page_size: Annotated[
        int,
        Dynamic("default.page.size", "Advanced", "Miscellaneous", "Others", ("domain", "account")),
    ] = Field(500, ge=1, description="Page size of list commands.")
    request_max_bytes: int = Field(
        1 << 20,
        ge=1024,
        description="Largest API request, query string and form body together, in bytes "
        "(CloudStack's request.content.size); a larger one is refused with 431.",
    )
    request_max_params: int = Field(
        5000,
        ge=16,
        description="Most parameters in one API request (CloudStack's request.max.form.keys).",
    )
    signature_expires_window: float = Field(
        900.0,
        gt=0,
        description="Seconds ahead an 'expires' of a signed request may be; a later one is "
        "refused, so a captured request cannot be replayed for years.",
    )
    http_request_timeout: float = Field(
        30.0,
        gt=0,
        description="Seconds a client has to send a whole request (headers and body) once it "
        "has begun; a slower one is disconnected.",
    )
    http_idle_timeout: int = Field(
        5,
        ge=1,
        description="Seconds a connection may stay silent, new or between requests, before "
        "the server closes it.",
    )
    log_level: str = Field("info", description="debug, info, warning or error.")
    background_workers: bool = Field(
        True,
        description="Run replication pull, notify, audit and clean-up here (off: API only).",
    )
    audit_interval: float = Field(
        300.0, ge=1, description="Seconds between audits of the global tables with each peer."
    )
    replication_interval: float = Field(
        5.0, ge=0.1, description="Seconds between pulls from each peer region (notify is faster)."
    )
    tombstone_grace: float = Field(
        86400.0,
        ge=0,
        description="Seconds a tombstone every region has is still kept, for updates in flight.",
    )

    event_bus_url: str = Field(
        "",
        description="RabbitMQ to publish every event to (amqp://user:pass@host:5672/vhost); "
        "several URLs, separated by commas, for a cluster, tried in turn. Empty: no broker, "
        "events are only recorded (listEvents). May be ENC(...).",
    )
    event_bus_exchange: str = Field(
        "cloudstack-events",
        min_length=1,
        description="The topic exchange events are published to (CloudStack's default name).",
    )
    event_bus_interval: float = Field(
        1.0, gt=0, description="Seconds between looks for unpublished events."
    )
    event_bus_batch: int = Field(
        200, ge=1, description="Events published (and confirmed) per round trip to the database."
    )
    webhook_interval: float = Field(
        1.0, gt=0, description="Seconds between looks for new events and due webhook deliveries."
    )
    webhook_concurrency: int = Field(
        16, ge=1, description="Webhook deliveries one server has in flight at once."
    )
    webhook_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a webhook receiver has to connect and answer a delivery "
        "(CloudStack's webhook.delivery.timeout).",
    )
    webhook_tries: int = Field(
        3,
        ge=1,
        description="Attempts of one delivery before it is recorded as failed "
        "(CloudStack's webhook.delivery.tries).",
    )
    webhook_retry_delay: float = Field(
        2.0,
        gt=0,
        description="Seconds before the first retry of a failed delivery; doubled for each "
        "further attempt.",
    )
    usage_interval: float = Field(
        300.0, ge=1, description="Seconds between rounds of usage metering (under a lease)."
    )
    usage_aggregation_range: int = Field(
        60,
        ge=1,
        le=1440,
        description="Minutes per usage record (CloudStack's usage.stats.job.aggregation."
        "range): each record covers one such period, aligned on the Unix epoch; a divisor "
        "of 1440 keeps days whole.",
    )
    usage_peer_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a peer region has to answer a cross-region usage listing "
        "before it is reported missing.",
    )

    quickstart: bool = Field(
        False,
        description="On a region without zones, create a simulated zone ready to deploy VMs.",
    )
    compute_workers: bool = Field(
        True,
        description="Run the job executor, the in-process simulator and the host monitor here.",
    )
    job_lease_seconds: float = Field(
        30.0, gt=0, description="Seconds a server holds a job without renewing before another may."
    )
    job_concurrency: int = Field(64, ge=1, description="Jobs one server drives at once.")
    image_downloads_at_once: int = Field(
        2, ge=1, description="Template downloads one server runs at once."
    )
    image_download_interval: float = Field(
        5.0, gt=0, description="Seconds between looks for templates waiting to be downloaded."
    )
    image_download_lease: float = Field(
        60.0,
        gt=0,
        description="Seconds a download's lease lasts unrenewed: a server that stops renewing "
        "it (it died) has its download restarted by another after that.",
    )
    image_download_timeout: float = Field(
        60.0, gt=0, description="Seconds a template's source may stay silent before it fails."
    )
    job_poll_interval: float = Field(
        1.0, gt=0, description="Seconds between looks for jobs submitted to other servers."
    )
    agent_command_timeout: float = Field(
        120.0, gt=0, description="Seconds a job waits for a host agent to answer a command."
    )
    heartbeat_interval: float = Field(
        5.0, gt=0, description="Seconds between an agent's heartbeats (told to agents at connect)."
    )
    host_disconnect_after: float = Field(
        15.0, gt=0, description="Seconds without heartbeat after which a host is Disconnected."
    )
    host_down_after: float = Field(
        60.0, gt=0, description="Seconds without heartbeat after which a host is Down."
    )
    host_ha: bool = Field(
        True,
        description="The kill switch of host HA: off, no host is investigated, fenced or "
        "has its VMs restarted (states stay as they are).",
    )
    ha_suspect_after: float = Field(
        15.0,
        gt=0,
        description="Seconds without an agent heartbeat after which an HA-enabled host is "
        "Suspect and investigated.",
    )
    ha_investigation_timeout: float = Field(
        5.0, gt=0, description="Seconds an HA investigation waits for the neighbours' reports."
    )
    ha_neighbours: int = Field(
        3, ge=0, description="Neighbour hosts of the same cluster asked to check a suspect host."
    )
    ha_activity_period: float = Field(
        30.0,
        gt=0,
        description="Seconds without a storage heartbeat or disk activity that prove a silent "
        "host off without a fence; longer than the agents' lease TTL.",
    )
    ha_fence_timeout: float = Field(
        10.0, gt=0, description="Seconds a BMC has to answer a fencing power action."
    )
    ha_fence_active_hosts: bool = Field(
        True,
        description="Fence a silent host even when its neighbours still see it alive (it can "
        "no longer be managed); off, such a host is Degraded and left running.",
    )
    ha_max_down_fraction: float = Field(
        0.5,
        gt=0,
        le=1,
        description="When at least this fraction of a cluster's hosts (two or more) is silent "
        "at once, the network is assumed broken: those hosts are Degraded, none is fenced.",
    )
    ha_recheck_interval: float = Field(
        30.0, gt=0, description="Seconds between investigations of a Degraded host."
    )
    ha_restart_attempts: int = Field(
        10,
        ge=1,
        description="Starts an HA restart tries while the VM's disk is still leased by its "
        "fenced host (the lease runs out after the agent's lease TTL).",
    )
    cpu_overcommit_ratio: Annotated[
        float,
        Dynamic("cpu.overprovisioning.factor", "Advanced", "Compute", "Capacity", ("cluster",)),
    ] = Field(1.0, ge=1.0, description="CPU MHz placed per host MHz.")
    memory_overcommit_ratio: Annotated[
        float,
        Dynamic("mem.overprovisioning.factor", "Advanced", "Compute", "Capacity", ("cluster",)),
    ] = Field(1.0, ge=1.0, description="Memory placed per host MB.")
    enable_dynamic_scale_vm: Annotated[
        bool,
        Dynamic("enable.dynamic.scale.vm", "Advanced", "Compute", "Scaling", ("zone",)),
    ] = Field(
        False,
        description="Running VMs may be scaled to another offering (scaleVirtualMachine); "
        "off by default, as in CloudStack, because the guest must take the new CPUs and memory.",
    )
    snapshot_policy_interval: float = Field(
        60.0,
        gt=0,
        description="Seconds between rounds of the snapshot policy scheduler (under a lease): "
        "a scheduled snapshot is taken up to this long after its time.",
    )
    snapshot_max_hourly: Annotated[
        int, Dynamic("snapshot.max.hourly", "Advanced", "Storage", "Snapshot")
    ] = Field(
        8, ge=1, description="Most snapshots an hourly snapshot policy may keep (its maxsnaps)."
    )
    snapshot_max_daily: Annotated[
        int, Dynamic("snapshot.max.daily", "Advanced", "Storage", "Snapshot")
    ] = Field(
        8, ge=1, description="Most snapshots a daily snapshot policy may keep (its maxsnaps)."
    )
    snapshot_max_weekly: Annotated[
        int, Dynamic("snapshot.max.weekly", "Advanced", "Storage", "Snapshot")
    ] = Field(
        8, ge=1, description="Most snapshots a weekly snapshot policy may keep (its maxsnaps)."
    )
    snapshot_max_monthly: Annotated[
        int, Dynamic("snapshot.max.monthly", "Advanced", "Storage", "Snapshot")
    ] = Field(
        8, ge=1, description="Most snapshots a monthly snapshot policy may keep (its maxsnaps)."
    )
    primary_storage_gb: int = Field(
        10240,
        ge=1,
        description="Size of each cluster's primary storage (listStoragePools disksizetotal); "
        "hosts do not report it.",
    )
    scheduler_weigher: Annotated[
        str, Dynamic("scheduler.weigher", "Advanced", "Compute", "Allocator")
    ] = Field(
        "spread",
        pattern="^(spread|pack)$",
        description="spread: the emptiest host first; pack: the fullest host that fits first.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Which file to read is itself a setting (--config over ALTO_CONFIG), so it is
        # resolved from the sources above the file before the file is read.
        given = init_settings()
        config = given["config"] if "config" in given else env_settings().get("config")
        toml = TomlConfigSettingsSource(settings_cls, toml_file=Path(config) if config else None)
        return init_settings, env_settings, toml

    @field_validator("config", mode="before")
    @classmethod
    def _no_file_if_empty(cls, value: object) -> object:
        """``ALTO_CONFIG=`` means no file, as it always has, not the current directory."""
        return value or None

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file or self.data_dir / "secret.key"

    @property
    def resolved_database_url(self) -> str:
        """The configured URL (still possibly ``ENC(...)``) or the embedded SQLite file."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'altostratus.db').resolve()}"

    @property
    def endpoint(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return self.public_endpoint or f"http://{host}:{self.port}/client/api"


def dynamic_settings() -> dict[str, tuple[str, Dynamic]]:
    """The settings that may change at run time: ``{dotted name: (field, Dynamic)}``."""
    found = {}
    for field_name, info in Settings.model_fields.items():
        for meta in info.metadata:
            if isinstance(meta, Dynamic):
                found[meta.name] = (field_name, meta)
    return found


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings; ``config`` and ``overrides`` are command-line flags (``None``
    means not given), so they win over ``ALTO_*`` and the file."""
    flags = {"config": config, **overrides}
    return Settings(**{name: value for name, value in flags.items() if value is not None})
