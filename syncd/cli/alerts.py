"""The delivery commands: ``deliver`` (one dispatcher pass, for cron and tests),
``deliveries`` (what is waiting, failed or disabled), ``webhook test`` and ``webhook secret``."""

from __future__ import annotations

import argparse
import base64
import json
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

from syncd.alerts import Dispatcher
from syncd.alerts.webhook import WebhookChannel, make_test_payload
from syncd.config.durations import parse_duration
from syncd.errors import ConfigError
from syncd.store import outbox
from syncd.store.alerts import new_event_id

if TYPE_CHECKING:
    from syncd.app import App

Add = Callable[..., argparse.ArgumentParser]


def register(add: Add) -> None:
    """Add ``deliver``, ``deliveries`` and ``webhook`` to the command line."""
    deliver = add("deliver", cmd_deliver, "deliver due alerts once (webhook, email) and exit")
    deliver.add_argument("--limit", type=int, default=1000,
                         help="at most this many deliveries per channel (default 1000)")
    deliver.add_argument("--wait", type=parse_duration, default=None, metavar="DURATION",
                         help="keep going while a retry is due within DURATION (e.g. 30s)")
    listing = add("deliveries", cmd_deliveries,
                  "list deliveries waiting for a retry, failed or disabled")
    listing.add_argument("--all", action="store_true", help="include delivered and skipped")
    listing.add_argument("--json", action="store_true")
    for command in (deliver, listing):
        command.set_defaults(scope="clinic")
    webhook = add("webhook", cmd_webhook_help,
                  "webhook endpoints: send a test event, make a secret")
    webhook.set_defaults(webhook_parser=webhook, scope="clinic")
    sub = webhook.add_subparsers(dest="webhook_command", metavar="SUBCOMMAND")
    test = sub.add_parser("test", help="send a signed test event to each endpoint and print "
                          "its answer")
    test.add_argument("--channel", default=None, help="only this one (webhook, webhook:1, ...)")
    test.set_defaults(handler=cmd_webhook_test)
    secret = sub.add_parser("secret", help="print a new random secret (whsec_...)")
    secret.set_defaults(handler=cmd_webhook_secret, needs_plan=False)


def cmd_deliver(app: App, args: argparse.Namespace) -> int:
    """One pass (or several, with ``--wait``); exit 1 when a channel could not be worked."""
    with Dispatcher(app, app.clock) as dispatcher:
        if args.wait is not None:
            reports = dispatcher.run_until_idle(args.wait, limit=args.limit)
        else:
            reports = [dispatcher.run_once(limit=args.limit)]
    for report in reports:
        if report.summaries:
            print(f"weekly summary queued: {', '.join(report.summaries)}")
        print(report.summary())
        for error in report.errors:
            print(f"  error: {error}")
    return 1 if any(r.errors for r in reports) else 0


def cmd_deliveries(app: App, args: argparse.Namespace) -> int:
    """List deliveries that need attention (or all of them)."""
    statuses = None if args.all else [outbox.PENDING, outbox.FAILED, outbox.DISABLED]
    with app.store.read() as tx:
        views = outbox.list_deliveries(tx, statuses=statuses)
    if args.json:
        print(json.dumps([v.as_dict() for v in views], indent=2))
        return 0
    if not views:
        print("nothing waiting, failed or disabled" if not args.all else "no deliveries")
    for v in views:
        when = (f", next attempt {v.next_attempt_at:%Y-%m-%d %H:%M:%S}Z"
                if v.status == outbox.PENDING and v.next_attempt_at else "")
        print(f"{v.status:9} {v.channel:10} {v.event_type:15} {v.alert_id or v.event_id}: "
              f"{v.attempts} attempt{'s' if v.attempts != 1 else ''}{when}"
              + (f"; last error: {v.last_error}" if v.last_error else ""))
    return 0


def cmd_webhook_help(app: App, args: argparse.Namespace) -> int:
    """``syncd webhook`` without a subcommand: show its help."""
    args.webhook_parser.print_help()
    return 2


def cmd_webhook_test(app: App, args: argparse.Namespace) -> int:
    """POST a signed ``test`` event to every webhook endpoint (or one) and print the answer;
    exit 1 unless every endpoint answered 2xx."""
    with Dispatcher(app, app.clock) as dispatcher:
        hooks = [c for c in dispatcher.channels if isinstance(c, WebhookChannel)]
        if args.channel:
            hooks = [c for c in hooks if c.name == args.channel]
        if not hooks:
            configured = ", ".join(c.name for c in dispatcher.channels) or "none"
            raise ConfigError([f"no webhook endpoint {args.channel or ''} configured "
                               f"(channels: {configured}); add a [webhook] section with a url"])
        ok = True
        for hook in hooks:
            event_id = new_event_id()
            outcome = hook.post(event_id, make_test_payload(app.athlete.name, event_id))
            answer = (f"{outcome.status_code}" if outcome.status_code is not None
                      else outcome.error or "no answer")
            signed = "" if hook.signed else " (unsigned: no secret configured)"
            print(f"{hook.name}: {answer} in {outcome.duration_s * 1000:.0f} ms, "
                  f"webhook-id {event_id}{signed}")
            if outcome.error and outcome.status_code is not None:
                print(f"  {outcome.error}")
            ok = ok and outcome.result.value == "delivered"
    return 0 if ok else 1


def cmd_webhook_secret(app: App, args: argparse.Namespace) -> int:
    """Print a fresh Standard Webhooks secret: 32 random bytes, base64, ``whsec_`` first."""
    print("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    return 0
