"""Render benchmark result files as the markdown that BENCHMARKS.md holds:
each table with its command, machine, date and versions, so that no figure
appears without the command that reproduces it.

    python bench/report.py bench/results/*.json
"""
import json
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
    lines = [f"{report['date']} · {_machine(report)} · {report['n_inputs']} inputs, batch {report['batch_size']}, "
             f"{report['rounds']} alternating rounds", "", "| system | median s | inputs/s |", "|---|---:|---:|"]
    for key, med in report["median_seconds"].items():
        lines.append(f"| {key} | {med:.2f} | {report['inputs_per_s'][key]:.1f} |")
    lines.append(f"\nbertft / HF pipeline: **{report['speedup_bertft_over_hf']:.2f}x**; labels agree on "
                 f"{100 * report['label_agreement']:.1f}%, probabilities differ by at most {report['max_prob_diff']:.2g}.")
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
    elif "results" in report and "device" in report:
        body = render_gpu(report)
    else:
        return f"### {path.name}\n\n(unrecognised result file)"
    return f"### {path.name}\n\n{body}"


def main(argv: Optional[List[str]] = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    for path in paths:
        text = render(path)
        if text:
            print(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
