"""The torch ``Dataset`` over a prepared index: (image, tags, labels, row) per image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from annokit.data.image_decode import decode_rgb
from annokit.data.index import PreparedIndex

# ImageNet statistics: the backbones are ImageNet-pretrained ResNets (both papers).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def default_transform(image_size: int = 224) -> Callable[[Image.Image], torch.Tensor]:
    """The papers' preprocessing: resize to image_size × image_size (224
    in both), ImageNet normalisation."""
    from torchvision import transforms  # here: the stages on cached vectors never import it

    return transforms.Compose(
        [
            transforms.Resize((image_size, image_size)),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )


class AnnotationDataset(Dataset):
    """Images of one split of a prepared index with their tag and
    label vectors (float32 multi-hot)."""

    def __init__(
        self,
        index: PreparedIndex,
        data_root: Path,
        split: str | None = None,
        transform: Callable[[Image.Image], torch.Tensor] | None = None,
        image_size: int = 224,
    ) -> None:
        self.data_root = Path(data_root)
        self.rows = index.rows(split)
        self.paths = index.frame["path"].to_numpy()[self.rows]
        self.labels = torch.from_numpy(index.label_matrix(split).astype(np.float32))
        self.tags = torch.from_numpy(index.tag_matrix(split).astype(np.float32))
        self.transform = transform or default_transform(image_size)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        return self.transform(self.load_image(i)), self.tags[i], self.labels[i], int(self.rows[i])

    def load_image(self, i: int) -> Image.Image:
        """The 8-bit RGB image of item i (``decode_rgb``); a bad file is an error naming it."""
        path = self.data_root / self.paths[i]
        try:
            return decode_rgb(path)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"image {path} is missing (row {self.rows[i]} of the prepared index): restore it, "
                "or prepare the index again with --on-missing skip (papermill parameter "
                "on_missing='skip') to leave it out"
            ) from None
