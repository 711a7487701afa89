"""Ctrl-C under `greentune measure`: the command sees exactly one SIGINT, in a terminal or not."""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import signal, sys, time
from pathlib import Path
count = 0
def on_int(signum, frame):
    global count
    count += 1
signal.signal(signal.SIGINT, on_int)
Path(sys.argv[1]).write_text("ready")
deadline = time.monotonic() + 120
while count == 0 and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(1.5)  # room for a second SIGINT, the bug this guards against
Path(sys.argv[2]).write_text(str(count))
"""
MEASURE = [sys.executable, "-c", "from greentune.cli.app import main; main()", "measure"]


def _wait_for(path: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _command(tmp_path: Path) -> list[str]:
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    return [
        *MEASURE,
        "--output",
        str(tmp_path / "out"),
        "--",
        sys.executable,
        str(child),
        str(tmp_path / "ready"),
        str(tmp_path / "count"),
    ]


def test_ctrl_c_in_a_terminal_reaches_the_command_once(tmp_path: Path) -> None:
    # pty.fork: measure runs as the session leader of a new terminal, in its foreground group, like at a shell
    command = _command(tmp_path)
    pid, terminal = pty.fork()
    if pid == 0:  # the child: become greentune measure
        os.execv(command[0], command)
    output = b""
    try:
        _wait_for(tmp_path / "ready")
        os.write(terminal, b"\x03")  # the terminal turns ^C into SIGINT for its whole foreground group
        while True:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            output += chunk
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(terminal)
    assert (tmp_path / "count").read_text() == "1", output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"Traceback" not in output


def test_sigint_to_measure_alone_is_forwarded_once(tmp_path: Path) -> None:
    # no terminal (a new session, as under nohup, CI or a scheduler): only measure gets the signal, so it passes it on
    process = subprocess.Popen(
        _command(tmp_path), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _wait_for(tmp_path / "ready")
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert (tmp_path / "count").read_text() == "1", stderr
    assert process.returncode == 0 and "Traceback" not in stderr
