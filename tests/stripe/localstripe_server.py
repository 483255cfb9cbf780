"""Run localstripe (a stateful Stripe fake, GPL, test-only) on loopback with its own data file.

Its own launcher binds every interface and keeps its state in /tmp/localstripe.pickle;
this one binds 127.0.0.1 and keeps state in memory only.

    python -m tests.stripe.localstripe_server --port 8420
"""

import argparse

from aiohttp import web
from localstripe import resources, server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    resources.Store.try_load_from_disk = lambda self: None
    resources.Store.dump_to_disk = lambda self: None
    web.run_app(server.app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
