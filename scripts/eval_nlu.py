"""Train the NLU, evaluate it on the held-out set and write results/nlu_report.md.

    .venv/bin/python scripts/eval_nlu.py                 # train into a temp dir, test, report
    .venv/bin/python scripts/eval_nlu.py --model models/nlu-eval.tar.gz   # test a given model
    .venv/bin/python scripts/eval_nlu.py --keep-model models              # keep the trained model

The held-out set lives in tests/nlu/ and is never used for training: holdout.yml (Vietnamese
with diacritics), holdout_nodiacritics.yml (Vietnamese without diacritics, many with chat
abbreviations) and holdout_en.yml (English). `rasa test nlu` runs once on the whole folder;
the per-subset figures are computed here from its per-example output.

Exit status: 0 when the goals hold (macro F1 >= 0.95 overall and >= 0.95 without
diacritics, unless changed with --goal-overall / --goal-nodiacritics), 1 otherwise, 2 when
training or testing failed.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from helpdesk.text import fold  # noqa: E402

RASA = ROOT / ".venv" / "bin" / "rasa"
SUBSETS = {
    "holdout.yml": "vi_diacritics",
    "holdout_nodiacritics.yml": "vi_no_diacritics",
    "holdout_en.yml": "english",
}
SUBSET_TITLES = {
    "overall": "Overall",
    "vi_diacritics": "Vietnamese with diacritics",
    "vi_no_diacritics": "Vietnamese without diacritics",
    "english": "English",
}
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
NEAR_DUPLICATE_RATIO = 0.85


def plain_text(example: str) -> str:
    """Example text without entity markup, as rasa test nlu reports it."""
    return ANNOTATION.sub(lambda m: m.group(1), example).strip()


def read_nlu_examples(path: Path) -> List[Tuple[str, str]]:
    """(intent, plain text) of every example of a Rasa YAML NLU file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    pairs = []
    for block in data.get("nlu", []) or []:
        if "intent" not in block:
            continue
        for line in str(block.get("examples", "")).splitlines():
            line = line.strip()
            if line.startswith("- "):
                pairs.append((block["intent"], plain_text(line[2:])))
    return pairs


def training_files(data_dir: Path) -> List[Path]:
    return sorted(p for p in data_dir.rglob("*.yml") if "nlu" in (yaml.safe_load(p.read_text(encoding="utf-8")) or {}))


def run(cmd: List[str], log: Path) -> None:
    print("+", " ".join(cmd), flush=True)
    with log.open("a", encoding="utf-8") as out:
        # no telemetry and no error reports: nothing leaves the machine
        env = dict(os.environ, RASA_TELEMETRY_ENABLED="false")
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        print(f"command failed ({done.returncode}); see {log}", file=sys.stderr)
        sys.exit(2)


def train(config: Path, data: Path, out_dir: Path, log: Path) -> Path:
    cmd = [
        "nice",
        "-n",
        "5",
        str(RASA),
        "train",
        "nlu",
        "--config",
        str(config),
        "--nlu",
        str(data),
        "--out",
        str(out_dir),
        "--fixed-model-name",
        "nlu-eval",
    ]
    run(cmd, log)
    return out_dir / "nlu-eval.tar.gz"


def metrics(pairs: Iterable[Tuple[str, str]]) -> Dict:
    """Per-intent precision/recall/F1/support and macro F1 over the intents present in the
    gold labels of this subset (an intent predicted but absent from the subset counts
    against precision of nothing, as in sklearn's labels=gold)."""
    pairs = list(pairs)
    gold_labels = sorted({g for g, _ in pairs})
    tp, fp, fn = Counter(), Counter(), Counter()
    for gold, predicted in pairs:
        if gold == predicted:
            tp[gold] += 1
        else:
            fn[gold] += 1
            fp[predicted] += 1
    per_intent = {}
    for label in gold_labels:
        p = tp[label] / (tp[label] + fp[label]) if tp[label] + fp[label] else 0.0
        r = tp[label] / (tp[label] + fn[label]) if tp[label] + fn[label] else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        per_intent[label] = {"precision": p, "recall": r, "f1": f1, "support": tp[label] + fn[label]}
    macro = sum(v["f1"] for v in per_intent.values()) / len(per_intent) if per_intent else 0.0
    accuracy = sum(tp.values()) / len(pairs) if pairs else 0.0
    return {"per_intent": per_intent, "macro_f1": macro, "accuracy": accuracy, "n": len(pairs)}


def near_duplicates(
    holdout: List[Tuple[str, str, str]], training: List[Tuple[str, str]]
) -> List[Tuple[str, str, float]]:
    """Held-out sentences whose folded form is nearly the same as a training sentence."""
    train_folded = {fold(t) for _, t in training}
    found = []
    for _, text, _ in holdout:
        f = fold(text)
        if f in train_folded:
            found.append((text, text, 1.0))
            continue
        best = difflib.get_close_matches(f, train_folded, n=1, cutoff=NEAR_DUPLICATE_RATIO)
        if best:
            found.append((text, best[0], difflib.SequenceMatcher(None, f, best[0]).ratio()))
    return found


