"""A Lambda-like Python for cold starts: only what the runtime and the Powertools layer ship.

The functions' cold init is measured in ``.venv-lambda``, a virtualenv holding boto3 (the
Lambda runtime's), aws-lambda-powertools with its tracer extra and pydantic (the public
Powertools layer's), at the versions requirements*.txt pin, and nothing else. In the
development virtualenv (moto, the CDK, linters: some 200 distributions) anything that
scans installed distributions (pydantic looks for plugins on its first model) would cost
more than on Lambda, and only the functions would pay it, not their floor.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-lambda"
# What a Python function finds on Lambda without packaging it: the runtime's boto3 and the
# Powertools layer (which brings pydantic and the X-Ray SDK).
RUNTIME_PACKAGES = ("boto3", "aws-lambda-powertools", "pydantic")
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)(?P<extras>\[[^\]]*\])?==(?P<version>\S+)")


def runtime_pins(root: Path = ROOT) -> list[str]:
    """``name[extras]==version`` for RUNTIME_PACKAGES, read from requirements*.txt."""
    pins: dict[str, str] = {}
    for path in sorted(root.glob("requirements*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _PIN.match(line.strip())
            if match and match["name"].lower() in RUNTIME_PACKAGES:
                pins[match["name"].lower()] = line.strip().split("#", 1)[0].strip()
    missing = [name for name in RUNTIME_PACKAGES if name not in pins]
    if missing:
        raise RuntimeError(f"requirements*.txt pin no version of {', '.join(missing)}")
    return [pins[name] for name in RUNTIME_PACKAGES]


def lambda_python(venv: Path = VENV) -> Path:
    """The interpreter of the Lambda-like virtualenv, created or updated when the pins moved."""
    pins = runtime_pins()
    marker = venv / ".installed"
    wanted = "\n".join(pins)
    python = venv / "bin" / "python"
    if not (marker.is_file() and marker.read_text(encoding="utf-8") == wanted):
        print(f"bench: installing {', '.join(pins)} into {venv.name}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *pins],
            check=True,
        )
        marker.write_text(wanted, encoding="utf-8")
    return python
