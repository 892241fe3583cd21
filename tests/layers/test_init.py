import numpy
import pytest
import spacy
from spacy.util import registry
from thinc.api import NumpyOps, fix_random_seed

from spacy_bertft.layers.init import bert_init_W, linear_uniform_init


def test_linear_uniform_init_is_torch_linear_default():
    torch = pytest.importorskip("torch")
    fix_random_seed(0)
    W = linear_uniform_init(NumpyOps(), (9, 384))
    bound = 1 / 384 ** 0.5
    assert W.shape == (9, 384) and W.dtype == numpy.float32
    assert numpy.abs(W).max() <= bound
    # the spread of torch.nn.Linear's weights of the same shape
    reference = torch.nn.Linear(384, 9).weight.detach().numpy()
    assert abs(W.std() - reference.std()) < 0.1 * reference.std()
    assert abs(W.std() - bound / 3 ** 0.5) < 0.05 * bound


def test_registered_initializers():
    fix_random_seed(0)
    normal = registry.resolve({"i": {"@initializers": "spacy-bertft.normal_init.v1", "std": 0.05}})["i"]
    W = normal(NumpyOps(), (20, 500))
    assert abs(W.std() - 0.05) < 0.005
    assert abs(bert_init_W(NumpyOps(), (20, 500)).std() - 0.02) < 0.002
    uniform = registry.resolve({"i": {"@initializers": "spacy-bertft.linear_uniform_init.v1"}})["i"]
    assert numpy.abs(uniform(NumpyOps(), (3, 16))).max() <= 0.25
    with pytest.raises(ValueError, match="E021"):
        registry.resolve({"i": {"@initializers": "spacy-bertft.normal_init.v1", "std": 0}})


@pytest.mark.parametrize("init_W,check", [
    (None, lambda W, bound: W.std() < 0.03),  # BERT's Normal(0, 0.02)
    ({"@initializers": "spacy-bertft.linear_uniform_init.v1"},
     lambda W, bound: numpy.abs(W).max() <= bound and W.std() > 0.4 * bound),
])
def test_token_classifier_output_init(tiny_encoder, init_W, check):
    from spacy.training import Example

    nlp = spacy.blank("en")
    model = {"encoder": {"name": tiny_encoder}, "init_W": init_W}
    ner = nlp.add_pipe("bert_ner", config={"model": model})
    example = Example.from_dict(nlp.make_doc("john lives in paris"), {"entities": [(0, 4, "PER")]})
    nlp.initialize(lambda: [example])
    W = ner.model.get_ref("output_layer").get_param("W")
    assert check(W, 1 / W.shape[1] ** 0.5)


def test_bert_ner_default_uses_linear_uniform_init():
    from spacy_bertft.pipeline.ner import DEFAULT_MODEL

    assert DEFAULT_MODEL["init_W"] == {"@initializers": "spacy-bertft.linear_uniform_init.v1"}
