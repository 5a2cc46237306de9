"""How many broken VJPs do the gradient checkers find, and how often do they cry wolf?

Run from the repository root, either way:

    python benchmarks/detection_rate.py                 # the full experiment (about a minute)
    python -m benchmarks.detection_rate --json out.json
    python benchmarks/detection_rate.py --quick         # smoke run (a few seconds)

The mutants, their programs and input strategies live in ``tests/mutants.py``
(the same catalogue ``tests/test_mutants.py`` asserts on). For every mutant and
every checker (full ``gradcheck``, ``gradcheck(fast_mode=True)``,
``gradgradcheck``, and ``check_second_derivatives``, the error-bounded
second-order check, as ``bound-gradgrad``):

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

Then the error-bounded checker (``check_gradients``, full and ``fast=True``):
the scaled mutants (``tests/mutants.py: SCALED_MUTANTS``, a VJP wrong by a
relative d from 1e-2 to 1e-8) give the table "fraction caught by d" (of the
(mutant, input) pairs, K inputs each) for gradcheck with PyTorch's default
tolerances, check_gradients and its fast mode; the false-alarm sweep adds both
to the random programs and runs every first-order checker on ill-conditioned
correct programs (``ill_conditioned_program``: large dynamic range, exp of large
arguments, points near kinks and ties, long chains); and the cost of each
checker against gradcheck on a few random programs (best of several runs).

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
sys.path.insert(0, str(ROOT))  # the package and the benchmarks' timer, also run as a file from a checkout

import hypothesis  # noqa: E402
import mutants as M  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks import best_times  # noqa: E402

KIND_LABEL = {M.FIRST: "first-order", M.SECOND: "second-order", M.EQUIVALENT: "equivalent"}


TABLE_CHECKERS = (*M.CHECKERS, M.BOUND_GRADGRAD)  # the columns of the mutant table


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
        for checker in TABLE_CHECKERS:
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


SCALED_ROWS = (("full", "(a) gradcheck, PyTorch defaults"), ("fast", "    gradcheck fast_mode"),
               ("bound", "(b) check_gradients"), ("bound-fast", "(c) check_gradients fast"))


def run_scaled(k: int) -> dict:
    """The detection table by d, and the scaled mutants' inputs the correct table fails (must be none)."""
    baseline_failures = []
    for mutant in M.SCALED_MUTANTS:
        if mutant.d != M.DS[0]:
            continue  # the inputs depend on the primitive only, not on d or the kind
        for checker in M.SCALED_CHECKERS:
            bad = [i for i, (outcome, _) in enumerate(M.baseline(mutant, checker, k)) if outcome != M.PASSED]
            if bad:
                baseline_failures.append({"mutant": mutant.name, "checker": checker, "inputs": bad})
    table = M.detection_by_d(M.SCALED_CHECKERS, M.DS, k)
    return {"ds": list(M.DS), "mutants": len(M.SCALED_MUTANTS), "per_d": len(M.SCALED_MUTANTS) // len(M.DS),
            "fractions": {c: [table[(c, d)] for d in M.DS] for c in M.SCALED_CHECKERS},
            "baseline_failures": baseline_failures}


def sweep_ill_conditioned(checker: str, count: int) -> dict:
    alarms, by_family = [], {}
    for seed in range(count):
        program = M.ill_conditioned_program(seed)
        family = program.steps[0][0]
        outcome, detail = M.run_checker(checker, program.fn, tuple(program.arrays), {}, seed=seed)
        by_family.setdefault(family, [0, 0])[0] += 1
        if outcome != M.PASSED:
            by_family[family][1] += 1
            alarms.append({"seed": seed, "outcome": outcome, "detail": detail[:500], "program": program.describe()})
    return {"checker": checker, "programs": count, "false_alarms": len(alarms), "alarms": alarms,
            "by_family": by_family}


