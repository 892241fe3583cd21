"""``--code`` file for ``spacy train`` in the GPU check: a
``[training.before_update]`` callback that stamps each step (after a CUDA
synchronize, so a stamp is when the previous step's work is done) and, at
exit, writes the stamps and the peak GPU memory to $BENCH_STEP_LOG as JSON."""
import atexit
import json
import os
import time

from spacy.util import registry

_STAMPS = []


def _write() -> None:
    path = os.environ.get("BENCH_STEP_LOG")
    if not path:
        return
    peak = None
    try:
        import torch

        if torch.cuda.is_available():
            peak = torch.cuda.max_memory_allocated() / 2**20
    except ImportError:
        pass
    with open(path, "w", encoding="utf8") as f:
        json.dump({"stamps": _STAMPS, "peak_gpu_mb": peak}, f)


@registry.callbacks("spacy-bertft-bench.cuda_step_clock.v1")
def make_cuda_step_clock():
    import torch

    atexit.register(_write)
    cuda = torch.cuda.is_available()

    def before_update(nlp, args) -> None:
        if cuda:
            torch.cuda.synchronize()
        _STAMPS.append(time.perf_counter())

    return before_update
