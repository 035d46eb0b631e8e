"""Every bad input named in the contract raises an error naming the op, the shapes and the fix."""
import numpy as np
import pytest

import tinygrad_np as tg


def test_binary_op_shape_mismatch_names_op_and_both_shapes() -> None:
    a, b = tg.ones(2, 3), tg.ones(4)
    with pytest.raises(ValueError, match=r"Add with input shapes \(2, 3\), \(4,\)"):
        a + b
    with pytest.raises(ValueError, match=r"Mul with input shapes \(4,\), \(2, 3\)"):
        np.ones(4) * a
    with pytest.raises(ValueError, match=r"Maximum with input shapes \(2, 3\), \(4,\)"):
        tg.maximum(a, b)


def test_matmul_shape_mismatch_names_op_and_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"MatMul with input shapes \(2, 3\), \(4, 5\)"):
        tg.ones(2, 3) @ tg.ones(4, 5)
    with pytest.raises(ValueError, match=r"MatMul with input shapes \(3,\), \(4,\)"):
        tg.ones(3) @ tg.ones(4)
    with pytest.raises(ValueError, match=r"at least 1-D.*\(2, 3\) and \(\).*use \*"):
        tg.ones(2, 3) @ 2.0


def test_backward_of_a_non_scalar_without_grad() -> None:
    x = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"one-element output.*shape \(2,\).*grad=.*sum\(\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"grad has shape \(3,\).*output has shape \(2,\)"):
        (x * 2).backward(np.ones(3))


def test_backward_of_something_that_needs_no_grad() -> None:
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\).*does not require grad"):
        tg.ones(2, 3).backward()
    x = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"inputs\[0\].*does not require grad"):
        tg.grad((x * 2).sum(), tg.ones(3))
    with pytest.raises(ValueError, match="2 grad_outputs for 1 outputs"):
        tg.grad([x.sum()], [x], grad_outputs=[None, None])


def test_backward_twice_names_the_op_and_the_fix() -> None:
    x = tg.ones(2, requires_grad=True)
    y = (x.exp() * 3).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*SumBackward.*retain_graph=True"):
        y.backward()


def test_requires_grad_on_integers() -> None:
    with pytest.raises(TypeError, match=r"floating-point.*int64.*\(2,\)"):
        tg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match=r"floating-point.*bool"):
        tg.Tensor(np.array([True, False])).requires_grad_()


def test_in_place_on_a_leaf_that_requires_grad() -> None:
    w = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"leaf Tensor that requires grad.*\(3,\).*\+=.*no_grad"):
        w += 1.0


class TwoGradientsForOneInput(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad_out):
        return grad_out * 2, grad_out


class WrongShapeGradient(tg.Function):
    @staticmethod
    def forward(ctx, x):
        return x.sum()

    @staticmethod
    def backward(ctx, grad_out):
        return np.ones(3)


def test_function_backward_returning_the_wrong_number_of_gradients() -> None:
    x = tg.ones(2, 2, requires_grad=True)
    with pytest.raises(ValueError, match=r"TwoGradientsForOneInput\.backward returned 2 "
                                         r"gradients for 1 inputs \(shapes \(2, 2\)\)"):
        TwoGradientsForOneInput.apply(x).sum().backward()


def test_function_backward_returning_a_gradient_of_the_wrong_shape() -> None:
    x = tg.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"WrongShapeGradient\.backward returned a gradient of "
                                         r"shape \(3,\) for input 0, whose shape is \(2,\)"):
        WrongShapeGradient.apply(x).backward()


class Rounds(tg.Function):
    @staticmethod
    def forward(ctx, a):
        return np.round(a).astype(np.int64)


def test_a_function_with_integer_output_cannot_carry_a_gradient() -> None:
    with pytest.raises(TypeError, match=r"Rounds produced int64 output, which cannot carry"):
        Rounds.apply(tg.ones(2, requires_grad=True))
    assert Rounds.apply(tg.ones(2)).dtype == np.int64  # fine without a gradient
    assert (tg.arange(3) + tg.arange(3)).tolist() == [0, 2, 4]


def test_bad_axis() -> None:
    t = tg.ones(2, 3)
    for reduce in (t.sum, t.mean, t.max, t.min, t.var, t.std, t.logsumexp):
        with pytest.raises(np.exceptions.AxisError,
                           match=r"axis 2 is out of bounds for a tensor of shape \(2, 3\)"):
            reduce(axis=2)
    with pytest.raises(np.exceptions.AxisError, match="^sum: axis 2"):
        t.sum(axis=2)
    with pytest.raises(np.exceptions.AxisError, match="axis -3 is out of bounds"):
        t.sum(axis=(0, -3))
    with pytest.raises(ValueError, match=r"repeated axis in \(0, -2\)"):
        t.sum(axis=(0, -2))
    with pytest.raises(np.exceptions.AxisError, match="axis 3 is out of bounds"):
        t.softmax(axis=3)
    with pytest.raises(ValueError, match=r"squeeze\(axis=0\) of a tensor of shape \(2, 3\)"):
        t.squeeze(0)
    with pytest.raises(ValueError, match=r"expand_dims\(axis=5\) of a tensor of shape \(2, 3\)"):
        t.expand_dims(5)


def test_bad_reshape_and_other_shape_ops() -> None:
    t = tg.ones(2, 3)
    with pytest.raises(ValueError, match=r"Reshape with input shapes \(2, 3\).*size 6.*\(4,\s?4\)"):
        t.reshape(4, 4)
    with pytest.raises(ValueError, match=r"transpose: repeated axis in \(0, 0\).*\(2, 3\)"):
        t.transpose((0, 0))  # a permutation (a tuple); two ints swap, as PyTorch: (0, 0) is fine
    with pytest.raises(ValueError, match=r"BroadcastTo with input shapes \(2, 3\)"):
        t.broadcast_to((3, 3))
    with pytest.raises(ValueError, match=r"Concatenate with input shapes \(2, 3\), \(2, 2\)"):
        tg.concatenate([t, tg.ones(2, 2)])
    with pytest.raises(IndexError, match=r"GetItem with input shapes \(2, 3\).*index 5"):
        t[5]


def test_item_of_a_tensor_with_several_elements() -> None:
    with pytest.raises(ValueError, match=r"one-element tensor.*\(3,\)"):
        tg.ones(3).item()


def test_in_place_that_would_change_the_shape() -> None:
    x = tg.ones(2, requires_grad=True)
    y = x * 1
    with pytest.raises(ValueError, match=r"in-place \+= cannot change the shape \(2,\) to \(3, 2"):
        y += tg.ones(3, 2)
