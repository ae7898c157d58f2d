// Virtual machines: the list (search and state filter) and one VM's details and actions.

import { badge, field, h, statusLine, table, terms } from "../dom.js";
import { commandForm, select } from "../forms.js";
import { runJob } from "../jobs.js";

const STATES = ["", "Running", "Stopped", "Starting", "Stopping", "Destroyed", "Error"];

export async function render(app, content, id) {
  if (id !== undefined) return details(app, content, id);
  const keyword = h("input", { name: "keyword", type: "search" });
  const state = h("select", { name: "state" }, STATES.map((s) => h("option", { value: s }, s || "Any")));
  const results = h("div", { id: "vm-list" });
  const filter = h(
    "form",
    { class: "filters", role: "search" },
    field("Search", keyword),
    field("State", state),
    h("button", { type: "submit" }, "Filter"),
  );
  const load = async () => {
    const vms = await app.api.list("listVirtualMachines", "virtualmachine", {
      keyword: keyword.value.trim(),
      state: state.value,
      listall: app.isAdmin() ? "true" : undefined,
    });
    results.replaceChildren(
      table(
        "Virtual machines",
        [
          ["Name", (vm) => h("a", { href: `#/vms/${vm.id}` }, vm.displayname || vm.name)],
          ["State", (vm) => badge(vm.state)],
          ["Zone", (vm) => vm.zonename],
          ["Offering", (vm) => vm.serviceofferingname],
          ["IP address", (vm) => vm.nic?.[0]?.ipaddress],
          ["Account", (vm) => vm.account],
        ],
        vms,
        "No virtual machines match.",
      ),
    );
  };
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    load().catch(app.fail);
  });
  content.append(
    h("div", { class: "heading" }, h("h1", {}, "Virtual machines"), h("a", { class: "button", href: "#/deploy" }, "Deploy a VM")),
    filter,
    results,
  );
  await load();
}

/** What each state allows: [button label, command, progress label]. */
function actionsFor(vm, admin) {
  switch (vm.state) {
    case "Running":
      return [["Stop", "stopVirtualMachine", "Stopping"], ["Reboot", "rebootVirtualMachine", "Rebooting"]];
    case "Stopped":
      return [["Start", "startVirtualMachine", "Starting"]];
    case "Destroyed": // only admins may recover
      return admin ? [["Recover", "recoverVirtualMachine", "Recovering"]] : [];
    default:
      return [];
  }
}

async function details(app, content, id) {
  const [vm] = await app.api.list("listVirtualMachines", "virtualmachine", { id, listall: "true" });
  if (vm === undefined) {
    content.append(h("h1", {}, "Virtual machine not found"), h("p", {}, h("a", { href: "#/vms" }, "Back to the list")));
    return;
  }
  const line = statusLine();
  const actions = h("div", { class: "actions" });
  const sheet = h("dl", { class: "facts" });
  const stoppedForms = h("div", { class: "forms" });
  const [offerings, keypairs] = await Promise.all([
    app.api.list("listServiceOfferings", "serviceoffering"),
    // The VM owner's key pairs: an admin looks at another account's VM.
    app.api.list("listSSHKeyPairs", "sshkeypair", app.isAdmin() ? { account: vm.account, domainid: vm.domainid } : {}),
  ]);
  /** What only a Stopped VM may change: its offering and its SSH key pair. */
  const whileStopped = (current) => [
    commandForm(app, {
      id: "change-offering",
      title: "Change offering",
      controls: [select("Service offering", "serviceofferingid", offerings.filter((o) => o.id !== current.serviceofferingid), (o) => `${o.name} (${o.displaytext})`)],
      command: "changeServiceForVirtualMachine",
      extra: { id: current.id },
      done: (result) => show(result.virtualmachine ?? current),
    }),
    commandForm(app, {
      id: "reset-key",
      title: "Reset SSH key",
      controls: [select("Key pair", "keypair", keypairs, (k) => k.name, { value: (k) => k.name })],
      command: "resetSSHKeyForVirtualMachine",
      extra: { id: current.id },
      done: (result) => show(result.virtualmachine ?? current),
    }),
  ];
  const show = (current) => {
    stoppedForms.replaceChildren(...(current.state === "Stopped" ? whileStopped(current) : []));
    sheet.replaceChildren(
      ...terms([
        ["State", badge(current.state)],
        ["Zone", current.zonename],
        ["Template", current.templatename],
        ["Offering", `${current.serviceofferingname} (${current.cpunumber} CPU, ${current.memory} MB)`],
        ["IP address", (current.nic ?? []).map((nic) => nic.ipaddress).join(", ")],
        ["Key pair", current.keypairs ?? current.keypair ?? "-"],
        ["Account", current.account],
        ["Created", current.created],
        ["Id", current.id],
      ]),
    );
    const act = async (label, command) => {
      for (const button of actions.querySelectorAll("button")) button.disabled = true;
      const result = await runJob(app, line, label, command, { id: current.id });
      const [fresh] = await app.api.list("listVirtualMachines", "virtualmachine", { id, listall: "true" }).catch(() => []);
      show(fresh ?? result?.virtualmachine ?? current); // a user no longer lists a destroyed VM
    };
    const buttons = actionsFor(current, app.isAdmin()).map(([text, command, label]) =>
      h("button", { type: "button", onclick: () => act(label, command) }, text),
    );
    if (current.state !== "Destroyed" && current.state !== "Expunged") {
      buttons.push(
        h("button", { type: "button", class: "danger", onclick: () => confirmDestroy() }, "Destroy"),
      );
    }
    const confirmDestroy = () => {
      const cancel = h("button", { type: "button", onclick: () => show(current) }, "Cancel");
      actions.replaceChildren(
        h("span", {}, `Destroy ${current.displayname || current.name}?`),
        h("button", { type: "button", class: "danger", onclick: () => act("Destroying", "destroyVirtualMachine") }, "Yes, destroy"),
        cancel,
      );
      cancel.focus();
    };
    actions.replaceChildren(...buttons);
    heading.textContent = current.displayname || current.name;
  };
  const heading = h("h1", {});
  content.append(h("p", {}, h("a", { href: "#/vms" }, "← Virtual machines")), heading, actions, line, sheet, stoppedForms);
  show(vm);
}
