"""The status analysis over a big registry: split over forked children, same answer."""

import os
import threading

import numpy as np
import pytest

from monitor import queries
from monitor.config import ChangeConfig


def _jobs(n: int) -> list:
    rng = np.random.default_rng(7)
    jobs = []
    for i in range(n):
        a0, rate = rng.uniform(3, 20), rng.uniform(-3, 4)
        rows = [
            (2016 + k, None if rng.random() < 0.1 else max(0.0, a0 + rate * k), 0.2 + 0.02 * k)
            for k in range(10)
        ]
        jobs.append((f"S{i:03d}", f"site {i}\nline two", rows))
    return jobs


def _serial(jobs):
    return [
        queries._to_payload(s)
        for s in queries._analyse_chunk(jobs, ChangeConfig(), 2025)  # the plain path
    ]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_forked_shares_give_the_serial_answer_in_order(monkeypatch):
    jobs = _jobs(41)
    monkeypatch.setattr(queries, "PARALLEL_SITES", 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 3)
    # threads that earlier tests left idle would keep it from forking (the CLI has none)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    forked = []
    real_fork = queries._fork_share
    monkeypatch.setattr(queries, "_fork_share", lambda *a: forked.append(1) or real_fork(*a))
    statuses, payloads = queries._analyse_all(jobs, ChangeConfig(), 2025)
    assert len(forked) == 2  # two children, this process the third share
    assert payloads == _serial(jobs)
    assert [s.site_id for s in statuses] == [j[0] for j in jobs]
    assert [queries._to_payload(s) for s in statuses] == payloads


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_share_whose_child_cannot_start_is_analysed_here(monkeypatch):
    jobs = _jobs(9)
    monkeypatch.setattr(queries, "PARALLEL_SITES", 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(threading, "active_count", lambda: 1)

    refused = []

    def no_fork():
        refused.append(1)
        raise OSError("fork refused")

    monkeypatch.setattr(os, "fork", no_fork, raising=False)
    statuses, payloads = queries._analyse_all(jobs, ChangeConfig(), 2025)
    assert payloads == _serial(jobs)
    assert refused and len(statuses) == len(jobs)
