"""What every spacy-bertft component shares: length-sorted prediction,
spaCy's update protocol, and saving the encoder as files beside the model."""
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy
import srsly
import torch
from spacy import util
from spacy.errors import Errors as SpacyErrors
from spacy.pipeline import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model, Optimizer, set_dropout_rate
from thinc.layers.chain import forward as chain_forward

from ..data_classes import WordpieceBatch
from ..errors import Errors
from ..layers.hf_shim import HFShim
from ..layers.transformer import get_shim
from ..layers.wordpieces import WordpieceCache, tokenize_texts, wordpieces_forward

ENCODER_DIR = "encoder"

# One forward pass of an update: the model's input, the loss of its output
# (loss, gradient) and the loss's weight in the batch's.
UpdatePass = Tuple[Any, Callable[[Any], Tuple[Any, Any]], float]


def split_passes(order: Sequence[int], rows: Sequence[int], max_docs: int, max_rows: int) -> Iterator[List[int]]:
    """Split docs, in the given order, into forward passes of at most
    max_docs docs and, if max_rows > 0, at most max_rows encoder rows (a doc
    with more rows than that goes alone).

    order (Sequence[int]): Doc indices, in the order the passes take them.
    rows (Sequence[int]): Encoder rows per doc (QA: its windows).
    RETURNS (Iterator[List[int]]): The doc indices of each pass.
    """
    chunk: List[int] = []
    n_rows = 0
    for i in order:
        if chunk and (len(chunk) >= max_docs or (max_rows > 0 and n_rows + rows[i] > max_rows)):
            yield chunk
            chunk, n_rows = [], 0
        chunk.append(i)
        n_rows += rows[i]
    if chunk:
        yield chunk


def check_pass_limit(name: str, value: Any) -> None:
    """A per-pass training limit: an integer >= 0, or None for the device's
    default (E167 otherwise)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(Errors.E167.format(name=name, value=value))


def check_cache_setting(value: Any) -> None:
    """cache_wordpieces: True, False, or None for the device's default (E169)."""
    if value is not None and not isinstance(value, bool):
        raise ValueError(Errors.E169.format(value=value))


def split_by_padded_size(lengths: Sequence[int], budget: int) -> List[List[int]]:
    """Split docs of one row each into forward passes whose padded size (docs
    x longest row) is at most budget wordpieces: longest first, so that each
    pass pads to rows of similar length (a doc longer than the budget goes
    alone). One pass over all of them, in their order, when they fit.

    lengths (Sequence[int]): Wordpieces per doc, special tokens included.
    budget (int): Padded wordpieces per pass; 0 or less: no limit.
    RETURNS (List[List[int]]): The doc indices of each pass.
    """
    n = len(lengths)
    if budget <= 0 or n <= 1 or n * max(lengths) <= budget:
        return [list(range(n))]
    order = sorted(range(n), key=lengths.__getitem__, reverse=True)
    passes: List[List[int]] = []
    chunk: List[int] = []
    for i in order:
        # Descending order: the chunk's longest row is its first.
        if chunk and (len(chunk) + 1) * lengths[chunk[0]] > budget:
            passes.append(chunk)
            chunk = []
        chunk.append(i)
    passes.append(chunk)
    return passes


def clip_by_global_norm(grads: List[torch.Tensor], clip: float, *, on_host: Optional[bool] = None) -> None:
    """Scale the gradients in place so that their global L2 norm is at most
    clip, as ``torch.nn.utils.clip_grad_norm_`` (grouped by device, one
    multi-tensor norm kernel per group). On CPU the norm is read back and the
    gradients are left alone under the limit; on an accelerator the factor
    stays on the device (1.0 under the limit), as clip_grad_norm_ computes it,
    so the host does not wait for the backward pass to finish before it
    queues the optimizer step. on_host chooses the branch (default: the
    host's when every gradient is on CPU)."""
    groups: Dict[torch.device, List[torch.Tensor]] = {}
    for grad in grads:
        groups.setdefault(grad.device, []).append(grad)
    if not groups:
        return
    devices = list(groups)
    # Sum on an accelerator where there is one (a CPU total would read every
    # device's norm back).
    first = next((d for d in devices if d.type != "cpu"), devices[0])
    norms = [torch.linalg.vector_norm(torch.stack(torch._foreach_norm(groups[d])).float()).to(first)
             for d in devices]
    norm = torch.linalg.vector_norm(torch.stack(norms))
    if on_host is None:
        on_host = all(d.type == "cpu" for d in devices)
    if on_host:
        total = float(norm)
        if total > clip:
            for d in devices:
                torch._foreach_mul_(groups[d], clip / (total + 1e-6))
        return
    factor = torch.clamp(clip / (norm + 1e-6), max=1.0)
    for d in devices:
        torch._foreach_mul_(groups[d], factor.to(d))


