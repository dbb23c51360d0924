"""Training-time augmentation with Pillow, the same for every framework.

The standard transforms, in torchvision's order and with its parameter names: a random
resized crop (``scale`` of the area, aspect ``ratio``), a small random rotation
(``degrees``, corners filled with black), color jitter (brightness, contrast and
saturation each by a factor in ``1 ± jitter``) and, only when asked, a horizontal flip
(it turns a 2 into a mirrored 2, and text into mirror writing). They apply to the train
split only, to the decoded image in the model's color mode, before ``preprocess_image``
resizes it, so serving (which never augments) sees images exactly as before.

Each draw is a pure function of (seed, epoch, example index): a resumed run, or a
DataLoader worker in another process, augments an example exactly as an uninterrupted run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

SETTINGS = ("off", "standard", "standard+flip")


@dataclass(frozen=True)
class Augmentation:
    """Random transforms of one image; see the module docstring for each."""

    scale: tuple[float, float] = (0.75, 1.0)  # narrower than torchvision's (0.08, 1): 8x8 digits
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    degrees: float = 10.0
    jitter: float = 0.2
    flip: bool = False

    def __call__(self, image: Image.Image, rng: np.random.Generator) -> Image.Image:
        """A transformed copy of ``image`` (mode L or RGB), the same size."""
        width, height = image.size
        left, top, crop_width, crop_height = self._crop_box(width, height, rng)
        image = image.resize(
            (width, height), Image.Resampling.BILINEAR, box=(left, top, left + crop_width, top + crop_height)
        )
        angle = float(rng.uniform(-self.degrees, self.degrees))
        image = image.rotate(angle, resample=Image.Resampling.BILINEAR, fillcolor=0)
        enhancers = [ImageEnhance.Brightness, ImageEnhance.Contrast]
        if image.mode == "RGB":
            enhancers.append(ImageEnhance.Color)
        for index in rng.permutation(len(enhancers)):
            image = enhancers[index](image).enhance(float(rng.uniform(1 - self.jitter, 1 + self.jitter)))
        if self.flip and rng.random() < 0.5:
            image = ImageOps.mirror(image)
        return image

    def _crop_box(self, width: int, height: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """(left, top, width, height) of a crop of ``scale`` of the area and ``ratio`` aspect
        (torchvision's RandomResizedCrop.get_params: 10 tries, then the whole image)."""
        area = width * height
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            crop_width = round(math.sqrt(target * aspect))
            crop_height = round(math.sqrt(target / aspect))
            if 0 < crop_width <= width and 0 < crop_height <= height:
                left = int(rng.integers(0, width - crop_width + 1))
                top = int(rng.integers(0, height - crop_height + 1))
                return left, top, crop_width, crop_height
        return 0, 0, width, height


def from_setting(value: str) -> Augmentation | None:
    """The AUGMENT setting's augmentation: None for "off"; raises ValueError for another value."""
    if value not in SETTINGS:
        raise ValueError(f"unknown augmentation {value!r}; expected one of {', '.join(SETTINGS)}")
    return None if value == "off" else Augmentation(flip=value == "standard+flip")
