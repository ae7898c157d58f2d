// Admin: the federation's regions, zones, hosts and the management servers, as lists.

import { badge, h, table } from "../dom.js";

export async function render(app, content) {
  const [regions, zones, hosts, servers] = await Promise.all([
    app.api.list("listRegions", "region"),
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
