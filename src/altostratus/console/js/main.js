// The console's shell: the session, the navigation and the hash router (#/vms, #/vms/<id>,
// ...). Each page is a module under views/ exporting `render(app, ...args)`.

import { Api } from "./api.js";
import { h } from "./dom.js";
import { clearSession, isAdmin, loadSession, saveSession } from "./session.js";
import * as accounts from "./views/accounts.js";
import * as affinity from "./views/affinity.js";
import * as deploy from "./views/deploy.js";
import * as events from "./views/events.js";
import * as infrastructure from "./views/infrastructure.js";
import * as keypairs from "./views/keypairs.js";
import * as profile from "./views/profile.js";
import * as signin from "./views/signin.js";
import * as storage from "./views/storage.js";
import * as templates from "./views/templates.js";
import * as vms from "./views/vms.js";

const PAGES = [
  { path: "vms", title: "Virtual machines", view: vms },
  { path: "deploy", title: "Deploy", view: deploy, hidden: true },
  { path: "volumes", title: "Volumes", view: storage.volumes },
  { path: "snapshots", title: "Snapshots", view: storage.snapshots },
  { path: "templates", title: "Templates", view: templates },
  { path: "keypairs", title: "Key pairs", view: keypairs },
  { path: "affinity", title: "Affinity groups", view: affinity },
  { path: "events", title: "Events", view: events },
  { path: "profile", title: "My account", view: profile },
  { path: "accounts", title: "Accounts", view: accounts, admin: true },
  { path: "infrastructure", title: "Infrastructure", view: infrastructure, admin: true },
];

const view = document.getElementById("view");
const notice = document.getElementById("notice");

const app = {
  api: new Api("api", (error) => app.expired(error)),
  session: loadSession(),

  /** Says `text` in the banner (an error unless `kind` says otherwise); null hides it. */
  notice(text, kind = "error") {
    notice.hidden = text === null;
    notice.className = kind;
    notice.textContent = text ?? "";
  },

  /** Shows the thrown error's text: the API's own words, or that the server is unreachable. */
  fail(error) {
    if (error.code === 401 && app.session === null) return; // expired() has said so
    app.notice(error.message);
  },

  signedIn(login) {
    app.session = login;
    app.api.sessionkey = login.sessionkey;
    saveSession(login);
    app.notice(null);
    if (location.hash === "" || location.hash === "#/signin") location.hash = "#/vms";
    else show();
  },

  async signOut() {
    try {
      await app.api.call("logout");
    } catch {
      // Signed out anyway: the key is forgotten here, and the server's session times out.
    }
    app.forget();
    app.notice("You are signed out.", "info");
    show();
  },

  /** The server refused the session (expired, signed out elsewhere, user disabled). */
  expired(error) {
    app.forget();
    app.notice(`Your session has ended; sign in again. (${error.message})`);
    show();
  },

  forget() {
    app.session = null;
    app.api.sessionkey = null;
    clearSession();
  },

  isAdmin() {
    return isAdmin(app.session);
  },

  go(hash) {
    location.hash = hash;
  },

  /** Renders the current page again, with fresh data. */
  refresh() {
    show();
  },
};
app.api.sessionkey = app.session?.sessionkey ?? null;

function renderChrome(current) {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (app.session === null) {
    nav.replaceChildren();
    who.replaceChildren();
    return;
  }
  const pages = PAGES.filter((page) => !page.hidden && (!page.admin || app.isAdmin()));
  nav.replaceChildren(
    h(
      "ul",
      {},
      pages.map((page) =>
        h("li", {}, h("a", { href: `#/${page.path}`, "aria-current": page.path === current ? "page" : false }, page.title)),
      ),
    ),
  );
  who.replaceChildren(
    h("span", { class: "user" }, `${app.session.username} (${app.session.account})`),
    h("button", { type: "button", id: "signout", onclick: () => app.signOut() }, "Sign out"),
  );
}

let shown = 0;

/** Renders the page the hash names; a newer navigation wins over a slow older one. */
async function show() {
  const ticket = ++shown;
  const [path = "vms", ...args] = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  let page = PAGES.find((candidate) => candidate.path === path) ?? PAGES[0];
  if (app.session === null) page = { path: "signin", title: "Sign in", view: signin };
  else if (page.admin && !app.isAdmin()) page = PAGES[0];
  renderChrome(page.path);
  document.title = `${page.title} · Altostratus`;
  const content = h("div", { class: "page" });
  try {
    await page.view.render(app, content, ...args.map(decodeURIComponent));
  } catch (error) {
    if (ticket === shown) app.fail(error);
  }
  if (ticket !== shown) return;
  view.replaceChildren(content);
  view.dataset.page = page.path;
  // Keyboard and screen reader users start on the new page, at its first field if it
  // marks one.
  (content.querySelector("[data-focus]") ?? view).focus();
}

window.addEventListener("hashchange", () => {
  app.notice(null);
  show();
});
show();
