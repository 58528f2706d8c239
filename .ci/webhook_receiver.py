"""Webhook deliveries checked by an independent implementation: the Standard
Webhooks reference library for Python verifies what agentledger sends.

    python webhook_receiver.py BASE_URL ADMIN_KEY

Starts a receiver on a free loopback port (the server must run with
--allow-loopback-targets), subscribes it to TaskCreated, sends a ping and
creates a task, and waits for both deliveries; each must verify and carry
the event it announces. Exits non-zero otherwise.
"""

import json
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook

received = []


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        received.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def call(base, key, method, path, body):
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def main(base, key):
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    made = call(base, key, "POST", "/api/v1/webhooks", {"url": url, "event_types": ["TaskCreated"]})
    secret, webhook_id = made["secret"], made["webhook_id"]
    call(base, key, "POST", f"/api/v1/webhooks/{webhook_id}/ping", None)
    call(base, key, "POST", "/api/v1/tasks", {"task_type": "contract-check"})
    deadline = time.time() + 20
    while len(received) < 2 and time.time() < deadline:
        time.sleep(0.1)
    if len(received) < 2:
        print(f"{len(received)} of 2 deliveries arrived", file=sys.stderr)
        return 1
    seen = set()
    for headers, body in received:
        event = Webhook(secret).verify(body, headers)  # raises when it does not verify
        seen.add(event["type"])
        print(f"verified {headers['webhook-id']}: {event['type']}")
    if seen != {"WebhookPinged", "TaskCreated"}:
        print(f"unexpected deliveries: {seen}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
