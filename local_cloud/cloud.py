"""LocalCloud: boots the emulation, deploys the assembly, runs front door and mappings.

with LocalCloud("cdk.out", http_port=0, aws_port=0) as cloud:
    requests.post(cloud.http_url + "/api", ...)
    cloud.client("dynamodb").scan(TableName=cloud.outputs["TableName"])
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from local_cloud.aws import client, forget_clients, session
from local_cloud.deploy.assembly import Assembly, load_assembly
from local_cloud.deploy.deployer import Deployer, Deployment
from local_cloud.deploy.differences import Difference
from local_cloud.services.alb import Listener, choose_listener, load_listeners
from local_cloud.services.edge import Distribution, EdgeDoor, load_distributions
from local_cloud.services.emulator import Emulator, start_emulator
from local_cloud.services.environments import FunctionPool, InvokeResult
from local_cloud.services.faults import request_faults
from local_cloud.services.frontdoor import FrontDoor
from local_cloud.services.functions import (
    DeployedCode,
    FunctionCatalog,
    load_function,
    load_functions,
)
from local_cloud.services.invocations import AsyncInvoker, HookServer
from local_cloud.services.pollers import (
    DEFAULT_MAX_POLLERS,
    MappingRunner,
    SqsMapping,
    load_mappings,
)
from local_cloud.services.streams import StreamMapping, StreamRunner, load_stream_mappings
from local_cloud.services.tasks import (
    RUN_TASK_PATH,
    TaskRunner,
    load_task_images,
    task_differences,
)

log = logging.getLogger("local_cloud")


class LocalCloud:
    """The whole system on this machine; use as a context manager (or start()/stop())."""

    def __init__(
        self,
        assembly_dir: str | Path = "cdk.out",
        *,
        http_port: int = 8080,
        aws_port: int = 4566,
        edge_port: int = 8081,
        host: str = "127.0.0.1",
        fault_rate: float = 0.0,
        fault_seed: int | None = None,
        log_dir: str | Path | None = None,
        max_pollers: int = DEFAULT_MAX_POLLERS,
        max_environments: int = 4,
        async_retry_scale: float = 1.0,
    ) -> None:
        """async_retry_scale multiplies Lambda's waits between asynchronous retries
        (one minute, then two): tests make them short."""
        if not 0.0 <= fault_rate <= 1.0:
            raise ValueError(f"fault_rate must be between 0 and 1, got {fault_rate}")
        self.assembly_dir = Path(assembly_dir)
        self.http_port = http_port
        self.aws_port = aws_port
        self.edge_port = edge_port
        self.host = host
        self.fault_rate = fault_rate
        self.fault_seed = fault_seed
        self.log_dir = Path(log_dir) if log_dir else None
        self.max_pollers = max_pollers
        self.max_environments = max_environments
        self.async_retry_scale = async_retry_scale

        self.assembly: Assembly | None = None
        self.deployment: Deployment | None = None
        self.functions = FunctionCatalog()
        self.listener: Listener | None = None
        self.mappings: list[SqsMapping] = []
        self.stream_mappings: list[StreamMapping] = []
        self.warm_errors: dict[str, str] = {}
        self.boot_seconds = 0.0
        self._emulator: Emulator | None = None
        self._front_door: FrontDoor | None = None
        self._edge_door: EdgeDoor | None = None
        self.distributions: list[Distribution] = []
        self._runners: list[MappingRunner | StreamRunner] = []
        self._pools: dict[str, FunctionPool] = {}
        self._pools_lock = threading.Lock()
        self._hook: HookServer | None = None
        self._code: DeployedCode | None = None
        self.async_invoker: AsyncInvoker | None = None
        self.tasks: TaskRunner | None = None  # ECS tasks as local processes
        self._work_dir: Path | None = None
        self._stopped = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> LocalCloud:
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.boot_seconds = time.monotonic() - started
        return self

    def _start(self) -> None:
        self.assembly = load_assembly(self.assembly_dir)
        self._work_dir = Path(tempfile.mkdtemp(prefix="local-cloud-"))
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        # The hook first: the emulation hands it every invocation moto makes, from the
        # first deploy on (custom resources' providers run while their stack is created).
        self._hook = HookServer(
            self.invoke, self._can_run, lambda: self.async_invoker, lambda: self.log_dir, self.host
        )
        self._hook.start()
        self._emulator = start_emulator(
            self.host, self.aws_port, self.fault_rate, self.fault_seed, self._hook.url
        )
        log.debug("emulation on %s", self._emulator.url)
        self._code = DeployedCode(self.aws_url, self._work_dir / "code")
        self.deployment = Deployment(region=self.assembly.region)
        self.async_invoker = AsyncInvoker(
            self.invoke,
            self.aws_url,
            lambda arn: arn.split(":")[3] or self.region,
            self.async_retry_scale,
        )
        Deployer(self.assembly, self.aws_url, self._work_dir).deploy(self.deployment)
        self.functions = load_functions(self.deployment, self.aws_url, self.log_dir, self._code)
        self.tasks = TaskRunner(
            load_task_images(self.assembly, self.deployment),
            self.aws_url,
            self.deployment.region,
            self._work_dir,
            self.log_dir,
        )
        self._hook.routes[RUN_TASK_PATH] = self.tasks.handle
        with self._pools_lock:
            for spec in self.functions.specs.values():
                if spec.arn not in self._pools:
                    self._pools[spec.arn] = FunctionPool(spec, self.max_environments)
        # Cold-start one environment per function up front, in parallel.
        with ThreadPoolExecutor(max_workers=max(1, len(self._pools))) as executor:
            warmed = executor.map(lambda pool: pool.warm(), self._pools.values())
            errors = dict(zip(self._pools, warmed, strict=True))
        for arn, error in errors.items():
            if error:
                name = self._pools[arn].spec.name
                self.warm_errors[name] = f"{error.get('errorType')}: {error.get('errorMessage')}"
        self.listener = choose_listener(load_listeners(self.aws_url, self.deployment.region))
        if self.listener is not None:
            self._front_door = FrontDoor(self.listener, self.invoke, self.host, self.http_port)
            self._front_door.start()
        self.distributions = load_distributions(self.assembly, self.aws_url, self.region)
        if self.distributions:
            origin = self._front_door.url if self._front_door is not None else None
            self._edge_door = EdgeDoor(
                self.distributions[0], self.invoke, origin, self.host, self.edge_port
            )
            self._edge_door.start()
        self.mappings = load_mappings(self.aws_url, self.deployment.region)
        for mapping in self.mappings:
            runner = MappingRunner(
                mapping, self.invoke, self.aws_url, self.deployment.region, self.max_pollers
            )
            runner.start()
            self._runners.append(runner)
        self.stream_mappings = load_stream_mappings(self.aws_url, self.deployment.region)
        for stream_mapping in self.stream_mappings:
            stream_runner = StreamRunner(
                stream_mapping, self.invoke, self.aws_url, self.deployment.region
            )
            stream_runner.start()
            self._runners.append(stream_runner)

    def stop(self) -> None:
        """Stop everything that was started; safe to call twice."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._edge_door is not None:
            self._edge_door.stop()
        if self._front_door is not None:
            self._front_door.stop()
        for runner in self._runners:
            runner.stop()
        if self.async_invoker is not None:
            self.async_invoker.stop()
        if self.tasks is not None:
            self.tasks.stop()
        for pool in self._pools.values():
            pool.close()
        for runner in self._runners:
            runner.join(5.0)
        if self._emulator is not None:
            self._emulator.stop()
            forget_clients(self._emulator.url)
        if self._hook is not None:
            self._hook.stop()
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)

    # -- invoking -----------------------------------------------------------------------
    def set_faults(self, **change: Any) -> dict[str, Any]:
        """Change fault injection at run time: ``rate=0..1``, ``match="text"`` or ``None``.

        Returns the emulation's fault state after the change (also ``injected``, the
        number of write calls failed so far).
        """
        return request_faults(self.aws_url, change)

    def invoke(
        self, function_arn: str, event: dict[str, Any], trace_id: str | None = None
    ) -> InvokeResult:
        """Invoke a deployed function synchronously in one of its environments."""
        pool = self._pool(function_arn)
        if pool is None:
            return InvokeResult(
                error={
                    "errorType": "ResourceNotFoundException",
                    "errorMessage": f"no runnable function {function_arn}",
                }
            )
        return pool.invoke(event, trace_id)

    def _pool(self, function_arn: str) -> FunctionPool | None:
        """The function's environments; read back from the emulation on first use when the
        function came up after the catalog was read (or while its stack deploys)."""
        spec = self.functions.by_arn(function_arn)
        with self._pools_lock:
            if spec is not None and spec.arn in self._pools:
                return self._pools[spec.arn]
            base = ":".join(function_arn.split(":")[:7])
            if base in self._pools:
                return self._pools[base]
            if self.deployment is None or self._emulator is None or ":function:" not in base:
                return None
            loaded = load_function(self.deployment, base, self.aws_url, self.log_dir, self._code)
            if loaded is None:
                return None
            pool = self._pools[loaded.arn] = FunctionPool(loaded, self.max_environments)
            return pool

    def _can_run(self, function_arn: str) -> bool:
        return self._pool(function_arn) is not None

    def invoke_async(self, function_arn: str, event: dict[str, Any]) -> str:
        """Queue an asynchronous invocation (as InvocationType=Event); its request id."""
        assert self.async_invoker is not None, "start() first"
        return self.async_invoker.submit(function_arn, event)

    # -- what tests and the CLI use -----------------------------------------------------
    def pause_mappings(self) -> None:
        """Stop polling every mapped queue and stream (returns once no poller is
        receiving or invoking)."""
        for runner in self._runners:
            runner.pause()

    def resume_mappings(self) -> None:
        for runner in self._runners:
            runner.resume()

    @property
    def aws_url(self) -> str:
        assert self._emulator is not None, "start() first"
        return self._emulator.url

    @property
    def http_url(self) -> str:
        assert self._front_door is not None, "no load balancer listener in the assembly"
        return self._front_door.url

    @property
    def edge_url(self) -> str:
        assert self._edge_door is not None, "no CloudFront distribution in the assembly"
        return self._edge_door.url

    @property
    def edge(self) -> Distribution | None:
        """The distribution the edge door plays (the assembly's first), if any."""
        return self._edge_door.distribution if self._edge_door is not None else None

    @property
    def region(self) -> str:
        assert self.deployment is not None, "start() first"
        return self.deployment.region

    @property
    def outputs(self) -> dict[str, str]:
        """Stack outputs by output id, across all stacks."""
        assert self.deployment is not None, "start() first"
        return self.deployment.outputs

    @property
    def stack_outputs(self) -> dict[str, dict[str, str]]:
        assert self.deployment is not None, "start() first"
        return {s.name: dict(s.outputs) for s in self.deployment.stacks}

    def session(self) -> boto3.Session:
        """A boto3 session with the emulation's fake credentials and region."""
        return session(self.region)

    def client(self, service: str) -> Any:
        """A boto3 client pointed at the emulation."""
        return client(service, self.aws_url, self.region)

    @property
    def differences(self) -> list[Difference]:
        """Everything left out, stood in or worked around (the banner's summary, `status`)."""
        assert self.deployment is not None, "start() first"
        edge = [
            Difference("patch", f"{d.stack}/{d.logical_id} (edge door)", problem)
            for d in self.distributions
            for problem in d.differences
        ]
        tasks = task_differences(self.tasks.images) if self.tasks is not None else []
        return [*self.deployment.differences, *self.functions.differences, *edge, *tasks]

    def resources(self, resource_type: str) -> list[str]:
        """Physical ids of every deployed resource of a CloudFormation type."""
        assert self.deployment is not None, "start() first"
        return self.deployment.physical_ids(resource_type)
