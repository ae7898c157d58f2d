// Volumes (list, create, one volume's page: attach, detach, resize, snapshot, delete) and
// snapshots (list, delete).

import { badge, facts, field, h, statusLine, table } from "../dom.js";
import { commandForm, select } from "../forms.js";
import { runJob } from "../jobs.js";

const GIB = 1024 ** 3;

function size(bytes) {
  return bytes === undefined ? "-" : `${(bytes / GIB).toFixed(bytes % GIB === 0 ? 0 : 1)} GiB`;
}

function listAll(app) {
  return app.isAdmin() ? "true" : undefined;
}

export const volumes = {
  async render(app, content, id) {
    if (id !== undefined) return volume(app, content, id);
    const [listed, zones, offerings] = await Promise.all([
      app.api.list("listVolumes", "volume", { listall: listAll(app) }),
      app.api.list("listZones", "zone", { available: "true" }),
      app.api.list("listDiskOfferings", "diskoffering"),
    ]);
    const create = commandForm(app, {
      id: "new-volume",
      title: "Create a data disk",
      button: "Create",
      controls: [
        field("Name", h("input", { name: "name" }), "Left blank: DATA-<number>"),
        select("Zone", "zoneid", zones, (z) => z.name),
        select("Disk offering", "diskofferingid", offerings, (o) => `${o.name}${o.iscustomized ? " (choose the size)" : ` (${o.disksize} GB)`}`),
        field("Size (GB)", h("input", { name: "size", type: "number", min: "1" }), "Only for an offering whose size you choose"),
      ],
      command: "createVolume",
      done: (result) => app.go(`#/volumes/${result.volume.id}`),
    });
    content.append(
      h("h1", {}, "Volumes"),
      table(
        "Volumes",
        [
          ["Name", (v) => h("a", { href: `#/volumes/${v.id}` }, v.name)],
          ["Type", (v) => v.type],
          ["Size", (v) => size(v.size)],
          ["State", (v) => badge(v.state)],
          ["Attached to", (v) => v.virtualmachineid && h("a", { href: `#/vms/${v.virtualmachineid}` }, v.vmdisplayname || v.vmname)],
          ["Zone", (v) => v.zonename],
        ],
        listed,
      ),
      create,
    );
  },
};

async function volume(app, content, id) {
  const [found] = await app.api.list("listVolumes", "volume", { id, listall: "true" });
  if (found === undefined) {
    content.append(h("h1", {}, "Volume not found"), h("p", {}, h("a", { href: "#/volumes" }, "Back to the volumes")));
    return;
  }
  const line = statusLine();
  const again = () => app.refresh();
  const button = (text, label, command, params, cls) =>
    h("button", { type: "button", class: cls, onclick: async () => { if ((await runJob(app, line, label, command, params)) !== null) again(); } }, text);
  const isData = found.type === "DATADISK";
  const actions = [button("Snapshot", "Taking a snapshot", "createSnapshot", { volumeid: found.id })];
  if (isData && found.virtualmachineid) actions.push(button("Detach", "Detaching", "detachVolume", { id: found.id }));
  if (isData && !found.virtualmachineid) {
    actions.push(
      h("button", { type: "button", class: "danger", onclick: async () => { if ((await runJob(app, line, "Deleting", "deleteVolume", { id: found.id })) !== null) app.go("#/volumes"); } }, "Delete"),
    );
  }
  const forms = [
    commandForm(app, {
      id: "resize",
      title: "Resize",
      controls: [field("New size (GB)", h("input", { name: "size", type: "number", min: "1", required: true }))],
      command: "resizeVolume",
      extra: { id: found.id },
      done: again,
    }),
  ];
  if (isData && !found.virtualmachineid) {
    // The owner's VMs in the volume's zone (an admin may be looking at another account's).
    const owner = app.isAdmin() ? { account: found.account, domainid: found.domainid } : {};
    const vms = await app.api.list("listVirtualMachines", "virtualmachine", { zoneid: found.zoneid, ...owner });
    forms.unshift(
      commandForm(app, {
        id: "attach",
        title: "Attach",
        controls: [select("Virtual machine", "virtualmachineid", vms, (vm) => `${vm.displayname || vm.name} (${vm.state})`)],
        command: "attachVolume",
        extra: { id: found.id },
        done: again,
      }),
    );
  }
  content.append(
    h("p", {}, h("a", { href: "#/volumes" }, "← Volumes")),
    h("h1", {}, found.name),
    h("div", { class: "actions" }, actions),
    line,
    facts([
      ["State", badge(found.state)],
      ["Type", found.type],
      ["Size", size(found.size)],
      ["Offering", found.diskofferingname],
      ["Attached to", found.virtualmachineid ? h("a", { href: `#/vms/${found.virtualmachineid}` }, found.vmdisplayname || found.vmname) : "-"],
      ["Zone", found.zonename],
      ["Account", found.account],
      ["Id", found.id],
    ]),
    ...forms,
  );
}

export const snapshots = {
  async render(app, content) {
    const listed = await app.api.list("listSnapshots", "snapshot", { listall: listAll(app) });
    const line = statusLine();
    content.append(
      h("h1", {}, "Snapshots"),
      table(
        "Snapshots",
        [
          ["Name", (s) => s.name],
          ["Volume", (s) => h("a", { href: `#/volumes/${s.volumeid}` }, s.volumename)],
          ["State", (s) => badge(s.state)],
          ["Created", (s) => s.created],
          [
            "",
            (s) =>
              h(
                "button",
                {
                  type: "button",
                  class: "danger",
                  "aria-label": `Delete snapshot ${s.name}`,
                  onclick: async () => {
                    if ((await runJob(app, line, `Deleting ${s.name}`, "deleteSnapshot", { id: s.id })) !== null) app.refresh();
                  },
                },
                "Delete",
              ),
          ],
        ],
        listed,
      ),
      line,
    );
  },
};
