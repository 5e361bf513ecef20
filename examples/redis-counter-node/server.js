// An Express app that counts its hits in Redis: `GET /` increments the counter and answers
// `hits: N`, `GET /count` only reads it, `GET /boot` names this process (a restart changes it).
// The server is the Heroku Redis add-on attached to the app (`paas addons:create
// heroku-redis:mini`), reached through REDIS_URL with `redis` from npm, as on Heroku.
const crypto = require("crypto");
const express = require("express");
const { createClient } = require("redis");

const url = process.env.REDIS_URL;
const boot = crypto.randomUUID();
const client = url ? createClient({ url }) : null;
// An error's message only (never the URL: it holds the password).
client?.on("error", (err) => console.error(`redis-counter: ${err.code ?? ""} ${err.message}`));
const connected = client?.connect();

const app = express();

app.get("/boot", (req, res) => res.type("text/plain").send(`${boot}\n`));

app.use((req, res, next) => {
  if (!client) {
    return res.status(503).type("text/plain").send("no Redis: run `paas addons:create heroku-redis:mini`\n");
  }
  connected.then(() => next(), next);
});

app.get("/", async (req, res, next) => {
  try {
    res.type("text/plain").send(`hits: ${await client.incr("hits")}\n`);
  } catch (e) {
    next(e);
  }
});

app.get("/count", async (req, res, next) => {
  try {
    res.type("text/plain").send(`hits: ${Number(await client.get("hits")) || 0}\n`);
  } catch (e) {
    next(e);
  }
});

app.use((err, req, res, next) => {
  console.error(`redis-counter: ${err.code ?? ""} ${err.message}`);
  res.status(500).type("text/plain").send(`redis error: ${err.code ?? err.message}\n`);
});

const port = Number(process.env.PORT);
if (!port) {
  console.error("PORT is not set");
  process.exit(1);
}
const server = app.listen(port, () => console.log(`redis-counter listening on ${port}`));
process.on("SIGTERM", () => server.close(() => (client ? client.quit().finally(() => process.exit(0)) : process.exit(0))));
