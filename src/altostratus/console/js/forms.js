// Small forms that run one command and say how it went, shared by the pages.

import { field, formParams, h, statusLine } from "./dom.js";
import { runJob } from "./jobs.js";

/**
 * A form titled `title` whose fields (and `extra`) are the parameters of `command`, run
 * as a job with its progress in the form's own status line; `done(result)` follows a
 * success.
 */
export function commandForm(app, { id, title, controls, command, extra = {}, done, button = title }) {
  const line = statusLine();
  const form = h("form", { class: "card", id }, h("h2", {}, title), controls, h("button", { type: "submit" }, button), line);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    const result = await runJob(app, line, title, command, { ...formParams(form), ...extra });
    submit.disabled = false;
    if (result !== null) done(result, form);
  });
  return form;
}

/** A labelled select of `items` (value = item.id unless `value` says otherwise). */
export function select(label, name, items, text, { value = (item) => item.id, blank } = {}) {
  const options = items.map((item) => h("option", { value: value(item) }, text(item)));
  if (blank !== undefined) options.unshift(h("option", { value: "" }, blank));
  return field(label, h("select", { name, required: blank === undefined }, options));
}
