"""Images with more than 8 bits per pixel, images over the pixel limit and undecodable images
seen through loader workers: what training, the cache and ``verify --deep`` make of them."""

import numpy as np
import pytest
import torch
from PIL import Image

from annokit.bench.synthetic import write_synthetic_jpegs
from annokit.cli import message
from annokit.data.annotation_table import TRAIN
from annokit.data.dataset import AnnotationDataset
from annokit.data.image_cache import CacheBuild, image_dataset
from annokit.data.image_checks import decode_error, describe_undecodable
from annokit.data.image_decode import ImageDecodeError, decode_rgb
from annokit.profile import ImageCacheSettings

GRADIENT = (np.arange(32 * 32).reshape(32, 32) * 64).astype(np.uint16)  # 0 … 65472
EXPECTED_MEAN = (GRADIENT.astype(np.float64) * 255 / 65535).mean()  # about 127


@pytest.fixture()
def source(tmp_path):
    data_root = tmp_path / "data"
    index = write_synthetic_jpegs(data_root, 4, size=(40, 30))
    return index, data_root, tmp_path / "work"


def replace_first(index, data_root, image: Image.Image, fmt: str):
    """Write ``image`` over the first training image (keeping its ``.jpg`` name)."""
    dataset = AnnotationDataset(index, data_root, split=TRAIN, image_size=16)
    path = data_root / dataset.paths[0]
    image.save(path, format=fmt)
    return dataset, path


def test_a_16_bit_png_named_jpg_is_scaled_not_clipped_to_white(source):
    index, data_root, work = source
    dataset, path = replace_first(index, data_root, Image.fromarray(GRADIENT), "PNG")
    assert Image.open(path).mode == "I;16"
    pixels = np.asarray(dataset.load_image(0))
    assert pixels.shape == (32, 32, 3) and abs(pixels.mean() - EXPECTED_MEAN) < 0.5
    assert decode_error(path) is None  # the deep check agrees with training
    cached = image_dataset(
        index,
        data_root,
        TRAIN,
        16,
        ImageCacheSettings(enabled=True),
        work,
        CacheBuild(workers=0, progress=False),
    )
    assert torch.equal(cached[0][0], dataset[0][0])  # the cache stores the same scaled pixels


@pytest.mark.parametrize(
    ("values", "mode"),
    [(GRADIENT.astype(np.int32), "I"), ((GRADIENT / 65535).astype(np.float32), "F")],
)
def test_32_bit_integer_and_float_tiffs_are_scaled(tmp_path, values, mode):
    path = tmp_path / "image.tif"
    Image.fromarray(values, mode).save(path)
    assert Image.open(path).mode == mode
    assert abs(np.asarray(decode_rgb(path)).mean() - EXPECTED_MEAN) < 0.5


def test_values_without_an_8_bit_meaning_are_refused_in_training_and_verify(source):
    index, data_root, _ = source
    values = (GRADIENT * 3.0).astype(np.float32)  # a float image outside 0…1
    dataset, path = replace_first(index, data_root, Image.fromarray(values, "F"), "TIFF")
    with pytest.raises(ImageDecodeError, match=rf"image {path} is a 32-bit float image .*8-bit"):
        dataset.load_image(0)
    assert decode_error(path) == "32-bit float image, values outside 0…1"


def test_8_bit_jpegs_decode_as_before(source):
    index, data_root, _ = source
    dataset = AnnotationDataset(index, data_root, split=TRAIN, image_size=16)
    path = data_root / dataset.paths[1]
    with Image.open(path) as image:
        assert np.array_equal(np.asarray(image.convert("RGB")), np.asarray(dataset.load_image(1)))


def test_an_image_over_the_pixel_limit_names_the_file_the_limit_and_the_variable(
    tmp_path, monkeypatch
):
    path = tmp_path / "big.png"
    Image.new("L", (300, 200)).save(path)
    monkeypatch.setenv("ANNOKIT_MAX_IMAGE_PIXELS", "10000")
    with pytest.raises(ImageDecodeError, match=rf"image {path} is too large \(60,000 pixels; "):
        decode_rgb(path)
    monkeypatch.setenv("ANNOKIT_MAX_IMAGE_PIXELS", "1000")  # Pillow's own error, over twice it
    with pytest.raises(ImageDecodeError, match="the limit is 1,000.*ANNOKIT_MAX_IMAGE_PIXELS"):
        decode_rgb(path)
    reason = decode_error(path)
    line = describe_undecodable({"big.png": reason, "x.jpg": "not an image"}, "stop")
    assert "1 image file(s) are over the pixel limit, first: big.png (too large" in line
    assert "1 image file(s) cannot be decoded" in line and "x.jpg" in line
    monkeypatch.setenv("ANNOKIT_MAX_IMAGE_PIXELS", "100000")
    assert decode_error(path) is None


def test_an_undecodable_image_in_a_loader_worker_is_the_kits_one_line(source):
    index, data_root, _ = source
    dataset, path = replace_first(index, data_root, Image.new("RGB", (4, 4)), "PNG")
    path.write_bytes(b"not an image")
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=1)
    with pytest.raises(ImageDecodeError) as error:
        next(iter(loader))
    assert str(error.value).startswith(f"image {path} cannot be decoded")
    assert "Traceback" not in str(error.value) and "\n" not in message(error.value)
    (path).unlink()
    with pytest.raises(FileNotFoundError) as missing:
        next(iter(loader))
    assert message(missing.value).startswith(f"image {path} is missing")
