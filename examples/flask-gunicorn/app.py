"""A Flask app on gunicorn that runs as a native dyno: ujson ships only a C extension, which a
WebAssembly component cannot load, so the python buildpack builds a virtualenv instead."""

import os
import socket

import ujson
from flask import Flask, request

app = Flask(__name__)


@app.get("/")
def hello():
    print(f"flask-gunicorn: GET / from {request.headers.get('user-agent', '?')}", flush=True)
    return f"Hello, {os.environ.get('GREETING_NAME', 'world')}, from Flask on gunicorn!\n"


@app.get("/dyno")
def dyno():
    return ujson.dumps({"dyno": os.environ.get("DYNO"), "host": socket.gethostname(), "pid": os.getpid()}) + "\n"


@app.post("/json")
def json_echo():
    body = ujson.loads(request.get_data())
    return ujson.dumps({"received": body}), 200, {"content-type": "application/json"}
