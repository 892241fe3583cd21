"""Render benchmark result files as the markdown that BENCHMARKS.md holds:
each table with its command, machine, date and versions, so that no figure
appears without the command that reproduces it.

    python bench/report.py bench/results/*.json
    python bench/report.py --seeds bench/results/rte-s*.json   # mean over seeds

With --seeds, runs that differ only in their seed are summarised in one
table: each system's mean score (and standard deviation, and each seed's),
and the medians of its speeds and peak RSS with bertft's ratios to them.
"""
import json
import statistics
import sys
from pathlib import Path
from typing import List, Optional

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import markdown_table  # noqa: E402


def _machine(report: dict) -> str:
    m = report.get("machine", {})
    gpu = f", {m['gpu']}" if m.get("gpu") else ""
    return f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores{gpu}"


def _versions(report: dict) -> str:
    v = report.get("versions", {})
    keys = ("spacy-bertft", "spacy", "torch", "transformers", "spacy-transformers")
    return ", ".join(f"{k} {v[k]}" for k in keys if v.get(k))


def render_run(report: dict) -> str:
    s = report["settings"]
    lines = [
        f"`{report['command']}`",
        "",
        f"{report['date']} · {_machine(report)} · {_versions(report)} · "
        f"n_train {report['systems'].get('bertft', next(iter(report['systems'].values()))).get('n_train', s['n_train'])}, "
        f"{s['epochs']} epochs, lr {s['lr']:g}, batch {s['batch_size']}, max length {s['max_length']}, "
        f"seed {s['seed']}, {s['device']}{' bf16' if s['bf16'] else ''}",
        "",
        markdown_table(report),
    ]
    extras = []
    for name, r in report["systems"].items():
        if r.get("status") != "ok":
            continue
        others = {k: v for k, v in r.get("scores", {}).items() if k != r["metric"]}
        if others:
            extras.append(f"{name}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                                  for k, v in others.items()))
        if "pipeline_scores" in r:
            extras.append(f"{name} (transformers pipeline): "
                          + ", ".join(f"{k} {v:.2f}" for k, v in r["pipeline_scores"].items() if isinstance(v, float)))
        if "scores_spacy_tokens" in r:
            extras.append(f"{name} (spaCy's tokenization of the text): ents_f {r['scores_spacy_tokens']['ents_f']:.2f}")
        if "train_features_per_s" in r:
            extras.append(f"{name}: {r['train_features_per_s']:.1f} training features (windows)/s")
    if extras:
        lines += ["", "Other scores: " + "; ".join(extras) + "."]
    return "\n".join(lines)


def render_sweep(report: dict) -> str:
    return f"`{report['command']}`\n\n{report['date']}\n\n{report['table']}"


def render_ab(report: dict) -> str:
    scores = report.get("scores", {})
    lines = [f"{report['date']} · {_machine(report)} · {report['n_inputs']} inputs, batch {report['batch_size']}, "
             f"{report['rounds']} alternating rounds", "",
             "| system | median s | inputs/s |" + (" scores |" if scores else ""),
             "|---|---:|---:|" + ("---|" if scores else "")]
    for key, med in report["median_seconds"].items():
        scored = (" " + ", ".join(f"{m} {v:.2f}" for m, v in scores[key].items()) + " |") if key in scores else ""
        lines.append(f"| {key} | {med:.2f} | {report['inputs_per_s'][key]:.1f} |{scored}")
    if "max_logit_diff" in report:  # QA: answers (SQuAD-normalised), start/end logits
        same = (f"answers agree on {100 * report['label_agreement']:.1f}%, start/end logits differ by at most "
                f"{report['max_logit_diff']:.2g}")
    else:
        same = (f"labels agree on {100 * report['label_agreement']:.1f}%, probabilities differ by at most "
                f"{report['max_prob_diff']:.2g}")
    lines.append(f"\nbertft / HF pipeline: **{report['speedup_bertft_over_hf']:.2f}x**; {same}.")
    for key, value in report.get("speedup_bf16", {}).items():
        lines.append(f"{key}: **{value:.2f}x**.")
    for key, value in report.get("agreement_bf16_with_fp32", {}).items():
        lines.append(f"{key}: bf16 and float32 predictions agree on {100 * value:.1f}%.")
    return "\n".join(lines)


def render_significance(report: dict) -> str:
    return (f"{report['a']} vs {report['b']} on {report['task']}: {report['metric']} {report['score_a']:.2f} vs "
            f"{report['score_b']:.2f}, difference {report['delta']:+.2f}, 95% CI [{report['ci_low']:+.2f}, "
            f"{report['ci_high']:+.2f}], p = {report['p_value']:.4f} ({report['n']} examples, "
            f"{report['samples']} resamples)")


def render_gpu(report: dict) -> str:
    lines = [f"{report['date']} · {report['device']} · {report['steps']} steps of batch {report['batch_size']} "
             f"(first {report['warm']} left out) · {_versions(report)}", "",
             "| model | task | system | precision | ex/s | wordpieces/s | MFU |", "|---|---|---|---|---:|---:|---:|"]
    for r in report["results"]:
        if r.get("status") != "ok":
            lines.append(f"| {r['size']} | {r['kind']} | {r['system']} | {'bf16' if r['bf16'] else 'fp32'} | failed | | |")
            continue
        lines.append(f"| {r['size']} | {r['kind']} | {r['system']} | {'bf16' if r['bf16'] else 'fp32'} | "
                     f"{r['ex_per_s']:.0f} | {r['tokens_per_s']:.0f} | {100 * r['mfu']:.2f}% |")
    return "\n".join(lines)


def render_seed_means(reports: List[dict]) -> str:
    """One table over runs of the same task and settings but their seeds."""
    first = reports[0]
    keys = [k for k in first["settings"] if k not in ("seed", "save_dir")]
    for report in reports[1:]:
        diff = [k for k in keys if report["settings"].get(k) != first["settings"].get(k)]
        if report["task"] != first["task"] or diff:
            raise ValueError(f"--seeds: runs differ in more than the seed ({report['task']}: {diff})")
    seeds = [r["settings"]["seed"] for r in reports]
    systems: List[str] = []
    for report in reports:
        systems += [n for n, r in report["systems"].items() if r.get("status") == "ok" and n not in systems]

    def values(name: str, key: str) -> List[float]:
        return [r["systems"][name][key] for r in reports
                if r["systems"].get(name, {}).get("status") == "ok" and key in r["systems"][name]]

    metric = first["systems"][systems[0]]["metric"]
    s = first["settings"]
    lines = [
        "`" + "`, `".join(r["command"] for r in reports) + "`",
        "",
        f"{min(r['date'] for r in reports)} to {max(r['date'] for r in reports)} · {_machine(first)} · "
        f"{_versions(first)} · {s['epochs']} epochs, lr {s['lr']:g}, batch {s['batch_size']}, max length "
        f"{s['max_length']}, seeds {', '.join(map(str, seeds))}, {s['device']}",
        "",
        f"| system | {metric} mean | sd | per seed | train ex/s (median) | infer ex/s (median) | peak RSS MB (median) "
        f"| bertft train speed x | bertft infer speed x | bertft RSS x |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    med = {n: {k: statistics.median(values(n, k)) for k in ("train_ex_per_s", "infer_ex_per_s", "peak_rss_mb")}
           for n in systems}
    for name in systems:
        scores = values(name, "score")
        sd = statistics.stdev(scores) if len(scores) > 1 else 0.0
        ratios = ["", "", ""]
        if name != "bertft" and "bertft" in med:
            b, o = med["bertft"], med[name]
            ratios = [f"{b['train_ex_per_s'] / o['train_ex_per_s']:.2f}", f"{b['infer_ex_per_s'] / o['infer_ex_per_s']:.2f}",
                      f"{b['peak_rss_mb'] / o['peak_rss_mb']:.2f}"]
        lines.append(f"| {name} | {statistics.mean(scores):.2f} | {sd:.2f} | {' / '.join(f'{x:.2f}' for x in scores)} "
                     f"| {med[name]['train_ex_per_s']:.1f} | {med[name]['infer_ex_per_s']:.1f} | "
                     f"{med[name]['peak_rss_mb']:.0f} | " + " | ".join(ratios) + " |")
    others = []
    for name in systems:
        extra = {}
        for report in reports:
            r = report["systems"].get(name, {})
            for k, v in r.get("scores", {}).items():
                if k != metric and isinstance(v, (int, float)):
                    extra.setdefault(k, []).append(v)
        if extra:
            others.append(f"{name}: " + ", ".join(f"{k} {statistics.mean(v):.2f}" for k, v in extra.items()))
    if others:
        lines += ["", "Other scores (seed means): " + "; ".join(others) + "."]
    return "\n".join(lines)


def render_augment(report: dict) -> str:
    st = report["settings"]
    lines = [f"`python bench/augment_sst2.py --n-train {st['n_train']} --epochs {st['epochs']} --lr {st['lr']:g} "
             f"--sources {' '.join(st['sources'])} --edit-sets {' '.join(st.get('edit_sets', ['synonym']))} "
             f"--seeds {' '.join(map(str, st['seeds']))}`", "",
             f"{report['n_dev']} dev sentences, max copies {st['max_copies']}, replace fraction "
             f"{st['replace_fraction']}", "",
             "| augmentation | mean dev accuracy | sd | per seed | training docs (seed 0) |", "|---|---:|---:|---|---:|"]
    for name, summary in report["summary"].items():
        runs = [r for r in report["runs"] if r["augmentation"] == name]
        per_seed = " / ".join(f"{100 * r['accuracy']:.2f}" for r in runs)
        lines.append(f"| {name} | {100 * summary['mean_accuracy']:.2f} | {100 * summary['stdev']:.2f} | {per_seed} "
                     f"| {runs[0]['n_train_docs'] if runs else ''} |")
    return "\n".join(lines)


def render(path: Path) -> Optional[str]:
    if path.name.endswith(".predictions.json"):
        return None
    report = json.loads(path.read_text(encoding="utf8"))
    if "systems" in report and "settings" in report:
        body = render_run(report)
    elif "rows" in report and "table" in report:
        body = render_sweep(report)
    elif "speedup_bertft_over_hf" in report:
        body = render_ab(report)
    elif "p_value" in report:
        body = render_significance(report)
    elif "summary" in report and "runs" in report:
        body = render_augment(report)
    elif "results" in report and "device" in report:
        body = render_gpu(report)
    else:
        return f"### {path.name}\n\n(unrecognised result file)"
    return f"### {path.name}\n\n{body}"


def main(argv: Optional[List[str]] = None) -> int:
    args = list(argv if argv is not None else sys.argv[1:])
    seeds = "--seeds" in args
    paths = [Path(p) for p in args if p != "--seeds"]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    if seeds:
        reports = [json.loads(p.read_text(encoding="utf8")) for p in paths if not p.name.endswith(".predictions.json")]
        print(render_seed_means(reports) + "\n")
        return 0
    for path in paths:
        text = render(path)
        if text:
            print(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
