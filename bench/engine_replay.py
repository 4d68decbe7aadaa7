"""Replay one matching run's engine call from `bench/match_scale.py --dump FILE`, without a database:
the engine's `match` on the very inputs of that run, several times in one process, each checked
against the proposals the run made. To work on the engine (profile it, compare two versions) on
real-sized inputs in seconds instead of minutes.

    python bench/match_scale.py --candidates 100000 --shortages 20000 --database … --dump /tmp/run.pkl
    python bench/engine_replay.py /tmp/run.pkl --times 5 [--workers 2]

    python bench/match_scale.py --candidates 2400000 --shortages 300000 --database … --dump /tmp/in.pkl --dump-only
    python bench/engine_replay.py /tmp/in.pkl --times 1

Prints each call's time and CPU time, and whether it proposed exactly what the run did (with
--dump-only there is no run to compare with: a digest of the proposals, the same for the same ones)."""
from __future__ import annotations

import argparse
import hashlib
import pickle
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dump", help="a file written by bench/match_scale.py --dump")
    parser.add_argument("--times", type=int, default=3, help="engine calls (default 3)")
    parser.add_argument("--workers", type=int, help="threads for the bounds (default: as in the run)")
    parser.add_argument("--stream-depth", type=int,
                        help="pairs kept per place of a shortage (default: as in the run; 0: every pair)")
    args = parser.parse_args(argv)

    from nlwerktdoor.matching import match, warm_up
    from nlwerktdoor.services.matching import skill_index_from_reference

    with open(args.dump, "rb") as f:
        captured = pickle.load(f)
    index = skill_index_from_reference()
    warm_up()
    kwargs = dict(captured["kwargs"])
    if args.workers:
        kwargs["workers"] = args.workers
    if args.stream_depth is not None:
        kwargs["stream_depth"] = args.stream_depth or None
    print(f"{len(captured['candidates'])} candidates, {len(captured['shortages'])} shortages, "
          f"{'no run (--dump-only)' if captured['proposals'] is None else len(captured['proposals'])} proposals "
          f"in the run; workers {kwargs.get('workers', 1)}")
    for n in range(args.times):
        started, cpu = time.perf_counter(), time.process_time()
        proposals = match(captured["candidates"], captured["shortages"], index, captured["settings"], **kwargs)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        if captured["proposals"] is None:  # match_scale.py --dump-only: a digest to compare runs by
            same = "digest " + hashlib.md5(repr([(p.candidate_key, p.shortage_id, p.score) for p in proposals])
                                            .encode()).hexdigest()[:12]
        else:
            same = "same proposals" if proposals == captured["proposals"] else "PROPOSALS DIFFER"
        print(f"call {n + 1}: {seconds:6.2f} s (CPU {cpu:6.2f} s), {len(proposals)} proposals, {same}", flush=True)
        del proposals
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
