#!/usr/bin/env python3
"""Runs Soufflé's own test cases with `sx datalog`, the way Soufflé's harness does.

Usage:
    scripts/souffle-suite.py SOUFFLE_TESTS [--sx PATH] [--category evaluation,example]
                             [--only NAME[,NAME…]] [--timeout SECONDS] [--report FILE]

SOUFFLE_TESTS is the `tests` folder of a checkout of souffle-lang/souffle (not part of
this repository: fetch it and point this script at it). Each case listed in a
category's CMakeLists.txt runs as Soufflé's `souffle_positive_test` runs it: in a fresh
output folder, `sx datalog CASE.dl -F CASE/facts -D .` (or `-D -` for the cases
marked OUTPUT_STDOUT, `-I` for their include folders), then

- the number of `.csv` files written must equal the number of expected ones;
- each expected `CASE/*.csv` must equal the one written, as sorted lines;
- standard output must equal `CASE.out`, as sorted lines.

Standard error (Soufflé's warnings) is not compared. A negative case passes when the
run fails. A case whose outputs come from user-defined C++ functors (`.functor`, or
a `souffle_positive_functor_test`) is counted apart: SX cannot run C++.

Prints `PASS`/`FAIL`/`SKIP` and the reason per case, then a summary. With
`--report FILE`, also writes `name<TAB>status<TAB>reason` lines there.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SX = os.path.join(HERE, "..", "target", "release", "sx")


def cases_of(category_dir, category):
    """(name, facts dir names, options, negative) for each case of a CMakeLists.txt."""
    text = open(os.path.join(category_dir, "CMakeLists.txt")).read()
    text = re.sub(r"#.*", "", text)
    out = []
    for m in re.finditer(r"\b(\w+)\s*\(([^)]*)\)", text):
        fn, args = m.group(1).lower(), m.group(2).split()
        if not args or args[0].startswith("$"):
            continue
        if fn == "positive_test":
            out.append((args[0], ["facts"], set(args[1:]), False))
        elif fn == "negative_test":
            out.append((args[0], ["facts"], set(args[1:]), True))
        elif fn == "souffle_positive_functor_test":
            out.append((args[0], ["facts"], {"FUNCTORS"}, False))
        elif fn == "souffle_positive_multi_test":
            kw = {}
            key = None
            for a in args:
                if a.isupper():
                    key = a
                    kw[key] = []
                elif key:
                    kw[key].append(a)
            name = kw.get("TEST_NAME", [None])[0]
            if name:
                out.append((name, kw.get("FACTS_DIR_NAMES", ["facts"]), set(), False))
    return out


def sorted_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return sorted(line.rstrip("\n").rstrip("\r") for line in f)


def first_difference(want, got):
    w, g = set(want), set(got)
    missing = sorted(w - g)
    extra = sorted(g - w)
    parts = []
    if missing:
        parts.append("missing %d, e.g. %r" % (len(missing), missing[0]))
    if extra:
        parts.append("extra %d, e.g. %r" % (len(extra), extra[0]))
    if not parts:
        parts.append("same lines, different multiplicity")
    return "; ".join(parts)


def run_one(sx, case_dir, name, facts, opts, negative, timeout):
    """(status, reason) of one case with one facts folder."""
    prog = os.path.join(case_dir, name + ".dl")
    if not os.path.exists(prog):
        return "SKIP", "no %s.dl" % name
    src = open(prog, encoding="utf-8", errors="replace").read()
    functors = "FUNCTORS" in opts or re.search(r"^\s*\.functor\b", src, re.M)
    check_dir = case_dir if facts == "facts" else os.path.join(case_dir, facts)
    out_dir = tempfile.mkdtemp(prefix="sx-souffle-")
    try:
        cmd = [sx, "datalog"]
        for inc in sorted(o for o in opts if o.startswith("-I")):
            cmd.append(inc)
        cmd += [prog, "-F", os.path.join(case_dir, facts)]
        cmd += ["-D", "-"] if "OUTPUT_STDOUT" in opts else ["-D", "."]
        try:
            p = subprocess.run(
                cmd, cwd=out_dir, capture_output=True, timeout=timeout, text=True,
                errors="replace",
            )
        except subprocess.TimeoutExpired:
            return ("FUNCTOR" if functors else "FAIL"), "timeout after %ss" % timeout
        status_fail = "FUNCTOR" if functors else "FAIL"
        if negative:
            if p.returncode != 0:
                return "PASS", "rejected: " + (p.stderr.strip().splitlines() or [""])[0]
            return status_fail, "negative case ran successfully"
        if p.returncode != 0:
            err = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[0]
            return status_fail, err
        expected = sorted(f for f in os.listdir(check_dir) if f.endswith(".csv"))
        written = sorted(f for f in os.listdir(out_dir) if f.endswith(".csv"))
        for f in expected:
            got = os.path.join(out_dir, f)
            if not os.path.exists(got):
                return status_fail, "%s not written" % f
            w, g = sorted_lines(os.path.join(check_dir, f)), sorted_lines(got)
            if w != g:
                return status_fail, "%s differs: %s" % (f, first_difference(w, g))
        if len(written) != len(expected):
            extra = sorted(set(written) - set(expected))
            return status_fail, "wrote %d csv files, expected %d (extra: %s)" % (
                len(written), len(expected), ", ".join(extra))
        out_file = os.path.join(check_dir, name + ".out")
        if os.path.exists(out_file):
            w = sorted_lines(out_file)
            g = sorted(p.stdout.splitlines())
            if w != g:
                return status_fail, "stdout differs: %s" % first_difference(w, g)
        return "PASS", ""
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tests", help="the tests folder of a Soufflé checkout")
    ap.add_argument("--sx", default=DEFAULT_SX, help="the sx binary (default: target/release/sx)")
    ap.add_argument("--category", default="evaluation", help="comma-separated (default: evaluation)")
    ap.add_argument("--only", default="", help="comma-separated case names")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--report", default="")
    a = ap.parse_args()
    sx = os.path.abspath(a.sx)
    if not os.access(sx, os.X_OK):
        sys.exit("error: no sx binary at %s (cargo build --release, or --sx PATH)" % sx)
    only = set(filter(None, a.only.split(",")))
    counts = {}
    rows = []
    for category in a.category.split(","):
        cdir = os.path.join(a.tests, category)
        if not os.path.exists(os.path.join(cdir, "CMakeLists.txt")):
            sys.exit("error: %s has no CMakeLists.txt: is it Soufflé's tests folder?" % cdir)
        for name, facts_dirs, opts, negative in cases_of(cdir, category):
            if only and name not in only:
                continue
            case_dir = os.path.join(cdir, name)
            for facts in facts_dirs:
                label = "%s/%s" % (category, name) + ("" if facts == "facts" else ":" + facts)
                status, reason = run_one(sx, case_dir, name, facts, opts, negative, a.timeout)
                counts[status] = counts.get(status, 0) + 1
                rows.append((label, status, reason))
                print(("%-7s %s  %s" % (status, label, reason)).rstrip(), flush=True)
    runnable = counts.get("PASS", 0) + counts.get("FAIL", 0)
    pct = 100.0 * counts.get("PASS", 0) / runnable if runnable else 0.0
    print("%d passed, %d failed, %d skipped, %d need C++ functors (%.1f%% of the %d cases without them pass)" % (
        counts.get("PASS", 0), counts.get("FAIL", 0), counts.get("SKIP", 0),
        counts.get("FUNCTOR", 0), pct, runnable))
    if a.report:
        with open(a.report, "w") as f:
            for r in rows:
                f.write("\t".join(r) + "\n")


if __name__ == "__main__":
    main()
