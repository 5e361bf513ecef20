// The component's entry, bundled with the app by the nodejs buildpack (esbuild, which puts the
// app's path in place of __PAAS_APP__): gives the app a `process.env` (./env.js, evaluated
// first), then serves the app's `fetch` export (`export default { fetch }` or
// `export function fetch`, WinterCG style) through the fetch event. An app that calls
// addEventListener("fetch", …) itself needs nothing more. A handler that throws is a 500 with
// the stack on stderr (the dyno's log).
import "./env.js";
import * as app from "__PAAS_APP__";

const handler = app.default?.fetch ? app.default : app.fetch ? app : null;
if (handler) {
  addEventListener("fetch", (event) =>
    event.respondWith(
      Promise.resolve()
        .then(() => handler.fetch(event.request, globalThis.process.env))
        .catch((error) => {
          console.error(`${error}\n${error?.stack ?? ""}`);
          return new Response("Internal Server Error\n", { status: 500, headers: { "content-type": "text/plain" } });
        }),
    ),
  );
}
