// Building the page: elements from data, never from markup strings (text goes in as text).

/** An element: `h("button", {type: "button", onclick: f}, "Scale")`. */
export function h(tag, attrs = {}, ...children) {
  return fill(document.createElement(tag), attrs, children);
}

const SVG = "http://www.w3.org/2000/svg";

/** An SVG element, as `h`. */
export function s(tag, attrs = {}, ...children) {
  return fill(document.createElementNS(SVG, tag), attrs, children);
}

function fill(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** Replaces what `element` holds. */
export function replace(element, ...children) {
  element.replaceChildren();
  return fill(element, {}, children);
}

/** Says something in the page's status line (read out by screen readers). */
export function say(message, kind = "notice") {
  replace(document.getElementById("status"), message ? h("p", { class: kind }, message) : null);
}

/** A time as the user's locale writes it. */
export function when(time) {
  return time ? new Date(time).toLocaleString() : "";
}

/** Runs `action` with `button` disabled; an error goes to the status line. */
export async function busy(button, action) {
  button.disabled = true;
  try {
    await action();
  } catch (error) {
    say(error.message, "error");
  } finally {
    button.disabled = false;
  }
}

/** A table: header names and rows of cells. */
export function table(caption, headers, rows) {
  return h("table", {},
    h("caption", { class: "muted" }, caption),
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))));
}
