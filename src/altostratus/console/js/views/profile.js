// The signed-in user's own page: who they are, and their API keys (shown, or issued anew
// with registerUserKeys, which stops the old pair working), for `cs` and the other clients.

import { facts, h, statusLine } from "../dom.js";

export async function render(app, content) {
  const me = app.session;
  const line = statusLine();
  const keys = h("div", { id: "api-keys" });
  const showKeys = (pair) => {
    if (!pair?.apikey) {
      keys.replaceChildren(h("p", { class: "empty" }, "No API keys yet."));
      return;
    }
    keys.replaceChildren(
      facts([
        ["API key", h("code", {}, pair.apikey)],
        ["Secret key", h("code", {}, pair.secretkey)],
      ]),
    );
  };
  const generate = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        try {
          const answer = await app.api.call("registerUserKeys", { id: me.userid });
          showKeys(answer.userkeys);
          line.textContent = "New keys issued; the old ones no longer work.";
        } catch (error) {
          line.textContent = error.message;
        }
      },
    },
    "Generate new keys",
  );
  const answer = await app.api.call("getUserKeys", { id: me.userid }).catch(() => ({}));
  showKeys(answer.userkeys);
  content.append(
    h("h1", {}, "My account"),
    facts([
      ["Username", me.username],
      ["Name", `${me.firstname} ${me.lastname}`],
      ["Account", me.account],
      ["Session lasts", `${me.timeout} s after sign-in`],
    ]),
    h("h2", {}, "API keys"),
    h("p", {}, "For cs, CloudMonkey, Libcloud, Terraform and Ansible. The secret key signs requests: keep it like a password."),
    keys,
    h("div", { class: "actions" }, generate),
    line,
  );
}
