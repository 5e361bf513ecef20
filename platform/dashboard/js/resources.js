// An app's builds (with their output), domains and collaborators.

import { api, seg } from "./api.js";
import { busy, h, replace, say, table, when } from "./dom.js";

/** The output being read now: a new one stops it (both would write into the same box). */
let reading = null;

/** Builds, newest first; each one's output on demand, as it is written while the build runs. */
export async function buildsView(root, name) {
  try {
    const builds = await api("GET", `/apps/${seg(name)}/builds`);
    builds.sort((a, b) => b.created_at.localeCompare(a.created_at));
    const output = h("pre", { id: "build-output", tabindex: "0", hidden: true, "aria-label": "Build output" });
    replace(root, table("Builds, newest first", ["Status", "Version", "By", "When", ""], builds.map((build) => [
      build.status,
      h("span", { class: "mono" }, (build.source_blob.version || "").slice(0, 12)),
      build.user ? build.user.email : "",
      when(build.created_at),
      h("button", { type: "button", onclick: (event) => busy(event.target, async () => {
        if (reading) reading.abort();
        const mine = reading = new AbortController();
        output.hidden = false;
        output.textContent = "Loading…";
        try {
          const response = await fetch(`/apps/${seg(name)}/builds/${seg(build.id)}/output`, {
            headers: { Authorization: "Bearer " + sessionStorage.getItem("paas.apiKey") }, credentials: "omit",
            signal: mine.signal,
          });
          if (!response.ok) {
            output.textContent = `HTTP ${response.status}`;
            return;
          }
          // A running build's output arrives line by line until it ends: shown as it comes.
          output.textContent = "";
          output.focus();
          const reader = response.body.getReader();
          const text = new TextDecoder();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            output.append(text.decode(value, { stream: true }));
          }
          output.append(text.decode());
        } catch (error) {
          if (error.name !== "AbortError") output.textContent += `\n(${error.message})`;
        } finally {
          if (reading === mine) reading = null;
        }
      }) }, `Output of ${when(build.created_at)}`),
    ])), output);
  } catch (error) {
    say(error.message, "error");
  }
}

/** A list with an add form and a remove button per row; `spec` says what the rows are. */
async function editableList(root, name, spec) {
  let items;
  try {
    items = await api("GET", `/apps/${seg(name)}/${spec.path}`);
  } catch (error) {
    say(error.message, "error");
    return;
  }
  const input = h("input", { id: `add-${spec.path}`, required: true, autocomplete: "off" });
  const reload = () => editableList(root, name, spec);
  replace(root,
    h("form", { class: "row", onsubmit: async (event) => {
      event.preventDefault();
      await busy(event.target.querySelector("button"), async () => {
        await api("POST", `/apps/${seg(name)}/${spec.path}`, spec.body(input.value.trim()));
        say(`Added ${input.value.trim()}.`);
        await reload();
      });
    } }, h("label", { for: `add-${spec.path}` }, spec.label, input), h("button", { type: "submit" }, "Add")),
    table(spec.caption, [...spec.headers, ""], items.map((item) => [
      ...spec.cells(item),
      spec.removable(item) ? h("button", { type: "button", class: "danger", "aria-label": `Remove ${spec.id(item)}`,
        onclick: (event) => busy(event.target, async () => {
          await api("DELETE", `/apps/${seg(name)}/${spec.path}/${seg(spec.id(item))}`);
          say(`Removed ${spec.id(item)}.`);
          await reload();
        }) }, "Remove") : "",
    ])));
}

/** Domains: the built-in one and custom ones (add, remove). */
export function domainsView(root, name) {
  return editableList(root, name, {
    path: "domains", label: "Custom domain", caption: "Domains",
    headers: ["Hostname", "Kind", "DNS target"],
    body: (hostname) => ({ hostname }),
    cells: (d) => [h("span", { class: "mono" }, d.hostname), d.kind, h("span", { class: "mono" }, d.cname || "")],
    id: (d) => d.hostname,
    removable: (d) => d.kind === "custom",
  });
}

/** Collaborators and their permissions (add by email, remove). */
export function accessView(root, name) {
  return editableList(root, name, {
    path: "collaborators", label: "Collaborator email", caption: "Collaborators",
    headers: ["Email", "Role", "Permissions"],
    body: (user) => ({ user }),
    cells: (c) => [c.user.email, c.role || "collaborator", (c.permissions || []).map((p) => p.name || p).join(", ")],
    id: (c) => c.user.email,
    removable: (c) => c.role !== "owner",
  });
}
