"""``python -m bench [name…]``: run every benchmark, or the named ones.

The process pins itself to core 1 and acts as the load client; every server
runs pinned to core 0 (see ``bench/common.py``).
"""

from __future__ import annotations

import argparse
import importlib
import sys

import uvloop

from bench.common import CLIENT_CORE, boost, pin, raise_nofile

BENCHMARKS = ("idle", "fanout", "chat", "history", "retention", "scale")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []],
                        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    args = parser.parse_args()
    raise_nofile()
    pin(CLIENT_CORE)
    boost()
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        try:
            uvloop.run(module.run())
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
