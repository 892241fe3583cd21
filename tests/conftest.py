import pytest

from .util import make_tiny_encoder


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> str:
    """Path of a tiny locally built BERT encoder (2 layers, width 32)."""
    return str(make_tiny_encoder(tmp_path_factory.mktemp("tiny_bert")))


# Hypothesis keeps no example database in the checkout.
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("bertft", database=None)
_hypothesis_settings.load_profile("bertft")
