// An app's page: a tab per part. This file holds the tabs, the overview (formation, scaling,
// dynos), releases (rollback) and config vars; resources.js, logs.js and charts.js the rest.

import { api, seg } from "./api.js";
import { busy, h, replace, say, table, when } from "./dom.js";
import { buildsView, domainsView, accessView } from "./resources.js";
import { logsView } from "./logs.js";
import { metricsView } from "./charts.js";

const TABS = [
  ["overview", "Overview", overviewView],
  ["metrics", "Metrics", metricsView],
  ["releases", "Releases", releasesView],
  ["config", "Config vars", configView],
  ["builds", "Builds", buildsView],
  ["domains", "Domains", domainsView],
  ["access", "Access", accessView],
  ["logs", "Logs", logsView],
];

/** The page of app `name` at `tab` in `root`; gives back what to run on leaving it. */
export function appView(root, name, tab) {
  const [, label, view] = TABS.find(([id]) => id === tab) || TABS[0];
  const body = h("section", { id: "tab", "aria-label": label });
  replace(root,
    h("h1", {}, name),
    h("nav", { "aria-label": "App" }, h("ul", { class: "tabs" }, TABS.map(([id, text]) =>
      h("li", {}, h("a", { href: `#/apps/${seg(name)}/${id}`, "aria-current": id === tab ? "page" : undefined }, text))))),
    body);
  const leave = view(body, name);
  return typeof leave === "function" ? leave : null;
}

/** The app's settings, its formation with a scale control per process type, and its dynos. */
async function overviewView(root, name) {
  try {
    const [app, formation, dynos] = await Promise.all([
      api("GET", `/apps/${seg(name)}`),
      api("GET", `/apps/${seg(name)}/formation`),
      api("GET", `/apps/${seg(name)}/dynos`),
    ]);
    const web = formation.some((process) => process.type === "web");
    // Only web dynos autoscale (they alone have response times).
    const autoscaling = web ? await api("GET", `/apps/${seg(name)}/formation/web/autoscaling`).catch(() => null) : null;
    replace(root,
      h("p", {}, h("a", { href: app.web_url, rel: "noreferrer" }, app.web_url), " ",
        h("span", { class: "muted" }, `owner ${app.owner ? app.owner.email : ""} · created ${when(app.created_at)}`)),
      h("h2", {}, "Formation"),
      formation.length ? formation.map((process) => scaleForm(root, name, process))
        : h("p", { class: "muted" }, "No process types yet: push the app's code first."),
      autoscaling && autoscaleForm(root, name, autoscaling),
      h("h2", {}, "Dynos"),
      table("Running dynos", ["Dyno", "State", "Release", "Since"], dynos.map((dyno) =>
        [h("span", { class: "mono" }, dyno.name), dyno.state, `v${dyno.release.version}`, when(dyno.updated_at)])));
  } catch (error) {
    say(error.message, "error");
  }
}

function scaleForm(root, name, process) {
  const id = `qty-${process.type}`;
  const quantity = h("input", { id, class: "qty", type: "number", min: 0, max: 1000, value: process.quantity, required: true });
  return h("form", { class: "row", dataset: { type: process.type }, onsubmit: async (event) => {
    event.preventDefault();
    await busy(event.target.querySelector("button"), async () => {
      const done = await api("PATCH", `/apps/${seg(name)}/formation/${seg(process.type)}`, { quantity: Number(quantity.value) });
      say(`Scaled ${done.type} to ${done.quantity} (${done.size}).`);
      await overviewView(root, name);
    });
  } },
  h("label", { for: id }, `${process.type} `, h("span", { class: "muted mono" }, process.command)),
  quantity, h("span", { class: "muted" }, process.size),
  h("button", { type: "submit" }, `Scale ${process.type}`));
}

/** Web autoscaling (`/apps/{app}/formation/web/autoscaling`): its state, min, max and the p95
 *  target to enable it with, and a button that turns it off. */
