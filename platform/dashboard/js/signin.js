// Signing in: with an API key, or with email and password (the server makes a key for the tab).

import { signInWithKey, signInWithPassword } from "./api.js";
import { busy, h, replace } from "./dom.js";

/** The sign-in view in `root`; `done` runs once signed in. */
export function signInView(root, done) {
  const error = h("div", { role: "alert" });
  const failed = (e) => replace(error, h("p", { class: "error" }, e.message));
  const key = h("input", { id: "api-key", name: "api-key", type: "password", autocomplete: "off", required: true });
  const email = h("input", { id: "email", name: "email", type: "email", autocomplete: "username", required: true });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = (action) => async (event) => {
    event.preventDefault();
    const button = event.target.querySelector("button");
    await busy(button, async () => {
      try { await action(); done(); } catch (e) { failed(e); }
    });
  };
  replace(root,
    h("h1", {}, "Sign in"),
    error,
    h("fieldset", {},
      h("legend", {}, "With email and password"),
      h("form", { class: "stack", id: "password-form", onsubmit: submit(() => signInWithPassword(email.value.trim(), password.value)) },
        h("label", { for: "email" }, "Email"), email,
        h("label", { for: "password" }, "Password"), password,
        h("button", { type: "submit", class: "primary" }, "Sign in"))),
    h("fieldset", {},
      h("legend", {}, "With an API key"),
      h("form", { class: "stack", id: "key-form", onsubmit: submit(() => signInWithKey(key.value.trim())) },
        h("label", { for: "api-key" }, "API key"), key,
        h("p", { class: "muted" }, "paas auth:token prints yours. It is kept in this tab only (sessionStorage) and sent only in the Authorization header."),
        h("button", { type: "submit", class: "primary" }, "Sign in with key"))));
}
