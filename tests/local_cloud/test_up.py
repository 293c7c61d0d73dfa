"""`python -m local_cloud up` in a real process: banner, then a clean stop on a signal."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from local_cloud.cli import main
from tests.local_cloud.conftest import free_port, port_is_free


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_up_serves_then_stops_cleanly_on_a_signal(sample_assembly, tmp_path, capsys, signum):
    http_port, aws_port, edge_port = free_port(), free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "local_cloud", "up",
            "--assembly", str(sample_assembly),
            "--http-port", str(http_port),
            "--aws-port", str(aws_port),
            "--edge-port", str(edge_port),
            "--log-dir", str(tmp_path / "logs"),
            "--state-file", str(tmp_path / "state.json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        banner = "".join(lines)
        assert f"http://127.0.0.1:{http_port}/svc/api" in banner, banner
        assert f"http://127.0.0.1:{edge_port}/svc/api" in banner, banner
        with pytest.raises(urllib.error.HTTPError) as teapot:
            urllib.request.urlopen(f"http://127.0.0.1:{http_port}/teapot")
        assert teapot.value.code == 418
        shown = banner[banner.index("local cloud ready") :]
        assert len(shown.splitlines()) + 1 <= 30  # and the blank line above it
        # the helper commands find the running cloud's region from its state file
        assert '"region": "us-east-1"' in (tmp_path / "state.json").read_text()
        # and `status` prints the full report up wrote, with the live part
        assert main(["status", "--state-file", str(tmp_path / "state.json")]) == 0
        status = capsys.readouterr().out
        assert "AWS::SQS::QueuePolicy" in status
        assert "live:" in status
    finally:
        process.send_signal(signum)
        rest, _ = process.communicate(timeout=30)

    assert process.returncode == 0, rest
    assert "stopped" in rest
    assert port_is_free(http_port)
    assert port_is_free(aws_port)
    assert port_is_free(edge_port)
    assert not (tmp_path / "state.json").exists()
    assert (tmp_path / "status.txt").exists()  # the last run's report stays
