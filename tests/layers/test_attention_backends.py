"""attention_backends: which attention kernels torch may choose on GPU. By
default every one but cuDNN's, which plans its kernels anew for each input
shape (and dynamically padded batches keep changing shape)."""
import pytest
import torch
from spacy.util import registry
from thinc.api import Config

from spacy_bertft.layers import hf_shim
from spacy_bertft.layers.hf_shim import DEFAULT_ATTENTION_BACKENDS, HFShim, sdpa_backends
from spacy_bertft.layers.transformer import get_shim

attention = pytest.importorskip("torch.nn.attention")
SDPBackend = attention.SDPBackend
needs_cudnn_member = pytest.mark.skipif(not hasattr(SDPBackend, "CUDNN_ATTENTION"),
                                        reason="this torch has no cuDNN attention backend")


def test_default_leaves_out_cudnn():
    assert "cudnn" not in DEFAULT_ATTENTION_BACKENDS
    chosen = sdpa_backends(None)
    assert chosen == [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]
    assert sdpa_backends([]) == chosen


@needs_cudnn_member
def test_named_backends_in_order():
    assert sdpa_backends(["cudnn", "math"]) == [SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH]


@pytest.mark.parametrize("names", [["flash", "fast"], ["CUDNN"], ["sdpa"]])
def test_unknown_backend_is_a_clear_error(names):
    with pytest.raises(ValueError, match="E023.*Unknown attention backend"):
        HFShim(attention_backends=names)


def test_only_backends_this_torch_lacks_is_a_clear_error(monkeypatch):
    class OldBackends:  # a torch without cuDNN attention
        FLASH_ATTENTION = SDPBackend.FLASH_ATTENTION
        EFFICIENT_ATTENTION = SDPBackend.EFFICIENT_ATTENTION
        MATH = SDPBackend.MATH

    monkeypatch.setattr(attention, "SDPBackend", OldBackends)
    with pytest.raises(ValueError, match="E024.*cudnn"):
        hf_shim.sdpa_backends(["cudnn"])
    assert hf_shim.sdpa_backends(["cudnn", "math"]) == [SDPBackend.MATH]


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


def _sdp_flags():
    b = torch.backends.cuda
    return (b.flash_sdp_enabled(), b.mem_efficient_sdp_enabled(), b.math_sdp_enabled(), b.cudnn_sdp_enabled())


@needs_cudnn_member
def test_run_context_restricts_kernels_on_gpu_only(tiny_encoder, monkeypatch):
    shim = HFShim()
    shim.load_pretrained(tiny_encoder)
    before = _sdp_flags()
    assert before[3], "cuDNN attention is allowed outside the shim"
    # On CPU nothing is entered: the CPU path is as it was.
    with shim._run_context():
        assert _sdp_flags() == before
    # Where the encoder sits on a GPU, the kernel choice is restricted inside
    # the context and restored after it (the flags are torch's global state;
    # only the device the shim reports is faked here).
    monkeypatch.setattr(HFShim, "device", property(lambda self: torch.device("cuda")))
    with shim._run_context():
        assert _sdp_flags() == (True, True, True, False)
    assert _sdp_flags() == before
    cudnn_only = HFShim(attention_backends=["cudnn"])
    cudnn_only._model = shim._model
    with cudnn_only._run_context():
        assert _sdp_flags() == (False, False, False, True)
    assert _sdp_flags() == before
