import pytest
import torch

from infoclust.errors import ConfigError
from infoclust.methods.info import parse_schedule
from infoclust.models import ClusterNet


@pytest.mark.parametrize("backbone,size,channels", [("cnn-small", 16, 1), ("vgg6c", 24, 1), ("resnet34", 32, 2)])
def test_backbones_give_posteriors_per_sub_head(backbone, size, channels):
    net = ClusterNet(backbone, (channels, size, size), {"B": 10, "A": 50}, sub_heads=3, width=8)
    x = torch.rand(4, channels, size, size)
    for head, k in (("B", 10), ("A", 50)):
        p = net(x, head)
        assert p.shape == (3, 4, k)
        assert torch.allclose(p.sum(-1), torch.ones(3, 4))
    # sub-heads are initialised independently
    assert not torch.allclose(net(x, "B")[0], net(x, "B")[1])


def test_vgg6c_feature_size_matches_the_paper():
    assert ClusterNet("vgg6c", (1, 24, 24), {"B": 10}, 1).feature_dim == 3 * 3 * 512


def test_mlp_for_vectors_is_imsats_encoder():
    net = ClusterNet("mlp", (64,), {"B": 10}, 2)
    assert net.feature_dim == 1200 and net(torch.rand(5, 64), "B").shape == (2, 5, 10)


def test_unknown_backbone():
    with pytest.raises(ConfigError, match="unknown backbone 'vgg'"):
        ClusterNet("vgg", (1, 24, 24), {"B": 10}, 1)


def test_head_schedule_parsing():
    assert parse_schedule("A:1,B:2", ["A", "B"]) == ["A", "B", "B"]
    assert parse_schedule("B:2 A:1", ["B"]) == ["B", "B"]  # no over-clustering head → A dropped
    with pytest.raises(ConfigError, match="head_schedule"):
        parse_schedule("C:1", ["A", "B"])
    with pytest.raises(ConfigError, match="never trains the main head"):
        parse_schedule("A:1", ["A", "B"])
