"""Reading the sample assembly: deploy order, assets, region."""

from __future__ import annotations

from local_cloud.deploy.assembly import DEFAULT_REGION, load_assembly


def test_stacks_come_in_dependency_order(sample_assembly):
    assembly = load_assembly(sample_assembly)
    names = [s.stack_name for s in assembly.stacks]

    assert sorted(names) == [
        "Sample-Compute",
        "Sample-Custom",
        "Sample-Data",
        "Sample-Net",
        "Sample-Queue",
    ]
    compute = names.index("Sample-Compute")
    assert all(names.index(d) < compute for d in ("Sample-Net", "Sample-Data", "Sample-Queue"))
    assert set(assembly.stack("Sample-Compute").dependencies) == {
        "Sample-Net",
        "Sample-Data",
        "Sample-Queue",
    }
    assert assembly.region == DEFAULT_REGION  # environment-agnostic stacks


def test_every_code_asset_is_found_with_its_object_key(sample_assembly):
    assembly = load_assembly(sample_assembly)
    zips = [a for a in assembly.file_assets() if a.packaging == "zip"]

    handlers = sorted(p.name for a in zips for p in a.source.glob("handler.py"))
    assert handlers == ["handler.py"] * 6  # six functions, same module name
    assert any((a.source / "python" / "sample_shared").is_dir() for a in zips)
    for asset in zips:
        assert assembly.asset_for_key(asset.object_key) == asset


def test_docker_image_assets_are_collected_to_be_reported(sample_assembly):
    (image,) = load_assembly(sample_assembly).docker_image_assets

    assert image.source.startswith("asset.")
    assert (sample_assembly / image.source / "Dockerfile").is_file()
