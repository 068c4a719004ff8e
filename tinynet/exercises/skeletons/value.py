"""Exercise `value` (lesson 02_autograd): a scalar autograd engine, micrograd-sized.

A Value holds one number (`data`), its gradient dL/d(this value) (`grad`, 0 until backward), and how it was made:
the Values it came from (`_children`) and a function `_backward` that passes this Value's grad on to them by the
chain rule. Write the TODOs, then: tinynet exercises check value
"""

import math


class Value:
    def __init__(self, data: float, _children: tuple = ()) -> None:
        self.data = float(data)
        self.grad = 0.0
        self._children = _children
        self._backward = lambda: None  # leaves have nobody to pass a gradient to

    def __add__(self, other: "Value | float") -> "Value":
        """out = self + other. Derivatives: d out/d self = 1, d out/d other = 1."""
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def _backward() -> None:
            # TODO: add out.grad times each local derivative into self.grad and other.grad (+=, not =: a Value
            # used twice gets a gradient from each use).
            raise NotImplementedError("Value.__add__'s _backward: pass out.grad on to self and other")

        out._backward = _backward
        return out

    def __mul__(self, other: "Value | float") -> "Value":
        """out = self * other. Derivatives: d out/d self = other, d out/d other = self."""
        # TODO: as __add__, with the product and its two local derivatives.
        raise NotImplementedError("Value.__mul__: the product and its _backward")

    def tanh(self) -> "Value":
        """out = tanh(self). Derivative: d out/d self = 1 - tanh(self)^2 (use out's value: it is tanh(self))."""
        # TODO: out = Value(math.tanh(self.data), (self,)), and its _backward.
        raise NotImplementedError("Value.tanh: the value and its _backward")

    def backward(self) -> None:
        """Set self.grad = 1 (dL/dL), then call every Value's _backward, each after every Value that uses it:
        in reverse topological order (build the order depth-first: a Value goes in after its children)."""
        # TODO: topological order of the graph below self, then the _backward calls in reverse.
        raise NotImplementedError("Value.backward: topological order, then _backward in reverse")

    # Given: the rest follows from the operations above.
    def __radd__(self, other: float) -> "Value":
        return self + other

    def __rmul__(self, other: float) -> "Value":
        return self * other

    def __neg__(self) -> "Value":
        return self * -1

    def __sub__(self, other: "Value | float") -> "Value":
        return self + (-other)

    def __repr__(self) -> str:
        return f"Value(data={self.data:.4g}, grad={self.grad:.4g})"
