"""Mutation testing of greentune's accounting core (issue 19): do the tests catch real bugs?

    nice -n 10 .venv/bin/python benchmarks/mutation_test.py [--sample 0.5] [--module report/compare.py]
        → benchmarks/results/mutation_test.json

For each core module (`TARGETS`) it makes small faults, one at a time, in a
copy of the source tree — an arithmetic operator swapped (+ −, × ÷), a
comparison loosened or tightened (< ≤, == ≠, in / not in), `and` ↔ `or`, a
`not` or unary minus dropped, a number constant moved by one, True ↔ False,
min ↔ max, an `if` condition negated, a returned value replaced by None — and
runs that module's test files (`pytest -x -q`) against it. A mutant is killed
when the tests fail or time out (per-mutant limit: 5 × the clean run + 10 s),
survived when they pass. The score is killed ÷ mutants run; survivors are
listed in the JSON, each with an explanation when it is equivalent (no
behaviour can tell it apart: `EQUIVALENT` below). With `--issue-mutants` it
also re-applies the seven hand-made mutants of issue 19 as text patches and
checks that each fails the tests written for it.

Why a runner of our own: mutmut 3.8 (tried first) copies the tree into
``mutants/`` and redirects calls through trampolines, but here the tests import
greentune from the shared editable install (a ``.pth`` pointing at another
checkout) and from pytest's ``pythonpath = ["src"]``, so its stats pass found
"no test case for any mutant" and stopped; and it runs each mutant in a fresh
pytest process, which on this 2-core machine costs 8–20 s of imports (torch,
transformers, mlflow) per mutant — cosmic-ray has the same per-mutant start-up.
This runner imports the heavy third-party libraries once and forks a child per
mutant (greentune itself is imported only in the child, from the mutated
copy), which brings a mutant down to the test time itself. Mutants are made
with the standard library's `ast` (parse, change one node, `ast.unparse`);
strings are not mutated (messages), nor are type annotations or docstrings.

Not in `make test`: it takes tens of minutes. Run it with `nice` on a shared machine.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# module (under src/greentune/) → the test files that own its behaviour. Slow end-to-end files
# (a real Trainer, CLI subprocesses on ENTSO-E data) are left out: each mutant would cost minutes.
# fast, exact tests first: `pytest -x` stops at the first failure, the property-based ones take ~20 s in full
_SCHEDULE_TESTS = (
    "tests/test_schedule_results.py",
    "tests/test_exact_figures.py",
    "tests/test_schedule_plans.py",
    "tests/test_schedule_algorithms.py",
)
TARGETS: dict[str, tuple[str, ...]] = {
    "carbon/accounting.py": ("tests/test_carbon_accounting.py", "tests/test_exact_figures.py"),
    "carbon/estimate.py": ("tests/test_carbon_estimate.py",),
    "meter/measurement.py": (
        "tests/test_meter_windows.py",
        "tests/test_meter_csv.py",
        "tests/test_callback_phases.py",
        "tests/test_exact_figures.py",
    ),
    "meter/rapl.py": ("tests/test_meter_rapl.py",),
    "meter/host.py": ("tests/test_meter_host.py", "tests/test_exact_figures.py", "tests/test_meter_scope.py"),
    "schedule/fs.py": _SCHEDULE_TESTS,
    "schedule/job.py": _SCHEDULE_TESTS,
    "schedule/pr.py": _SCHEDULE_TESTS,
    "schedule/placement.py": _SCHEDULE_TESTS,
    "schedule/plans.py": _SCHEDULE_TESTS,
    "schedule/window.py": _SCHEDULE_TESTS,
    "finetune/callback.py": ("tests/test_callback_phases.py",),
    "finetune/rouge.py": (
        "tests/test_finetune_rouge.py",
        "tests/test_finetune_parts.py::test_rouge_in_points_with_stemming",
        "tests/test_finetune_parts.py::test_rouge_lsum_splits_sentences_offline",
    ),
    "report/compare.py": ("tests/test_report_compare.py", "tests/test_exact_figures.py"),
}

# Survivors no test can kill, by mutant id, with the reason. Filled in from a run's survivors after reading each.
_FAST_PATH = (
    "the sort is a fast path of the exact DP: with this test wrong, choose_slots runs the DP instead, which returns "
    "a plan of the same (minimal) emissions under the same rules — only the time to plan changes"
)
EQUIVALENT: dict[str, str] = {
    "schedule/pr.py::choose_slots::0 → 1::0": _FAST_PATH,
    "schedule/pr.py::choose_slots::0 → 1::1": _FAST_PATH,
    "schedule/pr.py::_walk_back::> → >=::0": (
        "the elif is reached with state == min_run == 1 only when the run was kept (picked), so `not picked` is "
        "false and `min_run >= 1` cannot change the branch taken; for min_run > 1 both comparisons agree"
    ),
    "schedule/placement.py::compare_regions::3600 → 3601::0": (
        "a region without a series is charged the job's total energy, the sum over its slots; the slots partition "
        "[0, duration] (the last one partial) and the power timeline is piecewise linear, so the sum is the same "
        "for 3,601-s slots as for 3,600-s ones (up to float rounding)"
    ),
    "schedule/window.py::JobWindow.emissions_g::0.0 → 1.0::0": (
        "the one call without pause_kwh is the run-now counterfactual, over consecutive slots: no resume, so the "
        "default multiplies an empty sum (the plan itself always passes the rules' checkpoint energy)"
    ),
    "finetune/callback.py::GreenCallback._end::return None::0": (
        "no caller uses what _end returns (every call is a statement), so returning None changes nothing"
    ),
    "finetune/callback.py::GreenCallback.__init__::0 → 1::2": (
        "_tokens_at_begin is read only in summary() when a Trainer state is known, and the first on_train_begin, "
        "which sets that state, always overwrites it first"
    ),
    "finetune/callback.py::_phase_order::1 → 2::0": (
        "the key only has to put numbered epochs after the named phases, whose key starts with 0; 2 does that as 1 does"
    ),
    "finetune/rouge.py::compute_rouge::True → False::0": (
        "zip(strict=True) can never fire: two lines above, lists of different lengths are refused with a ValueError"
    ),
    "schedule/window.py::JobWindow.build::// → /::0": (
        "a window is never negative (Job refuses it), and for non-negative seconds int(a / b) == a // b; they "
        "differ only where a / b rounds up onto a whole number, i.e. a window within ~1e-12 s of a slot boundary"
    ),
}

# The seven survivors of issue 19, re-applied as text patches: (module, before, after, the test written for it).
ISSUE_MUTANTS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "callback.py PhaseTotal.add: a window's energy is not added",
        "finetune/callback.py",
        "        self.energy_kwh += sign * measurement.energy_kwh\n",
        "",
        "tests/test_callback_phases.py",
    ),
    (
        "callback.py _derived_phases: evaluation not subtracted from train",
        "finetune/callback.py",
        "                train.add_total(evaluation, -1.0)\n",
        "                pass\n",
        "tests/test_callback_phases.py",
    ),
    (
        "accounting.py _embodied: × count instead of × count / devices beyond one server",
        "carbon/accounting.py",
        # the same bug on today's code (the server share and lifetime use moved into embodied_gco2eq's arguments)
        "lifetime_use=use) * count / devices\n",
        "lifetime_use=use) * count\n",
        "tests/test_exact_figures.py",
    ),
    (
        "host.py cpu_power_w: no scaling by visible cores",
        "meter/host.py",
        # the same bug on today's code (the TDP share of the visible cores is computed once, in cpu_power)
        "full_load_w = row.tdp_w / (row.cores or visible_cores) * visible_cores\n",
        "full_load_w = row.tdp_w\n",
        "tests/test_exact_figures.py",
    ),
    (
        "pause_resume.py: minimum segment rounded down",
        "schedule/pr.py",
        "min_segment_slots=math.ceil(rules.min_segment_s / step_s - 1e-9)",
        "min_segment_slots=math.floor(rules.min_segment_s / step_s + 1e-9)",
        "tests/test_exact_figures.py",
    ),
    (
        "mlflow_store.py: energy_kwh written under another name",
        "ledger/mlflow_store.py",
        '"energy_kwh": record.energy_kwh,',
        '"energy": record.energy_kwh,',
        "tests/test_ledger_metric_names.py",
    ),
    (
        "compare.py pareto_front: <= became <",
        "report/compare.py",
        "(other_q >= q and other_c <= c)",
        "(other_q >= q and other_c < c)",
        "tests/test_exact_figures.py",
    ),
)

_BINOP_SWAPS = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
}
_CMP_SWAPS = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}


@dataclass(frozen=True)
class MutationPoint:
    """One fault that can be made in a module: the `index`-th node of `ast.walk`, and how to change it."""

    index: int
    kind: str  # binop, augassign, compare, boolop, unary, constant, minmax, if, return
    description: str
    line: int
    function: str


@dataclass(frozen=True)
class MutantResult:
    """What the module's tests did with one mutant."""

    mutant_id: str
    module: str
    line: int
    function: str
    description: str
    source_line: str
    status: str  # killed, survived, timeout (counted as killed)
    exit_code: int | None
    duration_s: float
    failed_test: str | None = None
    equivalent: str | None = None


