"""Train, export to ONNX and write the model directory: ``python -m <package>.train``.

Settings come from environment variables and flags (see ``--help``). Exit status: 0
when the model was written or training stopped cleanly on SIGTERM (a checkpoint was
saved; the next run resumes), 1 on a data, training or export error, 2 on a bad setting.
"""

from __future__ import annotations
{% if cookiecutter.distributed_training == "torchrun" %}
import os
{%- endif %}
import sys
from collections.abc import Sequence

from . import runtime
from .checkpoint import StopRequest
from .config import load_config
from .progress import Progress
from .settings import SettingsError


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = load_config(argv)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

{%- if cookiecutter.distributed_training == "torchrun" %}
    # Size the native thread pools before the framework is imported; torchrun's
    # processes on one machine share its CPUs.
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    threads = runtime.configure_thread_env(config.threads or max(1, runtime.cpu_limit() // local_processes))
{%- else %}
    # Size the native thread pools before the framework is imported.
    threads = runtime.configure_thread_env(config.threads or runtime.cpu_limit())
{%- endif %}
    stop = StopRequest()
    stop.install()
{%- if cookiecutter.distributed_training == "torchrun" %}
    progress = Progress(config.log_format, enabled=int(os.environ.get("RANK", "0")) == 0)
{%- else %}
    progress = Progress(config.log_format)
{%- endif %}

    from . import data, datasets, export, models, splits

    try:
        if datasets.ensure_dataset(config.data_dir, seed=config.seed):
            progress.event(
                "data", f"wrote the digits data set to {config.data_dir}", data_dir=str(config.data_dir)
            )
        dataset = splits.load_dataset(
            config.data_dir,
            models.LAYOUT,
            config.color_mode,
            config.image_size,
            val_fraction=config.val_fraction,
            seed=config.seed,
            workers=threads,
        )
        pre = dataset.preprocessing
        progress.event(
            "start",
            f"training {models.FRAMEWORK} on {len(dataset.train)} images "
            f"({len(dataset.classes)} classes, validation {len(dataset.val)}, test {len(dataset.test)}, "
            f"{pre.color_mode} {pre.size[0]}x{pre.size[1]}) with {threads} threads",
            framework=models.FRAMEWORK,
            n_train=len(dataset.train),
            n_val=len(dataset.val),
            n_test=len(dataset.test),
            classes=len(dataset.classes),
            color_mode=pre.color_mode,
            image_size=list(pre.size),
            threads=threads,
            epochs=config.epochs,
        )
        trained = models.train(config, dataset, progress, stop, threads)
        if trained is None:  # stopped by a signal, or a worker rank
            return 0
        metrics = export.write_model(config.model_dir, trained, dataset)
    except (data.DataError, export.ExportError, RuntimeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    peak = runtime.peak_memory_mib()
    progress.event(
        "done",
        f"wrote {config.model_dir} (test accuracy {metrics['accuracy']:.2%}"
        + (f", peak memory {peak:.0f} MiB)" if peak is not None else ")"),
        model_dir=str(config.model_dir),
        accuracy=metrics["accuracy"],
        elapsed=round(progress.elapsed(), 3),
        peak_memory_mib=peak,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
