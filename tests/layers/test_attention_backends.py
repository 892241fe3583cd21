"""attention_backends: which attention kernels torch may choose on GPU. By
default every one but cuDNN's, which plans its kernels anew for each input
shape (and dynamically padded batches keep changing shape)."""
import pytest
import torch
from thinc.api import Config
from spacy.util import registry

from spacy_bertft.layers.hf_shim import DEFAULT_ATTENTION_BACKENDS, HFShim, sdpa_backends
from spacy_bertft.layers.transformer import get_shim

SDPBackend = pytest.importorskip("torch.nn.attention").SDPBackend


def test_default_leaves_out_cudnn():
    assert "cudnn" not in DEFAULT_ATTENTION_BACKENDS
    chosen = sdpa_backends(None)
    assert SDPBackend.CUDNN_ATTENTION not in chosen
    assert chosen == [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    assert sdpa_backends([]) == chosen


def test_named_backends_in_order():
    assert sdpa_backends(["cudnn", "math"]) == [SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH]


@pytest.mark.parametrize("names", [["flash", "fast"], ["CUDNN"], ["sdpa"]])
def test_unknown_backend_is_a_clear_error(names):
    with pytest.raises(ValueError, match="Unknown attention backend"):
        HFShim(attention_backends=names)


def test_config_reaches_the_shim():
    config = Config().from_str(
        """
        [model]
        @architectures = "spacy-bertft.HFEncoder.v1"
        name = "unused"
        attention_backends = ["efficient", "math"]
        """
    )
    model = registry.resolve(config)["model"]
    assert get_shim(model)._sdpa_backends == [SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


def test_no_context_on_cpu(tiny_encoder):
    # On CPU neither autocast nor a kernel choice is entered: the CPU path is unchanged.
    shim = HFShim(mixed_precision=True)
    shim.load_pretrained(tiny_encoder)
    assert shim.device.type == "cpu"
    with shim._run_context() as stack:
        assert stack is not None
        assert not torch.is_autocast_enabled("cpu")