def measure_cost(seeds: tuple[int, ...] = (3, 11, 42, 7, 123), repeat: int = 5) -> list[dict]:
    """Seconds per check (best of ``repeat``) of each first-order checker on a few random programs."""
    out = []
    for seed in seeds:
        program = M.random_program(seed)
        runs = [lambda c=checker, p=program: M.run_checker(c, p.fn, tuple(p.arrays), {})
                for checker in M.SCALED_CHECKERS]
        times = dict(zip(M.SCALED_CHECKERS, best_times(*runs, repeats=repeat), strict=True))
        out.append({"seed": seed, "elements": int(sum(a.size for a in program.arrays)), "seconds": times})
    return out


def render_bound(result: dict) -> str:
    scaled = result["scaled"]
    lines = ["", (f"Fraction caught by d: {scaled['mutants']} scaled mutants ({scaled['per_d']} per d: "
                  f"{len(M.SCALED_TARGETS)} primitives x scale / one element / noise), K={result['config']['k']} "
                  "inputs each; the fraction of (mutant, input) pairs caught"), ""]
    header = f"{'checker':32} " + " ".join(f"{d:>6.0e}" for d in scaled["ds"])
    lines += [header, "-" * len(header)]
    for checker, label in SCALED_ROWS:
        lines.append(f"{label:32} " + " ".join(f"{f:6.2f}" for f in scaled["fractions"][checker]))
    if scaled["baseline_failures"]:
        lines.append(f"! the correct table fails on scaled-mutant inputs: {scaled['baseline_failures']}")
    else:
        lines.append("Baseline: the correct table passes every checker on every scaled-mutant input.")
    lines += ["", ("False alarms of the error-bounded checker, and of every first-order checker on "
                   "ill-conditioned correct programs"), ""]
    header = f"{'checker':12} {'programs':18} {'count':>6} {'false alarms':>13}"
    lines += [header, "-" * len(header)]
    for s in result["bound_false_alarms"]:
        lines.append(f"{s['checker']:12} {'random':18} {s['programs']:>6} {s['false_alarms']:>13}")
        for alarm in s["alarms"][:3]:
            lines.append(f"    {alarm['outcome']}: {alarm['detail'][:200]}")
    for s in result["ill_conditioned"]:
        lines.append(f"{s['checker']:12} {'ill-conditioned':18} {s['programs']:>6} {s['false_alarms']:>13}")
        for family, (n, bad) in s["by_family"].items():
            if bad:
                lines.append(f"    {family}: {bad} of {n}")
        for alarm in s["alarms"][:1]:
            lines.append(f"    first: {alarm['outcome']}: {alarm['detail'][:200]}")
    lines += ["", "Cost per check, best of 5, ms (and the ratio to full gradcheck)", ""]
    header = f"{'program':8} {'elements':>8} " + " ".join(f"{c:>16}" for c in M.SCALED_CHECKERS)
    lines += [header, "-" * len(header)]
    for c in result["cost"]:
        t = c["seconds"]
        lines.append(f"{c['seed']:>8} {c['elements']:>8} " + " ".join(
            f"{t[k] * 1e3:8.1f} ({t[k] / t['full']:4.1f}x)" for k in M.SCALED_CHECKERS))
    return "\n".join(lines)


