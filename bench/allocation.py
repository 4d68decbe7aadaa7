"""Greedy allocation under the caps against the optimum (max-profit flow), on the demo data and
on random runs. Prints total score, number of proposals and time for both.

    DATABASE_URL=sqlite:////tmp/demo.sqlite .venv/bin/python bench/allocation.py   # after `demo seed`

The flow treats every candidate as one person (capacity 1), where the greedy's and the flow's
caps mean the same thing: source -> candidate (m), candidate -> shortage (1, profit = score),
shortage -> sink (k x open positions). Successive shortest paths (Bellman-Ford on the residual
graph, costs = -score) stop when no path adds profit: that is the maximum total score.
"""
from __future__ import annotations

import random
import sys
import time
from dataclasses import replace
from datetime import date, timedelta

from nlwerktdoor.matching import CandidateIn, MatchSettings, ShortageIn, SkillIndex, SkillInfo, candidate_pairs, match


def optimum(proposals, candidates, shortages, settings) -> list:
    cand_ids = {c.key: i + 2 for i, c in enumerate(candidates)}
    short_ids = {s.id: len(candidates) + 2 + i for i, s in enumerate(shortages)}
    source, sink, n = 0, 1, len(candidates) + len(shortages) + 2
    graph: list[list[int]] = [[] for _ in range(n)]
    to, cap, cost = [], [], []

    def edge(u, v, c, w):
        for a, b, cc, ww in ((u, v, c, w), (v, u, 0, -w)):
            graph[a].append(len(to))
            to.append(b)
            cap.append(cc)
            cost.append(ww)

    for c in candidates:
        edge(source, cand_ids[c.key], settings.shortages_per_candidate, 0.0)
    for s in shortages:
        edge(short_ids[s.id], sink, settings.candidates_per_position * s.open_positions, 0.0)
    pair_edge = {}
    for p in proposals:
        pair_edge[len(to)] = p
        edge(cand_ids[p.candidate_key], short_ids[p.shortage_id], 1, -p.score)
    while True:
        dist = [float("inf")] * n
        prev = [-1] * n
        dist[source] = 0.0
        queue, in_queue = [source], [False] * n
        while queue:  # SPFA
            u = queue.pop()
            in_queue[u] = False
            for e in graph[u]:
                if cap[e] > 0 and dist[u] + cost[e] < dist[to[e]] - 1e-12:
                    dist[to[e]] = dist[u] + cost[e]
                    prev[to[e]] = e
                    if not in_queue[to[e]]:
                        in_queue[to[e]] = True
                        queue.append(to[e])
        if dist[sink] >= -1e-12:
            break
        v, push = sink, float("inf")
        while v != source:
            e = prev[v]
            push = min(push, cap[e])
            v = to[e ^ 1]
        v = sink
        while v != source:
            e = prev[v]
            cap[e] -= push
            cap[e ^ 1] += push
            v = to[e ^ 1]
    return [p for e, p in pair_edge.items() if cap[e] == 0]


def compare(label, candidates, shortages, index, settings):
    candidates = [replace(c, capacity=1) for c in candidates]
    t0 = time.perf_counter()
    greedy = match(candidates, shortages, index, settings)
    t1 = time.perf_counter()
    pairs = candidate_pairs(candidates, shortages, index, settings)
    best = optimum(pairs, candidates, shortages, settings)
    t2 = time.perf_counter()
    g, o = sum(p.score for p in greedy), sum(p.score for p in best)
    print(f"{label:28} pairs {len(pairs):6}  greedy {g:9.3f} ({len(greedy):5} in {t1 - t0:5.2f}s)  "
          f"optimum {o:9.3f} ({len(best):5} in {t2 - t1:5.2f}s)  gap {100 * (o - g) / o if o else 0:5.2f}%")


def random_run(seed, n_candidates, n_shortages):
    rnd = random.Random(seed)
    skills = [SkillInfo(f"s{i}", f"S{1 + i % 4}.{1 + i % 3}.{1 + i % 5}", ("S",), (), rnd.randint(0, 200))
              for i in range(60)]
    index = SkillIndex.build(skills)
    ids = [s.id for s in skills]
    day = date(2026, 12, 1)
    cands = [CandidateIn(f"worker:{i}", rnd.uniform(51.5, 52.5), rnd.uniform(4.5, 6.0), rnd.choice([20, 40, 80]),
                         frozenset(rnd.sample(ids, 12)), frozenset(), frozenset(), day) for i in range(n_candidates)]
    shorts = [ShortageIn(i, "care", rnd.uniform(51.5, 52.5), rnd.uniform(4.5, 6.0), rnd.choice([20, 40, 80]),
                         tuple(rnd.sample(ids, 8)), tuple(rnd.sample(ids, 2)), frozenset(), day + timedelta(days=10),
                         rnd.randint(1, 3), rnd.random() < 0.5) for i in range(n_shortages)]
    return cands, shorts, index


def main():
    settings = MatchSettings()
    if "--random-only" not in sys.argv:
        from nlwerktdoor import create_app
        from nlwerktdoor.services import matching

        with create_app().app_context():
            shortages = matching._live_shortages()
            from nlwerktdoor.models.database import utcnow

            candidates = matching._live_candidates(utcnow())
            index = matching.skill_index_from_reference()
            compare("demo", candidates, shortages, index, settings)
            compare("demo, k=1 m=1", candidates, shortages, index, replace(settings, candidates_per_position=1,
                                                                            shortages_per_candidate=1))
    for seed in range(3):
        cands, shorts, index = random_run(seed, 400, 80)
        compare(f"random {seed} (400 x 80)", cands, shorts, index, settings)
        compare(f"random {seed}, k=1 m=1", cands, shorts, index,
                replace(settings, candidates_per_position=1, shortages_per_candidate=1))


if __name__ == "__main__":
    main()
