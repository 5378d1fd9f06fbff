"""Where downloadable datasets come from: the lookup order, mirrors, cache folder and checksums.

Every downloadable dataset ``name`` is looked for, in this order, in ``root`` and ``root/<name>``,
the cache folder ``$INFOCLUST_DATA/<name>`` (default ``~/.cache/infoclust/<name>``), then any
system folders; failing that its files are downloaded into the cache folder from the mirror
(``mirror`` argument, else ``$INFOCLUST_MIRROR_<NAME>`` with "-" written "_", e.g.
INFOCLUST_MIRROR_FASHION_MNIST or INFOCLUST_MIRROR_CIFAR100_20, else ``MIRRORS``) and verified
against ``CHECKSUMS`` before they are kept.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, TypeVar

from ..errors import DataError
from .download import download as fetch

Found = TypeVar("Found")

MIRRORS = {
    "cifar10": "https://www.cs.toronto.edu/~kriz/",
    "cifar100-20": "https://www.cs.toronto.edu/~kriz/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "stl10": "http://ai.stanford.edu/~acoates/stl10/",
    "svhn": "http://ufldl.stanford.edu/housenumbers/",
}

# Digests of the official files, per dataset and file name: {"sha256" and/or "md5": hex digest},
# every one given is checked (they are passed to ``download.download``).
#
# MNIST / Fashion-MNIST (SHA-256 of the official .gz files). Fashion-MNIST: the published digests
# of Zalando's files, confirmed here by rebuilding the original gzip headers around the deflate
# streams of Debian's dataset-fashion-mnist files (Debian strips the name and timestamp from the
# header, so its files have other digests but identical content), which reproduces the official
# MD5s. MNIST: the digests that independent projects pin for these files on the yann.lecun.com,
# Google cvdf and ossci mirrors (the files with the well-known MD5s f68b3c2d..., d53e105e...,
# 9fb629c4..., ec29112d...); not re-checked against a copy here, as none is available offline.
#
# CIFAR-10 / CIFAR-100 / STL-10 binary archives: SHA-256 as pinned by TensorFlow Datasets
# (tensorflow_datasets/url_checksums/cifar10.txt, cifar100.txt, stl10.txt, which also give the
# sizes 170,052,171 / 168,513,733 / 2,640,397,119 bytes); the dataset authors publish only MD5s,
# which are checked too: CIFAR's from https://www.cs.toronto.edu/~kriz/cifar.html ("binary
# version" rows), STL-10's as pinned by torchvision (torchvision/datasets/stl10.py, tgz_md5).
# The CIFAR-10 SHA-256 is also pinned, identically, by several independent projects. None of these
# was re-checked against a copy here, as none is available offline.
#
# SVHN's train_32x32.mat and test_32x32.mat: the authors publish no digests; SHA-256 as pinned by
# TensorFlow Datasets (tensorflow_datasets/url_checksums/svhn_cropped.txt, with the sizes
# 182,040,794 and 64,275,384 bytes), MD5 as pinned by torchvision (torchvision/datasets/svhn.py)
# and, identically, by several independent projects. Not re-checked against a copy here.
CHECKSUMS: dict[str, dict[str, dict[str, str]]] = {
    "cifar10": {
        "cifar-10-binary.tar.gz": {
            "sha256": "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
            "md5": "c32a1d4ab5d03f1284b67883e8d87530",
        },
    },
    "cifar100-20": {
        "cifar-100-binary.tar.gz": {
            "sha256": "58a81ae192c23a4be8b1804d68e518ed807d710a4eb253b1f2a199162a40d8ec",
            "md5": "03b5dce01913d631647c71ecec9e9cb8",
        },
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": {"sha256": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"},
        "train-labels-idx1-ubyte.gz": {"sha256": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"},
        "t10k-images-idx3-ubyte.gz": {"sha256": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"},
        "t10k-labels-idx1-ubyte.gz": {"sha256": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"},
    },
    "mnist": {
        "train-images-idx3-ubyte.gz": {"sha256": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"},
        "train-labels-idx1-ubyte.gz": {"sha256": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"},
        "t10k-images-idx3-ubyte.gz": {"sha256": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"},
        "t10k-labels-idx1-ubyte.gz": {"sha256": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"},
    },
    "stl10": {
        "stl10_binary.tar.gz": {
            "sha256": "f31fd99273a1acb8609c8db427cebb1de3f71de77758cdc0e22956e1289b9866",
            "md5": "91f7769df0f17e558f3565bffb0c7dfb",
        },
    },
    "svhn": {
        "train_32x32.mat": {"sha256": "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8",
                            "md5": "e26dedcc434d2e4c54c9b2d4a06d8373"},
        "test_32x32.mat": {"sha256": "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b",
                           "md5": "eb5a983be6a315427106f1b164d9cef3"},
    },
}


def cache_dir(name: str) -> Path:
    """Where downloads of dataset ``name`` go: ``$INFOCLUST_DATA/<name>`` or ``~/.cache/infoclust/<name>``."""
    return Path(os.environ.get("INFOCLUST_DATA") or "~/.cache/infoclust").expanduser() / name


def mirror_url(name: str, mirror: str | None = None) -> str:
    """Base URL to download dataset ``name`` from, ending in '/'."""
    variable = "INFOCLUST_MIRROR_" + name.upper().replace("-", "_")
    return (mirror or os.environ.get(variable) or MIRRORS[name]).rstrip("/") + "/"


def search_dirs(name: str, root: str | Path | None, system_dirs: Iterable[Path] = ()) -> list[Path]:
    """The folders searched for dataset ``name``, in order (duplicates dropped)."""
    roots = [] if root is None else [Path(root).expanduser(), Path(root).expanduser() / name]
    return list(dict.fromkeys([*roots, cache_dir(name), *system_dirs]))


def locate(
    name: str,
    find: Callable[[Path], Found | None],
    files: list[str],
    root: str | Path | None,
    download: bool,
    progress: bool,
    mirror: str | None = None,
    system_dirs: Iterable[Path] = (),
    alternative: str = "",
) -> Found:
    """``find(folder)`` for the first searched folder where it is not None, else after a download.

    ``files`` are the mirror's file names to download into the cache folder (each verified against
    ``CHECKSUMS[name]``; one already there with the right digests is kept) when nothing is found.
    ``alternative`` is appended to the "not found" advice, e.g. "(or its extracted folder)".
    """
    folders = search_dirs(name, root, system_dirs)
    for folder in folders:
        found = find(folder)
        if found is not None:
            return found
    looked = ", ".join(str(folder) for folder in folders)
    url, cache = mirror_url(name, mirror), cache_dir(name)
    if not download:
        raise DataError(
            f"{name} files not found in {looked}; load with download=True, or download "
            f"{', '.join(files)} from {url} into {cache}{alternative}"
        )
    try:
        for file in files:
            fetch(url + file, cache / file, **CHECKSUMS[name][file], progress=progress)
    except DataError as error:
        raise DataError(f"{name} files not found in {looked}, and {error}") from error
    found = find(cache)
    if found is None:
        raise DataError(f"{name}: downloaded {', '.join(files)} into {cache} but cannot find the expected files there")
    return found
