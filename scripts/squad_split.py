"""Split a SQuAD v1.1 file by article into a fine-tuning and an evaluation file.

The benchmark protocol of ../shared/data/README.md: SQuAD's train file is not
available, so the first 38 articles of dev-v1.1.json (in file order) are for
fine-tuning and the last 10 for evaluation; no context is shared. Optionally
keep only the first N questions of each side, in file order.

    python scripts/squad_split.py dev-v1.1.json train.json dev.json \
        --n-train-articles 38 --n-train 2000 --n-eval 600

Both outputs are SQuAD JSON, for `python -m spacy_bertft convert ... --format squad`.
"""
import argparse
import copy
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple


def take_questions(articles: List[Dict[str, Any]], limit: int) -> Tuple[List[Dict[str, Any]], int]:
    """The first ``limit`` questions of ``articles`` in file order (all when
    ``limit`` <= 0), as articles; paragraphs left without questions are dropped.

    RETURNS (Tuple[List[Dict[str, Any]], int]): The articles and the number of questions.
    """
    out: List[Dict[str, Any]] = []
    n = 0
    for article in articles:
        kept_paragraphs = []
        for paragraph in article["paragraphs"]:
            qas = paragraph["qas"]
            if limit > 0:
                qas = qas[: max(limit - n, 0)]
            if qas:
                kept = copy.copy(paragraph)
                kept["qas"] = qas
                kept_paragraphs.append(kept)
                n += len(qas)
        if kept_paragraphs:
            kept_article = copy.copy(article)
            kept_article["paragraphs"] = kept_paragraphs
            out.append(kept_article)
        if limit > 0 and n >= limit:
            break
    return out, n


def split_squad(
    data: Dict[str, Any], *, n_train_articles: int, n_train: int = 0, n_eval: int = 0
) -> Tuple[Dict[str, Any], Dict[str, Any], Tuple[int, int]]:
    """Split SQuAD JSON by article.

    data (Dict[str, Any]): The SQuAD JSON object (``{"version", "data"}``).
    n_train_articles (int): How many leading articles go to the fine-tuning side.
    n_train (int): Keep the first N fine-tuning questions (0: all).
    n_eval (int): Keep the first N evaluation questions (0: all).
    RETURNS (Tuple[dict, dict, Tuple[int, int]]): The two SQuAD objects and
        their question counts.
    """
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError("Not SQuAD JSON: expected an object with a 'data' list of articles")
    articles = data["data"]
    if not 0 < n_train_articles < len(articles):
        raise ValueError(
            f"--n-train-articles must be between 1 and {len(articles) - 1} (the file has {len(articles)} articles), "
            f"got {n_train_articles}"
        )
    train, n_tr = take_questions(articles[:n_train_articles], n_train)
    dev, n_dev = take_questions(articles[n_train_articles:], n_eval)
    version = data.get("version", "1.1")
    return {"version": version, "data": train}, {"version": version, "data": dev}, (n_tr, n_dev)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=Path, help="SQuAD JSON (dev-v1.1.json)")
    parser.add_argument("train_output", type=Path, help="SQuAD JSON of the fine-tuning articles")
    parser.add_argument("dev_output", type=Path, help="SQuAD JSON of the evaluation articles")
    parser.add_argument("--n-train-articles", type=int, default=38)
    parser.add_argument("--n-train", type=int, default=0, help="first N fine-tuning questions (0: all)")
    parser.add_argument("--n-eval", type=int, default=0, help="first N evaluation questions (0: all)")
    args = parser.parse_args(argv)
    with args.input.open(encoding="utf8") as f:
        data = json.load(f)
    train, dev, (n_train, n_dev) = split_squad(
        data, n_train_articles=args.n_train_articles, n_train=args.n_train, n_eval=args.n_eval
    )
    for path, obj in ((args.train_output, train), (args.dev_output, dev)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf8")
    print(f"{args.train_output}: {len(train['data'])} articles, {n_train} questions "
          f"(first {args.n_train_articles} articles)")
    print(f"{args.dev_output}: {len(dev['data'])} articles, {n_dev} questions "
          f"(titles {dev['data'][0]['title']} .. {dev['data'][-1]['title']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
