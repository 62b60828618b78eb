"""Run the local WebinarJam server: ``python -m wpprivsync_devkit.wjfake --port 8026 --key K``.

Seeds a webinar given with ``--webinar ID:NAME:YYYY-MM-DD HH:MM`` (repeatable), prints the base
URL and serves until interrupted (SIGINT or SIGTERM)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .server import WebinarJamServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wpprivsync_devkit.wjfake", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument("--key", default=os.environ.get("WJFAKE_KEY"),
                        help="the api_key clients must send (default: $WJFAKE_KEY)")
    parser.add_argument("--webinar", action="append", default=[], metavar="ID:NAME:DATE",
                        help="seed a webinar with one session (repeatable)")
    args = parser.parse_args(argv)
    if not args.key:
        parser.error("give --key or set WJFAKE_KEY")
    server = WebinarJamServer(port=args.port, api_key=args.key, host=args.host)
    for spec in args.webinar:
        try:
            wid, name, date = spec.split(":", 2)
            server.add_webinar(int(wid), name, [date])
        except ValueError:
            parser.error(f"--webinar {spec!r}: expected ID:NAME:YYYY-MM-DD HH:MM")
    server.start()
    print(f"local WebinarJam serving {server.url}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
