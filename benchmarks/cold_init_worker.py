"""pyperf script: the CPU time of fresh processes, one benchmark per command.

    python benchmarks/cold_init_worker.py --commands commands.json [--reverse] \
        --append out.json --processes 1 --values 3 --warmups 1 --loops 1

``commands.json`` is a list of ``{"name", "python", "code", "environment"}``. Each value
is the user + system CPU time of ``python -c code`` run in a new process with exactly that
environment (``os.wait4``'s resource usage), so other work on a shared machine, which
stretches wall time, barely moves it. pyperf runs the workers, warm-ups and values and
keeps the results (``--append`` adds a round to the file); benchmarks/cold_init.py drives it.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import pyperf


def cpu_seconds(loops: int, command: dict[str, Any]) -> float:
    """CPU seconds of ``loops`` runs of the command, each in a fresh process."""
    python = command["python"]
    total = 0.0
    for _ in range(loops):
        pid = os.posix_spawn(python, [python, "-c", command["code"]], command["environment"])
        _, status, usage = os.wait4(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{command['name']} exited with status {status}")
        total += usage.ru_utime + usage.ru_stime
    return total


def add_cmdline_args(cmd: list[str], args: argparse.Namespace) -> None:
    """What a pyperf worker process is given on top of pyperf's own options."""
    cmd.extend(["--commands", args.commands])
    if args.reverse:
        cmd.append("--reverse")


def main() -> None:
    runner = pyperf.Runner(add_cmdline_args=add_cmdline_args)
    runner.argparser.add_argument("--commands", required=True)
    runner.argparser.add_argument("--reverse", action="store_true")
    args = runner.parse_args()
    commands = json.loads(Path(args.commands).read_text(encoding="utf-8"))
    for command in reversed(commands) if args.reverse else commands:
        runner.bench_time_func(command["name"], cpu_seconds, command)


if __name__ == "__main__":
    main()
