"""Cold init of every function against its floor: fresh processes, timed by pyperf.

A function's cold init is what a new execution environment runs before its first event
can be handled: importing the handler module, reading the settings and building the AWS
clients (``get_settings()`` and ``get_service()``, which the first invocation would call).
Its floor is the part no Python function calling the same services can avoid: importing
boto3 and creating the same clients with their defaults. The edge function uses no AWS
SDK, so its floor is a bare interpreter (``python -c pass``).

Each command is a fresh ``.venv-lambda`` interpreter (benchmarks/runtime.py) started by
``pyperf command``, with the code directory and the shared layer on PYTHONPATH as Lambda
puts them on sys.path, the variables the compute stack sets, fake credentials and an
empty HOME. Rounds interleave every command (alternating their order), so each sees the
same share of the machine's noise; a figure is the median of every value of every round.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pyperf

from benchmarks.report import Figure, Row, Section
from benchmarks.runtime import ROOT, lambda_python

INIT = "import handler; handler.get_settings(); handler.get_service()"
EDGE_INIT = "import handler; handler.get_gate()"
BASE_ENVIRONMENT: Mapping[str, str] = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "ASIABENCHMARK",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_SESSION_TOKEN": "benchmark",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "POWERTOOLS_METRICS_NAMESPACE": "Benchmark",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "LC_ALL": "C.UTF-8",
}
# A verifying edge configuration (the heavier of the two the stack can write).
EDGE_CONFIG = {
    "version": 1,
    "auth": {
        "issuer": "https://issuer.example",
        "audience": "orders",
        "jwks_url": "https://issuer.example/.well-known/jwks.json",
        "algorithms": ["RS256"],
        "required_scope": None,
        "jwks_cache_seconds": 600,
        "leeway_seconds": 60,
    },
}


@dataclass(frozen=True)
class Function:
    """A function as its cold init sees it: code directory, variables, client services."""

    name: str
    code: str  # directory under lambdas/
    clients: tuple[str, ...]  # the services its init builds clients for
    environment: Mapping[str, str] = field(default_factory=dict)
    init: str = INIT

    @property
    def _clients_code(self) -> str:
        return "; ".join(f'boto3.client("{name}")' for name in self.clients)

    @property
    def floor_code(self) -> str:
        if not self.clients:
            return "pass"
        return f"import boto3; {self._clients_code}"

    @property
    def frozen_floor_code(self) -> str:
        """The floor with the ``gc.freeze()`` the handlers call after their imports
        (orders_core.startup), so the trick does not flatter the ratio."""
        return f"import gc, boto3; gc.freeze(); {self._clients_code}"

    @property
    def floor_text(self) -> str:
        if not self.clients:
            return "`python -c pass`"
        return f"`{self.floor_code}`"


# Variables as the compute stack sets them (values are placeholders: nothing is called).
FUNCTIONS: tuple[Function, ...] = (
    Function(
        "ingest",
        "ingest",
        ("sqs",),
        {
            "ORDERS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/orders",
            "EDGE_ENABLED": "0",
            "LEDGER_CURRENCY": "IDR",
        },
    ),
    Function(
        "process",
        "process",
        ("dynamodb",),
        {"ORDERS_TABLE_NAME": "orders", "ORDERS_MAX_RECEIVE_COUNT": "5", "LEDGER_CURRENCY": "IDR"},
    ),
    Function(
        "status", "status", ("dynamodb",), {"ORDERS_TABLE_NAME": "orders", "EDGE_ENABLED": "0"}
    ),
    Function(
        "files",
        "files",
        ("dynamodb", "s3"),
        {
            "TRANSACTIONS_TABLE_NAME": "transactions",
            "CUSTOMERS_TABLE_NAME": "customers",
            "LEDGER_CURRENCY": "IDR",
            "FILE_MAX_BYTES": "104857600",
            # Dev's derived large_file_bytes; the large-file path is off (no LARGE_FILES_*).
            "LARGE_FILE_BYTES": "108000000",
        },
    ),
    Function(
        "aggregator",
        "aggregator",
        ("dynamodb", "sns"),
        {
            "TOTALS_TABLE_NAME": "totals",
            "POSTINGS_TABLE_NAME": "postings",
            "LEDGER_CURRENCY": "IDR",
            "HIGH_BALANCE_THRESHOLD": "1000000",
            "HIGH_BALANCE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
        },
    ),
    Function("edge", "edge/viewer_request", (), init=EDGE_INIT),
)


# The floor issue 11 names for every function ("boto3 plus one client"): ingest's. The
# edge calls no AWS API, so its own floor is a bare interpreter; it is shown against both.
ISSUE_FLOOR_OF = "ingest"


@dataclass(frozen=True)
class Command:
    """One timed command: a name, the Python code it runs, its environment."""

    name: str
    code: str
    environment: Mapping[str, str]


def present(functions: Sequence[Function], lambdas: Path) -> list[Function]:
    """The functions whose handler exists in this tree (status arrives with issue 9)."""
    return [f for f in functions if (lambdas / f.code / "handler.py").is_file()]


def unmeasured(functions: Sequence[Function], lambdas: Path) -> list[str]:
    """Handlers in the tree that FUNCTIONS does not describe: they would go unmeasured."""
    known = {f.code for f in functions}
    found = {str(p.parent.relative_to(lambdas)) for p in lambdas.rglob("handler.py")}
    # deploy-time custom resources: they run once per deployment, no request waits on them
    return sorted(found - known - {"edge/prefix_list", "image_build"})


def stage_edge(source: Path, into: Path) -> Path:
    """The edge package as the stack ships it: its modules and an edge_config.json."""
    into.mkdir(parents=True)
    for module in source.glob("*.py"):
        shutil.copy2(module, into / module.name)
    (into / "edge_config.json").write_text(json.dumps(EDGE_CONFIG), encoding="utf-8")
    return into


def frozen_floor(function: Function, floor: Command) -> Command | None:
    """The floor that also freezes the collector (none for the edge: it has no client)."""
    if not function.clients:
        return None
    return Command(f"frozen-{floor.name}", function.frozen_floor_code, floor.environment)


def commands_for(
    function: Function, lambdas: Path, work: Path, home: Path, label: str = ""
) -> tuple[Command, Command]:
    """(floor, function) commands for one function of one source tree."""
    environment = {
        **BASE_ENVIRONMENT,
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_FUNCTION_NAME": f"orders-{function.name}",
        "POWERTOOLS_SERVICE_NAME": f"orders-{function.name}",
        **function.environment,
    }
    if function.clients:
        code_dir = lambdas / function.code
        path = f"{code_dir}{os.pathsep}{lambdas / 'shared' / 'python'}"
    else:
        code_dir = stage_edge(lambdas / function.code, work / f"edge{label}")
        path = str(code_dir)
    environment["LAMBDA_TASK_ROOT"] = str(code_dir)
    floor = Command(f"floor-{function.name}", function.floor_code, environment)
    return floor, Command(
        f"{function.name}{label}", function.init, {**environment, "PYTHONPATH": path}
    )


def compiling(function: Function, command: Command, lambdas: Path, work: Path) -> Command:
    """``command`` as Lambda runs it: the function's code and the shared layer copied
    without bytecode caches, and none written (the assets ship no ``.pyc``; /var/task and
    /opt are read-only), so every module of its own compiles at import."""
    staged = work / f"compiling-{function.name}"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(lambdas / function.code, staged / "task", ignore=ignore)
    shutil.copytree(lambdas / "shared" / "python", staged / "layer", ignore=ignore)
    environment = {
        **command.environment,
        "LAMBDA_TASK_ROOT": str(staged / "task"),
        "PYTHONPATH": f"{staged / 'task'}{os.pathsep}{staged / 'layer'}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return Command(f"{command.name}-compiling", command.code, environment)


@contextmanager
def source_tree(ref: str) -> Iterator[Path]:
    """``lambdas/`` as it was at git ``ref``, in a temporary directory."""
    archive = subprocess.run(  # noqa: S603
        ["git", "archive", "--format=tar", ref, "lambdas"],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp) / "lambdas"


def check(python: Path, command: Command) -> None:
    """Run once (writing bytecode caches); a failure names the command and its error."""
    done = subprocess.run(  # noqa: S603
        [str(python), "-c", command.code],
        env=dict(command.environment),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{command.name} failed (for a function, benchmarks/cold_init.py FUNCTIONS says "
            f"what it is given):\n{done.stderr.strip()[-2000:]}"
        )


def time_rounds(
    python: Path,
    commands: Sequence[Command],
    out: Path,
    *,
    rounds: int,
    values: int,
    warmups: int = 1,
) -> dict[str, list[float]]:
    """CPU seconds per command (benchmarks/cold_init_worker.py under pyperf); rounds
    interleave the commands, alternating their order."""
    for command in commands:
        check(python, command)
    spec = out / "commands.json"
    spec.write_text(
        json.dumps(
            [
                {
                    "name": c.name,
                    "python": str(python),
                    "code": c.code,
                    "environment": dict(c.environment),
                }
                for c in commands
            ]
        ),
        encoding="utf-8",
    )
    results = out / "cold-init.json"
    for number in range(rounds):
        subprocess.run(  # noqa: S603
            [
                sys.executable,
                str(Path(__file__).with_name("cold_init_worker.py")),
                "--quiet",
                f"--commands={spec}",
                *(["--reverse"] if number % 2 else []),
                "--processes=1",
                f"--values={values}",
                f"--warmups={warmups}",
                "--loops=1",
                f"--append={results}",
            ],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    suite = pyperf.BenchmarkSuite.load(str(results))
    return {c.name: list(suite.get_benchmark(c.name).get_values()) for c in commands}


def where_time_goes(python: Path, floor: Command, function: Command, top: int = 4) -> str:
    """One ``-X importtime`` run: the import self-time of modules the floor does not load,
    by top-level package, as shares of the function's extra (an indication, not a timing)."""

    def self_times(command: Command) -> dict[str, int]:
        done = subprocess.run(  # noqa: S603
            [str(python), "-X", "importtime", "-c", command.code],
            env=dict(command.environment),
            capture_output=True,
            text=True,
            check=True,
        )
        pattern = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)")
        return {m[2]: int(m[1]) for m in map(pattern.match, done.stderr.splitlines()) if m}

    floor_modules = self_times(floor)
    own = Path(function.environment["LAMBDA_TASK_ROOT"])
    packages: dict[str, int] = {}
    for name, us in self_times(function).items():
        if name in floor_modules:
            continue
        package = name.split(".")[0]
        if (own / f"{package}.py").is_file():
            package = "its own modules"
        packages[package] = packages.get(package, 0) + us
    total = sum(packages.values()) or 1
    ranked = sorted(packages.items(), key=lambda item: -item[1])
    shown = [f"{name} {us / total:.0%}" for name, us in ranked[:top]]
    return ", ".join(shown) + (", other" if len(ranked) > top else "")


