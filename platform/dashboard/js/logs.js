// A live log tail: `POST /apps/{app}/log-sessions` (tail) gives a logplex_url on this origin,
// read with EventSource; the URL's token is the session's own credential, not the user's key.

import { api, seg } from "./api.js";
import { h, replace, say } from "./dom.js";

const KEEP = 1000;

/** The log tail of `name` in `root`; gives back what closes it. */
export function logsView(root, name) {
  let source = null;
  let left = false;
  // Whether the tail runs (asked for: its session may still be on its way), and which start is
  // the current one. The toggle used to test `source`, which is null while a session is being
  // made: a second click then started a second session, and one EventSource was never closed
  // (nor was one whose session came back after Pause).
  let running = false;
  let generation = 0;
  const lines = h("ol", { class: "log", id: "log", role: "log", "aria-label": `Log of ${name}`, tabindex: "0" });
  const state = h("span", { class: "muted", id: "log-state" }, "connecting…");
  const toggle = h("button", { type: "button", "aria-pressed": "false", onclick: () => (running ? stop() : start()) }, "Pause");
  const stop = () => {
    running = false;
    generation += 1;
    if (source) source.close();
    source = null;
    state.textContent = "paused";
    toggle.textContent = "Resume";
    toggle.setAttribute("aria-pressed", "true");
  };
  const start = async () => {
    running = true;
    const mine = ++generation;
    toggle.textContent = "Pause";
    toggle.setAttribute("aria-pressed", "false");
    state.textContent = "connecting…";
    try {
      const session = await api("POST", `/apps/${seg(name)}/log-sessions`, { tail: true, lines: 100 });
      // Only the path: the stream is read from this origin whatever address the server prints.
      const url = new URL(session.logplex_url, location.href);
      if (left || mine !== generation) return;
      if (source) source.close();
      source = new EventSource(url.pathname);
      source.onopen = () => { state.textContent = "live"; };
      source.onmessage = (event) => append(event.data);
      source.onerror = () => {
        if (source && source.readyState === EventSource.CLOSED) { state.textContent = "ended"; source = null; }
        else state.textContent = "reconnecting…";
      };
    } catch (error) {
      if (mine !== generation) return;
      running = false;
      state.textContent = "failed";
      toggle.textContent = "Resume";
      toggle.setAttribute("aria-pressed", "true");
      say(error.message, "error");
    }
  };
  const append = (text) => {
    const follow = lines.scrollTop + lines.clientHeight >= lines.scrollHeight - 4;
    lines.append(h("li", {}, text));
    while (lines.childElementCount > KEEP) lines.firstElementChild.remove();
    if (follow) lines.scrollTop = lines.scrollHeight;
  };
  replace(root, h("div", { class: "actions" }, toggle, state), lines);
  start();
  return () => { left = true; stop(); };
}
