// Admin: the federation's regions and this region's replication, capacity, zones, hosts
// and management servers. Capacity is drawn with <meter>, which needs no inline style
// (the policy forbids it) and which assistive technology reads as a value.

import { badge, h, table } from "../dom.js";

/** CloudStack's capacity types as people say them. */
const CAPACITY_NAMES = { 0: "Memory (bytes)", 1: "CPU (MHz)", 8: "Shared addresses" };

export async function render(app, content) {
  const [regions, replication, capacity, zones, hosts, servers] = await Promise.all([
    app.api.list("listRegions", "region"),
    app.api.call("listReplicationStatus").then((answer) => answer.replicationstatus ?? {}),
    app.api.list("listCapacity", "capacity"),
    app.api.list("listZones", "zone"),
    app.api.list("listHosts", "host"),
    app.api.list("listManagementServers", "managementserver"),
  ]);
  content.append(
    h("h1", {}, "Infrastructure"),
    h("h2", {}, "Regions"),
    table(
      "Regions of the federation",
      [
        ["Id", (r) => r.id],
        ["Name", (r) => r.name],
        ["Endpoint", (r) => r.endpoint],
      ],
      regions,
    ),
    h("h2", {}, "Replication"),
    h("p", { id: "replication" }, `This region (${replication.localregionid ?? "-"}): ${replication.pending ?? 0} entries waiting to be applied.`),
    table(
      "Peer regions as this region sees them",
      [
        ["Region", (p) => `${p.name} (${p.regionid})`],
        ["Reachable", (p) => badge(p.reachable ? "Up" : "Down")],
        ["Lag", (p) => (p.lagseconds === undefined || p.lagseconds === null ? "-" : `${p.lagseconds} s`)],
        ["Last success", (p) => p.lastsuccess],
        ["Last error", (p) => p.lasterror],
      ],
      replication.peers ?? [],
      "No peer regions: this region is on its own.",
    ),
    h("h2", {}, "Capacity"),
    table(
      "Capacity by zone",
      [
        ["Zone", (c) => c.zonename],
        ["Resource", (c) => CAPACITY_NAMES[c.type] ?? c.name],
        ["Used", (c) => h("meter", { min: "0", max: String(c.capacitytotal || 1), value: String(c.capacityused), "aria-label": `${CAPACITY_NAMES[c.type] ?? c.name} used in ${c.zonename}` })],
        ["Percent", (c) => `${c.percentused} %`],
        ["Used of total", (c) => `${c.capacityused} of ${c.capacitytotal}`],
      ],
      capacity,
    ),
    h("h2", {}, "Zones"),
    table(
      "Zones",
      [
        ["Name", (z) => z.name],
        ["Network type", (z) => z.networktype],
        ["Allocation", (z) => badge(z.allocationstate)],
        ["Description", (z) => z.description],
      ],
      zones,
    ),
    h("h2", {}, "Hosts"),
    table(
      "Hosts",
      [
        ["Name", (x) => x.name],
        ["State", (x) => badge(x.state)],
        ["Resource state", (x) => x.resourcestate],
        ["Hypervisor", (x) => x.hypervisor],
        ["Zone", (x) => x.zonename],
        ["Cluster", (x) => x.clustername],
      ],
      hosts,
    ),
    h("h2", {}, "Management servers"),
    table(
      "Management servers",
      [
        ["Name", (m) => m.name],
        ["State", (m) => badge(m.state)],
        ["Version", (m) => m.version],
        ["Endpoint", (m) => m.endpoint],
        ["Last heartbeat", (m) => m.lastheartbeat],
      ],
      servers,
    ),
  );
}
