// Volumes and snapshots, as lists.

import { badge, h, table } from "../dom.js";

const GIB = 1024 ** 3;

function size(bytes) {
  return bytes === undefined ? "-" : `${(bytes / GIB).toFixed(bytes % GIB === 0 ? 0 : 1)} GiB`;
}

export const volumes = {
  async render(app, content) {
    const listed = await app.api.list("listVolumes", "volume", { listall: app.isAdmin() ? "true" : undefined });
    content.append(
      h("h1", {}, "Volumes"),
      table(
        "Volumes",
        [
          ["Name", (v) => v.name],
          ["Type", (v) => v.type],
          ["Size", (v) => size(v.size)],
          ["State", (v) => badge(v.state)],
          ["Attached to", (v) => v.virtualmachineid && h("a", { href: `#/vms/${v.virtualmachineid}` }, v.vmdisplayname || v.vmname)],
          ["Zone", (v) => v.zonename],
        ],
        listed,
      ),
    );
  },
};

export const snapshots = {
  async render(app, content) {
    const listed = await app.api.list("listSnapshots", "snapshot", { listall: app.isAdmin() ? "true" : undefined });
    content.append(
      h("h1", {}, "Snapshots"),
      table(
        "Snapshots",
        [
          ["Name", (s) => s.name],
          ["Volume", (s) => s.volumename],
          ["State", (s) => badge(s.state)],
          ["Created", (s) => s.created],
        ],
        listed,
      ),
    );
  },
};