def grad_view(array) -> torch.Tensor:
    """A torch tensor over the memory of a numpy or cupy gradient (no copy,
    whatever torch's default device: scaling it scales the gradient)."""
    if isinstance(array, numpy.ndarray):
        return torch.from_numpy(array)
    return torch.utils.dlpack.from_dlpack(array)


class BertPipe(TrainablePipe):
    """Base class of the spacy-bertft components. Subclasses define
    ``_loss`` (``get_loss`` with the loss left on the model's device: what
    ``update`` calls), ``set_annotations``, ``_unbatch`` (model output -> one
    item per doc) and ``_rebatch`` (items -> what ``set_annotations`` takes)."""

    # cfg keys that are decisions of the loading config (thresholds, n-best,
    # batch sizes), not learned state: a saved cfg does not override them.
    factory_settings: Tuple[str, ...] = ("predict_batch_size",)
    # Whether _validate reads the docs' texts (doc.text joins a Token object
    # per token: not built for a component that has nothing to check there).
    validates_texts: bool = False

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str,
        *,
        scorer: Optional[Callable],
        predict_batch_size: int = 64,
        **cfg: Any,
    ) -> None:
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        # Every component with the setting takes it through here.
        check_cache_setting(cfg.get("cache_wordpieces"))
        self.cfg = dict(cfg)
        self.cfg["predict_batch_size"] = predict_batch_size
        # Training's kept wordpieces (cache_wordpieces), made at initialize
        # (or at the first update).
        self._wordpiece_cache: Optional[WordpieceCache] = None

    # The encoder -------------------------------------------------------------

    @property
    def encoder_shim(self) -> HFShim:
        return get_shim(self.model.get_ref("encoder"))

    # Prediction ---------------------------------------------------------------

    def predict(self, docs: Iterable[Doc]):
        """Run the model on docs, sorted by length into sub-batches so that
        padding stays small; results come back in the order of the docs.

        docs (Iterable[Doc]): The docs. Not modified.
        RETURNS: The model's output, as ``set_annotations`` takes it.
        """
        docs = list(docs)
        if not docs:
            return self._rebatch([], docs)
        # doc.text builds a Token per token: read it once for check, sort and
        # tokenization.
        texts = [doc.text for doc in docs]
        self._check_texts(texts)
        # Tokenized once: sorted by, split into passes and, where the model
        # reads wordpieces first, read by the model.
        batch = self._encode(texts)
        feed = batch if batch is not None and self._feeds_wordpieces() else None
        lengths, rows = self._measure(texts, batch)
        # Longest first: the first sub-batch allocates the largest blocks,
        # which the shorter ones after it reuse.
        order = sorted(range(len(docs)), key=lengths.__getitem__, reverse=True)
        items: List[Any] = [None] * len(docs)
        for chunk in self._passes(order, rows):
            sub_docs = [docs[i] for i in chunk]
            output = self.model.predict(self._model_input(sub_docs, None if feed is None else feed.select(chunk)))
            for i, item in zip(chunk, self._unbatch(output, sub_docs)):
                items[i] = item
        return self._rebatch(items, docs)

    def _passes(self, order: Sequence[int], rows: Sequence[int]) -> Iterable[List[int]]:
        """The forward passes over the sorted docs: ``split_passes`` with
        ``predict_batch_size`` docs and the component's ``_max_rows_per_pass``."""
        return split_passes(order, rows, max(1, int(self.cfg["predict_batch_size"])), self._max_rows_per_pass())

    def _max_rows_per_pass(self) -> int:
        """Encoder rows per forward pass at prediction; 0: no cap (one row per doc)."""
        return 0

    def _check_texts(self, texts: Sequence[str]) -> None:
        """Raise a clear error, naming the doc, on input the model cannot read
        (before sorting, so the index is the caller's)."""

    def _encode(self, texts: Sequence[str], *, training: bool = False) -> Optional[WordpieceBatch]:
        """The docs' wordpieces as the model's "wordpieces" layer makes them
        (None without one, or before the encoder is loaded): what prediction
        sorts and splits by, QA counts windows by and, where the model reads
        wordpieces first (``_feeds_wordpieces``), the model reads in place of
        the docs (or beside them), so that they share one tokenization. In training, with
        ``cache_wordpieces``, each distinct text is tokenized once
        (``WordpieceCache``)."""
        layer = self._wordpieces_layer()
        if layer is None:
            return None
        if training:
            if self._caches_wordpieces():
                if self._wordpiece_cache is None:
                    self._wordpiece_cache = WordpieceCache()
                return self._wordpiece_cache.tokenize(layer, texts)
            self._wordpiece_cache = None  # turned off: what it kept goes
        return tokenize_texts(layer, texts)

    def _fill_wordpiece_cache(self, get_examples: Callable[[], Iterable[Example]], *, chunk: int = 4096,
                              chunk_chars: int = 1_000_000) -> None:
        """With ``cache_wordpieces`` on, tokenize the training texts at
        initialization, up to chunk texts or chunk_chars characters per
        tokenizer call (which the Rust tokenizer spreads over the cores), as
        Hugging Face's users tokenize their dataset before the Trainer
        starts: the first epoch then reads its batches from the cache
        instead of tokenizing each in the training loop. One more read of
        the training corpus, up to the cache's size; nothing where the
        updates do not read the cache (an architecture that wraps the
        wordpieces layer). A chunk that fails the component's checks or does
        not tokenize (a pair text without its separator, say) is left to
        the updates, which report it naming the doc in its batch. Stops when
        the cache is full."""
        if not self._caches_wordpieces() or not self._trains_on_wordpieces():
            return
        texts: List[str] = []
        n_chars = 0
        for eg in get_examples():
            text = eg.predicted.text
            texts.append(text)
            n_chars += len(text)
            if len(texts) >= chunk or n_chars >= chunk_chars:
                if not self._cache_texts(texts):
                    return
                texts, n_chars = [], 0
        if texts:
            self._cache_texts(texts)

    def _cache_texts(self, texts: List[str]) -> bool:
        """Tokenize texts into the training cache, after the checks the
        prediction runs (QA's question lengths: the tokenizer panics instead
        of raising on a question that leaves a window no context); whether
        the cache has room left."""
        try:
            self._check_texts(texts)
            self._encode(texts, training=True)
        except ValueError:
            pass  # the updates report it, naming the doc in its batch
        # None: nothing kept yet (the first chunk failed its checks)
        return self._wordpiece_cache is None or not self._wordpiece_cache.full

    def _trains_on_wordpieces(self) -> bool:
        """Whether the updates tokenize the texts themselves (and so read the
        cache): where the model takes the component's wordpieces, or the
        passes are cut by padded size."""
        return self._wordpieces_layer() is not None and (
            self._feeds_wordpieces() or self._wordpieces_per_pass() > 0)

    def _caches_wordpieces(self) -> bool:
        """cache_wordpieces, or its default for the encoder's device: on a
        GPU (any device but the CPU), where the host's work per step bounds
        a small encoder's rate; not on CPU, where the encoder's arithmetic is
        the time and memory the tighter limit. Off for a component without
        the setting."""
        if "cache_wordpieces" not in self.factory_settings:
            return False
        return bool(self._device_setting("cache_wordpieces", on_cpu=False, on_gpu=True))

    def _wordpieces_layer(self) -> Optional[Model]:
        model = self.model
        if not model.has_ref("wordpieces") or not self.encoder_shim.is_loaded:
            return None
        layer = model.get_ref("wordpieces")
        return layer if getattr(layer, "_func", None) is wordpieces_forward else None

    def _chain_head(self) -> Optional[Model]:
        """The first layer of the model where the model is a chain (what
        the docs, or what the component feeds it, go through first)."""
        model = self.model
        if not model.layers or getattr(model, "_func", None) is not chain_forward:
            return None
        return model.layers[0]

    def _reads_wordpieces(self) -> bool:
        """Whether the model is a chain whose first layer is its
        ``bert_wordpieces`` layer, which then takes the docs' wordpieces (the
        classifiers and QA; not an architecture that wraps the layer)."""
        layer = self._wordpieces_layer()
        return layer is not None and self._chain_head() is layer

    def _feeds_wordpieces(self) -> bool:
        """Whether the model takes the wordpieces the component made
        (``_model_input``) instead of tokenizing the docs again."""
        return self._reads_wordpieces()

    def _model_input(self, docs: List[Doc], batch: Optional[WordpieceBatch]) -> Any:
        """What the model reads for these docs, given the wordpieces of their
        texts (None: not made, or not to be fed): the wordpieces where the
        model starts with its wordpieces layer, else the docs."""
        return batch if batch is not None and self._reads_wordpieces() else docs

    def _measure(self, texts: Sequence[str], batch: Optional[WordpieceBatch] = None) -> Tuple[List[int], List[int]]:
        """What the sub-batches are sorted by (the wordpieces the encoder
        reads per doc), and how many encoder rows each doc makes (one, or
        QA's windows)."""
        if batch is not None:
            n = len(texts)
            return batch.wordpieces_per_doc(n).tolist(), batch.rows_per_doc(n).tolist()
        return self._sort_lengths(texts), [1] * len(texts)

    def _sort_lengths(self, texts: Sequence[str]) -> List[int]:
        """What the sub-batches are sorted by when the model tokenizes the
        docs itself: each text's wordpieces (characters leave 10-20% more
        padding on the benchmark sets), or its characters before the encoder
        is loaded."""
        shim = self.encoder_shim
        texts = list(texts)
        if not shim.is_loaded or shim.tokenizer is None:
            return [len(text) for text in texts]
        ids = shim.tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False,
                             return_attention_mask=False, return_token_type_ids=False)["input_ids"]
        return [len(row) for row in ids]

    def _unbatch(self, output: Any, docs: Sequence[Doc]) -> List[Any]:
        raise NotImplementedError

    def _rebatch(self, items: List[Any], docs: Sequence[Doc]) -> Any:
        raise NotImplementedError

    # Training -----------------------------------------------------------------

    def validate_training_examples(self, examples: Sequence[Example]) -> None:
        """Raise a clear error on training data the component cannot learn from."""
        examples = list(examples)
        self._validate(examples, [eg.predicted.text for eg in examples] if self.validates_texts else None)

    def _validate(self, examples: List[Example], texts: Optional[List[str]]) -> None:
        """What validate_training_examples and update check: subclasses
        override this. texts: the predicted docs' texts (read once per
        update) when ``validates_texts`` is set, else None. The predicted and
        the reference doc of an example have the same text in spaCy's
        training (``make_doc`` of the reference's), so the checks read it
        once for both."""

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.update")
        if not examples:
            return losses
        passes = self._update_passes(examples)
        set_dropout_rate(self.model, drop)
        total = 0.0
        try:
            for inputs, loss_of, weight in passes:
                scores, backprop = self.model.begin_update(inputs)
                loss, d_scores = loss_of(scores)
                if weight != 1.0:
                    loss, d_scores = loss * weight, d_scores * weight
                backprop(d_scores)
                total = total + loss
                # Not held while the next pass runs.
                del scores, backprop, d_scores
        except Exception:
            # A pass that fails leaves the earlier passes' gradients: drop
            # them, so that a caller who goes on does not apply half a batch.
            self._discard_gradients()
            raise
        # Read on the host only once the backward pass is queued: on a GPU,
        # reading the loss waits for the work queued before it, and read
        # before backprop it would leave the device idle while the host
        # queues the backward pass.
        loss = float(total)
        if numpy.isnan(loss):
            # The NaN gradients are accumulated by now: drop them, so that a
            # caller who goes on does not apply them.
            self._discard_gradients()
            raise ValueError(Errors.E010.format(component=self.name, n=len(examples)))
        losses[self.name] += loss
        if sgd is not None:
            self.finish_update(sgd)
        return losses

    def _update_passes(self, examples: List[Example]) -> List[UpdatePass]:
        """Validate the examples of an update, and return the forward passes
        it makes over them: (the model's input, the loss of its output, the
        weight of that loss in the batch's). One pass over all of them by
        default, with the docs' texts read and tokenized once. Where the
        component sets a budget (``_wordpieces_per_pass``), a batch whose
        padded wordpieces exceed it goes through the model in passes whose
        gradients add up to the batch's (its loss is a mean over docs, so each
        pass weighs its share of the docs), which bounds the activations held
        at once; QA splits by windows instead."""
        feed = self._feeds_wordpieces()
        budget = self._wordpieces_per_pass() if len(examples) > 1 else 0
        read = feed or self.validates_texts or budget > 0
        texts = [eg.predicted.text for eg in examples] if read else None
        self._validate(examples, texts if self.validates_texts else None)
        batch = self._encode(texts, training=True) if feed or budget > 0 else None
        splits = [list(range(len(examples)))]
        if batch is not None and budget > 0:
            splits = split_by_padded_size(batch.wordpieces_per_doc(len(examples)).tolist(), budget)
        if len(splits) == 1:
            inputs = self._model_input([eg.predicted for eg in examples], batch if feed else None)
            return [(inputs, partial(self._loss, examples), 1.0)]
        passes: List[UpdatePass] = []
        for indices in splits:
            # An architecture that wraps the wordpieces layer reads the docs.
            inputs = self._model_input([examples[i].predicted for i in indices],
                                       batch.select(indices) if feed else None)
            loss_of = partial(self._loss, [examples[i] for i in indices])
            passes.append((inputs, loss_of, len(indices) / len(examples)))
        return passes

    def _device_setting(self, key: str, *, on_cpu: Any, on_gpu: Any) -> Any:
        """A setting of the cfg (a per-pass training limit, see
        ``check_pass_limit``, or ``cache_wordpieces``), or, where it is None,
        its default for the encoder's device (any but the CPU: on_gpu)."""
        setting = self.cfg.get(key)
        if setting is None:
            return on_cpu if self.encoder_shim.device.type == "cpu" else on_gpu
        return setting

    def _wordpieces_per_pass(self) -> int:
        """Training: the padded wordpieces (docs x longest row) one forward
        pass may hold; 0: no limit (one pass per batch). Components whose
        loss is a mean over docs override this."""
        return 0

    def _head_gradients(self) -> List[Any]:
        """The accumulated gradients of the thinc layers (numpy or cupy)."""
        return [node.get_grad(name) for node in self.model.walk() for name in node.param_names
                if node.has_grad(name)]

    def _discard_gradients(self) -> None:
        for grad in self._head_gradients():
            grad.fill(0)
        if self.model.has_ref("encoder") and self.encoder_shim.is_loaded:
            self.encoder_shim.discard_gradients()

    def get_loss(self, examples: Iterable[Example], scores: Any) -> Tuple[float, Any]:
        """The loss of the model's output for the examples, and its gradient
        with respect to that output.

        RETURNS (Tuple[float, Any]): The loss (averaged as the component's
            docs describe) and the gradient.
        """
        loss, d_scores = self._loss(list(examples), scores)
        return float(loss), d_scores

    def _loss(self, examples: List[Example], scores: Any) -> Tuple[Any, Any]:
        """get_loss with the loss left where the model computed it (a 0-d
        array on the model's device, or 0.0), so that reading it does not
        hold up the backward pass."""
        raise NotImplementedError

    def finish_update(self, sgd: Optimizer) -> None:
        """Apply the accumulated gradients (spaCy calls this once per batch).

        With gradient clipping and the encoder's torch AdamW path, the norm is
        taken over all of the component's gradients together, encoder and
        head, as BERT's and Hugging Face's training clip them
        (``clip_grad_norm_`` over the whole model): a head whose gradient is
        large early in training then also damps the encoder's steps, instead
        of each part being clipped on its own.
        """
        if not self._clip_global_norm(sgd):
            self.model.finish_update(sgd)
            return
        # Clipped together: no part's norm can exceed the limit, so the
        # encoder's clip_grad_norm_ and the optimizer's clipping of each head
        # parameter would change nothing (and on a GPU the latter reads each
        # norm back to the host): both read grad_clip, off while applying.
        clip = sgd.grad_clip
        sgd.grad_clip = 0.0
        try:
            self.model.finish_update(sgd)
        finally:
            sgd.grad_clip = clip

    def _clip_global_norm(self, sgd: Optimizer) -> bool:
        """Clip the encoder's and the head's gradients by their global norm,
        in place; whether it did."""
        clip = float(getattr(sgd, "grad_clip", 0.0) or 0.0)
        if clip <= 0 or not self.model.has_ref("encoder"):
            return False
        shim = self.encoder_shim
        if not shim.is_loaded or not shim.clips_globally(sgd):
            return False
        clip_by_global_norm(shim.gradients() + [grad_view(g) for g in self._head_gradients()], clip)
        return True

    def _sample_docs(self, get_examples: Callable[[], Iterable[Example]], n: int = 10):
        validate_get_examples(get_examples, f"{type(self).__name__}.initialize")
        examples = list(islice(get_examples(), n))
        if not examples:
            raise ValueError(SpacyErrors.E923.format(name=self.name))
        return examples

    # Serialization ------------------------------------------------------------

    def to_bytes(self, *, exclude=tuple()):
        serialize = {
            "cfg": lambda: srsly.json_dumps(self.cfg),
            "model": lambda: self.model.to_bytes(),
        }
        return util.to_bytes(serialize, exclude)

    def from_bytes(self, bytes_data, *, exclude=tuple()):
        deserialize = {
            "cfg": lambda b: self._load_cfg(srsly.json_loads(b)),
            "model": lambda b: self.model.from_bytes(b),
        }
        util.from_bytes(bytes_data, deserialize, exclude)
        self._after_load()
        return self

    def to_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> None:
        """Write cfg, the thinc model (head weights) and the encoder as files:
        ``encoder/`` holds config.json, tokenizer files and model.safetensors."""
        path = util.ensure_path(path)
        shim = self.encoder_shim

        def write_model(p: Path) -> None:
            with shim.weights_saved_elsewhere():
                p.write_bytes(self.model.to_bytes())

        serialize = {
            "cfg": lambda p: srsly.write_json(p, self.cfg),
            ENCODER_DIR: lambda p: shim.to_disk(p),
            "model": write_model,
        }
        util.to_disk(path, serialize, exclude)

    def from_disk(self, path: Union[str, Path], *, exclude: Iterable[str] = tuple()) -> "BertPipe":
        path = util.ensure_path(path)
        shim = self.encoder_shim

        def load_model(p: Path) -> None:
            if not p.exists():
                raise ValueError(Errors.E004.format(path=path, file=p.name))
            self.model.from_bytes(p.read_bytes())

        deserialize = {
            "cfg": lambda p: self._load_cfg(srsly.read_json(p)),
            ENCODER_DIR: lambda p: shim.from_disk(p),
            "model": load_model,
        }
        util.from_disk(path, deserialize, exclude)
        self._after_load()
        return self

    def _load_cfg(self, saved: Dict[str, Any]) -> None:
        self.cfg.update({k: v for k, v in saved.items() if k not in self.factory_settings})

    def _after_load(self) -> None:
        """Restore state derived from cfg; re-arm warnings that fire once per
        loaded pipeline (thinc saves layer attrs with the model)."""
        for node in self.model.walk():
            if "warned" in node.attrs:
                node.attrs["warned"] = False
        # Training's kept wordpieces belong to the encoder before the load.
        self._wordpiece_cache = None
