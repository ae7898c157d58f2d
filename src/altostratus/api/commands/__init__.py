"""The command modules, one per area in a folder per domain; ``COMMAND_SETS`` is what the
registry serves, in the order `listApis` and `docs/api.md` show them."""

from altostratus.api.commands.catalog import isos, offerings, templates
from altostratus.api.commands.compute import (
    affinity,
    instance_groups,
    keypairs,
    user_data,
    vm_resources,
    vm_snapshots,
    vms,
)
from altostratus.api.commands.events import webhooks
from altostratus.api.commands.ha import host_ha, oobm
from altostratus.api.commands.identity import (
    accounts,
    domains,
    projects,
    regions,
    roles,
    sessions,
    users,
)
from altostratus.api.commands.infrastructure import (
    capacity,
    clusters,
    hosts,
    hypervisors,
    pods,
    zones,
)
from altostratus.api.commands.network import networks, security_groups
from altostratus.api.commands.network import offerings as network_offerings
from altostratus.api.commands.platform import (
    api_limits,
    configurations,
    jobs,
    management,
    replication,
)
from altostratus.api.commands.shared import alerts, events, limits, tags
from altostratus.api.commands.storage import (
    image_stores,
    pools,
    snapshot_policies,
    snapshots,
    volumes,
)
from altostratus.api.commands.usage import usage

COMMAND_SETS = (
    sessions.commands,
    domains.commands,
    accounts.commands,
    roles.commands,
    users.commands,
    projects.commands,
    regions.commands,
    replication.commands,
    zones.commands,
    pods.commands,
    clusters.commands,
    hosts.commands,
    hypervisors.commands,
    host_ha.commands,
    oobm.commands,
    offerings.commands,
    templates.commands,
    isos.commands,
    vms.commands,
    user_data.commands,
    vm_resources.commands,
    vm_snapshots.commands,
    volumes.commands,
    snapshots.commands,
    snapshot_policies.commands,
    pools.commands,
    image_stores.commands,
    limits.commands,
    api_limits.commands,
    capacity.commands,
    network_offerings.commands,
    networks.commands,
    security_groups.commands,
    keypairs.commands,
    affinity.commands,
    instance_groups.commands,
    tags.commands,
    events.commands,
    webhooks.commands,
    usage.commands,
    alerts.commands,
    jobs.commands,
    management.commands,
    configurations.commands,
)

__all__ = ["COMMAND_SETS"]