def totals(rows: list[dict]) -> list[dict]:
    out = []
    for kind in (M.FIRST, M.SECOND, M.EQUIVALENT):
        chosen = [r for r in rows if r["kind"] == kind]
        entry = {"kind": kind, "mutants": len(chosen)}
        for checker in TABLE_CHECKERS:
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
        f"Detection of broken VJPs: {len(rows)} mutants x {len(TABLE_CHECKERS)} checkers, K={k} inputs each "
        f"(float64, eps=1e-6, atol=1e-5, rtol=1e-3)",
        "cells: caught (GradcheckError) / crash (the program raised) on n of K inputs, or missed; "
        "n/a where the checker does not apply",
    ]
    if kills is not None:
        lines.append(f"programs: how many of the first {result['config']['kill_programs']} random correct "
                     "programs fail full gradcheck under the mutant")
    lines.append("")
    header = f"{'mutant':36} {'kind':12} {'full':12} {'fast':12} {'gradgrad':12} {'bound-gradgrad':14}"
    if kills is not None:
        header += f" {'programs':>8}"
    lines += [header.rstrip(), "-" * len(header)]
    for r in rows:
        c = r["checkers"]
        line = (f"{r['mutant']:36} {KIND_LABEL[r['kind']]:12} {c['full']['cell']:12} {c['fast']['cell']:12} "
                f"{c['gradgrad']['cell']:12} {c[M.BOUND_GRADGRAD]['cell']:14}")
        if kills is not None:
            line += f" {kills[r['mutant']]:>8}"
        if r["baseline_failures"]:
            line += f"  ! correct table fails {r['baseline_failures']}"
        lines.append(line.rstrip())
    lines += ["", "Totals: detected (caught + crash) / mutants", ""]
    header = f"{'kind':14} {'mutants':>7}  {'full':18} {'fast':18} {'gradgrad':24} {'bound-gradgrad':24}"
    lines += [header.rstrip(), "-" * len(header)]
    for t in result["totals"]:
        lines.append(f"{KIND_LABEL[t['kind']]:14} {t['mutants']:>7}  {total_cell(t['full']):18} "
                     f"{total_cell(t['fast']):18} {total_cell(t['gradgrad']):24} "
                     f"{total_cell(t[M.BOUND_GRADGRAD]):24}".rstrip())
    lines += ["", "False alarms on random correct programs", ""]
    header = f"{'checker':14} {'programs':>8} {'false alarms':>13}"
    lines += [header, "-" * len(header)]
    for s in result["false_alarms"]:
        lines.append(f"{s['checker']:14} {s['programs']:>8} {s['false_alarms']:>13}")
        for alarm in s["alarms"][:3]:
            lines.append(f"    {alarm['outcome']}: {alarm['detail'][:200]}")
            lines += ["    " + line for line in alarm["program"].splitlines()]
    bad = sum(bool(r["baseline_failures"]) for r in rows)
    inputs = sum(len(r["checkers"][c]["per_input"]) for r in rows for c in TABLE_CHECKERS)
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
    parser.add_argument("--bound-programs", type=int, default=None,
                        help="random programs for the check_gradients sweeps (default: --programs)")
    parser.add_argument("--ill-programs", type=int, default=360,
                        help="ill-conditioned programs for every first-order checker (default 360)")
    parser.add_argument("--kill-programs", type=int, default=200,
                        help="random programs run under each mutant (default 200; 0 skips)")
    parser.add_argument("--quick", action="store_true", help="100 programs per sweep, 20 under each mutant")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.programs, args.gradgrad_programs, args.kill_programs, args.ill_programs = 100, 100, 20, 36
    if args.bound_programs is None:
        args.bound_programs = args.programs

    start = time.perf_counter()
    rows = run_mutants(args.k)
    sweeps = [sweep_false_alarms("full", args.programs), sweep_false_alarms("fast", args.programs),
              sweep_false_alarms("gradgrad", args.gradgrad_programs),
              sweep_false_alarms(M.BOUND_GRADGRAD, args.gradgrad_programs)]
    kills = sweep_kills(args.kill_programs) if args.kill_programs else None
    scaled = run_scaled(args.k)
    bound_sweeps = [sweep_false_alarms(c, args.bound_programs) for c in M.BOUND_CHECKERS]
    ill = [sweep_ill_conditioned(c, args.ill_programs) for c in M.SCALED_CHECKERS]
    cost = measure_cost()
    result = {
        "config": {"k": args.k, "programs": args.programs, "gradgrad_programs": args.gradgrad_programs,
                   "kill_programs": args.kill_programs, "bound_programs": args.bound_programs,
                   "ill_programs": args.ill_programs, "eps": 1e-6, "atol": 1e-5, "rtol": 1e-3},
        "environment": {"python": platform.python_version(), "numpy": np.__version__,
                        "hypothesis": hypothesis.__version__, "platform": platform.platform()},
        "mutants": rows,
        "totals": totals(rows),
        "false_alarms": sweeps,
        "program_kills": kills,
        "scaled": scaled,
        "bound_false_alarms": bound_sweeps,
        "ill_conditioned": ill,
        "cost": cost,
    }
    result["seconds"] = time.perf_counter() - start
    print(render(result))
    print(render_bound(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
