// Affinity groups: VMs kept on one host, or kept apart. List, create, delete; the deploy
// wizard offers them as a step.

import { field, h, statusLine, table } from "../dom.js";
import { commandForm, select } from "../forms.js";
import { runJob } from "../jobs.js";

export async function render(app, content) {
  const [groups, types] = await Promise.all([
    app.api.list("listAffinityGroups", "affinitygroup"),
    app.api.list("listAffinityGroupTypes", "affinityGroupType"),
  ]);
  const line = statusLine();
  const create = commandForm(app, {
    id: "new-affinity-group",
    title: "Create an affinity group",
    button: "Create",
    controls: [
      field("Name", h("input", { name: "name", required: true })),
      select("Type", "type", types, (t) => t.type, { value: (t) => t.type }),
      field("Description", h("input", { name: "description" })),
    ],
    command: "createAffinityGroup",
    done: () => app.refresh(),
  });
  const remove = (group) =>
    h(
      "button",
      {
        type: "button",
        class: "danger",
        "aria-label": `Delete affinity group ${group.name}`,
        onclick: async () => {
          if ((await runJob(app, line, `Deleting ${group.name}`, "deleteAffinityGroup", { id: group.id })) !== null) app.refresh();
        },
      },
      "Delete",
    );
  content.append(
    h("h1", {}, "Affinity groups"),
    table(
      "Affinity groups",
      [
        ["Name", (g) => g.name],
        ["Type", (g) => g.type],
        ["Description", (g) => g.description],
        ["Members", (g) => (g.virtualmachineIds ?? []).length],
        ["", remove],
      ],
      groups,
    ),
    line,
    create,
  );
}
