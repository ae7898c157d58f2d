// The deploy wizard: zone, template, offering, network and key pair, a name, then
// deployVirtualMachine followed to its end. Each step is a fieldset of radio buttons, so
// the whole flow works from the keyboard.

import { facts, field, h, statusLine } from "../dom.js";
import { runJob } from "../jobs.js";

/** Checkboxes over `items`: any number of them may be chosen, or none. */
function several(name, items, describe) {
  if (items.length === 0) return [h("p", { class: "empty" }, "None to join.")];
  return items.map((item) =>
    h(
      "label",
      { class: "choice" },
      h("input", { type: "checkbox", name, value: item.id }),
      h("span", {}, h("strong", {}, item.name), describe(item) && h("small", {}, describe(item))),
    ),
  );
}

/** A radio group over `items`; the first is chosen unless `optional` offers "none". */
function choices(name, items, describe, optional) {
  const options = items.map((item, index) =>
    h(
      "label",
      { class: "choice" },
      h("input", { type: "radio", name, value: item.id, checked: index === 0 && !optional }),
      h("span", {}, h("strong", {}, item.name), describe(item) && h("small", {}, describe(item))),
    ),
  );
  if (optional) {
    options.unshift(h("label", { class: "choice" }, h("input", { type: "radio", name, value: "", checked: true }), h("span", {}, optional)));
  }
  return options.length > 0 ? options : [h("p", { class: "empty" }, "Nothing to choose from here.")];
}

export async function render(app, content) {
  const zones = await app.api.list("listZones", "zone", { available: "true" });
  const form = h("form", { class: "wizard", id: "deploy" });
  const line = statusLine();
  const chosen = {};
  const picked = {}; // what each step's choice is called, for the review
  // Each step: its title, the parameter it sets, and how to load its fieldset's content.
  const steps = [
    ["Zone", "zoneid", async () => choices("zoneid", zones, (z) => z.description)],
    [
      "Template",
      "templateid",
      async () =>
        choices(
          "templateid",
          await app.api.list("listTemplates", "template", { templatefilter: "executable", zoneid: chosen.zoneid }),
          (t) => t.displaytext,
        ),
    ],
    [
      "Offering",
      "serviceofferingid",
      async () =>
        choices(
          "serviceofferingid",
          await app.api.list("listServiceOfferings", "serviceoffering", { zoneid: chosen.zoneid }),
          (o) => o.displaytext,
        ),
    ],
    [
      "Network",
      "networkids",
      async () =>
        choices(
          "networkids",
          await app.api.list("listNetworks", "network", { zoneid: chosen.zoneid }),
          (n) => `${n.type ?? ""} ${n.cidr ?? ""}`.trim(),
          "The zone's default network",
        ),
    ],
    [
      "Key pair",
      "keypair",
      async () =>
        choices(
          "keypair",
          (await app.api.list("listSSHKeyPairs", "sshkeypair")).map((k) => ({ ...k, id: k.name })),
          (k) => k.fingerprint,
          "No key pair",
        ),
    ],
    [
      "Affinity groups",
      "affinitygroupids",
      async () =>
        several(
          "affinitygroupids",
          await app.api.list("listAffinityGroups", "affinitygroup"),
          (g) => `${g.type}${g.description ? `: ${g.description}` : ""}`,
        ),
    ],
    [
      "Name and review",
      "name",
      async () => [
        field("Name", h("input", { name: "name", pattern: "[A-Za-z][A-Za-z0-9-]{0,62}" }), "Letters, digits and hyphens; left blank, the cloud picks one"),
        facts(steps.slice(0, -1).map(([title, key]) => [title, picked[key]]), { id: "review" }),
      ],
    ],
  ];
  let step = 0;
  const showStep = async () => {
    const [title, , load] = steps[step];
    const fieldset = h("fieldset", {}, h("legend", {}, `Step ${step + 1} of ${steps.length}: ${title}`), await load());
    const back = step > 0 && h("button", { type: "button", onclick: () => { step -= 1; showStep().catch(app.fail); } }, "Back");
    const next = h("button", { type: "submit" }, step === steps.length - 1 ? "Deploy" : "Next");
    form.replaceChildren(fieldset, h("div", { class: "actions" }, back, next));
    const first = form.querySelector("input:checked") ?? form.querySelector("input") ?? next;
    first.dataset.focus = ""; // the router focuses it on the first step
    first.focus();
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [title, name] = steps[step];
    const values = new FormData(form).getAll(name).map((value) => String(value).trim());
    const radios = form.querySelector(`input[type=radio][name="${name}"]`) !== null;
    if (radios && values.length === 0) {
      line.textContent = `Choose a ${title.toLowerCase()} first.`;
      return;
    }
    chosen[name] = values.join(","); // several affinity groups are one comma-separated list
    const labels = [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((input) => input.closest("label"));
    picked[name] = labels.map((label) => (label.querySelector("strong") ?? label.querySelector("span")).textContent).join(", ") || "none";
    if (step < steps.length - 1) {
      step += 1;
      await showStep().catch(app.fail);
      return;
    }
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    const result = await runJob(app, line, "Deploying", "deployVirtualMachine", chosen);
    if (result?.virtualmachine) app.go(`#/vms/${result.virtualmachine.id}`);
    else for (const button of form.querySelectorAll("button")) button.disabled = false;
  });
  content.append(h("h1", {}, "Deploy a virtual machine"), form, line);
  await showStep();
}
