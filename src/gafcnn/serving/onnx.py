"""The CNNs' serving runtime: each trained CNN as an ONNX graph run by ONNX Runtime.

torch trains; the ``train`` stage exports the trained network with :func:`to_onnx`
and computes the P(up) it writes for val and test with :class:`OnnxCnn`, the class
the deployment bundle serves with. So the probabilities every later stage evaluates
(ensemble, hybrid, backtest, decision) are the served ones, bit for bit, and serving
needs neither torch nor the training code: for one sample ONNX Runtime runs the
three default CNNs several times faster than torch's eager forward, and a serving
process stays about 200 MB smaller (``python benchmarks/inference.py``).

One intra-op thread, and a sample's output does not depend on the batch it is in,
so the pipeline (batches) and a live bot (one sample) get the same bytes.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

OPSET = 17
INPUT, OUTPUT = "x", "logit"
CHUNK = 1024  # samples per ONNX Runtime call: bounds the memory of a large batch


def to_onnx(model: Any, input_shape: tuple[int, ...] | list[int]) -> bytes:
    """The ONNX graph of a torch ``model`` (evaluation mode, on the CPU) taking
    ``(N, *input_shape)`` float32 and giving ``(N,)`` logits; the same weights give
    the same bytes."""
    import copy

    import torch

    net = copy.deepcopy(model).to("cpu").eval()
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's notes on its own deprecation
        torch.onnx.export(
            net,
            (torch.zeros(1, *input_shape),),
            buf,
            dynamo=False,
            opset_version=OPSET,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: {0: "n"}, OUTPUT: {0: "n"}},
        )
    return buf.getvalue()


def sigmoid(z: np.ndarray) -> np.ndarray:
    """P(up) from logits, in float64."""
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


class OnnxCnn:
    """One exported CNN: float32 inputs in, P(up) out."""

    def __init__(self, graph: bytes | str | Path):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3  # errors only
        data = graph if isinstance(graph, bytes) else Path(graph).read_bytes()
        self.session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])

    def logits(self, x: np.ndarray) -> np.ndarray:
        """``(N,)`` float32 logits of ``x`` (``(N, *input_shape)``), in chunks."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.empty(len(x), dtype=np.float32)
        for i in range(0, len(x), CHUNK):
            out[i : i + CHUNK] = self.session.run(None, {INPUT: x[i : i + CHUNK]})[0].reshape(-1)
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(N,)`` P(up) in float64."""
        return sigmoid(self.logits(x))
