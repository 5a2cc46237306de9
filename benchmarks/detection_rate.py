"""How many broken VJPs do the gradient checkers find, and how often do they cry wolf?

Run from the repository root, either way:

    python benchmarks/detection_rate.py                 # the full experiment (about twenty seconds)
    python -m benchmarks.detection_rate --json out.json
    python benchmarks/detection_rate.py --quick         # smoke run (a few seconds)

The mutants, their programs and input strategies live in ``tests/mutants.py``
(the same catalogue ``tests/test_mutants.py`` asserts on). For every mutant and
every checker (full ``gradcheck``, ``gradcheck(fast_mode=True)``,
``gradgradcheck``):

1. the correct table is run through the checker on the mutant's K inputs
   (drawn by a derandomized hypothesis run, so the same on every machine with
   the same hypothesis version); every one must pass, else the row is flagged;
2. the mutant is applied (and undone afterwards) and the checker runs on the
   same K inputs. A GradcheckError on any input is "caught"; an exception from
   the program itself (a shape error, a RuntimeWarning turned into an error) is
   "crash"; otherwise "missed". Cells show on how many of the K inputs.

Then the false-alarm sweep: each checker on N random correct programs
(``tests/mutants.py: random_program``), and, for reference, how many of the
first M of those programs notice each mutant.

Exit status is 0 whenever the run completes: it reports, it does not test.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the catalogue is shared with the tests
try:
    import tinygrad_mnist  # noqa: F401
except ImportError:  # run from a checkout that is not installed
    sys.path.insert(0, str(ROOT))

import hypothesis  # noqa: E402
import numpy as np  # noqa: E402

import mutants as M  # noqa: E402

KIND_LABEL = {M.FIRST: "first-order", M.SECOND: "second-order", M.EQUIVALENT: "equivalent"}


def cell(verdict: M.Verdict) -> str:
    if verdict.outcome == M.NOT_APPLICABLE:
        return "n/a"
    if verdict.outcome == M.MISSED:
        return "missed"
    hits = sum(o == verdict.outcome for o in verdict.per_input)
    return f"{verdict.outcome} {hits}/{len(verdict.per_input)}"


def run_mutants(k: int) -> list[dict]:
    rows = []
    for mutant in M.MUTANTS:
        row = {"mutant": mutant.name, "kind": mutant.order, "target": mutant.target, "bug": mutant.bug,
               "note": mutant.note, "checkers": {}, "baseline_failures": {}}
        for checker in M.CHECKERS:
            failures = [i for i, (outcome, _) in enumerate(M.baseline(mutant, checker, k)) if outcome != M.PASSED]
            if failures:
                row["baseline_failures"][checker] = failures
            verdict = M.evaluate(mutant, checker, k)
            row["checkers"][checker] = {"outcome": verdict.outcome, "per_input": verdict.per_input,
                                        "cell": cell(verdict), "detail": verdict.detail[:500]}
        rows.append(row)
    return rows


def sweep_false_alarms(checker: str, count: int) -> dict:
    alarms = []
    for seed in range(count):
        program = M.random_program(seed)
        outcome, detail = M.run_checker(checker, program.fn, tuple(program.arrays), {}, seed=seed)
        if outcome != M.PASSED:
            alarms.append({"seed": seed, "outcome": outcome, "detail": detail[:500], "program": program.describe()})
    return {"checker": checker, "programs": count, "false_alarms": len(alarms), "alarms": alarms}


def sweep_kills(count: int) -> dict[str, int]:
    """For each mutant, how many of the first ``count`` random programs fail full gradcheck under it."""
    programs = [M.random_program(seed) for seed in range(count)]
    kills = {}
    for mutant in M.MUTANTS:
        with mutant.patch():
            kills[mutant.name] = sum(
                M.run_checker("full", p.fn, tuple(p.arrays), {})[0] != M.PASSED for p in programs)
    return kills


def totals(rows: list[dict]) -> list[dict]:
    out = []
    for kind in (M.FIRST, M.SECOND, M.EQUIVALENT):
        chosen = [r for r in rows if r["kind"] == kind]
        entry = {"kind": kind, "mutants": len(chosen)}
        for checker in M.CHECKERS:
            outcomes = [r["checkers"][checker]["outcome"] for r in chosen]
            entry[checker] = {
                "caught": outcomes.count(M.CAUGHT), "crash": outcomes.count(M.CRASH),
                "missed": outcomes.count(M.MISSED), "not_applicable": outcomes.count(M.NOT_APPLICABLE),
                "detected": outcomes.count(M.CAUGHT) + outcomes.count(M.CRASH),
                "applicable": len(outcomes) - outcomes.count(M.NOT_APPLICABLE),
            }
        out.append(entry)
    return out


def total_cell(t: dict) -> str:
    text = f"{t['detected']}/{t['applicable']}"
    if t["crash"]:
        text += f" ({t['crash']} crash)"
    if t["not_applicable"]:
        text += f" ({t['not_applicable']} n/a)"
    return text


def render(result: dict) -> str:
    rows, k = result["mutants"], result["config"]["k"]
    kills = result.get("program_kills")
    lines = [
        f"Detection of broken VJPs: {len(rows)} mutants x {len(M.CHECKERS)} checkers, K={k} inputs each "
        f"(float64, eps=1e-6, atol=1e-5, rtol=1e-3)",
        "cells: caught (GradcheckError) / crash (the program raised) on n of K inputs, or missed; "
        "n/a where the checker does not apply",
    ]
    if kills is not None:
        lines.append(f"programs: how many of the first {result['config']['kill_programs']} random correct "
                     "programs fail full gradcheck under the mutant")
    lines.append("")
    header = f"{'mutant':36} {'kind':12} {'full':12} {'fast':12} {'gradgrad':12}"
    if kills is not None:
        header += f" {'programs':>8}"
    lines += [header.rstrip(), "-" * len(header)]
    for r in rows:
        c = r["checkers"]
        line = (f"{r['mutant']:36} {KIND_LABEL[r['kind']]:12} {c['full']['cell']:12} {c['fast']['cell']:12} "
                f"{c['gradgrad']['cell']:12}")
        if kills is not None:
            line += f" {kills[r['mutant']]:>8}"
        if r["baseline_failures"]:
            line += f"  ! correct table fails {r['baseline_failures']}"
        lines.append(line.rstrip())
    lines += ["", "Totals: detected (caught + crash) / mutants", ""]
    header = f"{'kind':14} {'mutants':>7}  {'full':18} {'fast':18} {'gradgrad':24}"
    lines += [header.rstrip(), "-" * len(header)]
    for t in result["totals"]:
        lines.append(f"{KIND_LABEL[t['kind']]:14} {t['mutants']:>7}  {total_cell(t['full']):18} "
                     f"{total_cell(t['fast']):18} {total_cell(t['gradgrad']):24}".rstrip())
    lines += ["", "False alarms on random correct programs", ""]
    header = f"{'checker':10} {'programs':>8} {'false alarms':>13}"
    lines += [header, "-" * len(header)]
    for s in result["false_alarms"]:
        lines.append(f"{s['checker']:10} {s['programs']:>8} {s['false_alarms']:>13}")
        for alarm in s["alarms"][:3]:
            lines.append(f"    {alarm['outcome']}: {alarm['detail'][:200]}")
            lines += ["    " + line for line in alarm["program"].splitlines()]
    bad = sum(bool(r["baseline_failures"]) for r in rows)
    inputs = sum(len(r["checkers"][c]["per_input"]) for r in rows for c in M.CHECKERS)
    lines += ["", f"Baseline: the correct table failed a checker on {bad} mutant program(s) "
                  f"({inputs} mutant checks in all)." if bad else
                  f"Baseline: the correct table passed every applicable checker on every mutant input "
                  f"({inputs} checks).",
              f"Elapsed: {result['seconds']:.1f} s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=M.K, help=f"inputs per mutant (default {M.K})")
    parser.add_argument("--programs", type=int, default=1000,
                        help="random programs for the false-alarm sweep of full and fast gradcheck (default 1000)")
    parser.add_argument("--gradgrad-programs", type=int, default=1000,
                        help="random programs for the gradgradcheck sweep (default 1000)")
    parser.add_argument("--kill-programs", type=int, default=200,
                        help="random programs run under each mutant (default 200; 0 skips)")
    parser.add_argument("--quick", action="store_true", help="100 programs per sweep, 20 under each mutant")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.programs, args.gradgrad_programs, args.kill_programs = 100, 100, 20

    start = time.perf_counter()
    rows = run_mutants(args.k)
    sweeps = [sweep_false_alarms("full", args.programs), sweep_false_alarms("fast", args.programs),
              sweep_false_alarms("gradgrad", args.gradgrad_programs)]
    kills = sweep_kills(args.kill_programs) if args.kill_programs else None
    result = {
        "config": {"k": args.k, "programs": args.programs, "gradgrad_programs": args.gradgrad_programs,
                   "kill_programs": args.kill_programs, "eps": 1e-6, "atol": 1e-5, "rtol": 1e-3},
        "environment": {"python": platform.python_version(), "numpy": np.__version__,
                        "hypothesis": hypothesis.__version__, "platform": platform.platform()},
        "mutants": rows,
        "totals": totals(rows),
        "false_alarms": sweeps,
        "program_kills": kills,
    }
    result["seconds"] = time.perf_counter() - start
    print(render(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
