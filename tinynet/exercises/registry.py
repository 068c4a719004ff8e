"""The exercises, in lesson order: each has a skeleton (``skeletons/NAME.py.template``, the text `start` writes to the
learner's NAME.py: a template, not a module of tinynet, so it may import what tinynet itself does not, numba) and
checks (``checks/NAME.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module, resources

from tinynet.errors import ArgumentError


@dataclass(frozen=True)
class Exercise:
    """name: what `tinynet exercises start NAME` takes; lesson: the lesson it belongs to; title: what to build."""

    name: str
    lesson: str
    title: str

    def skeleton(self) -> str:
        """The text a learner starts from."""
        return resources.files("tinynet.exercises.skeletons").joinpath(f"{self.name}.py.template").read_text()

    def checks(self):
        """The module of checks (its functions marked with ``grading.part``, in order)."""
        return import_module(f"tinynet.exercises.checks.{self.name}")


EXERCISES = [
    Exercise("value", "02_autograd", "a scalar autograd engine: Value with +, *, tanh and backward"),
    Exercise("activation_functions", "03_activations_and_losses", "sigmoid, tanh and ReLU as autograd Functions"),
    Exercise(
        "softmax_cross_entropy", "03_activations_and_losses", "stable softmax and cross-entropy, and its gradient"
    ),
    Exercise("sgd_momentum", "04_optimizers", "the SGD step with momentum, weight decay and Nesterov"),
    Exercise("adam", "04_optimizers", "the Adam step with bias correction"),
    Exercise("linear_module", "07_mlp_digits", "nn.Linear: parameters, their initialisation, forward"),
    Exercise("conv2d_im2col", "08_cnn_images", "conv2d forward and backward through im2col"),
    Exercise("max_pool2d", "08_cnn_images", "max pooling forward and backward"),
    Exercise("lstm_cell", "10_rnn_gru_lstm", "an LSTM cell from its gates"),
    Exercise("attention", "12_attention", "scaled dot-product attention with masks"),
    Exercise("multi_head_attention", "12_attention", "a multi-head attention module"),
    Exercise("layer_norm", "13_transformer", "layer norm forward and backward"),
    Exercise("gan_step", "16_gan", "one GAN training step: D on real and detached fakes, then G"),
    Exercise("numba_softmax", "18_backends", "a Numba kernel (njit, prange): softmax over rows"),
    Exercise("cuda_softmax", "18_backends", "a CUDA kernel: one softmax row per block"),
]


def find(name: str) -> Exercise:
    """The exercise called ``name``; ArgumentError listing them all if there is none."""
    for exercise in EXERCISES:
        if exercise.name == name:
            return exercise
    raise ArgumentError(
        f"no exercise is called {name!r}; they are: {', '.join(e.name for e in EXERCISES)} (`tinynet exercises list`)"
    )
