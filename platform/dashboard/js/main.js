// The dashboard's entry: routes `#/…` to a view, and keeps the account links in the header.

import { signedIn, signOut } from "./api.js";
import { h, replace, say } from "./dom.js";
import { signInView } from "./signin.js";
import { appsView } from "./apps.js";
import { appView } from "./app.js";

const main = document.getElementById("main");
let leave = null;

/** Shows the view the location's hash names (`#/apps`, `#/apps/NAME/TAB`). */
async function route() {
  if (leave) leave();
  leave = null;
  say("");
  header();
  // A malformed hash (`#/apps/%E0`: decodeURIComponent throws) used to stop here with the page
  // cleared; it is the apps list, with a word on what was wrong.
  let parts = [];
  try {
    parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  } catch {
    say("That address is not one the dashboard knows: showing your apps.", "error");
  }
  replace(main);
  if (!signedIn()) {
    signInView(main, () => { location.hash = "#/apps"; route(); });
  } else if (parts[0] === "apps" && parts[1]) {
    leave = appView(main, parts[1], parts[2] || "overview");
  } else {
    appsView(main);
  }
  main.focus({ preventScroll: true });
}

function header() {
  const email = signedIn();
  replace(document.getElementById("account"), email && [
    h("span", { class: "muted", id: "who" }, email),
    h("button", { type: "button", onclick: async () => { await signOut(); location.hash = "#/"; route(); } }, "Sign out"),
  ]);
}

// The skip link moves the focus to the content; as a plain `#main` link it changed the hash,
// which the router took for the apps list.
document.querySelector("a.skip").addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", route);
route();