def fallback_threshold(config: Path) -> Optional[float]:
    cfg = yaml.safe_load(config.read_text(encoding="utf-8"))
    for item in cfg.get("pipeline", []):
        if str(item.get("name", "")).endswith("FallbackClassifier"):
            return float(item.get("threshold", 0.3))
    return None


def fmt(x: float) -> str:
    return f"{x:.3f}"


def report_markdown(
    results: Dict,
    goals: Dict[str, float],
    dupes,
    threshold,
    low_conf,
    errors,
    model_note: str,
    entity_report: Optional[Dict] = None,
) -> str:
    lines = [
        "# NLU evaluation on the held-out set",
        "",
        f"Model: {model_note}. Test data: `tests/nlu/` (never used for training).",
        "",
        "| subset | examples | accuracy | macro F1 | goal |",
        "|---|---|---|---|---|",
    ]
    for key in ("overall", "vi_diacritics", "vi_no_diacritics", "english"):
        m = results[key]
        goal = goals.get(key)
        mark = "" if goal is None else (f">= {goal} " + ("met" if m["macro_f1"] >= goal else "**NOT met**"))
        lines.append(f"| {SUBSET_TITLES[key]} | {m['n']} | {fmt(m['accuracy'])} | {fmt(m['macro_f1'])} | {mark} |")
    for key in ("overall", "vi_diacritics", "vi_no_diacritics", "english"):
        m = results[key]
        lines += [
            "",
            f"## {SUBSET_TITLES[key]} (macro F1 {fmt(m['macro_f1'])})",
            "",
            "| intent | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for intent, v in sorted(m["per_intent"].items()):
            lines.append(f"| {intent} | {fmt(v['precision'])} | {fmt(v['recall'])} | {fmt(v['f1'])} | {v['support']} |")
    if threshold is not None:
        lines += [
            "",
            "## Fallback threshold",
            "",
            f"FallbackClassifier threshold {threshold}: {low_conf['correct_below']} correct predictions "
            f"would fall back (asked to rephrase), {low_conf['wrong_below']} of {low_conf['wrong']} wrong "
            f"predictions are caught by it (rasa test nlu undoes the fallback, so the figures above "
            f"are the classifier's own).",
            "",
            "| threshold | correct predictions that would fall back | wrong predictions caught |",
            "|---|---|---|",
        ]
        for t, (correct_below, wrong_below) in sorted(low_conf["sweep"].items()):
            lines.append(f"| {t} | {correct_below} | {wrong_below} of {low_conf['wrong']} |")
    if entity_report:
        lines += [
            "",
            "## Entities (DIETClassifier + EntitySynonymMapper, token level, from rasa test nlu)",
            "",
            "| entity | precision | recall | F1 | support |",
            "|---|---|---|---|---|",
        ]
        for name, v in sorted(entity_report.items()):
            if isinstance(v, dict) and "support" in v and not name.endswith("avg"):
                lines.append(
                    f"| {name} | {fmt(v['precision'])} | {fmt(v['recall'])} | {fmt(v['f1-score'])} | {v['support']} |"
                )
        if "macro avg" in entity_report:
            lines.append(
                f"| macro avg | {fmt(entity_report['macro avg']['precision'])} | "
                f"{fmt(entity_report['macro avg']['recall'])} | {fmt(entity_report['macro avg']['f1-score'])} | "
                f"{entity_report['macro avg']['support']} |"
            )
        lines += [
            "",
            "rasa test nlu also writes `LanguageDetector_report.json`: the `language` entity spans no "
            "characters (start = end = 0), so it labels no token and that report shows zeros for every "
            "entity type; it does not change the DIETClassifier figures above.",
        ]
    lines += ["", "## Misclassified held-out examples", ""]
    if errors:
        lines += ["| subset | text | expected | predicted | confidence |", "|---|---|---|---|---|"]
        for e in errors:
            lines.append(f"| {e['subset']} | {e['text']} | {e['intent']} | {e['predicted']} | {e['confidence']:.2f} |")
    else:
        lines.append("None.")
    lines += [
        "",
        "## Leak check",
        "",
        f"Held-out sentences whose folded text is >= {NEAR_DUPLICATE_RATIO} similar to a training sentence: "
        f"{len(dupes)}.",
    ]
    for text, match, ratio in dupes:
        lines.append(f"- `{text}` ~ `{match}` ({ratio:.2f})")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="trained model (.tar.gz); default: train a fresh NLU model")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument("--data", type=Path, default=ROOT / "data", help="training data (file or folder)")
    parser.add_argument("--holdout", type=Path, default=ROOT / "tests" / "nlu")
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--keep-model", type=Path, help="copy the trained model into this folder")
    parser.add_argument("--goal-overall", type=float, default=0.95)
    parser.add_argument("--goal-nodiacritics", type=float, default=0.95)
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "nlu_eval.log"
    log.write_text("", encoding="utf-8")
    work = Path(tempfile.mkdtemp(prefix="nlu-eval-"))
    try:
        if args.model:
            model, model_note = args.model, f"`{args.model}`"
        else:
            model = train(args.config, args.data, work / "models", log)
            model_note = f"trained from `{args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data}` with `{args.config.name}`"
            if args.keep_model:
                args.keep_model.mkdir(parents=True, exist_ok=True)
                shutil.copy(model, args.keep_model / model.name)
        raw_out = args.out / "rasa_test_nlu"
        shutil.rmtree(raw_out, ignore_errors=True)
        run(
            [
                str(RASA),
                "test",
                "nlu",
                "--model",
                str(model),
                "--nlu",
                str(args.holdout),
                "--out",
                str(raw_out),
                "--successes",
                "--no-plot",
            ],
            log,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    subset_of: Dict[Tuple[str, str], str] = {}
    holdout_rows: List[Tuple[str, str, str]] = []
    for fname, subset in SUBSETS.items():
        path = args.holdout / fname
        if not path.exists():
            print(f"missing held-out file {path}", file=sys.stderr)
            return 2
        for intent, text in read_nlu_examples(path):
            subset_of[(text, intent)] = subset
            holdout_rows.append((intent, text, subset))

    predictions = []
    for name in ("intent_successes.json", "intent_errors.json"):
        f = raw_out / name
        if f.exists():
            predictions += json.loads(f.read_text(encoding="utf-8"))
    by_subset = defaultdict(list)
    errors = []
    threshold = fallback_threshold(args.config)
    low_conf = {"correct_below": 0, "wrong_below": 0, "wrong": 0, "sweep": {}}
    sweep = {t: [0, 0] for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)}
    for p in predictions:
        gold = p["intent"]
        predicted = (p.get("intent_prediction") or {}).get("name") or "None"
        confidence = float((p.get("intent_prediction") or {}).get("confidence") or 0.0)
        subset = subset_of.get((p["text"].strip(), gold), "unknown")
        by_subset[subset].append((gold, predicted))
        by_subset["overall"].append((gold, predicted))
        if gold != predicted:
            low_conf["wrong"] += 1
            errors.append(
                {"subset": subset, "text": p["text"], "intent": gold, "predicted": predicted, "confidence": confidence}
            )
        for t in sweep:
            if confidence < t:
                sweep[t][0 if gold == predicted else 1] += 1
        if threshold is not None and confidence < threshold:
            low_conf["correct_below" if gold == predicted else "wrong_below"] += 1
    low_conf["sweep"] = {t: tuple(v) for t, v in sweep.items()}
    if len(by_subset["overall"]) != len(holdout_rows) or by_subset.get("unknown"):
        print(
            f"warning: {len(by_subset['overall'])} predictions for {len(holdout_rows)} held-out examples, "
            f"{len(by_subset.get('unknown', []))} not matched to a subset",
            file=sys.stderr,
        )

    results = {
        key: metrics(by_subset.get(key, [])) for key in ("overall", "vi_diacritics", "vi_no_diacritics", "english")
    }
    training = (
        [pair for f in training_files(args.data) for pair in read_nlu_examples(f)]
        if args.data.is_dir()
        else read_nlu_examples(args.data)
    )
    dupes = near_duplicates(holdout_rows, training)
    goals = {"overall": args.goal_overall, "vi_no_diacritics": args.goal_nodiacritics}
    entity_file = raw_out / "DIETClassifier_report.json"
    entity_report = json.loads(entity_file.read_text(encoding="utf-8")) if entity_file.exists() else None
    (args.out / "nlu_report.md").write_text(
        report_markdown(results, goals, dupes, threshold, low_conf, errors, model_note, entity_report), encoding="utf-8"
    )
    (args.out / "nlu_metrics.json").write_text(
        json.dumps({"results": results, "goals": goals, "near_duplicates": len(dupes), "fallback": low_conf}, indent=2),
        encoding="utf-8",
    )

    for key in ("overall", "vi_diacritics", "vi_no_diacritics", "english"):
        print(
            f"{SUBSET_TITLES[key]:32s} n={results[key]['n']:4d} macro F1={results[key]['macro_f1']:.3f} "
            f"accuracy={results[key]['accuracy']:.3f}"
        )
    print(f"near duplicates of training: {len(dupes)}; report: {args.out / 'nlu_report.md'}")
    ok = all(results[k]["macro_f1"] >= g for k, g in goals.items())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
