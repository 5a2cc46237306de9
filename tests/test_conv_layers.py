"""nn.Conv2d and nn.MaxPool2d: shapes, parameters, state_dict, and gradients that check."""

import numpy as np
import pytest

import tinygrad_mnist as tm
from tinygrad_mnist import Tensor, autograd, nn
from tinygrad_mnist.nn import functional as F


def test_conv_layer_matches_the_functional_form_and_names_its_parameters():
    tm.manual_seed(0)
    layer = nn.Conv2d(2, 3, kernel_size=3, stride=2, padding=1)
    x = Tensor(np.random.default_rng(0).normal(size=(2, 2, 7, 7)).astype(np.float32))
    expected = F.conv2d(x, layer.weight, layer.bias, stride=2, padding=1)
    np.testing.assert_array_equal(layer(x).data, expected.data)
    assert layer(x).shape == (2, 3, 4, 4)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.weight.shape == (3, 2, 3, 3) and layer.weight.dtype == np.float32
    bound = 1 / np.sqrt(2 * 3 * 3)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound


def test_small_cnn_state_dict_round_trip_and_gradcheck():
    tm.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 2 * 2, 3))
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    x = Tensor(np.random.default_rng(2).normal(size=(2, 1, 6, 6)))
    y = np.array([0, 2])
    assert autograd.gradcheck(lambda *params: F.cross_entropy(model(x), y), model.parameters())
    twin = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3))
    twin.load_state_dict(model.state_dict())
    np.testing.assert_allclose(twin(x).data, model(x).data, rtol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=0), dict(kernel_size=3, stride=0), dict(kernel_size=3, padding=-1)])
def test_conv_layer_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError, match="Conv2d"):
        nn.Conv2d(1, 2, **kwargs)


def test_pooling_layers_call_their_functions_and_describe_themselves():
    from tinygrad_mnist import nn

    x = Tensor(np.arange(32.0).reshape(1, 2, 4, 4))
    np.testing.assert_array_equal(nn.AvgPool2d(2)(x).data, F.avg_pool2d(x, 2).data)
    np.testing.assert_array_equal(nn.MaxPool2d(2, stride=1)(x).data, F.max_pool2d(x, 2, stride=1).data)
    assert repr(nn.AvgPool2d(3)) == "AvgPool2d(kernel_size=3, stride=3, padding=0)"  # as PyTorch prints it
    assert nn.MaxPool2d(2).state_dict() == {} and nn.AvgPool2d(2).parameters() == []
