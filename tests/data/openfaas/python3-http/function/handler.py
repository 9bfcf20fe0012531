# A function as `faas-cli new --lang python3-http` scaffolds it: handle(event, context).
# It echoes what reached it, so tests can see that method, path, query, headers and body
# pass through the gateway unchanged, and it reads an OpenFaaS secret when asked to.
import json
import os


def handle(event, context):
    body = event.body.decode(errors="replace")
    secret = None
    name = event.query.get("secret")
    if name:
        mount = os.getenv("secret_mount_path", "/var/openfaas/secrets")
        try:
            with open(os.path.join(mount, name)) as fh:
                secret = fh.read()
        except OSError as exc:
            secret = f"unreadable: {exc}"
    answer = {"method": event.method, "path": event.path, "query": dict(event.query),
              "body": body, "header": event.headers.get("X-Test-Header"),
              "call_id": event.headers.get("X-Call-Id"), "hostname": context.hostname,
              "secret": secret}
    status = int(event.query.get("status", "200"))
    return {"statusCode": status, "body": json.dumps(answer),
            "headers": {"Content-Type": "application/json", "X-Echo": "1"}}
