"""Flexible Start and Pause & Resume against brute force on small random series."""

from itertools import combinations, pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from greentune.schedule import best_start, choose_slots

intensities = st.lists(st.integers(0, 900), min_size=1, max_size=9).map(lambda v: np.array(v, dtype=float))


def cost(slots, intensity, energies, pause_kwh=0.0):
    slots = list(slots)
    resumes = [b for a, b in pairwise(slots) if b != a + 1]
    return float(np.dot(energies, intensity[slots])) + pause_kwh * float(sum(intensity[r] for r in resumes))


def segments(slots):
    runs = [[slots[0]]]
    for a, b in pairwise(slots):
        if b == a + 1:
            runs[-1].append(b)
        else:
            runs.append([b])
    return runs


def allowed(slots, total, min_run, max_pauses, delay):
    runs = segments(list(slots))
    pauses = len(runs) - 1
    return (
        all(len(run) >= min_run for run in runs)
        and (max_pauses is None or pauses <= max_pauses)
        and slots[-1] + 1 + pauses * delay <= total + 1e-9
    )


@st.composite
def problems(draw, uniform=False):
    intensity = draw(intensities)
    jobs = draw(st.integers(1, len(intensity)))
    if uniform:
        energies = np.full(jobs, draw(st.floats(0.1, 5)))
    else:
        energies = np.array(draw(st.lists(st.floats(0.1, 5), min_size=jobs, max_size=jobs)))
    return intensity, energies


@settings(max_examples=200, deadline=None)
@given(problems())
def test_flexible_start_matches_brute_force(problem):
    intensity, energies = problem
    starts = len(intensity) - len(energies) + 1
    brute = min(cost(range(s, s + len(energies)), intensity, energies) for s in range(starts))
    chosen = best_start(intensity, energies, starts)
    assert 0 <= chosen < starts
    assert np.isclose(cost(range(chosen, chosen + len(energies)), intensity, energies), brute)


@settings(max_examples=200, deadline=None)
@given(problems(uniform=True))
def test_pause_resume_constant_power_matches_brute_force(problem):
    intensity, energies = problem
    brute = min(cost(c, intensity, energies) for c in combinations(range(len(intensity)), len(energies)))
    chosen = choose_slots(intensity, energies)
    assert chosen == sorted(set(chosen)) and len(chosen) == len(energies)
    assert np.isclose(cost(chosen, intensity, energies), brute)


@settings(max_examples=200, deadline=None)
@given(problems())
def test_pause_resume_measured_profile_matches_brute_force(problem):
    intensity, energies = problem
    brute = min(cost(c, intensity, energies) for c in combinations(range(len(intensity)), len(energies)))
    assert np.isclose(cost(choose_slots(intensity, energies), intensity, energies), brute)


@settings(max_examples=300, deadline=None)
@given(
    problems(),
    st.integers(1, 4),
    st.floats(0, 3),
    st.one_of(st.none(), st.integers(0, 3)),
    st.sampled_from([0.0, 0.25, 1.0]),
)
def test_pause_resume_with_rules_matches_brute_force(problem, min_run, pause_kwh, max_pauses, delay):
    intensity, energies = problem
    total, jobs = len(intensity), len(energies)
    effective_run = min(min_run, jobs)
    feasible = [c for c in combinations(range(total), jobs) if allowed(c, total, effective_run, max_pauses, delay)]
    brute = min(cost(c, intensity, energies, pause_kwh) for c in feasible)
    chosen = choose_slots(
        intensity,
        energies,
        min_segment_slots=min_run,
        pause_kwh=pause_kwh,
        max_pauses=max_pauses,
        pause_delay_slots=delay,
    )
    assert allowed(chosen, total, effective_run, max_pauses, delay)
    assert np.isclose(cost(chosen, intensity, energies, pause_kwh), brute)


@settings(max_examples=200, deadline=None)
@given(problems(), st.floats(0, 3))
def test_pause_resume_never_worse_than_flexible_start(problem, pause_kwh):
    intensity, energies = problem
    starts = len(intensity) - len(energies) + 1
    fs = best_start(intensity, energies, starts)
    fs_cost = cost(range(fs, fs + len(energies)), intensity, energies)
    pr_cost = cost(choose_slots(intensity, energies, pause_kwh=pause_kwh), intensity, energies, pause_kwh)
    assert pr_cost <= fs_cost + 1e-9
