"""Write a tiny WordNet in the Princeton database format (data.*, index.*,
*.exc; no lexnames, as in Debian's wordnet-base), so that the WordNet source
of `augment` is tested through nltk's real reader without WordNet installed."""
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Sequence

POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
LEX_FILE = {"n": 3, "v": 29, "a": 0, "r": 2}
HEADER = "  1 This software and database is being provided to you, the LICENSEE, by\n" \
         "  2 WordNet 3.0 Copyright 2006 by Princeton University.  All rights reserved.\n"


def write_wordnet(path: Path, synsets: Dict[str, Sequence[Sequence[str]]]) -> Path:
    """synsets: pos ("n", "v", "a", "r") -> list of synsets, each a list of
    lemma names (the first synsets of a lemma are its most frequent senses)."""
    path.mkdir(parents=True, exist_ok=True)
    for pos, name in POS_FILES.items():
        data = HEADER
        index: Dict[str, List[int]] = defaultdict(list)
        for i, lemmas in enumerate(synsets.get(pos, [])):
            offset = len(data.encode("utf8"))
            words = " ".join(f"{lemma} 0" for lemma in lemmas)
            frames = " 01 + 01 00" if pos == "v" else ""
            data += f"{offset:08d} {LEX_FILE[pos]:02d} {pos} {len(lemmas):02x} {words} 000{frames} | synset {i}\n"
            for lemma in lemmas:
                index[lemma.lower()].append(offset)
        (path / f"data.{name}").write_text(data, encoding="utf8")
        lines = [HEADER] + [
            f"{lemma} {pos} {len(offs)} 0 {len(offs)} 0 " + " ".join(f"{o:08d}" for o in offs) + "\n"
            for lemma, offs in sorted(index.items())
        ]
        (path / f"index.{name}").write_text("".join(lines), encoding="utf8")
        (path / f"{name}.exc").write_text("", encoding="utf8")
    return path
