"""The benchmarks' AWS emulator: moto's server with the seams the tests and ``make dev`` run moto with
(local/moto_seams.py) and, for the campaign fan-out's 100,000 customers and queue messages,
bench/moto_index.py and bench/moto_queue.py.

``python -m bench.moto_server -H 127.0.0.1 -p 5000`` (moto.server's arguments)."""

from __future__ import annotations

import sys

from moto.server import main

from bench import moto_index, moto_queue
from local import moto_seams

if __name__ == "__main__":
    moto_seams.install()
    moto_index.install()
    moto_queue.install()
    main(sys.argv[1:])
