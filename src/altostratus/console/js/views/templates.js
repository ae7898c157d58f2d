// Templates: those the user may deploy from, their own with their download status, and
// registering one from a URL. The region's image store fetches it; while a download runs
// the page polls its own table (never the whole page, so a form being typed survives).

import { badge, field, h, statusLine, table } from "../dom.js";
import { commandForm, select } from "../forms.js";
import { runJob } from "../jobs.js";

const FORMATS = ["QCOW2", "RAW", "VHD", "OVA"];
const WATCH_MS = 2000;

/** Still on its way: not ready, and its status names no error. */
const downloading = (template) => !template.isready && /^(Downloading|\d+% Downloaded)/.test(template.status ?? "");

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
  const ownTable = (templates) =>
    table(
      "Your templates and their download",
      [
        ["Name", (t) => t.name],
        ["Ready", (t) => badge(t.isready ? "Ready" : "Not ready")],
        ["Status", (t) => t.status],
        ["Zone", (t) => t.zonename ?? "every zone"],
        ["", remove],
      ],
      templates,
      "You have registered no templates.",
    );
  let shownOwn = ownTable(own);
  const watch = async () => {
    if (!shownOwn.isConnected) return;
    const fresh = await app.api.list("listTemplates", "template", { templatefilter: "self" }).catch(() => null);
    if (fresh === null || !shownOwn.isConnected) return;
    const replacement = ownTable(fresh);
    shownOwn.replaceWith(replacement);
    shownOwn = replacement;
    if (fresh.some(downloading)) setTimeout(watch, WATCH_MS);
    else app.refresh();
  };
  if (own.some(downloading)) setTimeout(watch, WATCH_MS);
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
    shownOwn,
    line,
    register,
  );
}