def run(*, rounds: int = 3, values: int = 3, baseline: str | None = None) -> Section:
    """Cold init rows: each function against its floor (and at ``baseline``, if given)."""
    python = lambda_python()
    lambdas = ROOT / "lambdas"
    functions = present(FUNCTIONS, lambdas)
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp, _baseline(baseline) as old:
        work = Path(tmp)
        (work / "home").mkdir()
        pairs = [commands_for(f, lambdas, work, work / "home") for f in functions]
        before = (
            {
                f.name: commands_for(f, old, work, work / "home", label="@before")[1]
                for f in present(functions, old)
            }
            if old is not None
            else {}
        )
        frozen = {
            f.name: command
            for f, (floor, _) in zip(functions, pairs, strict=True)
            if (command := frozen_floor(f, floor)) is not None
        }
        compiled = {
            f.name: compiling(f, command, lambdas, work)
            for f, (_, command) in zip(functions, pairs, strict=True)
            if f.clients
        }
        commands = (
            [c for pair in pairs for c in pair]
            + list(frozen.values())
            + list(compiled.values())
            + list(before.values())
        )
        values_by_name = time_rounds(python, commands, work, rounds=rounds, values=values)
        attribution = {
            function.name: where_time_goes(python, floor, command)
            for function, (floor, command) in zip(functions, pairs, strict=True)
        }
    rows = []
    for function, (floor, command) in zip(functions, pairs, strict=True):
        floor_s = _median(values_by_name[floor.name])
        old_command = before.get(function.name)
        rows.append(
            Row(
                section="cold init",
                what=(
                    f"{function.name}: import, settings, clients"
                    if function.clients
                    else f"{function.name}: import, config file, gate"
                ),
                measured=Figure(_median(values_by_name[command.name])),
                floor=Figure(floor_s),
                floor_what=function.floor_text,
                before=(
                    _median(values_by_name[old_command.name]) / floor_s
                    if old_command is not None
                    else None
                ),
            )
        )

    def against(what: str, measured: Command, floor: Command, floor_what: str) -> Row:
        return Row(
            section="cold init",
            what=what,
            measured=Figure(_median(values_by_name[measured.name])),
            floor=Figure(_median(values_by_name[floor.name])),
            floor_what=floor_what,
        )

    issue_floor = {f.name: (f, floor) for f, (floor, _) in zip(functions, pairs, strict=True)}.get(
        ISSUE_FLOOR_OF
    )
    for function, (_, command) in zip(functions, pairs, strict=True):
        frozen_command = frozen.get(function.name)
        if frozen_command is not None:
            what = f"{function.name}: the same, against a floor that also freezes"
            rows.append(against(what, command, frozen_command, f"`{function.frozen_floor_code}`"))
        elif issue_floor is not None:
            what = f"{function.name}: the same, against the functions' floor (it calls no AWS API)"
            rows.append(against(what, command, issue_floor[1], issue_floor[0].floor_text))
    for function, (floor, _) in zip(functions, pairs, strict=True):
        compiled_command = compiled.get(function.name)
        if compiled_command is not None:
            what = (
                f"{function.name}: the same, its own modules compiled at import "
                "(as on Lambda: the assets ship no bytecode)"
            )
            rows.append(against(what, compiled_command, floor, function.floor_text))
    notes = [
        "CPU time (user + system) of a fresh `.venv-lambda` interpreter per value (boto3, "
        "Powertools and pydantic at the pinned versions, nothing else; the functions no "
        "longer import pydantic; Lambda's variables, "
        f"`LAMBDA_TASK_ROOT` included), under pyperf; {rounds} rounds "
        f"interleave every command, {values} values each after a warm-up; medians. The "
        "floor imports boto3 and creates the clients the function creates, with defaults; "
        "the edge's floor is a bare interpreter. The handlers call `gc.freeze()` once their "
        "imports are done (orders_core.startup); the second row of each function compares "
        "it with a floor that does the same. In the first two rows bytecode caches exist "
        "for every module on both sides; on Lambda the function's code and the layer are "
        "read-only and ship none, so their modules compile at every cold start: the third "
        "row of each function measures that (a copy without caches, "
        "`PYTHONDONTWRITEBYTECODE=1`; the installed packages, boto3 and Powertools, keep "
        "theirs on both sides).",
        "Where each function's extra import time goes (one `-X importtime` run, self time "
        "of the modules its floor does not load): "
        + "; ".join(f"{name}: {shares}" for name, shares in attribution.items())
        + ".",
    ]
    missing = unmeasured(FUNCTIONS, lambdas)
    if missing:
        notes.append(f"Not measured (no entry in benchmarks/cold_init.py): {', '.join(missing)}.")
    return Section("Cold init", tuple(rows), tuple(notes))


@contextmanager
def _baseline(ref: str | None) -> Iterator[Path | None]:
    if ref is None:
        yield None
        return
    with source_tree(ref) as old:
        yield old


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
