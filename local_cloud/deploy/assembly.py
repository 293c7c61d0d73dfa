"""Reads a synthesized CDK cloud assembly: stacks in deploy order, templates and file assets.

Only the cloud-assembly files are read (manifest.json, *.template.json, *.assets.json), never
the app's source, so this works for any CDK app.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

STACK_ARTIFACT = "aws:cloudformation:stack"
ASSET_MANIFEST_ARTIFACT = "cdk:asset-manifest"
NESTED_ASSEMBLY_ARTIFACT = "cdk:cloud-assembly"
DEFAULT_REGION = "us-east-1"


class AssemblyError(Exception):
    """The directory is not a usable cloud assembly."""


@dataclass(frozen=True)
class FileAsset:
    """One file asset: where it is in the assembly and where the CDK CLI would publish it."""

    asset_id: str
    source: Path
    packaging: str  # "zip" (a directory zipped on publish) or "file"
    bucket_name: str  # may hold ${AWS::AccountId} / ${AWS::Region} placeholders
    object_key: str


@dataclass(frozen=True)
class DockerImageAsset:
    """A container image the CDK CLI would build and push: the local cloud cannot build it."""

    asset_id: str
    source: str  # the build directory in the assembly, or the command that builds it


@dataclass(frozen=True)
class StackArtifact:
    stack_name: str
    template: dict[str, Any]
    region: str | None  # None when the stack is environment-agnostic
    dependencies: tuple[str, ...]  # stack names this stack depends on
    requires_bootstrap_version: int | None
    bootstrap_version_parameter: str | None
    assets: tuple[FileAsset, ...] = ()


@dataclass(frozen=True)
class Assembly:
    directory: Path
    stacks: tuple[StackArtifact, ...]  # in deploy order (dependencies first)
    docker_image_assets: tuple[DockerImageAsset, ...] = ()

    @property
    def region(self) -> str:
        """The one region the emulation deploys every stack to: the stacks' region, the one
        most of them name when they name several (a Lambda@Edge function's us-east-1 stack
        beside an app elsewhere), the default for environment-agnostic stacks."""
        regions = Counter(s.region for s in self.stacks if s.region)
        if not regions:
            return DEFAULT_REGION
        top = max(regions.values())
        leaders = sorted(r for r, n in regions.items() if n == top)
        return leaders[0] if len(leaders) == 1 else DEFAULT_REGION

    def file_assets(self) -> list[FileAsset]:
        """Every file asset, once, in a stable order."""
        seen: dict[str, FileAsset] = {}
        for stack in self.stacks:
            for asset in stack.assets:
                seen.setdefault(f"{asset.bucket_name}/{asset.object_key}", asset)
        return list(seen.values())

    def asset_for_key(self, object_key: str) -> FileAsset | None:
        """The asset published under object_key (a template's Code.S3Key / Content.S3Key)."""
        for asset in self.file_assets():
            if asset.object_key == object_key:
                return asset
        return None

    def stack(self, stack_name: str) -> StackArtifact:
        for stack in self.stacks:
            if stack.stack_name == stack_name:
                return stack
        raise KeyError(stack_name)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AssemblyError(f"{path} not found: synthesize the app first (cdk synth)") from exc
    if not isinstance(data, dict):
        raise AssemblyError(f"{path} is not a JSON object")
    return data


def _region_of(environment: str | None) -> str | None:
    # "aws://<account>/<region>"; CDK writes "unknown-region" for environment-agnostic stacks.
    if not environment or not environment.startswith("aws://"):
        return None
    parts = environment.removeprefix("aws://").split("/")
    if len(parts) != 2 or parts[1].startswith("unknown-"):
        return None
    return parts[1]


def _read_assets(
    directory: Path, manifest_file: str
) -> tuple[list[FileAsset], list[DockerImageAsset]]:
    data = _read_json(directory / manifest_file)
    assets: list[FileAsset] = []
    for asset_id, spec in data.get("files", {}).items():
        source = spec.get("source", {})
        if "path" not in source:
            continue  # built by an executable at publish time: not supported offline
        for destination in spec.get("destinations", {}).values():
            assets.append(
                FileAsset(
                    asset_id=asset_id,
                    source=directory / source["path"],
                    packaging=source.get("packaging", "file"),
                    bucket_name=destination["bucketName"],
                    object_key=destination["objectKey"],
                )
            )
    images = []
    for asset_id, spec in data.get("dockerImages", {}).items():
        source = spec.get("source", {})
        where = source.get("directory") or " ".join(source.get("executable", [])) or "?"
        images.append(DockerImageAsset(asset_id, str(where)))
    return assets, images


AssetLists = tuple[list[FileAsset], list[DockerImageAsset]]


def _collect(
    directory: Path, artifacts: dict[str, Any], prefix: str = ""
) -> tuple[dict[str, dict[str, Any]], dict[str, AssetLists]]:
    stacks: dict[str, dict[str, Any]] = {}
    asset_manifests: dict[str, AssetLists] = {}
    for artifact_id, artifact in artifacts.items():
        kind = artifact.get("type")
        props = artifact.get("properties", {})
        if kind == STACK_ARTIFACT:
            stacks[prefix + artifact_id] = {**artifact, "directory": directory}
        elif kind == ASSET_MANIFEST_ARTIFACT:
            asset_manifests[prefix + artifact_id] = _read_assets(directory, props["file"])
        elif kind == NESTED_ASSEMBLY_ARTIFACT:
            # Stages synthesize into nested assemblies; their stacks deploy like top-level ones.
            nested_dir = directory / props["directoryName"]
            nested = _read_json(nested_dir / "manifest.json").get("artifacts", {})
            more_stacks, more_assets = _collect(nested_dir, nested, prefix)
            stacks.update(more_stacks)
            asset_manifests.update(more_assets)
    return stacks, asset_manifests


def load_assembly(directory: str | Path) -> Assembly:
    """Read the assembly at directory (what `cdk synth` wrote, usually cdk.out)."""
    root = Path(directory).resolve()
    manifest = _read_json(root / "manifest.json")
    raw_stacks, asset_manifests = _collect(root, manifest.get("artifacts", {}))
    if not raw_stacks:
        raise AssemblyError(f"{root} holds no CloudFormation stacks")

    by_id: dict[str, StackArtifact] = {}
    docker_images: dict[str, DockerImageAsset] = {}
    for artifact_id, artifact in raw_stacks.items():
        props = artifact.get("properties", {})
        stack_dir: Path = artifact["directory"]
        deps = [d for d in artifact.get("dependencies", []) if d in raw_stacks]
        assets: list[FileAsset] = []
        for dep in artifact.get("dependencies", []):
            if dep in asset_manifests:
                files, images = asset_manifests[dep]
                assets.extend(files)
                docker_images.update((image.asset_id, image) for image in images)
        by_id[artifact_id] = StackArtifact(
            stack_name=props.get("stackName", artifact_id),
            template=_read_json(stack_dir / props["templateFile"]),
            region=_region_of(artifact.get("environment")),
            dependencies=tuple(deps),  # artifact ids for now; names below
            requires_bootstrap_version=props.get("requiresBootstrapStackVersion"),
            bootstrap_version_parameter=props.get("bootstrapStackVersionSsmParameter"),
            assets=tuple(assets),
        )

    order = TopologicalSorter({a: set(s.dependencies) for a, s in by_id.items()}).static_order()
    stacks = tuple(
        StackArtifact(
            **{
                **by_id[a].__dict__,
                "dependencies": tuple(by_id[d].stack_name for d in by_id[a].dependencies),
            }
        )
        for a in order
    )
    return Assembly(root, stacks, docker_image_assets=tuple(docker_images.values()))
