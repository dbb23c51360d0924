"""Images of any color mode and size: detection, the COLOR_MODE and IMAGE_SIZE settings, the
shapes data set, and training and serving turning one file into exactly the same input."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from {{ cookiecutter.package_name }}.artifacts import Preprocessing
from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import MAX_AUTO_SIDE, list_images, normalize_mode, preprocess_image, read_image
from {{ cookiecutter.package_name }}.datasets import SHAPE_COLORS, SHAPES, materialize
from {{ cookiecutter.package_name }}.serve.images import open_image, to_model_input
from {{ cookiecutter.package_name }}.settings import SettingsError
from {{ cookiecutter.package_name }}.splits import load_dataset


def _gradient(mode: str, size: tuple[int, int] = (20, 12)) -> Image.Image:
    """A color gradient (distinct pixels everywhere) converted to ``mode``."""
    width, height = size
    x, y = np.meshgrid(np.arange(width), np.arange(height))
    rgb = np.stack([x * 255 // width, y * 255 // height, (x + y) * 255 // (width + height)], axis=2)
    return Image.fromarray(rgb.astype(np.uint8), "RGB").convert(mode)


def _sixteen_bit() -> Image.Image:
    pixels = (np.arange(20 * 12, dtype=np.uint16).reshape(12, 20) * 250).astype(np.uint16)
    image = Image.fromarray(pixels)
    assert image.mode == "I;16"
    return image


def _palette_with_transparency() -> Image.Image:
    image = _gradient("RGB").quantize(16)
    image.info["transparency"] = 0
    return image


def _rotated_jpeg_bytes() -> bytes:
    """A JPEG whose EXIF orientation (6: rotate 90 degrees clockwise to view) must be applied."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    _gradient("RGB").save(buffer, "JPEG", exif=exif.tobytes(), quality=95)
    return buffer.getvalue()


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


# Every kind of file a user's data set or a client may hold: palettes, alpha, 16-bit, 1-bit,
# CMYK, EXIF orientation.
FILES: dict[str, Callable[[], bytes]] = {
    "rgb-png": lambda: _encoded(_gradient("RGB"), "PNG"),
    "rgba-png": lambda: _encoded(_gradient("RGBA"), "PNG"),
    "la-png": lambda: _encoded(_gradient("LA"), "PNG"),
    "gray-png": lambda: _encoded(_gradient("L"), "PNG"),
    "1-bit-png": lambda: _encoded(_gradient("1"), "PNG"),
    "palette-png": lambda: _encoded(_gradient("P"), "PNG"),
    "palette-transparency-png": lambda: _encoded(_palette_with_transparency(), "PNG"),
    "16-bit-png": lambda: _encoded(_sixteen_bit(), "PNG"),
    "rgb-jpeg": lambda: _encoded(_gradient("RGB"), "JPEG", quality=90),
    "gray-jpeg": lambda: _encoded(_gradient("L"), "JPEG", quality=90),
    "cmyk-jpeg": lambda: _encoded(_gradient("CMYK"), "JPEG", quality=90),
    "exif-rotated-jpeg": _rotated_jpeg_bytes,
}
PREPROCESSINGS = {
    "L-8x8-NF": Preprocessing(color_mode="L", size=(8, 8), layout="NF"),
    "RGB-32x24-NCHW": Preprocessing(color_mode="RGB", size=(32, 24), mean=0.4, std=0.3, layout="NCHW"),
    "RGB-16x16-NHWC": Preprocessing(color_mode="RGB", size=(16, 16), layout="NHWC"),
}


@pytest.mark.parametrize("pre_id", sorted(PREPROCESSINGS))
@pytest.mark.parametrize("kind", sorted(FILES))
def test_training_and_serving_turn_a_file_into_the_same_input(tmp_path: Path, kind: str, pre_id: str) -> None:
    pre = PREPROCESSINGS[pre_id]
    data = FILES[kind]()
    suffix = ".jpg" if kind.endswith("jpeg") else ".png"
    path = tmp_path / f"image{suffix}"
    path.write_bytes(data)
    trained_on = preprocess_image(read_image(path), pre)
    served = to_model_input(open_image(data, path.name, 10**7), path.name, pre)
    assert served.dtype == trained_on.dtype == np.float32
    np.testing.assert_array_equal(served, trained_on)


