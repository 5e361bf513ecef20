"""A Python app implementing wasi:http itself: no framework, no dependencies.

componentize-py generates the `wit_world` bindings at build time; the python buildpack builds
this module (it defines `IncomingHandler`) into the web process.
"""

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import environment
from wit_world.imports.streams import StreamError_Closed
from wit_world.imports.types import Fields, IncomingBody, Method_Post, OutgoingBody, OutgoingResponse, ResponseOutparam

def read_body(request):
    body = request.consume()
    data = b""
    with body.stream() as stream:
        while True:
            try:
                data += stream.blocking_read(65536)
            except Err as e:
                if isinstance(e.value, StreamError_Closed):
                    break
                raise
    IncomingBody.finish(body).__exit__(None, None, None)
    return data

def respond(response_out, status, body, content_type="text/plain; charset=utf-8"):
    response = OutgoingResponse(Fields.from_list([("content-type", content_type.encode())]))
    response.set_status_code(status)
    outgoing = response.body()
    ResponseOutparam.set(response_out, Ok(response))
    with outgoing.write() as stream:
        for start in range(0, len(body), 4096):
            stream.blocking_write_and_flush(body[start : start + 4096])
    OutgoingBody.finish(outgoing, None)

class IncomingHandler(exports.IncomingHandler):
    def handle(self, request, response_out):
        path = request.path_with_query() or "/"
        config = dict(environment.get_environment())
        if path == "/":
            name = config.get("GREETING_NAME", "world")
            respond(response_out, 200, f"Hello, {name}, from Python on wasi:http!\n".encode())
        elif path == "/echo" and isinstance(request.method(), Method_Post):
            respond(response_out, 200, read_body(request), "application/octet-stream")
        elif path.startswith("/config/"):
            value = config.get(path.removeprefix("/config/"))
            respond(response_out, 200 if value is not None else 404, (value or "no such config var").encode() + b"\n")
        else:
            respond(response_out, 404, b"not found\n")
