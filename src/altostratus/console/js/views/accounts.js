// Admin: accounts and their users. Create an account (with its first user) or a user in
// an account; disable, enable or lock a user. The API decides who may do what; refusals
// are shown with its text.

import { badge, field, h, statusLine, table } from "../dom.js";
import { commandForm, select } from "../forms.js";
import { runJob } from "../jobs.js";

const ACCOUNT_TYPES = [
  ["0", "User"],
  ["2", "Domain admin"],
  ["1", "Root admin"],
];

/** The fields every new user needs (createAccount and createUser share them). */
function userFields() {
  return [
    field("Username", h("input", { name: "username", required: true, autocomplete: "off" })),
    field("Password", h("input", { name: "password", type: "password", required: true, autocomplete: "new-password" })),
    field("Email", h("input", { name: "email", type: "email", required: true })),
    field("First name", h("input", { name: "firstname", required: true })),
    field("Last name", h("input", { name: "lastname", required: true })),
  ];
}

export async function render(app, content, id) {
  if (id !== undefined) return account(app, content, id);
  const [accounts, domains] = await Promise.all([
    app.api.list("listAccounts", "account", { listall: "true" }),
    app.api.list("listDomains", "domain", { listall: "true" }),
  ]);
  const create = commandForm(app, {
    id: "new-account",
    title: "Create account",
    controls: [
      field("Account type", h("select", { name: "accounttype" }, ACCOUNT_TYPES.map(([value, text]) => h("option", { value }, text)))),
      field("Domain", h("select", { name: "domainid" }, domains.map((d) => h("option", { value: d.id }, d.path ?? d.name)))),
      ...userFields(),
    ],
    command: "createAccount",
    done: (result) => app.go(`#/accounts/${result.account.id}`),
  });
  content.append(
    h("h1", {}, "Accounts"),
    table(
      "Accounts",
      [
        ["Name", (a) => h("a", { href: `#/accounts/${a.id}` }, a.name)],
        ["Type", (a) => ACCOUNT_TYPES.find(([value]) => value === String(a.accounttype))?.[1] ?? a.accounttype],
        ["Domain", (a) => a.domain],
        ["State", (a) => badge(a.state)],
        ["Users", (a) => (a.user ?? []).length],
      ],
      accounts,
    ),
    create,
  );
}

/** [button label, command, progress label] for a user in `state`. */
function userActions(user) {
  const lock = ["Lock", "lockUser", "Locking"];
  if (user.state === "enabled") return [["Disable", "disableUser", "Disabling"], lock];
  if (user.state === "locked") return [["Enable", "enableUser", "Enabling"], ["Disable", "disableUser", "Disabling"]];
  return [["Enable", "enableUser", "Enabling"]];
}

async function account(app, content, id) {
  const [found] = await app.api.list("listAccounts", "account", { id, listall: "true" });
  if (found === undefined) {
    content.append(h("h1", {}, "Account not found"), h("p", {}, h("a", { href: "#/accounts" }, "Back to the accounts")));
    return;
  }
  const line = statusLine();
  const users = h("div", { id: "users" });
  const reset = h("div");
  const load = async () => {
    const listed = await app.api.list("listUsers", "user", { account: found.name, domainid: found.domainid, listall: "true" });
    // A new password also ends every session of the user (docs/security.md).
    reset.replaceChildren(
      commandForm(app, {
        id: "reset-password",
        title: "Reset password",
        controls: [
          select("User", "id", listed, (u) => u.username),
          field("New password", h("input", { name: "password", type: "password", required: true, autocomplete: "new-password" })),
        ],
        command: "updateUser",
        done: (_result, form) => form.reset(),
      }),
    );
    users.replaceChildren(
      table(
        `Users of ${found.name}`,
        [
          ["Username", (u) => u.username],
          ["Name", (u) => `${u.firstname} ${u.lastname}`],
          ["Email", (u) => u.email],
          ["State", (u) => badge(u.state)],
          [
            "Actions",
            (u) =>
              h(
                "div",
                { class: "actions" },
                userActions(u).map(([text, command, label]) =>
                  h(
                    "button",
                    {
                      type: "button",
                      "aria-label": `${text} ${u.username}`,
                      onclick: async () => {
                        if ((await runJob(app, line, `${label} ${u.username}`, command, { id: u.id })) !== null) await load();
                      },
                    },
                    text,
                  ),
                ),
              ),
          ],
        ],
        listed,
      ),
    );
  };
  const create = commandForm(app, {
    id: "new-user",
    title: "Add user",
    controls: userFields(),
    command: "createUser",
    extra: { account: found.name, domainid: found.domainid },
    done: (_result, form) => {
      form.reset();
      load().catch(app.fail);
    },
  });
  content.append(
    h("p", {}, h("a", { href: "#/accounts" }, "← Accounts")),
    h("h1", {}, `Account ${found.name}`),
    h("p", {}, `${found.domain} · `, badge(found.state)),
    users,
    line,
    create,
    reset,
  );
  await load();
}
