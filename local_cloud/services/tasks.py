"""ECS tasks (Fargate) as local processes: what RunTask starts in the emulation runs here.

moto's ECS registers task definitions and records RunTask; it runs nothing. In the
emulation process RunTask also hands each new task to the runner's hook (``/run-task``,
services/moto_patches.py), and this module runs it:

- the task definition is learned from the assembly: its container's image is traced to
  a build context in the assembly, either a Docker image asset (by its tag) or a file
  asset holding a Dockerfile that a resource the task definition depends on or refers
  to names (an image built at deploy time, by CodeBuild say);
- the Dockerfile is honoured minimally: ``WORKDIR``, ``ENV``, ``COPY``/``ADD`` of local
  files (into a staged root directory, one per image), ``CMD`` and ``ENTRYPOINT``; ``FROM``
  is not pulled, ``RUN`` steps are skipped and ``USER`` is ignored: the runner's own Python
  environment stands in for what the image would have installed, and each of these is
  reported as a difference;
- the command (RunTask's override, else the container definition's, else the image's) runs
  as a local process in the staged ``WORKDIR`` with the task's environment: the image's
  ``ENV``, the container definition's and the RunTask overrides', plus the emulation's
  endpoint and fake credentials (a leading ``python``/``python3`` is the runner's Python);
- its output goes to ``<log dir>/task-<family>.log``; when it exits the task is stopped in
  the emulation with the exit code, and ECS's "ECS Task State Change" events (RUNNING at
  start, STOPPED at the end, with ``stopCode``, ``stoppedReason`` and the containers' exit
  codes) go to EventBridge's default bus, where rules match them as on AWS.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_cloud.aws import FAKE_CREDENTIALS, client
from local_cloud.deploy.assembly import Assembly, FileAsset, StackArtifact
from local_cloud.deploy.deployer import Deployment
from local_cloud.deploy.differences import Difference
from local_cloud.deploy.template_prep import references
from local_cloud.services.moto_patches import EXIT_MARKER, RUN_TASK_PATH

log = logging.getLogger("local_cloud")

TASK_DEFINITION_TYPE = "AWS::ECS::TaskDefinition"
__all__ = ["RUN_TASK_PATH", "TaskRunner", "load_task_images", "task_differences"]
ESSENTIAL_EXITED = "Essential container in task exited"
_PYTHONS = re.compile(r"^python(3(\.\d+)?)?$")
_PASSED_THROUGH = ("PATH", "LANG", "LD_LIBRARY_PATH", "SYSTEMROOT", "TMPDIR")
_ENV_PAIR = re.compile(r"""([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)""")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --------------------------------------------------------------------------------------
# The Dockerfile, minimally
# --------------------------------------------------------------------------------------
@dataclass
class Recipe:
    """What a Dockerfile says about the container's files, environment and command."""

    base: str = ""
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    # (sources, destination): absolute, as the WORKDIR of the time made it; "/" ends a
    # destination that is a directory
    copies: list[tuple[list[str], str]] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # what is not reproduced, in words


def _instructions(text: str) -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, rest = line.partition(" ")
        yield word.upper(), rest.strip()
    if pending.strip():
        word, _, rest = pending.strip().partition(" ")
        yield word.upper(), rest.strip()


def _command_form(arguments: str) -> list[str]:
    """Exec form (a JSON array) as is; shell form as /bin/sh -c, as Docker does."""
    if arguments.startswith("["):
        try:
            parsed = json.loads(arguments)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            return parsed
    return ["/bin/sh", "-c", arguments]


def _without_flags(arguments: str) -> tuple[list[str], list[str]]:
    words = shlex.split(arguments)
    return [w for w in words if w.startswith("--")], [w for w in words if not w.startswith("--")]


def parse_dockerfile(text: str) -> Recipe:  # noqa: PLR0912 - one branch per instruction
    """The last stage of a Dockerfile, as far as a local process can honour it."""
    recipe = Recipe()
    for instruction, arguments in _instructions(text):
        if instruction == "FROM":
            recipe = Recipe(base=arguments.split()[0] if arguments else "")
            recipe.skipped.append(f"FROM {recipe.base}: not pulled")
        elif instruction == "WORKDIR":
            recipe.workdir = str(PurePosixPath(recipe.workdir) / arguments)
        elif instruction == "ENV":
            pairs = _ENV_PAIR.findall(arguments)
            if pairs and "=" in arguments.split()[0]:
                for name, value in pairs:
                    recipe.env[name] = shlex.split(value)[0] if value[:1] in "\"'" else value
            else:  # the legacy form: ENV NAME value with spaces
                name, _, value = arguments.partition(" ")
                recipe.env[name] = value.strip()
        elif instruction in ("COPY", "ADD"):
            flags, words = _without_flags(arguments)
            if any(flag.startswith("--from") for flag in flags) or len(words) < 2:
                recipe.skipped.append(f"{instruction} {arguments}: not a copy of local files")
                continue
            dest = words[-1]
            directory = dest.endswith("/") or dest in (".", "./") or len(words) > 2
            absolute = str(PurePosixPath(recipe.workdir) / dest)
            recipe.copies.append((words[:-1], absolute + ("/" if directory else "")))
        elif instruction == "RUN":
            recipe.skipped.append(f"RUN {arguments}: skipped")
        elif instruction == "CMD":
            recipe.cmd = _command_form(arguments)
        elif instruction == "ENTRYPOINT":
            recipe.entrypoint = _command_form(arguments)
            recipe.cmd = []  # Docker resets CMD when ENTRYPOINT is set after it
        elif instruction == "USER":
            recipe.skipped.append(f"USER {arguments}: ignored (runs as the runner's user)")
    return recipe


def stage_root(recipe: Recipe, context: Path, root: Path) -> None:
    """Lay out the COPY/ADD steps under `root` (the container's /)."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / recipe.workdir.lstrip("/")).mkdir(parents=True, exist_ok=True)
    for sources, dest in recipe.copies:
        target = PurePosixPath(dest)
        into_dir = dest.endswith("/")
        for source in sources:
            for found in sorted(context.glob(source)) or [context / source]:
                destination = root / str(target).lstrip("/")
                if found.is_dir():
                    shutil.copytree(found, destination, dirs_exist_ok=True)
                elif found.is_file():
                    if into_dir or (destination.is_dir()):
                        destination = destination / found.name
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(found, destination)


def _in_root(value: str, root: Path) -> str:
    """An absolute container path (or a `:` list of them) that exists under the staged
    root, as its path on this machine."""
    parts = value.split(":")
    mapped = []
    for part in parts:
        local = root / part.lstrip("/")
        mapped.append(str(local) if part.startswith("/") and local.exists() else part)
    return ":".join(mapped)


# --------------------------------------------------------------------------------------
# Task definitions, learned from the assembly
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskImage:
    """A deployed task definition's container and where its image comes from."""

    stack: str
    logical_id: str
    family: str
    container: str
    context: Path | None  # the image's build context in the assembly
    recipe: Recipe | None
    problem: str | None = None  # why it cannot run here

    @property
    def subject(self) -> str:
        return f"{self.stack}/{self.logical_id} (ECS task {self.family})"


def _containers(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return list(resource.get("Properties", {}).get("ContainerDefinitions", []))


def _asset_dirs(assembly: Assembly) -> list[FileAsset]:
    return [asset for asset in assembly.file_assets() if (asset.source / "Dockerfile").is_file()]


def _image_context(
    assembly: Assembly, stack: StackArtifact, logical_id: str, image: Any
) -> Path | None:
    """The build context of a container's image: a Docker image asset with its tag, or a
    Dockerfile asset named by a resource the task definition depends on or refers to."""
    text = json.dumps(image)
    for docker in assembly.docker_image_assets:
        if docker.directory is not None and any(f":{tag}" in text for tag in docker.image_tags):
            return docker.directory
    resources: dict[str, Any] = stack.template.get("Resources", {})
    resource = resources.get(logical_id, {})
    depends = resource.get("DependsOn", [])
    near = set(references(image)) | set([depends] if isinstance(depends, str) else depends)
    near |= {r for lid in list(near) for r in references(resources.get(lid, {}))}
    candidates = _asset_dirs(assembly)
    for lid in sorted(near):
        named = json.dumps(resources.get(lid, {}).get("Properties", {}))
        for asset in candidates:
            if asset.object_key in named or asset.object_key.split(".")[0] in named:
                return asset.source
    return None


def load_task_images(assembly: Assembly, deployment: Deployment) -> dict[str, TaskImage]:
    """Every deployed task definition's first container, by task definition ARN."""
    found: dict[str, TaskImage] = {}
    for deployed in deployment.stacks:
        stack = assembly.stack(deployed.name)
        resources = stack.template.get("Resources", {})
        for logical_id, (kind, physical) in deployed.resources.items():
            if kind != TASK_DEFINITION_TYPE or logical_id not in resources:
                continue
            containers = _containers(resources[logical_id])
            family = physical.rsplit("/", 1)[-1].rsplit(":", 1)[0]
            if not containers:
                found[physical] = TaskImage(
                    deployed.name, logical_id, family, "", None, None, "no container"
                )
                continue
            container = containers[0]
            context = _image_context(assembly, stack, logical_id, container.get("Image"))
            recipe = (
                parse_dockerfile((context / "Dockerfile").read_text(encoding="utf-8"))
                if context is not None
                else None
            )
            problem = None if context else "its image's build context is not in the assembly"
            found[physical] = TaskImage(
                deployed.name,
                logical_id,
                family,
                str(container.get("Name", "")),
                context,
                recipe,
                problem,
            )
    return found


def task_differences(images: dict[str, TaskImage]) -> list[Difference]:
    differences = []
    for image in images.values():
        if image.recipe is None:
            detail = f"does not run: {image.problem}"
        else:
            detail = (
                "runs as a local process on the runner's Python (its packages stand in for "
                "the image's); " + "; ".join(image.recipe.skipped or ["nothing skipped"])
            )
        differences.append(Difference("runtime", image.subject, detail))
    return differences


# --------------------------------------------------------------------------------------
# Running tasks
# --------------------------------------------------------------------------------------
@dataclass
class RunningTask:
    arn: str
    cluster: str
    definition: str
    image: TaskImage
    overrides: dict[str, Any]
    started_by: str
    group: str
    created_at: str
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None
    stopped: threading.Event = field(default_factory=threading.Event)


class TaskRunner:
    """Runs what RunTask starts in the emulation; one local process per task."""

    def __init__(
        self,
        images: dict[str, TaskImage],
        aws_url: str,
        region: str,
        work_dir: Path,
        log_dir: Path | None,
    ) -> None:
        self.images = images
        self._aws_url = aws_url
        self._region = region
        self._work_dir = work_dir
        self._log_dir = log_dir
        self._roots: dict[str, Path] = {}
        self._lock = threading.Lock()
        self.tasks: dict[str, RunningTask] = {}
        self._stopping = False

    # -- the hook ---------------------------------------------------------------------
    def handle(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One task RunTask created in the emulation: start it (HTTP status, answer)."""
        definition = str(request.get("taskDefinition", ""))
        image = self._image(definition)
        task = RunningTask(
            arn=str(request.get("task", "")),
            cluster=str(request.get("cluster", "")),
            definition=definition,
            image=image or TaskImage("?", "?", definition, "", None, None, "not in the assembly"),
            overrides=dict(request.get("overrides") or {}),
            started_by=str(request.get("startedBy") or ""),
            group=str(request.get("group") or ""),
            created_at=_now(),
        )
        with self._lock:
            self.tasks[task.arn] = task
        threading.Thread(
            target=self._run, args=(task,), name="task-" + task.arn[-8:], daemon=True
        ).start()
        return 200, {"started": task.arn}

    def _image(self, definition: str) -> TaskImage | None:
        if definition in self.images:
            return self.images[definition]
        family = definition.rsplit("/", 1)[-1].split(":", maxsplit=1)[0]
        return next((i for arn, i in self.images.items() if f"/{family}:" in arn), None)

    def running(self) -> int:
        with self._lock:
            return sum(1 for task in self.tasks.values() if not task.stopped.is_set())

    def wait(self, timeout: float) -> bool:
        """Wait until every task started so far has stopped (tests)."""
        deadline = time.monotonic() + timeout
        for task in list(self.tasks.values()):
            if not task.stopped.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def stop(self) -> None:
        self._stopping = True
        with self._lock:
            tasks = list(self.tasks.values())
        for task in tasks:
            if task.process is not None and task.process.poll() is None:
                task.process.terminate()
        for task in tasks:
            if task.process is not None:
                try:
                    task.process.wait(5)
                except subprocess.TimeoutExpired:
                    task.process.kill()

    # -- one task ---------------------------------------------------------------------
    def _root(self, image: TaskImage) -> Path:
        assert image.recipe is not None
        assert image.context is not None
        with self._lock:
            if image.family not in self._roots:
                root = self._work_dir / "tasks" / image.family
                stage_root(image.recipe, image.context, root)
                self._roots[image.family] = root
            return self._roots[image.family]

    def _command(
        self, task: TaskImage, overrides: dict[str, Any], definition: dict[str, Any]
    ) -> list[str]:
        assert task.recipe is not None
        container = self._override(overrides, task.container)
        entrypoint = definition.get("entryPoint") or task.recipe.entrypoint
        command = container.get("command") or definition.get("command") or task.recipe.cmd
        argv = [*entrypoint, *command]
        if argv and _PYTHONS.match(PurePosixPath(argv[0]).name):
            argv[0] = sys.executable  # the runner's Python stands in for the image's
        return argv

    @staticmethod
    def _override(overrides: dict[str, Any], name: str) -> dict[str, Any]:
        for container in overrides.get("containerOverrides", []) or []:
            if container.get("name") == name:
                return dict(container)
        return {}

    def _environment(
        self, task: RunningTask, root: Path, definition: dict[str, Any]
    ) -> dict[str, str]:
        assert task.image.recipe is not None
        env = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
        env.update({k: _in_root(v, root) for k, v in task.image.recipe.env.items()})
        for variable in definition.get("environment", []) or []:
            env[str(variable["name"])] = str(variable.get("value", ""))
        for variable in self._override(task.overrides, task.image.container).get("environment", []):
            env[str(variable["name"])] = str(variable.get("value", ""))
        env.update(
            {
                "AWS_REGION": self._region,
                "AWS_DEFAULT_REGION": self._region,
                "AWS_ENDPOINT_URL": self._aws_url,
                "AWS_ACCESS_KEY_ID": FAKE_CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": FAKE_CREDENTIALS["aws_secret_access_key"],
                "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
                "HOME": str(root),
            }
        )
        return env

    def _definition(self, arn: str) -> dict[str, Any]:
        """The registered container definition (moto resolved its values)."""
        ecs = client("ecs", self._aws_url, self._region)
        described = ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        containers = described.get("containerDefinitions", [])
        return dict(containers[0]) if containers else {}

    def _run(self, task: RunningTask) -> None:
        image = task.image
        if image.recipe is None or image.context is None:
            log.info("task %s: cannot start: %s", image.family, image.problem)
            self._finish(task, None, f"CannotStartContainerError: {image.problem}")
            return
        try:
            definition = self._definition(task.definition)
            root = self._root(image)
            argv = self._command(image, task.overrides, definition)
            cwd = root / image.recipe.workdir.lstrip("/")
            env = self._environment(task, root, definition)
            output = self._log_file(image)
            output.write(f"--- {_now()} task {task.arn}: {shlex.join(argv)}\n".encode())
            output.flush()
            task.process = subprocess.Popen(  # noqa: S603 - the task's own command
                argv, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
            )
        except (OSError, ClientError, BotoCoreError) as exc:
            log.info("task %s: cannot start: %s", image.family, exc)
            self._finish(task, None, f"CannotStartContainerError: {exc}")
            return
        log.info("task %s: started (%s)", image.family, task.arn.rsplit("/", 1)[-1])
        self._state_change(task, "RUNNING")
        code = task.process.wait()
        output.close()
        log.info("task %s: exited %d (%s)", image.family, code, task.arn.rsplit("/", 1)[-1])
        self._finish(task, code, ESSENTIAL_EXITED)

    def _log_file(self, image: TaskImage) -> Any:
        directory = self._log_dir or (self._work_dir / "logs")
        directory.mkdir(parents=True, exist_ok=True)
        return (directory / f"task-{image.family}.log").open("ab")

    def _finish(self, task: RunningTask, code: int | None, reason: str) -> None:
        task.exit_code = code
        try:
            if not self._stopping:
                ecs = client("ecs", self._aws_url, self._region)
                # the reason carries the exit code to the emulation (route_ecs_tasks)
                marker = f"{EXIT_MARKER}{code}]" if code is not None else ""
                ecs.stop_task(cluster=task.cluster, task=task.arn, reason=reason + marker)
                self._state_change(task, "STOPPED", reason)
        except (ClientError, BotoCoreError) as exc:
            log.warning("task %s: could not record its stop: %s", task.image.family, exc)
        finally:
            task.stopped.set()

    def _state_change(self, task: RunningTask, status: str, reason: str | None = None) -> None:
        """ECS's "ECS Task State Change" event, on EventBridge's default bus."""
        container: dict[str, Any] = {
            "containerArn": f"{task.arn.replace(':task/', ':container/')}/{uuid.uuid4()}",
            "name": task.image.container,
            "taskArn": task.arn,
            "lastStatus": status,
        }
        detail: dict[str, Any] = {
            "clusterArn": task.cluster,
            "taskArn": task.arn,
            "taskDefinitionArn": task.definition,
            "group": task.group,
            "startedBy": task.started_by,
            "launchType": "FARGATE",
            "lastStatus": status,
            "desiredStatus": "STOPPED" if status == "STOPPED" else "RUNNING",
            "createdAt": task.created_at,
            "overrides": task.overrides,
            "containers": [container],
            "version": 2 if status == "RUNNING" else 3,
            "updatedAt": _now(),
        }
        if status == "STOPPED":
            started = task.process is not None
            if task.exit_code is not None:
                container["exitCode"] = task.exit_code
            detail.update(
                stopCode="EssentialContainerExited" if started else "TaskFailedToStart",
                stoppedReason=reason or ESSENTIAL_EXITED,
                stoppedAt=_now(),
            )
        events = client("events", self._aws_url, self._region)
        events.put_events(
            Entries=[
                {
                    "Source": "aws.ecs",
                    "DetailType": "ECS Task State Change",
                    "Detail": json.dumps(detail),
                    "Resources": [task.arn],
                }
            ]
        )
