// Sign in with username, password and domain path (CloudStack's `login`); the API's
// refusal text (wrong password, disabled or locked user) is shown as it is.

import { field, formParams, h } from "../dom.js";

export async function render(app, content) {
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "card signin", id: "signin" },
    h("h1", {}, "Sign in"),
    field("Username", h("input", { name: "username", autocomplete: "username", required: true, "data-focus": true })),
    field("Password", h("input", { name: "password", type: "password", autocomplete: "current-password", required: true })),
    field("Domain", h("input", { name: "domain", placeholder: "/", autocomplete: "organization" }), "Path of your domain, such as / or /sales/emea"),
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const params = formParams(form);
    submit.disabled = true;
    app.notice(null); // the last message is about the last attempt
    try {
      app.signedIn(await app.api.call("login", params));
    } catch (error) {
      app.fail(error);
      form.elements.password.select();
    } finally {
      submit.disabled = false;
    }
  });
  content.append(form);
}
