"""A port already taken stops ``syncd run`` before READY, with one line saying what to do."""

from __future__ import annotations

import socket
from pathlib import Path

from .support import NotifySocket, start_daemon, write_config


def test_a_busy_port_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        daemon = start_daemon(write_config(tmp_path, port), port,
                              env={"NOTIFY_SOCKET": str(notify.path)})
        try:
            assert daemon.process.wait(60) == 2
        finally:
            daemon.stop()
            notify.close()
    last = daemon.log_path.read_text().strip().splitlines()[-1]
    assert last == (f"syncd: cannot listen on 127.0.0.1:{port}: Address already in use; stop "
                    "what uses the port or change [server] listen")
    assert notify.times("READY=1") == []
