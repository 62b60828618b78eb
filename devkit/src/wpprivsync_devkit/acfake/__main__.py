"""Run the fake ActiveCampaign server: ``python -m wpprivsync_devkit.acfake --port 8025 --token T``.

Seeds lists given with ``--list NAME`` (ids 1, 2, … in order), prints the base URL and serves
until interrupted (SIGINT or SIGTERM)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .server import ActiveCampaignServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wpprivsync_devkit.acfake", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--token", default=os.environ.get("ACFAKE_TOKEN"),
                        help="the Api-Token clients must send (default: $ACFAKE_TOKEN)")
    parser.add_argument("--rate", type=int, default=5, help="requests per second per account (0: unlimited)")
    parser.add_argument("--list", action="append", default=[], metavar="NAME", help="seed a list (repeatable)")
    parser.add_argument("--import-delay", type=float, default=0.0, help="seconds each bulk import takes")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("give --token or set ACFAKE_TOKEN")

    server = ActiveCampaignServer(port=args.port, token=args.token, rate=args.rate, host=args.host,
                                  import_delay_s=args.import_delay)
    for name in args.list:
        server.add_list(name)
    server.start()
    print(f"fake ActiveCampaign serving {server.url}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
