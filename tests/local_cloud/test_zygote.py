"""Zygotes: children forked from a preloaded interpreter behave as spawned ones did."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from local_cloud.aws import FAKE_CREDENTIALS
from local_cloud.services import emulator as emulation
from local_cloud.services.emulator import start_emulator
from local_cloud.services.zygote import (
    Zygote,
    ZygoteChild,
    enabled,
    get_zygote,
    start_process,
)
from tests.local_cloud import zygote_targets as targets

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not enabled(), reason="zygotes are off (LOCAL_ZYGOTE=0)")


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    running = Zygote("tests", ["json"], sys.path)
    yield running
    running.close()


def gone(pid: int) -> bool:
    """Exited (a zombie no one reaps counts: it runs nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z"


def wait_until(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_child_starts_with_the_parent_s_current_environment_path_and_directory(
    zygote, monkeypatch, tmp_path
):
    # all changed after the zygote started: a spawned child would see them, so must this one
    monkeypatch.setenv("ZYGOTE_TEST", "set later")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    parent, child = multiprocessing.Pipe()
    process = zygote.start(targets.report, (child,), "report")
    child.close()
    seen = parent.recv()
    process.join(10)

    assert isinstance(process, ZygoteChild)
    assert seen["variable"] == "set later"
    assert seen["cwd"] == str(tmp_path)
    assert seen["path"] == sys.path
    assert seen["argv"] == sys.argv
    assert seen["process"] == ("report", True)  # named and daemonic, as multiprocessing's
    assert process.exitcode == 0


def test_exit_codes_and_signals_read_as_a_spawned_process_s(zygote, capfd):
    assert wait_exit(zygote.start(targets.exit_with, (3,), "three")) == 3
    assert wait_exit(zygote.start(targets.exit_with, (None,), "none")) == 0
    assert wait_exit(zygote.start(targets.exit_with, ("bye",), "text")) == 1
    assert wait_exit(zygote.start(targets.fail, (), "failing")) == 1
    err = capfd.readouterr().err
    assert "Process failing:" in err
    assert "ValueError: broken on purpose" in err

    parent, child = multiprocessing.Pipe()
    held = zygote.start(targets.hold, (child,), "held")
    child.close()
    held.join(0.2)
    assert held.is_alive()
    assert held.exitcode is None
    held.terminate()
    held.join(10)
    assert not held.is_alive()
    assert held.exitcode == -signal.SIGTERM
    assert parent.poll(5)  # its end of the pipe closed with it
    held.kill()  # nothing left to signal: a no-op, as for a spawned process

    killed = zygote.start(targets.hold, (multiprocessing.Pipe()[1],), "killed")
    killed.kill()
    assert wait_exit(killed) == -signal.SIGKILL


def wait_exit(process: ZygoteChild) -> int | None:
    process.join(10)
    return process.exitcode


def test_children_do_not_repeat_each_other_s_random_numbers(zygote):
    numbers = set()
    for _ in range(3):
        parent, child = multiprocessing.Pipe()
        zygote.start(targets.report, (child,), "random").join(10)
        child.close()
        numbers.add(parent.recv()["random"])
    assert len(numbers) == 3


def test_output_goes_where_the_parent_s_goes_now(zygote, capfd):
    # pytest captured fd 1 after the zygote started: the child writes into the capture
    wait_exit(zygote.start(targets.say, ("said by the child",), "say"))
    assert "said by the child" in capfd.readouterr().out


def test_a_changed_environment_gets_a_new_zygote_and_the_old_one_exits_after_its_last_child(
    monkeypatch,
):
    first = get_zygote("tests-environ", ["json"], sys.path)
    assert first is not None
    assert get_zygote("tests-environ", ["json"], sys.path) is first
    _, child = multiprocessing.Pipe()
    held = first.start(targets.hold, (child,), "held")
    child.close()

    monkeypatch.setenv("ZYGOTE_TEST", "imports may read this")
    second = get_zygote("tests-environ", ["json"], sys.path)
    assert second is not None
    assert second is not first
    assert first.running  # still reports its child's exit code
    held.terminate()
    assert wait_exit(held) == -signal.SIGTERM
    assert wait_until(lambda: not first.running)
    second.close()


def test_with_zygotes_off_processes_are_spawned(monkeypatch):
    monkeypatch.setenv("LOCAL_ZYGOTE", "0")
    assert get_zygote("tests-off", ["json"], sys.path) is None
    process = start_process(targets.exit_with, (4,), name="spawned", zygote=None)
    assert isinstance(process, multiprocessing.process.BaseProcess)
    process.join(30)
    assert process.exitcode == 4


SCRIPT = """
import multiprocessing.connection, os, sys, time
from local_cloud.services.zygote import Zygote
from tests.local_cloud import zygote_targets

zygote = Zygote("script", ["json"], sys.path)
conn = multiprocessing.connection.Connection(int(sys.argv[1]))
child = zygote.start(zygote_targets.hold, (conn,), "held")
conn.close()
print(zygote.pid, child.pid, flush=True)
if sys.argv[2] == "wait":
    time.sleep(120)
"""


@pytest.mark.parametrize("ending", ["killed", "normal exit"])
def test_nothing_is_left_running_when_the_parent_goes(tmp_path, ending):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(SCRIPT))
    reader, writer = multiprocessing.Pipe(duplex=False)
    parent = subprocess.Popen(
        [sys.executable, str(script), str(writer.fileno()), "wait" if ending == "killed" else ""],
        pass_fds=(writer.fileno(),),
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    writer.close()
    assert parent.stdout is not None
    zygote_pid, child_pid = map(int, parent.stdout.readline().split())
    if ending == "killed":
        parent.kill()
    parent.wait(30)

    assert reader.poll(15)  # the child's end of the pipe closed: it has gone
    with pytest.raises(EOFError):
        reader.recv()
    assert wait_until(lambda: gone(child_pid))
    assert wait_until(lambda: gone(zygote_pid))


def test_emulations_are_forked_with_fresh_state_and_their_own_random_ids():
    first, second = start_emulator(), start_emulator()
    try:
        assert isinstance(first.process, ZygoteChild)
        ec2 = [
            boto3.client("ec2", endpoint_url=e.url, region_name="us-east-1", **FAKE_CREDENTIALS)
            for e in (first, second)
        ]
        vpcs = [c.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"] for c in ec2]
        assert vpcs[0] != vpcs[1]  # moto's generator is reseeded in each emulation
        assert vpcs[0] not in {v["VpcId"] for v in ec2[1].describe_vpcs()["Vpcs"]}
    finally:
        first.stop()
        second.stop()
    assert first.process.exitcode == 0

    # the zygote itself has never created a moto backend
    zygote = get_zygote("emulation", emulation.PRELOAD, sys.path)
    assert zygote is not None
    assert "moto" in zygote.preloaded
    parent, child = multiprocessing.Pipe()
    zygote.start(targets.count_moto_backends, (child,), "count").join(30)
    child.close()
    assert parent.recv() == 0


def test_emulations_start_with_the_emulated_services_models_parsed():
    zygote = get_zygote("emulation", emulation.PRELOAD, sys.path)
    assert zygote is not None
    parent, child = multiprocessing.Pipe()
    zygote.start(targets.parsed_service_models, (child,), "models").join(30)
    child.close()
    parsed, services = parent.recv()
    assert parsed == services  # the zygote parsed them; the child has not had to
