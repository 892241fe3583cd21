"""Every name advertised through entry points resolves without an import of
spacy_bertft, as spaCy finds it."""
from importlib.metadata import entry_points

import pytest
from spacy.util import registry

GROUPS = {
    "spacy_factories": None,
    "spacy_architectures": registry.architectures,
    "spacy_scorers": registry.scorers,
    "spacy_batchers": registry.batchers,
    "spacy_misc": registry.misc,
    "thinc_initializers": registry.initializers,
}


def advertised():
    names = []
    for group in GROUPS:
        for ep in entry_points(group=group):
            if ep.value.startswith("spacy_bertft"):
                names.append((group, ep.name))
    return names


def test_entry_points_are_advertised():
    groups = {g for g, _ in advertised()}
    assert {"spacy_factories", "spacy_architectures", "spacy_scorers", "spacy_batchers",
            "thinc_initializers"} <= groups


@pytest.mark.parametrize("group,name", advertised())
def test_registered_name_resolves(group, name):
    if group == "spacy_factories":
        import spacy

        nlp = spacy.blank("en")
        # spaCy looks factories up through its entry points
        assert nlp.has_factory(name)
        pipe = nlp.add_pipe(name)
        assert pipe.name == name
    else:
        func = GROUPS[group].get(name)
        assert callable(func)
        if not name.startswith("spacy-bertft."):
            pytest.fail(f"{name} is not namespaced")
        assert name.rsplit(".", 1)[-1].startswith("v")
