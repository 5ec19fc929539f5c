"""Run the test news site in the foreground: ``python -m tests.site --port 8000``."""

from __future__ import annotations

import argparse

from .server import NewsSite


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, start the site, print its base URL and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.site", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    parser.add_argument("--generated", type=int, default=0, help="number of generated articles")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answers")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    site = NewsSite(
        host=args.host,
        port=args.port,
        generated=args.generated,
        delay=args.delay,
        verbose=args.verbose,
    )
    site.start()
    print(site.base_url, flush=True)
    try:
        site.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        site.stop()


if __name__ == "__main__":
    main()
