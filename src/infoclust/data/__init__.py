"""Datasets in memory: named ones (digits, mnist, fashion-mnist, cifar10, cifar100-20, stl10), image
folders and numpy files.

Knows numpy, Pillow and urllib, never torch: the engine turns ``Dataset.images`` into tensors.
"""

from .dataset import Dataset
from .registry import channel_stats, dataset_help, dataset_path, list_datasets, load_dataset

__all__ = ["Dataset", "channel_stats", "dataset_help", "dataset_path", "list_datasets", "load_dataset"]
