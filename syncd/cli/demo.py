"""``./dev demo``: ``syncd run`` on its embedded default, with no account and no network.

Runs the daemon on ``examples/syncd.toml``: SQLite in ``./state/demo``, the files source on the
bundled 8-week sample history, and a webhook to a receiver on 127.0.0.1 started here, which
checks each alert's Standard Webhooks signature and prints it. The dashboard URL is printed
first; Ctrl-C stops everything cleanly. ``--fresh`` starts from an empty database
(``$SYNCD_DEMO_STATE`` puts it somewhere else than ``./state/demo``).

``./dev demo COMMAND ...`` runs any other syncd command on the demo's configuration and
database (``./dev demo status``, ``./dev demo alerts --all``): the demo keeps its database in its
own state folder, which a plain ``syncd --config examples/syncd.toml`` would not look in.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from syncd.cli.main import main as syncd_main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "syncd.toml"


class AlertPrinter(ThreadingHTTPServer):
    """A webhook receiver that verifies each delivery and prints the alert in one or two
    lines, as a runner's phone would show it."""

    daemon_threads = True

    def __init__(self, url: str, secret: str) -> None:
        parts = urlsplit(url)
        super().__init__((parts.hostname or "127.0.0.1", parts.port or 80), _Receiver)
        self.verifier = Webhook(secret)
        self.lock = threading.Lock()

    def show(self, payload: dict[str, Any]) -> None:
        """Print one delivered event."""
        data = payload.get("data", {})
        kind = payload.get("type", "?")
        with self.lock:
            if kind == "alert.raised":
                print(f"  >> webhook: {str(data.get('severity', '')).upper()} "
                      f"{data.get('rule')}: {data.get('message')}\n"
                      f"     {data.get('advice')}", flush=True)
            else:
                what = data.get("message") or data.get("rule") or ""
                print(f"  >> webhook: {kind}: {what}", flush=True)


class _Receiver(BaseHTTPRequestHandler):
    server: AlertPrinter

    def do_POST(self) -> None:
        """Verify the signature, print the alert, answer 204 (or 400 when unsigned)."""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = self.server.verifier.verify(body, dict(self.headers.items()))
        except WebhookVerificationError:
            self.send_response(400)
            self.end_headers()
            return
        self.server.show(payload if isinstance(payload, dict) else json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the alert itself is the output."""


def main(argv: list[str]) -> int:
    """Run the demo until Ctrl-C, or one syncd command on the demo's data; returns the
    command's exit code."""
    state = Path(os.environ.get("SYNCD_DEMO_STATE") or ROOT / "state" / "demo")
    if "--fresh" in argv and state.exists():
        shutil.rmtree(state)
    state.mkdir(parents=True, exist_ok=True)
    os.environ["STATE_DIRECTORY"] = str(state)
    command = [arg for arg in argv if arg != "--fresh"]
    if command:
        return syncd_main(["--config", str(CONFIG), *command])
    settings = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    hook, listen = settings["webhook"], settings.get("server", {}).get("listen",
                                                                        "127.0.0.1:8765")
    try:
        receiver = AlertPrinter(hook["url"], hook["secret"])
    except OSError as err:
        print(f"demo: cannot receive webhooks on {hook['url']}: {err.strerror}; stop what uses "
              "that port", file=sys.stderr)
        return 1
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    print(f"syncd demo: the sample runner's 8 weeks, from {CONFIG.relative_to(ROOT)}\n"
          f"  dashboard: http://{listen}/   (JSON: /status /alerts /weeks, metrics: /metrics)\n"
          f"  alerts arrive as signed webhooks on {hook['url']} and print below\n"
          "  other commands on the demo's data, from another terminal: ./dev demo status, "
          "./dev demo alerts, ./dev demo plan\n"
          "  Ctrl-C stops it\n", flush=True)
    try:
        return syncd_main(["--config", str(CONFIG), "run"])
    finally:
        receiver.shutdown()
        receiver.server_close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
