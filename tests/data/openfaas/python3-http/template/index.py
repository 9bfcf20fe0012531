# The entry point of OpenFaaS's python3-http template (openfaas/python-flask-template, MIT):
# a Flask app that turns every request into an `event` and a `context`, calls
# function/handler.py's handle(event, context) and turns its answer (a dict with statusCode,
# body, headers, or a plain value) into the HTTP response, served by waitress behind the
# watchdog. Written for vsbench's tests with the template's structure and behaviour.
import os

from flask import Flask, request
from function import handler
from waitress import serve

app = Flask(__name__)


class Event:
    def __init__(self):
        self.body = request.get_data()
        self.headers = request.headers
        self.method = request.method
        self.query = request.args
        self.path = request.path


class Context:
    def __init__(self):
        self.hostname = os.getenv("HOSTNAME", "localhost")


def format_status_code(res):
    return res.get("statusCode", 200) if isinstance(res, dict) else 200


def format_body(res, content_type):
    body = res.get("body", "") if isinstance(res, dict) else res
    if content_type == "application/octet-stream":
        return body
    return str(body) if not isinstance(body, (dict, list)) else body


def format_headers(res):
    return res.get("headers", {}) if isinstance(res, dict) else {}


def get_content_type(res):
    return format_headers(res).get("Content-Type", "")


def format_response(res):
    if res is None:
        return ("", 200)
    content_type = get_content_type(res)
    return (format_body(res, content_type), format_status_code(res), format_headers(res))


@app.route("/", defaults={"path": ""}, methods=["GET", "PUT", "POST", "PATCH", "DELETE"])
@app.route("/<path:path>", methods=["GET", "PUT", "POST", "PATCH", "DELETE"])
def call_handler(path):
    event = Event()
    context = Context()
    res = handler.handle(event, context)
    return format_response(res)


if __name__ == "__main__":
    serve(app, host="0.0.0.0", port=5000)
