// Building the page from data with DOM nodes, never HTML strings: every string the API returns
// becomes a text node, so a VM named "<script>" is shown, never run.

/** An element: attributes (on* become listeners, true/false toggle) and children. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A labelled form control: the label wraps it, so it needs no id. */
export function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", {}, label), control, hint && h("small", {}, hint));
}

/** A table of rows, its columns given as [heading, row => cell]. */
export function table(caption, columns, rows, empty = "None yet.") {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map(([heading]) => h("th", { scope: "col" }, heading)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row) ?? ""))))),
    ),
  );
}

/** A form's fields as API parameters, blanks left out (passwords kept as typed). */
export function formParams(form) {
  const params = {};
  for (const control of form.elements) {
    if (!control.name || control.disabled) continue;
    if ((control.type === "radio" || control.type === "checkbox") && !control.checked) continue;
    const value = control.type === "password" ? control.value : control.value.trim();
    if (value !== "") params[control.name] = value;
  }
  return params;
}

/** A status line that assistive technology reads out as it changes. */
export function statusLine() {
  return h("p", { class: "status", role: "status", "aria-live": "polite" });
}

/** A state as a badge whose class colours it. */
export function badge(state) {
  return h("span", { class: `badge state-${String(state ?? "").toLowerCase()}` }, state ?? "-");
}

/** The terms and values of `pairs` ([term, value]) as a description list's children. */
export function terms(pairs) {
  return pairs.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value ?? "-")]);
}

/** A card of facts: `pairs` as a description list. */
export function facts(pairs, attrs = {}) {
  return h("dl", { class: "facts", ...attrs }, terms(pairs));
}