def test_exif_orientation_is_applied() -> None:
    """The 20x12 picture, stored with orientation 6, is 12 wide and 20 high upright."""
    path_image = Image.open(io.BytesIO(_rotated_jpeg_bytes()))
    assert path_image.size == (20, 12)
    pre = Preprocessing(color_mode="L", size=(12, 20), layout="NHWC")
    upright = to_model_input(path_image, "rotated.jpg", pre)
    assert upright.shape == (20, 12, 1)


def _tree(root: Path, make: Callable[[int, int], Image.Image], per_class: int = 3) -> Path:
    for split in ("train", "test"):
        for label in range(2):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True)
            for index in range(per_class):
                make(label, index).save(folder / f"{index}.png")
    return root


def test_color_mode_follows_the_data(digits_dir: Path, shapes_dir: Path) -> None:
    assert load_dataset(digits_dir, "NF").preprocessing.color_mode == "L"
    shapes = load_dataset(shapes_dir, "NCHW")
    assert shapes.preprocessing.color_mode == "RGB"
    assert shapes.input_shape == (3, 32, 32)


def test_rgb_files_with_gray_pixels_are_grayscale_data(tmp_path: Path) -> None:
    root = _tree(tmp_path, lambda label, index: Image.new("RGB", (10, 10), (40 * label + index,) * 3))
    assert load_dataset(root, "NF").preprocessing.color_mode == "L"


def test_one_colored_image_makes_the_data_rgb(tmp_path: Path) -> None:
    def make(label: int, index: int) -> Image.Image:
        return Image.new("RGB", (10, 10), (200, 10, 10) if (label, index) == (1, 2) else (50, 50, 50))

    assert load_dataset(_tree(tmp_path, make), "NF").preprocessing.color_mode == "RGB"


def test_color_mode_setting_overrides_the_data(digits_dir: Path, shapes_dir: Path) -> None:
    assert load_dataset(shapes_dir, "NHWC", color_mode="L").input_shape == (32, 32, 1)
    assert load_dataset(digits_dir, "NCHW", color_mode="RGB").input_shape == (3, 8, 8)


def test_image_size_is_the_most_common_size_capped_at_224(tmp_path: Path) -> None:
    def make(label: int, index: int) -> Image.Image:
        return Image.new("L", (300, 200) if index else (40, 40), 100 + label)

    root = _tree(tmp_path, make)
    assert load_dataset(root, "NF").preprocessing.size == (MAX_AUTO_SIDE, 149)
    sized = load_dataset(root, "NHWC", image_size=(24, 16))
    assert sized.preprocessing.size == (24, 16)
    assert sized.input_shape == (16, 24, 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("auto", None), ("32", (32, 32)), ("48x32", (48, 32)), ("48X32", (48, 32)), ("1024", (1024, 1024))],
)
def test_image_size_setting(value: str, expected: tuple[int, int] | None) -> None:
    assert load_config([], {"IMAGE_SIZE": value}).image_size == expected


@pytest.mark.parametrize("value", ["0", "1025", "32x0", "x32", "32x", "big", "32x32x3", "-8"])
def test_image_size_setting_rejects(value: str) -> None:
    with pytest.raises(
        SettingsError, match=r"invalid setting IMAGE_SIZE=.*: must be auto, N or WIDTHxHEIGHT"
    ):
        load_config([], {"IMAGE_SIZE": value})


@pytest.mark.parametrize(("value", "expected"), [("auto", "auto"), ("rgb", "RGB"), ("L", "L"), ("l", "L")])
def test_color_mode_setting(value: str, expected: str) -> None:
    assert load_config([], {"COLOR_MODE": value}).color_mode == expected


@pytest.mark.parametrize("value", ["CMYK", "RGBA", "gray", ""])
def test_color_mode_setting_rejects(value: str) -> None:
    with pytest.raises(SettingsError, match=r"invalid setting COLOR_MODE=.*: must be one of auto, L, RGB"):
        load_config([], {"COLOR_MODE": value})


def test_shapes_data_set(shapes_dir: Path, tmp_path: Path) -> None:
    splits = list_images(shapes_dir)
    classes = sorted(f"{color}_{shape}" for color in SHAPE_COLORS for shape in SHAPES)
    assert sorted(path.name for path in (shapes_dir / "train").iterdir()) == classes
    assert (len(splits["train"]), len(splits["test"])) == (1440, 360)
    with Image.open(splits["test"][0][0]) as image:
        assert (image.mode, image.size) == ("RGB", (32, 32))
    again = materialize(tmp_path / "again", "shapes", seed=0)
    first = sorted(path.relative_to(shapes_dir) for path in shapes_dir.rglob("*.png"))
    assert first == sorted(path.relative_to(again) for path in again.rglob("*.png"))
    assert (shapes_dir / first[0]).read_bytes() == (again / first[0]).read_bytes()


