// The Platform API, called with the signed-in user's key. The key lives in sessionStorage:
// this tab only, gone when it closes, and never sent by the browser on its own (so no
// cross-site request can use it); it only ever travels in an Authorization header.

const KEY = "paas.apiKey";
const EMAIL = "paas.email";
const MINTED = "paas.keyMinted";

/** The signed-in user's email, if signed in. */
export function signedIn() {
  return sessionStorage.getItem(KEY) ? sessionStorage.getItem(EMAIL) || "signed in" : null;
}

/** An API error: the server's message, and its `id` (`not_found`, `forbidden`, …). */
export class ApiError extends Error {
  constructor(status, id, message) {
    super(message);
    this.status = status;
    this.id = id;
  }
}

/** Calls the API: `api("PATCH", "/apps/x/config-vars", {A: "1"})`. `range` sets `Range`. */
export async function api(method, path, body, { range, key, basic } = {}) {
  const headers = { Accept: "application/vnd.heroku+json; version=3" };
  const token = key || sessionStorage.getItem(KEY);
  if (basic) headers.Authorization = "Basic " + btoa(basic);
  else if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (range) headers.Range = range;
  const init = {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store",
  };
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    // fetch rejects only when no answer came at all: the browser's network changed (an
    // interface came or went) or the connection dropped. A read is asked once more; a write is
    // not, since it may have been done.
    if (method !== "GET") throw error;
    response = await fetch(path, init);
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) {
    const message = (data && data.message) || `${method} ${path}: HTTP ${response.status}`;
    if (response.status === 401 && sessionStorage.getItem(KEY)) forget();
    throw new ApiError(response.status, data && data.id, message);
  }
  return data;
}

/** A path segment from a name the user or the API gave. */
export const seg = encodeURIComponent;

/** Signs in with an API key: kept only if `GET /account` accepts it. */
export async function signInWithKey(key) {
  const account = await api("GET", "/account", undefined, { key });
  remember(key, account.email, false);
}

/** Signs in with email and password: `POST /oauth/authorizations` makes a key for this tab. */
export async function signInWithPassword(email, password) {
  const auth = await api("POST", "/oauth/authorizations", { description: "paas dashboard sign-in" },
    { basic: `${email}:${password}` });
  remember(auth.access_token.token, auth.user.email, true);
}

/** Signs out; a key the dashboard made at sign-in is revoked, a pasted one only forgotten. */
export async function signOut() {
  if (sessionStorage.getItem(MINTED) === "1") {
    try { await api("DELETE", "/oauth/authorizations/~"); } catch { /* forgotten below anyway */ }
  }
  forget();
}

function remember(key, email, minted) {
  sessionStorage.setItem(KEY, key);
  sessionStorage.setItem(EMAIL, email);
  sessionStorage.setItem(MINTED, minted ? "1" : "0");
}

function forget() {
  for (const name of [KEY, EMAIL, MINTED]) sessionStorage.removeItem(name);
}
