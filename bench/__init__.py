"""Benchmarks of spacy-bertft against its peers (see BENCHMARKS.md).

Not part of the installed package: run the scripts from the repository root,
e.g. ``python bench/run.py sst2 --out bench/results/sst2.json``.
"""
