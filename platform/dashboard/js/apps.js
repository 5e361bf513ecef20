// The apps the user can see (`GET /apps`), and creating one.

import { api } from "./api.js";
import { busy, h, replace, say, when } from "./dom.js";

/** The apps list in `root`. */
export async function appsView(root) {
  const list = h("ul", { class: "apps", id: "apps", "aria-busy": "true" });
  const name = h("input", { id: "new-app", name: "name", pattern: "[a-z][a-z0-9\\-]*", placeholder: "optional", autocomplete: "off" });
  replace(root,
    h("h1", {}, "Apps"),
    h("form", { class: "row", onsubmit: async (event) => {
      event.preventDefault();
      await busy(event.target.querySelector("button"), async () => {
        const app = await api("POST", "/apps", name.value.trim() ? { name: name.value.trim() } : {});
        say(`Created ${app.name}.`);
        location.hash = `#/apps/${encodeURIComponent(app.name)}`;
      });
    } },
    h("label", { for: "new-app" }, "New app name"), name,
    h("button", { type: "submit", class: "primary" }, "Create app")),
    list);
  try {
    const apps = await api("GET", "/apps");
    apps.sort((a, b) => a.name.localeCompare(b.name));
    replace(list, apps.length ? apps.map((app) => h("li", {},
      h("a", { href: `#/apps/${encodeURIComponent(app.name)}` }, app.name),
      " ", h("span", { class: "muted" }, `${app.owner ? app.owner.email : ""} · updated ${when(app.updated_at)}`)))
      : h("li", { class: "muted" }, "No apps yet."));
  } catch (error) {
    say(error.message, "error");
  }
  list.removeAttribute("aria-busy");
}
