// process.env for apps on the wasm path: read from wasi:cli/environment at each access, so it
// is the dyno's config vars, not the build's (module code runs at build time, in the snapshot).
import { getEnvironment } from "wasi:cli/environment@0.2.10";

globalThis.process ??= {};
Object.defineProperty(globalThis.process, "env", {
  get: () => Object.fromEntries(getEnvironment()),
  configurable: true,
});
