"""The `ccs-lithic-emulator` command: starts, logs its URL, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_command_serves_until_sigterm(api_key):
    process = subprocess.Popen(
        [sys.executable, "-m", "app.lithic.emulator.server", "--port", "0", "--api-key", api_key],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        match = None
        for _ in range(20):
            line = process.stderr.readline()
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if match or not line:
                break
        assert match, line
        url = match.group(1)

        assert requests.get(f"{url}/v1/status", timeout=5).json() == {"message": "OK"}
        assert requests.get(f"{url}/v1/cards", headers={"Authorization": api_key}, timeout=5).ok

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
