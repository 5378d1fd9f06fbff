"""An encoder's preprocessing, read from a Hugging Face processor config and applied to Pillow
images without torchvision: resize, centre crop, rescale and normalise (the fields and order of
transformers' image processors)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image

from ..errors import ConfigError

RESAMPLING = {0: Image.Resampling.NEAREST, 1: Image.Resampling.LANCZOS, 2: Image.Resampling.BILINEAR,
              3: Image.Resampling.BICUBIC, 4: Image.Resampling.BOX, 5: Image.Resampling.HAMMING}


@dataclass(frozen=True)
class Preprocessing:
    """Image → C×H×W float32: convert to ``mode`` ("RGB" or "L"); resize so the shorter side is
    ``shortest_edge`` (aspect kept) or to exactly ``size`` (height, width), with Pillow filter
    ``resample``; crop ``crop`` (height, width) from the centre; multiply by ``scale``; subtract
    ``mean`` and divide by ``std`` per channel. None skips a step."""

    mode: str = "RGB"
    shortest_edge: int | None = None
    size: tuple[int, int] | None = None
    resample: int = 3
    crop: tuple[int, int] | None = None
    scale: float = 1 / 255
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    @classmethod
    def from_processor_config(cls, config: dict, channels: int = 3, source: str = "preprocessor_config.json"
                              ) -> "Preprocessing":
        """The steps a transformers image processor config names (``do_resize``, ``size``,
        ``resample``, ``do_center_crop``, ``crop_size``, ``do_rescale``, ``rescale_factor``,
        ``do_normalize``, ``image_mean``, ``image_std``) for an encoder of ``channels`` channels."""
        shortest, size = None, None
        if config.get("do_resize", True) and "size" in config:
            given = config["size"]
            if isinstance(given, int):
                shortest = given
            elif isinstance(given, dict) and "shortest_edge" in given:
                shortest = int(given["shortest_edge"])
            elif isinstance(given, dict) and {"height", "width"} <= set(given):
                size = (int(given["height"]), int(given["width"]))
            else:
                raise ConfigError(f"{source}: size = {given!r}: expected an integer, {{'shortest_edge': S}} or "
                                  "{'height': H, 'width': W}")
        crop = None
        if config.get("do_center_crop", False):
            given = config.get("crop_size")
            if isinstance(given, int):
                crop = (given, given)
            elif isinstance(given, dict) and {"height", "width"} <= set(given):
                crop = (int(given["height"]), int(given["width"]))
            else:
                raise ConfigError(f"{source}: crop_size = {given!r}: expected an integer or {{'height': H, 'width': W}}")
        resample = int(config.get("resample", 3))
        if resample not in RESAMPLING:
            raise ConfigError(f"{source}: resample = {resample}: expected a Pillow filter number 0..5")
        scale = float(config.get("rescale_factor", 1 / 255)) if config.get("do_rescale", True) else 1.0
        mean = std = None
        if config.get("do_normalize", True) and "image_mean" in config:
            mean, std = tuple(map(float, _per_channel(config["image_mean"], channels))), \
                tuple(map(float, _per_channel(config["image_std"], channels)))
        return cls("RGB" if channels == 3 else "L", shortest, size, resample, crop, scale, mean, std)

    def to_dict(self) -> dict:
        """The steps as plain JSON values (recorded beside the features)."""
        return asdict(self)

    def __call__(self, image: Image.Image) -> np.ndarray:
        """One image → C×H×W float32."""
        image = image.convert(self.mode)
        filt = RESAMPLING[self.resample]
        if self.shortest_edge is not None:
            w, h = image.size
            short, long = (w, h) if w <= h else (h, w)
            new_long = int(self.shortest_edge * long / short)
            image = image.resize((self.shortest_edge, new_long) if w <= h else (new_long, self.shortest_edge), filt)
        elif self.size is not None:
            image = image.resize((self.size[1], self.size[0]), filt)
        if self.crop is not None:
            w, h = image.size
            ch, cw = self.crop
            top, left = (h - ch) // 2, (w - cw) // 2  # a crop larger than the image pads with zeros
            image = image.crop((left, top, left + cw, top + ch))
        pixels = np.asarray(image, dtype=np.float32) * self.scale
        pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
        if self.mean is not None:
            pixels = (pixels - np.asarray(self.mean, np.float32)[:, None, None]) / np.asarray(self.std, np.float32)[:, None, None]
        return np.ascontiguousarray(pixels, dtype=np.float32)


def _per_channel(values, channels: int) -> list[float]:
    """A processor config's mean or std as one value per channel (a single value repeats)."""
    values = [values] if isinstance(values, (int, float)) else list(values)
    if len(values) == 1:
        return values * channels
    if len(values) != channels:
        raise ConfigError(f"image_mean / image_std have {len(values)} values: expected 1 or the encoder's {channels} channels")
    return values