def test_shape_colors_differ_only_in_color_not_brightness() -> None:
    lumas = [Image.new("RGB", (1, 1), color).convert("L").getpixel((0, 0)) for color in SHAPE_COLORS.values()]
    assert max(lumas) - min(lumas) <= 2, lumas


def test_trained_on_shapes_the_server_classifies_rgb_uploads_of_other_sizes(runner, shapes_dir: Path) -> None:
    """Training finds RGB 32x32 in the data; the server takes 48x40 JPEGs of held-out shapes."""
    from fastapi.testclient import TestClient

    from {{ cookiecutter.package_name }}.artifacts import read_model_dir
    from {{ cookiecutter.package_name }}.serve.app import create_app
    from {{ cookiecutter.package_name }}.serve.settings import Settings

    result = runner.run(DATA_DIR=str(shapes_dir))
    assert result.returncode == 0, result.stderr
    start = next(event for event in runner.events(result.stdout) if event["event"] == "start")
    assert (start["color_mode"], start["image_size"]) == ("RGB", [32, 32])
    model = read_model_dir(runner.model_dir)
    assert (model.manifest.preprocessing.color_mode, model.manifest.preprocessing.size) == ("RGB", (32, 32))
    assert model.metrics["accuracy"] >= 0.8, model.metrics["accuracy"]

    held_out = list_images(shapes_dir)["test"][::12]  # 30, under MAX_BATCH
    labels = sorted(path.name for path in (shapes_dir / "train").iterdir())
    files = []
    for path, _ in held_out:
        with Image.open(path) as image:
            jpeg = _encoded(image.resize((48, 40)), "JPEG", quality=95)
        files.append(("files", (f"{path.parent.name}.jpg", jpeg)))
    settings = Settings(model_dir=runner.model_dir, ort_threads=1)
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        answer = client.post("/v1/predict", files=files)
    assert answer.status_code == 200, answer.text
    predicted = [prediction["top_k"][0]["label"] for prediction in answer.json()["predictions"]]
    right = sum(label == labels[index] for label, (_, index) in zip(predicted, held_out, strict=True))
    expected = [labels[index] for _, index in held_out]
    assert right >= 0.8 * len(held_out), list(zip(predicted, expected, strict=True))


def _deep(mode: str, side: int) -> Image.Image:
    """A side x side ramp in a high-bit-depth mode, over a range that does not start at 0."""
    ramp = np.linspace(1_000, 60_000, side * side).reshape(side, side)
    dtype = {"I;16": "<u2", "I;16B": ">u2", "I": "<i4", "F": "<f4"}[mode]
    return Image.frombytes(mode, (side, side), ramp.astype(dtype).tobytes())


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I", "F"])
def test_high_bit_depth_is_stretched_to_8_bit_in_a_few_bytes_per_pixel(mode: str) -> None:
    """Every high-bit-depth mode: the darkest pixel black, the brightest white, and the
    conversion's own allocations within 2 bytes per pixel beyond the source pixels (a
    float64 copy per step was 32: a 4096x4096 float TIFF upload cost 480 MiB)."""
    import tracemalloc

    image = _deep(mode, 1024)
    tracemalloc.start()
    try:
        converted = normalize_mode(image)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    pixels = np.asarray(converted)
    assert converted.mode == "L" and pixels.min() == 0 and pixels.max() == 255
    source_bytes = np.asarray(image).nbytes
    assert peak <= source_bytes + 2 * image.width * image.height, f"{peak / 2**20:.1f} MiB for {mode}"


def test_non_finite_float_pixels_become_black() -> None:
    pixels = np.linspace(5.0, 9.0, 64, dtype=np.float32).reshape(8, 8)
    pixels[0, :3] = [np.nan, np.inf, -np.inf]
    converted = np.asarray(normalize_mode(Image.fromarray(pixels, "F")))
    assert converted[0, :3].tolist() == [0, 0, 0]
    assert converted.max() == 255 and converted[0, 3] < converted[7, 7]
