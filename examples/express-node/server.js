// An Express app that listens on $PORT itself: the nodejs buildpack runs it natively with
// `npm start` (it does not handle the fetch event, so it cannot be a wasi:http component).
const os = require("os");
const express = require("express");

const app = express();
app.use(express.json());

app.get("/", (req, res) => {
  console.log(`express-node: GET / from ${req.get("user-agent") ?? "?"}`);
  res.type("text/plain").send(`Hello, ${process.env.GREETING_NAME ?? "world"}, from Express!\n`);
});

app.get("/dyno", (req, res) => {
  res.json({ dyno: process.env.DYNO ?? null, host: os.hostname(), pid: process.pid });
});

app.post("/json", (req, res) => {
  res.json({ received: req.body });
});

const port = Number(process.env.PORT);
if (!port) {
  console.error("PORT is not set");
  process.exit(1);
}
const server = app.listen(port, () => console.log(`express-node listening on ${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
