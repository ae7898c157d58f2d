// SSH key pairs: list, create (the private key is shown once, never stored), register a
// public key, delete.

import { field, formParams, h, statusLine, table } from "../dom.js";

export async function render(app, content) {
  const listed = await app.api.list("listSSHKeyPairs", "sshkeypair");
  const line = statusLine();
  const secret = h("div", { id: "private-key" });
  const reload = () => app.refresh();
  const submit = (form, command, after) =>
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        after(await app.api.call(command, formParams(form)));
      } catch (error) {
        line.textContent = error.message;
      }
    });
  const createForm = h("form", { class: "card" }, h("h2", {}, "Create a key pair"), field("Name", h("input", { name: "name", required: true })), h("button", { type: "submit" }, "Create"));
  submit(createForm, "createSSHKeyPair", (answer) => {
    const pair = answer.keypair ?? answer;
    secret.replaceChildren(
      h("h2", {}, `Private key of ${pair.name}`),
      h("p", {}, "Copy it now: the cloud keeps only the public key and cannot show this again."),
      h("pre", { tabindex: "0" }, pair.privatekey),
      h("button", { type: "button", onclick: reload }, "Done"),
    );
    createForm.reset();
  });
  const registerForm = h(
    "form",
    { class: "card" },
    h("h2", {}, "Register a public key"),
    field("Name", h("input", { name: "name", required: true })),
    field("Public key", h("textarea", { name: "publickey", required: true, rows: "3" })),
    h("button", { type: "submit" }, "Register"),
  );
  submit(registerForm, "registerSSHKeyPair", reload);
  const remove = async (pair) => {
    try {
      await app.api.call("deleteSSHKeyPair", { name: pair.name });
      reload();
    } catch (error) {
      line.textContent = error.message;
    }
  };
  content.append(
    h("h1", {}, "Key pairs"),
    table(
      "Key pairs",
      [
        ["Name", (k) => k.name],
        ["Fingerprint", (k) => h("code", {}, k.fingerprint)],
        ["", (k) => h("button", { type: "button", class: "danger", "aria-label": `Delete ${k.name}`, onclick: () => remove(k) }, "Delete")],
      ],
      listed,
    ),
    line,
    secret,
    createForm,
    registerForm,
  );
}
