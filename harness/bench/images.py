"""Image sizes against the naive Dockerfile and the floor, cold builds, rebuilds after an edit."""

from . import builds
from .core import Bench, Variant
from .report import Target


def sizes_and_builds(bench: Bench, v: Variant, runs: int, cold: bool, heavy_naive: bool) -> None:
    """Warm builds, sizes vs naive and floor, cold builds, rebuilds after a one-line edit."""
    group = "Image size and build time"
    vid = v.id
    for target in ("train", "serve", "lb"):
        v.ours(target)
    refs = {}
    for req in ("serve", "train"):
        for kind in ("naive", "floor"):
            refs[(kind, req)] = v.baseline(kind, req)
    for req in ("serve", "train"):
        ours = builds.image_size(v.engine, v.image(req))
        naive = builds.image_size(v.engine, refs[("naive", req)].tags[0])
        floor = builds.image_size(v.engine, refs[("floor", req)].tags[0])
        if req == "serve":
            targets = [
                Target("<=", 0.35, f"size.{vid}.serve.naive", "naive"),
                Target("<=", 1.15, f"size.{vid}.serve.floor", "floor"),
                # Informative: a naive project ships one image for both jobs; its naive train
                # image (train deps only) is a lower bound of that image.
                Target("<=", 0.35, f"size.{vid}.train.naive", "naive one-image (naive train, lower bound)"),
            ]
        else:
            targets = [Target("<=", 1.10, f"size.{vid}.train.floor", "floor")]
        bench.add(f"size.{vid}.{req}.ours", ours, f"{vid}: {req} image", "bytes", group, targets)
        bench.add(f"size.{vid}.{req}.naive", naive, f"{vid}: {req} image, naive Dockerfile", "bytes", group)
        bench.add(f"size.{vid}.{req}.floor", floor, f"{vid}: {req} image, floor (base + deps)", "bytes", group)
    bench.raw[f"base_image_size.{vid}"] = builds.image_size(v.engine, v.base)
    bench.save()

    # Cold: no layer cache. The serve target always; train only for sklearn (torch and
    # tensorflow installs take minutes, their train figures are warm-cache only).
    if cold:
        cold_targets = ["serve"] + (["train"] if v.variant["framework"] == "sklearn" else [])
        for target in cold_targets:
            seconds = v.ours(target, no_cache=True).seconds
            naive = v.baseline("naive", target, no_cache=True).seconds
            bench.add(
                f"build.{vid}.{target}.cold.ours",
                seconds,
                f"{vid}: {target} cold build",
                "s",
                group,
                note="no layer cache; wheels from the local wheelhouse",
            )
            bench.add(
                f"build.{vid}.{target}.cold.naive",
                naive,
                f"{vid}: {target} cold build, naive",
                "s",
                group,
                note="no layer cache; wheels from the local wheelhouse",
            )
            bench.save()

    # A one-line source edit, then rebuild: ours vs naive. Each target gets its own, new
    # edit (the serve and train targets share the package stage: measured after a serve
    # rebuild, train would find it already built).
    for run in range(runs):
        builds.edit_source(v.project)
        ours = v.ours("serve").seconds
        naive = v.baseline("naive", "serve").seconds
        bench.add(
            f"build.{vid}.serve.edit.ours",
            ours,
            f"{vid}: serve rebuild after a one-line edit",
            "s",
            group,
            [Target("<=", 0.05, f"build.{vid}.serve.edit.naive", "naive")],
        )
        bench.add(f"build.{vid}.serve.edit.naive", naive, f"{vid}: serve rebuild after the edit, naive", "s", group)
        builds.edit_source(v.project)
        ours_train = v.ours("train").seconds
        bench.add(
            f"build.{vid}.train.edit.ours",
            ours_train,
            f"{vid}: train rebuild after a one-line edit",
            "s",
            group,
            [Target("<=", 0.05, f"build.{vid}.train.edit.naive", "naive")],
        )
        if run == 0 and (heavy_naive or v.variant["framework"] == "sklearn"):
            naive_train = v.baseline("naive", "train").seconds
            bench.add(
                f"build.{vid}.train.edit.naive",
                naive_train,
                f"{vid}: train rebuild after the edit, naive",
                "s",
                group,
                note="1 run (reinstalls the framework)",
            )
        bench.save()
    v.ours("lb")
