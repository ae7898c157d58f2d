// Templates: those the user may deploy from, their own with their download status, and
// registering one from a URL (the hosts fetch it; Refresh shows how far they are).

import { badge, field, h, statusLine, table } from "../dom.js";
import { commandForm, select } from "../forms.js";
import { runJob } from "../jobs.js";

const FORMATS = ["QCOW2", "RAW", "VHD", "OVA"];

export async function render(app, content) {
  const [usable, own, zones, hypervisors, ostypes] = await Promise.all([
    app.api.list("listTemplates", "template", { templatefilter: "executable" }),
    app.api.list("listTemplates", "template", { templatefilter: "self" }),
    app.api.list("listZones", "zone", { available: "true" }),
    app.api.list("listHypervisors", "hypervisor"),
    app.api.list("listOsTypes", "ostype"),
  ]);
  const line = statusLine();
  const remove = (template) =>
    h(
      "button",
      {
        type: "button",
        class: "danger",
        "aria-label": `Delete template ${template.name}`,
        onclick: async () => {
          if ((await runJob(app, line, `Deleting ${template.name}`, "deleteTemplate", { id: template.id })) !== null) app.refresh();
        },
      },
      "Delete",
    );
  const register = commandForm(app, {
    id: "register-template",
    title: "Register a template",
    button: "Register",
    controls: [
      field("Name", h("input", { name: "name", required: true })),
      field("URL", h("input", { name: "url", type: "url", required: true }), "An http(s) URL the hosts can reach"),
      select("Format", "format", FORMATS, (f) => f, { value: (f) => f }),
      select("Hypervisor", "hypervisor", hypervisors, (x) => x.name, { value: (x) => x.name }),
      select("Guest OS", "ostypeid", ostypes, (o) => o.description),
      select("Zone", "zoneid", zones, (z) => z.name, { blank: "Every zone" }),
    ],
    command: "registerTemplate",
    done: () => app.refresh(),
  });
  content.append(
    h("div", { class: "heading" }, h("h1", {}, "Templates"), h("button", { type: "button", onclick: () => app.refresh() }, "Refresh")),
    table(
      "Templates you can deploy from",
      [
        ["Name", (t) => t.name],
        ["Description", (t) => t.displaytext],
        ["OS", (t) => t.ostypename],
        ["Hypervisor", (t) => t.hypervisor],
        ["Zone", (t) => t.zonename ?? "every zone"],
      ],
      usable,
    ),
    h("h2", {}, "Your templates"),
    table(
      "Your templates and their download",
      [
        ["Name", (t) => t.name],
        ["Ready", (t) => badge(t.isready ? "Ready" : "Not ready")],
        ["Status", (t) => t.status],
        ["Zone", (t) => t.zonename ?? "every zone"],
        ["", remove],
      ],
      own,
      "You have registered no templates.",
    ),
    line,
    register,
  );
}
