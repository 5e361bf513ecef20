// A fetch handler (WinterCG style) with JSON routing: the nodejs buildpack builds it into a
// wasi:http component. Config vars are in process.env.
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method === "GET" && url.pathname === "/") {
      return new Response(`Hello, ${process.env.GREETING_NAME ?? "world"}, from JavaScript!\n`, {
        headers: { "content-type": "text/plain; charset=utf-8" },
      });
    }
    if (request.method === "POST" && url.pathname === "/echo") {
      return new Response(await request.text(), {
        headers: { "content-type": request.headers.get("content-type") ?? "application/octet-stream" },
      });
    }
    if (request.method === "POST" && url.pathname === "/json") {
      const body = await request.json();
      return Response.json({ received: body, length: JSON.stringify(body).length });
    }
    if (url.pathname === "/headers") {
      return Response.json(Object.fromEntries(request.headers));
    }
    if (url.pathname === "/boom") {
      throw new Error("boom");
    }
    return Response.json({ error: "not found", path: url.pathname }, { status: 404 });
  },
};
