// An Express app that keeps its visits in PostgreSQL: `GET /` records one and answers how many
// there are, `GET /count` only counts, `GET /boot` names this process (a restart changes it). The database is the Heroku Postgres add-on attached to the
// app (`paas addons:create heroku-postgresql:essential-0`), reached through DATABASE_URL as on
// Heroku. The table is made at the first request, so the app boots before an add-on exists.
const crypto = require("crypto");
const express = require("express");
const { Pool } = require("pg");

const url = process.env.DATABASE_URL;
// The add-on server's certificate is self-signed (as Heroku's are, for clients): TLS without
// verification, as Heroku's docs for `pg` say.
const pool = url ? new Pool({ connectionString: url, ssl: { rejectUnauthorized: false }, max: 4 }) : null;
let ready = null;
const boot = crypto.randomUUID();

function table() {
  ready ??= pool
    .query("CREATE TABLE IF NOT EXISTS visits (id serial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), dyno text)")
    .catch((e) => {
      ready = null;
      throw e;
    });
  return ready;
}

async function count() {
  const { rows } = await pool.query("SELECT count(*)::int AS n FROM visits");
  return rows[0].n;
}

const app = express();

app.get("/boot", (req, res) => res.type("text/plain").send(`${boot}\n`));

app.use((req, res, next) => {
  if (!pool) {
    return res.status(503).type("text/plain").send("no database: run `paas addons:create heroku-postgresql:essential-0`\n");
  }
  table().then(() => next(), next);
});

app.get("/", async (req, res, next) => {
  try {
    await pool.query("INSERT INTO visits (dyno) VALUES ($1)", [process.env.DYNO ?? null]);
    res.type("text/plain").send(`visits: ${await count()}\n`);
  } catch (e) {
    next(e);
  }
});

app.get("/count", async (req, res, next) => {
  try {
    res.type("text/plain").send(`visits: ${await count()}\n`);
  } catch (e) {
    next(e);
  }
});

// An error's message only (never the URL: it holds the password).
app.use((err, req, res, next) => {
  console.error(`express-postgres: ${err.code ?? ""} ${err.message}`);
  res.status(500).type("text/plain").send(`database error: ${err.code ?? err.message}\n`);
});

const port = Number(process.env.PORT);
if (!port) {
  console.error("PORT is not set");
  process.exit(1);
}
const server = app.listen(port, () => console.log(`express-postgres listening on ${port}`));
process.on("SIGTERM", () => server.close(() => pool ? pool.end().then(() => process.exit(0)) : process.exit(0)));
