"""The cold-init bench's "as Lambda runs it" command: no bytecode in, none written.

On Lambda the function's code and the shared layer are read-only and the assets ship no
``.pyc`` (stacks.common.ASSET_EXCLUDES), so every module of its own compiles at import.
The bench's third row per function claims to measure that; this pins that its command
starts from a copy without caches and leaves none behind after running.
"""

import subprocess
import sys
from pathlib import Path

from benchmarks.cold_init import Command, Function, compiling


def _tree(root: Path) -> Path:
    lambdas = root / "lambdas"
    code = lambdas / "fn"
    layer = lambdas / "shared" / "python"
    code.mkdir(parents=True)
    layer.mkdir(parents=True)
    (code / "handler.py").write_text("import layered\n\nVALUE = layered.VALUE\n")
    (layer / "layered.py").write_text("VALUE = 42\n")
    for directory in (code, layer):  # caches a developer's own runs would leave
        (directory / "__pycache__").mkdir()
        (directory / "__pycache__" / "stale.cpython-311.pyc").write_bytes(b"not bytecode")
        (directory / "stray.pyc").write_bytes(b"not bytecode")
    return lambdas


def _bytecode(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]


def test_the_command_compiles_its_own_modules_and_writes_no_cache(tmp_path: Path) -> None:
    lambdas = _tree(tmp_path)
    work = tmp_path / "work"
    function = Function("fn", "fn", ("sqs",))
    measured = Command("fn", "import handler; print(handler.VALUE)", {"HOME": str(tmp_path)})

    command = compiling(function, measured, lambdas, work)

    assert command.code == measured.code
    assert command.name == "fn-compiling"
    assert command.environment["PYTHONDONTWRITEBYTECODE"] == "1"
    assert command.environment["HOME"] == str(tmp_path)
    staged = work / "compiling-fn"
    assert command.environment["LAMBDA_TASK_ROOT"] == str(staged / "task")
    assert _bytecode(staged) == []

    done = subprocess.run(
        [sys.executable, "-c", command.code],
        env=dict(command.environment),
        capture_output=True,
        text=True,
        check=True,
    )

    assert done.stdout.strip() == "42"  # both the task root and the layer are importable
    assert _bytecode(staged) == []
