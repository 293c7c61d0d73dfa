"""Reads deployed functions back from the emulation and turns them into FunctionSpecs.

A function's code is its asset directory in the assembly when the runner deployed it;
otherwise (a stack the CDK CLI deployed, with zips of its own) the zip the emulation
holds, unpacked once per CodeSha256 into the runner's work directory.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local_cloud.aws import FAKE_CREDENTIALS, client
from local_cloud.deploy.deployer import PLACEHOLDER_LAYER_FILE, Deployment, layer_code_sha
from local_cloud.deploy.differences import Difference
from local_cloud.services.control import ControlError, deployed_code
from local_cloud.services.environments import FunctionSpec, node_version

# What the Lambda runtime puts in every function's environment (besides the function's own
# variables), adapted to this machine. Reserved names win over the function's variables.
_PASSED_THROUGH = ("PATH", "LANG", "LD_LIBRARY_PATH", "SYSTEMROOT", "TMPDIR")


@dataclass
class FunctionCatalog:
    """Every deployed function, by name and ARN, plus what could not be reproduced."""

    specs: dict[str, FunctionSpec] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)

    def by_arn(self, arn: str) -> FunctionSpec | None:
        # ARNs may carry a qualifier (:$LATEST, an alias); the runner only has $LATEST
        base = ":".join(arn.split(":")[:7])
        for spec in self.specs.values():
            if spec.arn == base or spec.name == arn:
                return spec
        return None


def lambda_environment(
    config: dict[str, Any], code_dir: Path, region: str, aws_url: str
) -> dict[str, str]:
    name = str(config["FunctionName"])
    env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
    env.update(config.get("Environment", {}).get("Variables", {}))
    env.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon here
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.get("MemorySize", 128)),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{os.getpid():x}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{config.get('Runtime', 'python')}",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "LAMBDA_RUNTIME_DIR": sys.prefix,
            "_HANDLER": str(config.get("Handler", "")),
            "TZ": ":UTC",
            # The emulation, with credentials that can never reach a real account.
            "AWS_ENDPOINT_URL": aws_url,
            "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
            "AWS_SESSION_TOKEN": "testing",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    return env


class DeployedCode:
    """Code the emulation holds, unpacked once per CodeSha256 under ``root``."""

    def __init__(self, aws_url: str, root: Path) -> None:
        self.aws_url = aws_url
        self.root = root
        self._lock = threading.Lock()

    def directory(self, arn: str, sha: str) -> Path | None:
        """The unpacked code of a function or layer version (None if it has none)."""
        target = self.root / hashlib.sha256(sha.encode()).hexdigest()[:20]
        with self._lock:
            if target.is_dir():
                return target
            try:
                archive = zipfile.ZipFile(io.BytesIO(deployed_code(self.aws_url, arn)))
            except (ControlError, OSError, zipfile.BadZipFile):
                return None
            partial = target.with_name(target.name + ".partial")
            archive.extractall(partial)
            partial.rename(target)
            return target


def _code_dir(
    deployment: Deployment, config: dict[str, Any], code: DeployedCode | None
) -> Path | None:
    """A deployed function's code: its asset directory, recorded by the deployer or found by
    its CodeSha256 among the published assets (for a function invoked while its stack is
    still being created, e.g. a custom resource's provider); else what was deployed."""
    name = str(config["FunctionName"])
    if name in deployment.code_dirs:
        return deployment.code_dirs[name]
    sha = str(config.get("CodeSha256", ""))
    if sha in deployment.asset_dirs_by_sha:
        return deployment.asset_dirs_by_sha[sha]
    return code.directory(str(config["FunctionArn"]), sha) if code is not None and sha else None


def function_spec(
    deployment: Deployment,
    config: dict[str, Any],
    lambda_client: Any,
    aws_url: str,
    *,
    log_dir: Path | None,
    public_layers: set[str] | None = None,
    code: DeployedCode | None = None,
) -> FunctionSpec | None:
    """The spec of one deployed function (None when its code cannot be had here)."""
    code_dir = _code_dir(deployment, config, code)
    if code_dir is None:
        return None
    region = str(config["FunctionArn"]).split(":")[3]
    layer_dirs: list[str] = []
    for layer in config.get("Layers", []):
        sha = layer_code_sha(lambda_client, layer["Arn"])
        layer_dir = deployment.asset_dirs_by_sha.get(sha)
        if layer_dir is None and code is not None:
            layer_dir = code.directory(str(layer["Arn"]), sha)
        if layer_dir is None or (layer_dir / PLACEHOLDER_LAYER_FILE).exists():
            if public_layers is not None:
                public_layers.add(str(layer["Arn"]))
        else:
            layer_dirs.append(str(layer_dir))
    name = str(config["FunctionName"])
    return FunctionSpec(
        name=name,
        arn=str(config["FunctionArn"]),
        handler=str(config["Handler"]),
        code_dir=str(code_dir),
        layer_dirs=tuple(layer_dirs),
        environment=lambda_environment(config, code_dir, region, aws_url),
        timeout_s=float(config.get("Timeout", 3)),
        memory_mb=int(config.get("MemorySize", 128)),
        log_path=str(log_dir / f"{name}.log") if log_dir else None,
        runtime=str(config.get("Runtime", "python")),
    )


def load_function(
    deployment: Deployment,
    function_arn: str,
    aws_url: str,
    log_dir: Path | None = None,
    code: DeployedCode | None = None,
) -> FunctionSpec | None:
    """Read one function back from the emulation by ARN (None if it cannot run here)."""
    parts = function_arn.split(":")
    region = parts[3] if len(parts) > 3 and parts[3] else deployment.region
    lambda_client = client("lambda", aws_url, region)
    try:
        config = lambda_client.get_function_configuration(FunctionName=function_arn)
    except ClientError:
        return None
    return function_spec(deployment, config, lambda_client, aws_url, log_dir=log_dir, code=code)


def load_functions(
    deployment: Deployment,
    aws_url: str,
    log_dir: Path | None = None,
    code: DeployedCode | None = None,
) -> FunctionCatalog:
    """A FunctionSpec for every deployed function whose code is in the assembly."""
    lambda_client = client("lambda", aws_url, deployment.region)
    catalog = FunctionCatalog()
    runtimes: set[str] = set()
    public_layers: set[str] = set()
    for name in deployment.physical_ids("AWS::Lambda::Function"):
        config = lambda_client.get_function_configuration(FunctionName=name)
        spec = function_spec(
            deployment,
            config,
            lambda_client,
            aws_url,
            log_dir=log_dir,
            public_layers=public_layers,
            code=code,
        )
        if spec is None:
            detail = "its code is neither an asset directory of the assembly nor a zip here"
            catalog.differences.append(Difference("function", name, detail))
            continue
        runtimes.add(str(config.get("Runtime", "")))
        catalog.specs[name] = spec
    explained = " ".join(d.detail for d in deployment.differences if d.kind == "stand-in")
    for arn in sorted(public_layers):
        if arn in explained:
            continue  # already explained as a stand-in for a public layer
        detail = "not an asset: its packages come from the runner's own environment"
        catalog.differences.append(Difference("stand-in", f"layer {arn}", detail))
    catalog.differences += runtime_differences(runtimes)
    return catalog


def runtime_differences(runtimes: set[str]) -> list[Difference]:
    """Declared runtimes that run on another version here (Python: the runner's; Node.js:
    the node found, reported only when its major version differs)."""
    python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    node = node_version()
    found = []
    for runtime in sorted(r for r in runtimes if r):
        if runtime.startswith("nodejs"):
            here = f"node {node}" if node else "no node"
            if node and runtime.removeprefix("nodejs").split(".")[0] == node:
                continue
            where = "on the node found here"
        elif runtime != python:
            here, where = python, "on the runner's Python"
        else:
            continue
        found.append(
            Difference(
                "runtime",
                f"{runtime} runs as {here}",
                f"functions declared {runtime} run {where} ({here}), on this machine's "
                "architecture",
            )
        )
    return found