def _skipped_node_ids(tree: ast.Module) -> set[int]:
    """Ids of nodes never mutated: annotations, docstrings, `__all__`, TYPE_CHECKING blocks, strings."""
    skipped: set[int] = set()

    def skip(node: ast.AST | None) -> None:
        if node is not None:
            skipped.update(id(child) for child in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            skip(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            skip(node.returns)
        elif isinstance(node, ast.AnnAssign):
            skip(node.annotation)
        elif (
            (isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test))
            or (isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets))
            or isinstance(node, ast.JoinedStr)
        ):
            skip(node)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                skip(body[0])
    return skipped


def _functions(tree: ast.Module) -> dict[int, str]:
    """Node id → qualified name of the function or class it sits in."""
    owner: dict[int, str] = {}

    def visit(node: ast.AST, name: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = name
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{name}.{child.name}" if name else child.name
            owner[id(child)] = inner
            visit(child, inner)

    visit(tree, "")
    return owner


def mutation_points(source: str) -> list[MutationPoint]:
    """Every fault this runner makes in `source`, in a stable order."""
    tree = ast.parse(source)
    skipped = _skipped_node_ids(tree)
    owner = _functions(tree)
    points: list[MutationPoint] = []
    for index, node in enumerate(ast.walk(tree)):
        if id(node) in skipped:
            continue
        line, where = getattr(node, "lineno", 0), owner.get(id(node), "") or "<module>"

        def add(kind: str, description: str, *, line: int = line, where: str = where, index: int = index) -> None:
            points.append(MutationPoint(index, kind, description, line, where))

        if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
            add("binop", f"{_SYMBOLS[type(node.op)]} → {_SYMBOLS[_BINOP_SWAPS[type(node.op)]]}")
        elif isinstance(node, ast.AugAssign) and type(node.op) in _BINOP_SWAPS:
            add("augassign", f"{_SYMBOLS[type(node.op)]}= → {_SYMBOLS[_BINOP_SWAPS[type(node.op)]]}=")
        elif isinstance(node, ast.Compare):
            for position, op in enumerate(node.ops):
                if type(op) in _CMP_SWAPS:
                    description = f"{_SYMBOLS[type(op)]} → {_SYMBOLS[_CMP_SWAPS[type(op)]]}"
                    add(f"compare:{position}", description)
        elif isinstance(node, ast.BoolOp):
            add("boolop", "and → or" if isinstance(node.op, ast.And) else "or → and")
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            add("unary", "drop `not`" if isinstance(node.op, ast.Not) else "drop unary -")
        elif isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            if isinstance(node.value, bool):
                add("constant", f"{node.value} → {not node.value}")
            else:
                add("constant", f"{node.value!r} → {node.value + 1!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("min", "max"):
            add("minmax", f"{node.func.id} → {'max' if node.func.id == 'min' else 'min'}")
        elif isinstance(node, (ast.If, ast.IfExp, ast.While)):
            add("if", "negate the condition")
        elif isinstance(node, ast.Return) and node.value is not None and ast.unparse(node.value) != "None":
            add("return", "return None")
    return points


def mutate(source: str, point: MutationPoint) -> str:
    """`source` with the fault `point` made."""
    tree = ast.parse(source)
    node = next(node for index, node in enumerate(ast.walk(tree)) if index == point.index)
    kind = point.kind
    if kind in ("binop", "augassign"):
        node.op = _BINOP_SWAPS[type(node.op)]()  # type: ignore[attr-defined]
    elif kind.startswith("compare:"):
        position = int(kind.split(":")[1])
        node.ops[position] = _CMP_SWAPS[type(node.ops[position])]()  # type: ignore[attr-defined]
    elif kind == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()  # type: ignore[attr-defined]
    elif kind == "unary":
        _replace(tree, node, node.operand)  # type: ignore[attr-defined]
    elif kind == "constant":
        value = node.value  # type: ignore[attr-defined]
        node.value = (not value) if isinstance(value, bool) else value + 1  # type: ignore[attr-defined]
    elif kind == "minmax":
        node.func.id = "max" if node.func.id == "min" else "min"  # type: ignore[attr-defined]
    elif kind == "if":
        node.test = ast.UnaryOp(ast.Not(), node.test)  # type: ignore[attr-defined]
    elif kind == "return":
        node.value = ast.Constant(None)  # type: ignore[attr-defined]
    return ast.unparse(ast.fix_missing_locations(tree))


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    """Put `new` where `old` sits in its parent."""
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and any(item is old for item in value):
                value[[item is old for item in value].index(True)] = new
                return


def mutant_ids(module: str, points: list[MutationPoint]) -> list[str]:
    """Ids that survive edits elsewhere in the module: module, function, fault, n-th of its kind there."""
    seen: Counter[tuple[str, str]] = Counter()
    ids = []
    for point in points:
        key = (point.function, point.description)
        ids.append(f"{module}::{point.function}::{point.description}::{seen[key]}")
        seen[key] += 1
    return ids


class Sandbox:
    """A copy of src/, tests/ and pyproject.toml in which one module at a time is replaced."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="greentune-mutants-"))
        shutil.copytree(ROOT / "src", self.root / "src", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(ROOT / "tests", self.root / "tests", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(ROOT / "pyproject.toml", self.root / "pyproject.toml")

    def module_path(self, module: str) -> Path:
        return self.root / "src" / "greentune" / module

    def write(self, module: str, source: str) -> None:
        """Replace `module`'s source and drop its cached bytecode."""
        path = self.module_path(module)
        path.write_text(source, encoding="utf-8")
        for cached in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
            cached.unlink()

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass(frozen=True)
class TestRun:
    """One pytest run in a child: survived, killed or timeout; its exit code, seconds, first failing test."""

    status: str
    exit_code: int | None
    duration_s: float
    failed_test: str | None


def run_tests(sandbox: Sandbox, tests: tuple[str, ...], timeout_s: float) -> TestRun:
    """Fork, import greentune from the sandbox, run pytest -x on `tests`."""
    output = sandbox.root / "pytest-output.txt"
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: its own process group, so a timeout also ends what the tests started
        os.setsid()
        os.chdir(sandbox.root)
        sink = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(sink, 1)
        os.dup2(sink, 2)
        import pytest

        code = pytest.main(["-x", "-q", "-rf", "-p", "no:cacheprovider", *_PLUGINS, "-o", "addopts=", *tests])
        sys.stdout.flush()
        os._exit(int(code))
    deadline = started + timeout_s
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            seconds = time.monotonic() - started
            return TestRun("survived" if code == 0 else "killed", code, seconds, _first_failure(output))
        if time.monotonic() > deadline:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            return TestRun("timeout", None, time.monotonic() - started, None)
        time.sleep(0.05)


def _first_failure(output: Path) -> str | None:
    """The first `FAILED test id` (or `ERROR`) line of pytest's short summary."""
    try:
        text = output.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" - ")[0].split(" ", 1)[1]
    return None


def preload(sandbox: Sandbox) -> None:
    """Import greentune and what it imports once, before forking; then forget greentune's own modules.

    The children re-import greentune from the sandbox (a mutant is never stale: `Sandbox.write`
    drops the module's .pyc), but find numpy, pydantic, transformers, psutil, rouge-score and the
    rest already loaded. The clean import writes the sandbox's .pyc files, so a child compiles
    only the mutated module.
    """
    import hypothesis  # noqa: F401
    import pytest  # noqa: F401

    sys.dont_write_bytecode = False  # cache the sandbox's bytecode even where PYTHONDONTWRITEBYTECODE is set
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    for name in _PRELOAD:
        importlib.import_module(name)
    greentune_file = sys.modules["greentune"].__file__ or ""
    if not greentune_file.startswith(str(sandbox.root)):
        raise SystemExit(f"greentune was imported from {greentune_file}, not from the sandbox")
    for name in [name for name in sys.modules if name == "greentune" or name.startswith("greentune.")]:
        del sys.modules[name]


# Plugin autoloading is off (schemathesis alone costs seconds per child); the tests need these two.
_PLUGINS = ("-p", "_hypothesis_pytestplugin", "-p", "pytest_timeout")

_PRELOAD = (
    "greentune.carbon",
    "greentune.meter",
    "greentune.schedule",
    "greentune.finetune.callback",
    "greentune.finetune.rouge",
    "greentune.ledger",
    "greentune.report",
    "rouge_score.rouge_scorer",
    "nltk.tokenize.punkt",
    "psutil",
    "mlflow.tracking",
)


def mutate_modules(
    sandbox: Sandbox,
    modules: list[str],
    sample: float,
    seed: int,
    only: set[str] | None = None,
    progress: Callable[[list[MutantResult], dict[str, dict[str, float]]], None] | None = None,
) -> tuple[list[MutantResult], dict[str, dict[str, float]]]:
    """Every (sampled, or with `only`: the listed) mutant of every module against its tests; each clean run."""
    results: list[MutantResult] = []
    clean: dict[str, dict[str, float]] = {}
    rng = random.Random(seed)
    for module in modules:
        tests = TARGETS[module]
        original = (ROOT / "src" / "greentune" / module).read_text(encoding="utf-8")
        lines = original.splitlines()
        points = mutation_points(original)
        ids = mutant_ids(module, points)
        if only is not None:
            chosen = [i for i in range(len(points)) if ids[i] in only]
        else:
            chosen = [i for i in range(len(points)) if sample >= 1 or rng.random() < sample]
        if not chosen:
            continue
        if only is None:
            # the clean run is of the unparsed original, so that formatting lost by ast.unparse is not a "kill"
            sandbox.write(module, ast.unparse(ast.parse(original)))
            baseline = run_tests(sandbox, tests, timeout_s=900)
            if baseline.status != "survived":
                sandbox.write(module, original)
                raise SystemExit(f"{module}: its tests fail before any mutation ({baseline.failed_test}); fix them")
            clean_s = baseline.duration_s
        else:  # a rerun of known survivors: the tests passed clean in the first run; a generous fixed limit
            clean_s = 60.0
        clean[module] = {"duration_s": round(clean_s, 2), "mutants_total": len(points), "mutants_run": len(chosen)}
        timeout_s = 5 * clean_s + 10
        print(f"{module}: {len(chosen)} of {len(points)} mutants, clean run {clean_s:.1f} s", flush=True)
        for number, i in enumerate(chosen, 1):
            point = points[i]
            sandbox.write(module, mutate(original, point))
            run = run_tests(sandbox, tests, timeout_s)
            results.append(
                MutantResult(
                    mutant_id=ids[i],
                    module=module,
                    line=point.line,
                    function=point.function,
                    description=point.description,
                    source_line=lines[point.line - 1].strip() if 0 < point.line <= len(lines) else "",
                    status=run.status,
                    exit_code=run.exit_code,
                    duration_s=round(run.duration_s, 2),
                    failed_test=run.failed_test,
                    equivalent=EQUIVALENT.get(ids[i]) if run.status == "survived" else None,
                )
            )
            mark = {"killed": ".", "timeout": "T", "survived": "S"}[run.status]
            print(
                f"  [{number}/{len(chosen)}] {mark} line {point.line} {point.description} ({run.duration_s:.1f} s)",
                flush=True,
            )
        sandbox.write(module, original)
        if progress is not None:
            progress(results, clean)
    return results, clean


def issue_mutants(sandbox: Sandbox) -> list[dict[str, object]]:
    """The seven hand-made survivors of issue 19, each re-applied and run against the test written for it."""
    outcomes: list[dict[str, object]] = []
    for title, module, before, after, test in ISSUE_MUTANTS:
        original = (ROOT / "src" / "greentune" / module).read_text(encoding="utf-8")
        if original.count(before) != 1:
            outcomes.append({"mutant": title, "module": module, "status": "not applied: the code changed"})
            continue
        sandbox.write(module, original.replace(before, after))
        run = run_tests(sandbox, (test,), timeout_s=900)
        sandbox.write(module, original)
        outcomes.append(
            {
                "mutant": title,
                "module": module,
                "test_file": test,
                "status": run.status,
                "failed_test": run.failed_test,
                "duration_s": round(run.duration_s, 2),
            }
        )
        print(f"issue mutant: {title}: {run.status} by {run.failed_test}", flush=True)
    return outcomes


def summarise(rows: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    """Per module and overall: mutants, killed (timeouts included), survivors, equivalent, scores in %.

    Each row has ``module``, ``status`` and ``equivalent`` (the reason, for an equivalent survivor).
    """
    groups: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        groups.setdefault(str(row["module"]), []).append(row)
    groups["all"] = rows
    summary = {}
    for name, group in groups.items():
        killed = sum(row["status"] != "survived" for row in group)
        equivalent = sum(row["status"] == "survived" and row.get("equivalent") is not None for row in group)
        judged = len(group) - equivalent
        summary[name] = {
            "mutants": len(group),
            "killed": killed,
            "survived": len(group) - killed,
            "equivalent": equivalent,
            "score_pct": round(100.0 * killed / len(group), 1) if group else 0.0,
            "score_without_equivalent_pct": round(100.0 * killed / judged, 1) if judged else 0.0,
        }
    return summary


def machine() -> dict[str, object]:
    """What the run was measured on."""
    model = "unknown"
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    return {
        "cpu_model": model,
        "logical_cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
        "git_commit": subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip(),
    }


def rerun_survivors(sandbox: Sandbox, path: Path, modules: list[str], *, with_issue_mutants: bool = False) -> None:
    """Run the survivors in `modules` of an earlier result file again (against today's tests); record it there.

    Survivors of other modules (or of a module since renamed) keep what an earlier rerun recorded. With
    `with_issue_mutants`, issue 19's seven mutants are re-applied too and replace the file's earlier outcome.
    """
    started = time.monotonic()
    report = json.loads(path.read_text(encoding="utf-8"))
    if with_issue_mutants:
        report["issue_19_mutants"] = issue_mutants(sandbox)
    survivors = {row["mutant_id"]: row for row in report["survivors"] if row["module"] in modules}
    rerun_modules = [module for module in modules if any(row["module"] == module for row in survivors.values())]
    results, _ = mutate_modules(sandbox, rerun_modules, 1.0, 0, only=set(survivors))
    missing = set(survivors) - {result.mutant_id for result in results}
    for mutant_id in sorted(missing):
        print(f"not rerun (no such mutant in today's code): {mutant_id}", flush=True)
    for result in results:
        survivors[result.mutant_id]["after_new_tests"] = result.status
        survivors[result.mutant_id]["killed_by"] = result.failed_test
        survivors[result.mutant_id]["equivalent"] = result.equivalent
    statuses = {result.mutant_id: result.status for result in results}
    for row in report["mutants"]:
        row["after_new_tests"] = statuses.get(row["id"], row.get("after_new_tests", row["status"]))
    reruns = report.pop("reruns", [report.pop("rerun")] if "rerun" in report else [])
    reruns.append(
        {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "wall_s": round(time.monotonic() - started, 1),
            "modules": rerun_modules,
            "tests": {module: list(TARGETS[module]) for module in rerun_modules},
            "what": "the survivors of these modules run again against these tests at this commit",
        }
    )
    report["reruns"] = reruns
    report["summary_after_new_tests"] = _summary_after_new_tests(report)
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"updated {path}: {report['summary_after_new_tests']['all']}")


def _summary_after_new_tests(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The summary over each mutant's latest outcome (its rerun's where it was rerun)."""
    equivalent = {row["mutant_id"]: row.get("equivalent") for row in report["survivors"]}
    rows = []
    for row in report["mutants"]:
        status = row.get("after_new_tests", row["status"])
        rows.append(
            {
                "module": row["id"].split("::")[0],
                "status": status,
                "equivalent": equivalent.get(row["id"]) if status == "survived" else None,
            }
        )
    return summarise(rows)


def _merged(earlier: dict[str, Any], now: dict[str, Any], modules: set[str]) -> dict[str, Any]:
    """`earlier`'s results for the modules not run `now`, plus `now`'s; the summaries over both."""

    def kept(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
        return [row for row in rows if row[key].split("::")[0] not in modules]

    merged = dict(now)
    merged["runs"] = [*earlier.get("runs", [_run_of(earlier)]), _run_of(now)]
    merged["tests"] = {**earlier["tests"], **now["tests"]}
    merged["clean_runs"] = {**{k: v for k, v in earlier["clean_runs"].items() if k not in modules}, **now["clean_runs"]}
    merged["issue_19_mutants"] = now["issue_19_mutants"] or earlier["issue_19_mutants"]
    merged["survivors"] = kept(earlier["survivors"], "mutant_id") + now["survivors"]
    merged["mutants"] = kept(earlier["mutants"], "id") + now["mutants"]
    equivalent = {row["mutant_id"]: row.get("equivalent") for row in merged["survivors"]}
    merged["summary"] = summarise(
        [
            {"module": row["id"].split("::")[0], "status": row["status"], "equivalent": equivalent.get(row["id"])}
            for row in merged["mutants"]
        ]
    )
    reruns = earlier.get("reruns", [earlier["rerun"]] if "rerun" in earlier else [])
    if reruns:  # the earlier modules' outcomes after their new tests stay; the modules run now count as run
        merged["reruns"] = reruns
        merged["summary_after_new_tests"] = _summary_after_new_tests(merged)
    return merged


def _run_of(report: dict[str, Any]) -> dict[str, Any]:
    """When, where and how one run was made, for a merged file."""
    return {
        "date": report["date"],
        "machine": report["machine"],
        "wall_s": report["wall_s"],
        "sample": report["sample"],
        "seed": report["seed"],
        "modules": sorted(report["clean_runs"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", choices=sorted(TARGETS), help="only these (repeatable)")
    parser.add_argument("--sample", type=float, default=1.0, help="fraction of each module's mutants to run")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--issue-mutants", action="store_true", help="also re-apply issue 19's seven mutants")
    parser.add_argument("--list", action="store_true", help="only count the mutants per module")
    parser.add_argument(
        "--rerun", type=Path, help="run the survivors of this result file (of --module, or all) again and update it"
    )
    parser.add_argument("--append", action="store_true", help="merge into --out: replace only the modules run now")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "mutation_test.json")
    arguments = parser.parse_args()
    modules = arguments.module or list(TARGETS)
    if arguments.list:
        for module in modules:
            points = mutation_points((ROOT / "src" / "greentune" / module).read_text(encoding="utf-8"))
            print(f"{module}: {len(points)}")
        return
    sandbox = Sandbox()
    os.environ["PYTHONPATH"] = str(sandbox.root / "src")  # for tests that start greentune in a subprocess
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    sys.path.insert(0, str(sandbox.root / "src"))
    started = time.monotonic()
    start_time = datetime.now(UTC).isoformat(timespec="seconds")

    earlier: dict[str, Any] = {}
    if arguments.append and arguments.out.exists():
        earlier = json.loads(arguments.out.read_text(encoding="utf-8"))

    def write(results: list[MutantResult], clean: dict[str, dict[str, float]], issue: list[dict[str, object]]) -> None:
        report = {
            "what": "mutation testing of greentune's accounting core (issue 19); see benchmarks/mutation_test.py",
            "date": start_time,
            "machine": machine(),
            "wall_s": round(time.monotonic() - started, 1),
            "sample": arguments.sample,
            "seed": arguments.seed,
            "tests": {module: list(TARGETS[module]) for module in modules},
            "clean_runs": clean,
            "summary": summarise([asdict(result) for result in results]),
            "issue_19_mutants": issue,
            "survivors": [asdict(r) for r in results if r.status == "survived"],
            "mutants": [
                {"id": r.mutant_id, "line": r.line, "status": r.status, "failed_test": r.failed_test} for r in results
            ],
        }
        if earlier:
            report = _merged(earlier, report, set(modules))
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {arguments.out}: {report['summary'].get('all', {})}", flush=True)

    try:
        preload(sandbox)
        if arguments.rerun is not None:
            rerun_survivors(sandbox, arguments.rerun, modules, with_issue_mutants=arguments.issue_mutants)
            return
        issue = issue_mutants(sandbox) if arguments.issue_mutants else []
        results, clean = mutate_modules(
            sandbox,
            modules,
            arguments.sample,
            arguments.seed,
            progress=lambda results, clean: write(results, clean, issue),
        )
        write(results, clean, issue)
    finally:
        sandbox.close()


if __name__ == "__main__":
    main()
