"""What each thread has its own copy of, as in PyTorch: grad mode (on in a new thread), the watchers of
``trace``/``detect_anomaly``, and the backend and default device choice."""

import threading

import tinynet as tn
from tinynet import autograd, backend


def in_thread(work):
    """Run ``work()`` in a new thread and return what it returned."""
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("value", work()))
    thread.start()
    thread.join()
    return result["value"]


def test_no_grad_in_one_thread_leaves_recording_on_in_another():
    x = tn.ones(2, requires_grad=True)
    with tn.no_grad():
        assert in_thread(lambda: tn.is_grad_enabled() and (x * 2).requires_grad)
        assert not (x * 2).requires_grad
    assert in_thread(lambda: not tn.no_grad()(tn.is_grad_enabled)())  # the other way round
    assert tn.is_grad_enabled()


def test_a_watcher_sees_only_its_own_threads_ops():
    seen = []

    class Watcher:
        def forward(self, function, inputs, output):
            seen.append(function.__name__)

        def backward(self, *args):
            pass

    autograd.watchers().append(watcher := Watcher())
    try:
        in_thread(lambda: tn.exp(tn.ones(2, requires_grad=True)))  # another thread's op: not seen
        tn.sin(tn.ones(2, requires_grad=True))
    finally:
        autograd.watchers().remove(watcher)
    assert seen == ["Sin"]


def test_use_backend_in_one_thread_neither_changes_nor_undoes_another_threads_choice():
    backend.set_backend("numpy")
    entered, leave = threading.Event(), threading.Event()

    def other():
        with tn.use_backend("numba"):
            entered.set()
            leave.wait(10)
        return tn.get_backend()

    thread_result = {}
    thread = threading.Thread(target=lambda: thread_result.setdefault("after", other()))
    thread.start()
    entered.wait(10)
    assert tn.get_backend() == "numpy"  # the other thread's use_backend does not reach here
    tn.set_backend("numba")
    leave.set()
    thread.join()
    assert thread_result["after"] == "numpy" and tn.get_backend() == "numba"  # its exit did not undo ours
    assert in_thread(tn.get_backend) == "numpy"  # a new thread starts from the default
