"""Run the scripted LLM server as a process: `python -m tests.llm_server --script FILE.json [--port N]`.

Prints `LISTENING http://127.0.0.1:PORT` on stdout (flushed) once it accepts connections, then serves
until SIGTERM/SIGINT. With `--record FILE.jsonl` every request is appended to FILE as one JSON line
(method, path, query, headers, body, format, stream, serial). More replies can be appended while it runs
with `POST /__scripted/replies`; `GET /__scripted/requests` returns the record.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from tests.llm_server.script import Script, load
from tests.llm_server.server import RecordedRequest, ServerHandle


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.llm_server", description=__doc__.splitlines()[0])
    ap.add_argument("--script", type=Path, help="the script (JSON); none: start empty, push replies later")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: an ephemeral one)")
    ap.add_argument("--record", type=Path, help="append every request to this file as JSON lines")
    opts = ap.parse_args(argv)
    try:
        script = load(opts.script) if opts.script else Script([])
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    record_lock = threading.Lock()

    def on_request(request: RecordedRequest) -> None:
        if opts.record is None:
            return
        line = json.dumps(request.to_dict(), ensure_ascii=False)
        with record_lock, opts.record.open("a") as fh:
            fh.write(line + "\n")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = ServerHandle(script, port=opts.port, on_request=on_request)
    try:
        print(f"LISTENING {server.base_url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
