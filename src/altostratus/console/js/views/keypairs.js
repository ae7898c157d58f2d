// SSH key pairs: list, create (the private key is shown once, never stored), register a
// public key, delete.

import { field, h, statusLine, table } from "../dom.js";
import { commandForm } from "../forms.js";
import { runJob } from "../jobs.js";

export async function render(app, content) {
  const listed = await app.api.list("listSSHKeyPairs", "sshkeypair");
  const line = statusLine();
  const secret = h("div", { id: "private-key" });
  const create = commandForm(app, {
    id: "new-keypair",
    title: "Create a key pair",
    button: "Create",
    controls: [field("Name", h("input", { name: "name", required: true }))],
    command: "createSSHKeyPair",
    done: (answer, form) => {
      const pair = answer.keypair;
      secret.replaceChildren(
        h("h2", {}, `Private key of ${pair.name}`),
        h("p", {}, "Copy it now: the cloud keeps only the public key and cannot show this again."),
        h("pre", { tabindex: "0" }, pair.privatekey),
        h("button", { type: "button", onclick: () => app.refresh() }, "Done"),
      );
      form.reset();
    },
  });
  const register = commandForm(app, {
    id: "register-keypair",
    title: "Register a public key",
    button: "Register",
    controls: [
      field("Name", h("input", { name: "name", required: true })),
      field("Public key", h("textarea", { name: "publickey", required: true, rows: "3" })),
    ],
    command: "registerSSHKeyPair",
    done: () => app.refresh(),
  });
  const remove = (pair) =>
    h(
      "button",
      {
        type: "button",
        class: "danger",
        "aria-label": `Delete ${pair.name}`,
        onclick: async () => {
          if ((await runJob(app, line, `Deleting ${pair.name}`, "deleteSSHKeyPair", { name: pair.name })) !== null) app.refresh();
        },
      },
      "Delete",
    );
  content.append(
    h("h1", {}, "Key pairs"),
    table(
      "Key pairs",
      [
        ["Name", (k) => k.name],
        ["Fingerprint", (k) => h("code", {}, k.fingerprint)],
        ["", remove],
      ],
      listed,
    ),
    line,
    secret,
    create,
    register,
  );
}
