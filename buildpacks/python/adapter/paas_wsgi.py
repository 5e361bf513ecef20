"""paas_wsgi: serves a WSGI application as a wasi:http incoming-handler (PEP 3333).

The python buildpack generates a `paas_web` module that imports the app (at build time: the
component is a snapshot of the interpreter after that import) and sets `APPLICATION`; each
wasi:http request then becomes one WSGI call: the environ from the request line and headers,
`wsgi.input` reading the request body as it arrives, the status and headers given to
`start_response`, and the body written out as the app yields it. An exception before the
response started is a 500 whose traceback goes to stderr (the dyno's log).
"""

import encodings.idna  # noqa: F401 (werkzeug encodes host names with it: in the snapshot, it is found)
import gc
import os
import sys
import traceback
from urllib.parse import unquote

from componentize_py_types import Err, Ok
from wit_world import exports
from wit_world.imports import environment
from wit_world.imports.streams import StreamError_Closed
from wit_world.imports.types import (
    Fields,
    IncomingBody,
    IncomingRequest,
    Method_Other,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
    Scheme_Https,
)

# The WSGI callable, set by the generated paas_web module.
APPLICATION = None

# wasi:io output streams take at most 4096 bytes per blocking write.
WRITE_SIZE = 4096
READ_SIZE = 64 * 1024

_environment_loaded = False

# The cyclic garbage collector runs only between requests, once every wasi:http resource of the
# request is dropped: collecting a cycle that holds a resource and its child (a body and its
# stream) in the wrong order traps the instance ("resource has children").
# A young-generation collection every few requests frees the request's cycles cheaply; a full one
# now and then frees older garbage.
gc.disable()
COLLECT_YOUNG_EVERY = 16
COLLECT_ALL_EVERY = 1024
_served = 0


def _load_environment():
    """Makes os.environ the dyno's environment (config vars, PORT, DYNO), once per instance:
    the snapshot taken at build time holds the build's environment."""
    global _environment_loaded
    if _environment_loaded:
        return
    os.environ.clear()
    os.environ.update(environment.get_environment())
    _environment_loaded = True


class RequestBody:
    """`wsgi.input`: the request body, read from the wasi:http stream as the app asks."""

    def __init__(self, body):
        self._body = body
        self._stream = body.stream()
        self._buffer = b""
        self._done = False

    def _fill(self):
        if self._done:
            return False
        try:
            chunk = self._stream.blocking_read(READ_SIZE)
        except Err as e:
            if not isinstance(e.value, StreamError_Closed):
                raise IOError(f"reading the request body: {e.value}")
            self.close()
            return False
        self._buffer += chunk
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            while self._fill():
                pass
            data, self._buffer = self._buffer, b""
            return data
        while len(self._buffer) < size and self._fill():
            pass
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readline(self, size=-1):
        while b"\n" not in self._buffer and (size is None or size < 0 or len(self._buffer) < size) and self._fill():
            pass
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        if size is not None and size >= 0:
            end = min(end, size)
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data

    def readlines(self, hint=-1):
        return list(iter(self.readline, b""))

    def __iter__(self):
        return iter(self.readline, b"")

    def close(self):
        if not self._done:
            self._done = True
            self._stream.__exit__(None, None, None)
            IncomingBody.finish(self._body).__exit__(None, None, None)


def _method(method):
    if isinstance(method, Method_Other):
        return method.value
    return type(method).__name__.removeprefix("Method_").upper()


def _environ(request):
    path_with_query = request.path_with_query() or "/"
    path, _, query = path_with_query.partition("?")
    authority = request.authority() or "localhost"
    host, _, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    scheme = request.scheme()
    url_scheme = "https" if isinstance(scheme, Scheme_Https) else "http"
    environ = {
        "REQUEST_METHOD": _method(request.method()),
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(path, encoding="latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": host,
        "SERVER_PORT": port or ("443" if url_scheme == "https" else "80"),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": url_scheme,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        # The body stream ends at the body's end (also without a Content-Length, e.g. chunked):
        # Werkzeug and others then read it to EOF instead of treating it as empty.
        "wsgi.input_terminated": True,
    }
    with request.headers() as headers:
        for name, value in headers.entries():
            key = name.upper().replace("-", "_")
            key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
            text = value.decode("latin-1")
            environ[key] = environ[key] + "," + text if key in environ else text
    environ.setdefault("HTTP_HOST", authority)
    if environ.get("HTTP_X_FORWARDED_PROTO") == "https":
        environ["wsgi.url_scheme"] = "https"
    return environ


class Response:
    """The wasi:http response: sent when the first body bytes (or the end) come."""

    def __init__(self, response_out):
        self._out = response_out
        self.status = None
        self.headers = None
        self._body = None
        self._stream = None

    def start(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self._body is not None:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        self.status, self.headers = status, headers
        return self.write

    def _send_headers(self):
        if self._body is not None:
            return
        if self.status is None:
            raise AssertionError("the WSGI app returned a body before calling start_response")
        code = int(self.status.split(" ", 1)[0])
        fields = Fields.from_list([(name.lower(), value.encode("latin-1")) for name, value in self.headers])
        response = OutgoingResponse(fields)
        response.set_status_code(code)
        self._body = response.body()
        self._stream = self._body.write()
        ResponseOutparam.set(self._out, Ok(response))

    def write(self, data):
        self._send_headers()
        for start in range(0, len(data), WRITE_SIZE):
            self._stream.blocking_write_and_flush(bytes(data[start : start + WRITE_SIZE]))

    def finish(self):
        self._send_headers()
        self._stream.__exit__(None, None, None)
        OutgoingBody.finish(self._body, None)

    @property
    def started(self):
        return self._body is not None


def _error(response_out, code, text):
    response = OutgoingResponse(Fields.from_list([("content-type", b"text/plain; charset=utf-8")]))
    response.set_status_code(code)
    body = response.body()
    ResponseOutparam.set(response_out, Ok(response))
    with body.write() as stream:
        stream.blocking_write_and_flush(text.encode())
    OutgoingBody.finish(body, None)


class IncomingHandler(exports.IncomingHandler):
    """The wasi:http export: one WSGI call per request."""

    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        _load_environment()
        environ = _environ(request)
        body = RequestBody(request.consume())
        environ["wsgi.input"] = body
        response = Response(response_out)
        result = None
        try:
            result = APPLICATION(environ, response.start)
            for chunk in result:
                if chunk:
                    response.write(chunk)
            response.finish()
        except Exception:
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            if not response.started:
                _error(response_out, 500, "Internal Server Error\n")
        finally:
            if hasattr(result, "close"):
                result.close()
            body.close()
            global _served
            _served += 1
            del environ, body, response, result
            if _served % COLLECT_ALL_EVERY == 0:
                gc.collect()
            elif _served % COLLECT_YOUNG_EVERY == 0:
                gc.collect(0)
