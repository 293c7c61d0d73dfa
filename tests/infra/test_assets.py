"""What Lambda runs is exactly what the tests import.

Each Python function's handler is imported from the synthesized assembly alone (its code
asset directory, then the shared layer asset's ``python/``, as Lambda orders them) in a
clean interpreter: isolated mode, started outside the project, no project directory on
``sys.path``. Only the virtualenv's site-packages remain, standing in for what Lambda
provides (boto3) and the Powertools layer (aws_lambda_powertools, pydantic).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import ROOT, Synthesized, python_functions

SOURCE_LAYER = ROOT / "lambdas" / "shared"
VENV = Path(sys.prefix).resolve()

IMPORT_SCRIPT = """
import importlib, json, pkgutil, sys
code_dir, layer_dir, handler_string = sys.argv[1:4]
sys.path[:0] = [code_dir, layer_dir]
module_name, _, function_name = handler_string.rpartition(".")
handler = importlib.import_module(module_name)
callable_ok = callable(getattr(handler, function_name, None))
import orders_core
names = [info.name for info in pkgutil.walk_packages(orders_core.__path__, "orders_core.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({
    "sys_path": sys.path,
    "handler_file": handler.__file__,
    "callable": callable_ok,
    "walked": names,
    "files": {
        name: getattr(module, "__file__", None)
        for name, module in sorted(sys.modules.items())
        if name == "orders_core" or name.startswith("orders_core.")
    },
}))
"""


def _shipped_files(directory: Path) -> dict[str, str]:
    """Relative path -> content hash, for the files an asset would carry."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def test_every_function_directory_ships_as_one_python_function(dev: Synthesized) -> None:
    assert set(python_functions(dev)) == {"ingest", "process", "status", "files", "aggregator"}


def test_the_layer_asset_is_the_source_tree_exactly(dev: Synthesized) -> None:
    sources = _shipped_files(SOURCE_LAYER)
    assert "python/orders_core/__init__.py" in sources
    for function in python_functions(dev).values():
        assert _shipped_files(function.layer.parent) == sources


def test_each_code_asset_is_its_function_directory_exactly(dev: Synthesized) -> None:
    for function in python_functions(dev).values():
        assert _shipped_files(function.code) == _shipped_files(function.source)


@pytest.mark.parametrize("name", ["ingest", "process", "status", "files", "aggregator"])
def test_the_handler_imports_from_the_assets_alone(
    dev: Synthesized, name: str, tmp_path: Path
) -> None:
    function = python_functions(dev)[name]
    code, layer, handler = function.code, function.layer, function.properties["Handler"]

    # When a clean interpreter imports the handler (and every orders_core module) from them
    done = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_SCRIPT, str(code), str(layer), handler],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Then it works, and everything came from the assets
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    for entry in filter(None, report["sys_path"]):
        path = Path(entry).resolve()
        assert path in (code, layer) or path.is_relative_to(VENV) or not path.is_relative_to(ROOT)
    assert report["callable"]
    assert Path(report["handler_file"]) == code / "handler.py"
    # a regular package from the layer, not a namespace package (whose __file__ is None)
    assert report["files"]["orders_core"] == str(layer / "orders_core" / "__init__.py")
    assert report["walked"], "walking the package found no modules"
    for module, file in report["files"].items():
        assert file is not None, f"{module} is a namespace package"
        assert Path(file).is_relative_to(layer), f"{module} came from {file}"
