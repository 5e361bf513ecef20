"""A Flask app as a paas wasm dyno, unchanged from what gunicorn would serve."""

import os

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/")
def hello():
    return f"Hello, {os.environ.get('GREETING_NAME', 'world')}, from Flask!\n"


@app.post("/echo")
def echo():
    return request.get_data(), 200, {"content-type": request.content_type or "application/octet-stream"}


@app.get("/headers")
def headers():
    return jsonify({name.lower(): value for name, value in request.headers.items()})


@app.route("/form", methods=["GET", "POST"])
def form():
    if request.method == "POST":
        return f"Thanks, {request.form['name']}!\n"
    return '<form method="post"><input name="name"><button>Send</button></form>\n'


@app.get("/boom")
def boom():
    raise RuntimeError("boom")