function autoscaleForm(root, name, policy) {
  const path = `/apps/${seg(name)}/formation/web/autoscaling`;
  const input = (id, label, value, attrs) => {
    const field = h("input", { id, class: "qty", type: "number", required: true, value, ...attrs });
    return [field, h("label", { for: id }, label, field)];
  };
  const ceiling = policy.ceiling ? { max: Math.min(100, policy.ceiling) } : { max: 100 };
  const [min, minLabel] = input("autoscale-min", "Min dynos", policy.min_quantity || 1, { min: 1, max: 100 });
  const [max, maxLabel] = input("autoscale-max", "Max dynos", policy.max_quantity || 2, { min: 1, ...ceiling });
  const [p95, p95Label] = input("autoscale-p95", "p95 target (ms)", policy.p95_ms || 200, { min: 1, max: 30000 });
  const state = policy.enabled
    ? `Autoscaling is on: ${policy.min_quantity} to ${policy.max_quantity} web dynos, p95 target ${policy.p95_ms} ms.`
    : "Autoscaling is off.";
  const change = (method, body, done) => async (event) => {
    event.preventDefault();
    const button = event.type === "submit" ? event.target.querySelector("button[type=submit]") : event.target;
    await busy(button, async () => {
      await api(method, path, body && body());
      say(done());
      await overviewView(root, name);
    });
  };
  return [
    h("h2", {}, "Autoscaling"),
    h("p", { id: "autoscale-state", role: "status" }, state,
      policy.ceiling ? h("span", { class: "muted" }, ` At most ${policy.ceiling} at this dyno size.`) : null),
    h("form", { class: "row", id: "autoscale-form", onsubmit: change("PUT",
      () => ({ min_quantity: Number(min.value), max_quantity: Number(max.value), p95_ms: Number(p95.value) }),
      () => `Autoscaling web: ${min.value} to ${max.value} dynos, p95 target ${p95.value} ms.`) },
    minLabel, maxLabel, p95Label,
    h("button", { type: "submit", class: "primary" }, policy.enabled ? "Update autoscaling" : "Enable autoscaling"),
    policy.enabled ? h("button", { type: "button", class: "danger", onclick: change("DELETE", null, () => "Autoscaling of web is off.") },
      "Disable autoscaling") : null),
  ];
}

/** The newest releases, each but the current one with a rollback button. */
async function releasesView(root, name) {
  try {
    const releases = await api("GET", `/apps/${seg(name)}/releases`, undefined, { range: "version ..; max=25, order=desc" });
    replace(root, table("Releases, newest first", ["Version", "Description", "By", "When", ""], releases.map((release) => [
      `v${release.version}`,
      [release.description, release.current ? h("strong", {}, " (current)") : null],
      release.user ? release.user.email : "",
      when(release.created_at),
      !release.current && release.eligible_for_rollback
        ? h("button", { type: "button", onclick: (event) => busy(event.target, async () => {
          const made = await api("POST", `/apps/${seg(name)}/releases`, { release: release.id });
          say(`Rolled back to v${release.version}: new release v${made.version}.`);
          await releasesView(root, name);
        }) }, `Roll back to v${release.version}`)
        : "",
    ])));
  } catch (error) {
    say(error.message, "error");
  }
}

/** Config vars: values hidden until shown; set, edit and remove (each makes a release). */
async function configView(root, name) {
  let vars;
  try {
    vars = await api("GET", `/apps/${seg(name)}/config-vars`);
  } catch (error) {
    say(error.message, "error");
    return;
  }
  const key = h("input", { id: "config-key", name: "key", required: true, autocomplete: "off", pattern: "[A-Za-z_][A-Za-z0-9_]*" });
  const value = h("input", { id: "config-value", name: "value", autocomplete: "off" });
  const change = async (patch, what) => {
    await api("PATCH", `/apps/${seg(name)}/config-vars`, patch);
    const [release] = await api("GET", `/apps/${seg(name)}/releases`, undefined, { range: "version ..; order=desc,max=1" });
    await configView(root, name);
    say(`${what}: new release v${release.version}.`);
  };
  const rows = Object.keys(vars).sort().map((k) => {
    const shown = h("span", { class: "mono value", "aria-live": "polite" }, "••••••");
    const toggle = h("button", { type: "button", "aria-pressed": "false", "aria-label": `Show ${k}`, onclick: () => {
      const show = toggle.getAttribute("aria-pressed") === "false";
      toggle.setAttribute("aria-pressed", String(show));
      toggle.setAttribute("aria-label", `${show ? "Hide" : "Show"} ${k}`);
      toggle.textContent = show ? "Hide" : "Show";
      shown.textContent = show ? vars[k] : "••••••";
    } }, "Show");
    return [h("span", { class: "mono" }, k), shown, h("div", { class: "actions" }, toggle,
      h("button", { type: "button", "aria-label": `Edit ${k}`, onclick: () => { key.value = k; value.value = vars[k]; value.focus(); } }, "Edit"),
      h("button", { type: "button", class: "danger", "aria-label": `Remove ${k}`, onclick: (event) =>
        busy(event.target, () => change({ [k]: null }, `Removed ${k}`)) }, "Remove"))];
  });
  replace(root,
    h("form", { class: "row", id: "config-form", onsubmit: async (event) => {
      event.preventDefault();
      await busy(event.target.querySelector("button"), () => change({ [key.value.trim()]: value.value }, `Set ${key.value.trim()}`));
    } },
    h("label", { for: "config-key" }, "Key", key),
    h("label", { for: "config-value" }, "Value", value),
    h("button", { type: "submit", class: "primary" }, "Set")),
    rows.length ? table("Config vars (values hidden until shown)", ["Key", "Value", ""], rows) : h("p", { class: "muted" }, "No config vars."));
}
