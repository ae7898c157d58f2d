// Events: what changed, when and by whom (the latest first), with a keyword search.

import { badge, field, h, table } from "../dom.js";

const PAGE_SIZE = 100;

export async function render(app, content) {
  const keyword = h("input", { name: "keyword", type: "search" });
  const results = h("div", { id: "event-list" });
  const load = async () => {
    const events = await app.api.list("listEvents", "event", {
      keyword: keyword.value.trim(),
      listall: app.isAdmin() ? "true" : undefined,
      page: 1,
      pagesize: PAGE_SIZE,
    });
    results.replaceChildren(
      table(
        `Events (the latest ${PAGE_SIZE})`,
        [
          ["When", (e) => e.created],
          ["Type", (e) => e.type],
          ["Level", (e) => badge(e.level)],
          ["Description", (e) => e.description],
          ["By", (e) => `${e.username ?? ""} (${e.account ?? ""})`],
        ],
        events,
        "No events match.",
      ),
    );
  };
  const filter = h("form", { class: "filters", role: "search" }, field("Search", keyword), h("button", { type: "submit" }, "Filter"));
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    load().catch(app.fail);
  });
  content.append(h("h1", {}, "Events"), filter, results);
  await load();
}
