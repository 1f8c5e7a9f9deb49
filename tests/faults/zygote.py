"""A zygote for ``syncd run``: one process that imports syncd once, then forks a fresh
``syncd run`` for each request, so that a loop of a hundred start-and-SIGKILL cycles does not
pay two seconds of imports each time. The child runs ``syncd.cli.main`` exactly as the console
script does, in its own process, with its output in a log file.

Protocol: one JSON object a line on stdin, one answer a line on stdout.
``{"op": "start", "argv": [...], "log": PATH, "env": {...}}`` -> ``{"pid": N}``;
``{"op": "reap", "pid": N}`` -> ``{"status": S}`` (waits for the child to end).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any


def preload() -> None:
    """Import what ``syncd run`` imports on its way up, lazily loaded parts included."""
    import uvicorn.lifespan.off
    import uvicorn.loops.asyncio
    import uvicorn.protocols.http.h11_impl  # noqa: F401

    import connectors.files
    import connectors.garmin
    import connectors.strava  # noqa: F401
    import syncd.alerts.summary
    import syncd.cli.main
    import syncd.runtime.daemon
    import syncd.store.schema

    syncd.cli.main.build_parser()


def child(request: dict[str, Any]) -> None:
    """Become ``syncd run``: the log file as stdout and stderr, no stdin."""
    import syncd.cli.main

    code = 70
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.environ.update(request.get("env", {}))
        code = syncd.cli.main.main(request["argv"])
    except SystemExit as leaving:  # argparse's --help and errors
        code = leaving.code if isinstance(leaving.code, int) else 2
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    """Answer requests until stdin closes."""
    preload()
    # Forking a process that runs threads copies their locks in whatever state they are in.
    assert threading.active_count() == 1, threading.enumerate()
    print(json.dumps({"ready": os.getpid()}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "start":
            pid = os.fork()
            if pid == 0:
                child(request)
            answer: dict[str, Any] = {"pid": pid}
        else:
            _, status = os.waitpid(request["pid"], 0)
            answer = {"status": status}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()
