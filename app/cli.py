"""`ccs`: the operator's command line (migrations, dev server, tokens, outbox, dead letters)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import signal
import sys
import threading

from app import db as database
from app.auth import ROLES, mint_token
from app.config import Config, ConfigError
from app.serving import make_threaded_server

logger = logging.getLogger(__name__)


def cmd_migrate(args) -> int:
    applied = database.migrate(Config.from_env())
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def cmd_token(args) -> int:
    print(mint_token(Config.from_env(), args.subject, args.role, args.ttl))
    return 0


def cmd_dev(args) -> int:
    """Everything in one process: SQLite, in-process broker and worker, emulator, clock."""
    from app import clock, runtime
    from app.web import create_app

    config = Config.from_env()
    rt = runtime.bootstrap(config)
    database.migrate(config)
    runtime.start_embedded_worker(rt)
    clock.start_background(rt)
    server = make_threaded_server(create_app(config), args.host, config.port)
    stopped = threading.Event()

    def stop(signum, _frame):
        if not stopped.is_set():
            stopped.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"credit-card-service listening on http://{args.host}:{config.port}/graphql", flush=True)
    server.serve_forever()
    rt.stop()
    return 0


def cmd_relay(args) -> int:
    from app.messaging import outbox
    from app.runtime import bootstrap

    bootstrap()
    with database.connection():
        count = outbox.relay(older_than=dt.timedelta(seconds=args.min_age))
        print(f"published {count} message(s)")
        if args.redeliver_after is not None:
            again = outbox.redeliver(older_than=dt.timedelta(seconds=args.redeliver_after))
            print(f"redelivered {again} unprocessed message(s)")
    return 0


def cmd_dead_letters(args) -> int:
    from app.messaging import dead_letters
    from app.runtime import bootstrap

    bootstrap()
    with database.connection():
        if args.action == "list":
            for letter in dead_letters.list_dead_letters(args.limit, args.all):
                print(
                    json.dumps(
                        {
                            "id": letter.id,
                            "message_id": letter.message_id,
                            "actor": letter.actor_name,
                            "error_type": letter.error_type,
                            "error": letter.error,
                            "retries": letter.retries,
                            "failed_at": letter.failed_at.isoformat(),
                            "replayed_at": letter.replayed_at and letter.replayed_at.isoformat(),
                        }
                    )
                )
        elif args.action == "replay":
            print(dead_letters.replay(args.id))
        elif args.action == "purge":
            print(f"purged {dead_letters.purge(args.id)}")
    return 0


def cmd_ledger_check(args) -> int:
    """Exit non-zero when any account's ledger disagrees with its totals or its events."""
    from app.runtime import bootstrap
    from app.transactions.ledger import check_invariants

    bootstrap()
    with database.connection():
        problems = check_invariants()
    for problem in problems:
        print(problem)
    print(f"ledger check: {len(problems)} problem(s)")
    return 1 if problems else 0


def cmd_asa_enroll(args) -> int:
    """Point Lithic's Auth Stream Access at our endpoint."""
    from app.runtime import bootstrap

    lithic = bootstrap().lithic
    lithic.request(
        "POST", "/v1/responder_endpoints", json={"type": "AUTH_STREAM_ACCESS", "url": args.url}
    )
    # The secret is never printed: web processes read it from Lithic at start-up unless
    # LITHIC_ASA_SECRET is set.
    lithic.request("GET", "/v1/auth_stream/secret")
    print(f"enrolled {args.url} for Auth Stream Access")
    return 0


def cmd_demo(args) -> int:
    from app import demo

    return demo.main()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ccs", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply pending database migrations").set_defaults(
        run=cmd_migrate
    )

    token = sub.add_parser("token", help="mint a development bearer token")
    token.add_argument("subject", help="customer id (or operator/service name)")
    token.add_argument("--role", choices=ROLES, default="customer")
    token.add_argument("--ttl", type=int, default=None, help="seconds")
    token.set_defaults(run=cmd_token)

    dev = sub.add_parser("dev", help="run the embedded default in one process")
    dev.add_argument("--host", default="127.0.0.1")
    dev.set_defaults(run=cmd_dev)

    relay = sub.add_parser("relay", help="publish outbox messages left unsent")
    relay.add_argument("--min-age", type=float, default=5.0, help="seconds since written")
    relay.add_argument(
        "--redeliver-after",
        type=float,
        default=None,
        help="also re-send messages published this many seconds ago and never processed",
    )
    relay.set_defaults(run=cmd_relay)

    sub.add_parser("demo", help="run the card-lifecycle demo against $CCS_URL").set_defaults(
        run=cmd_demo
    )

    sub.add_parser(
        "ledger-check", help="check every account's ledger invariants (exit 1 on a mismatch)"
    ).set_defaults(run=cmd_ledger_check)

    enroll = sub.add_parser("asa-enroll", help="enrol our ASA endpoint at Lithic")
    enroll.add_argument("url", help="public URL of POST /asa/lithic")
    enroll.set_defaults(run=cmd_asa_enroll)

    dl = sub.add_parser("dead-letters", help="list, replay or purge dead letters")
    dl.add_argument("action", choices=("list", "replay", "purge"))
    dl.add_argument("id", nargs="?", help="dead letter id (replay, purge)")
    dl.add_argument("--limit", type=int, default=100)
    dl.add_argument("--all", action="store_true", help="include replayed letters")
    dl.set_defaults(run=cmd_dead_letters)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "action", None) == "replay" and not args.id:
        parser().error("replay needs a dead letter id")
    try:
        return args.run(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
