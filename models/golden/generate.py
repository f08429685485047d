#!/usr/bin/env python3
"""Writes the golden vectors: events.ndjson (a scripted event log with edge cases) and, for each
declared set, expected-<set>.json (the features and replay flag after every event, computed by
models/features.py). The engine's stores are tested against these files (test/unit/golden.test.ts,
test/integration/golden-redis.test.ts). Deterministic: re-running rewrites identical files.

Usage: python3 models/golden/generate.py
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from features import FeatureSet, read_events, replay  # noqa: E402

# Sets checked against the log: the golden set (every kind, odd parameters), and the committed models'.
SETS = {
    "golden": HERE / "features.json",
    "default": HERE.parent / "feature-sets" / "default.json",
    "clickstream-26": HERE.parent / "feature-sets" / "clickstream-26.json",
}
T0 = 1_736_121_600_000 + 37 * 60_000 + 12_345  # 2025-01-06T00:37:12.345Z
MIN = 60_000
CATEGORIES = ["books", "toys", "electronics", "fashion", 'café "quoted"', "back\\slash", "garden", "unknown-ü"]


def make_events() -> list[dict]:
    rng = random.Random(11)
    users = [f"u{k}" for k in range(10)] + ["user with space", "ユーザー"]
    clock = {u: T0 + rng.randrange(0, 3 * 60 * MIN) for u in users}
    offsets = {"in:0": 0, "in:1": 0, "other:0": 0}
    applied: list[dict] = []
    events: list[dict] = []
    for n in range(320):
        if applied and rng.random() < 0.08:
            # A replay: a delivered event again (same source and offset), possibly with other content,
            # or an older offset of that source; the guard must ignore it.
            e = dict(rng.choice(applied))
            if rng.random() < 0.5:
                e["event_type"] = rng.choice(["view", "add_to_cart", "purchase"])
                e["timestamp_ms"] += rng.randrange(0, 10 * MIN)
            events.append(e)
            continue
        u = users[min(int(rng.expovariate(0.35)), len(users) - 1)]
        r = rng.random()
        if r < 0.55:
            step = rng.randrange(0, 3 * MIN)          # within a session
        elif r < 0.70:
            step = rng.randrange(3 * MIN, 40 * MIN)   # around session gaps (5 and 30 min)
        elif r < 0.80:
            step = rng.randrange(40 * MIN, 20 * 60 * MIN)
        elif r < 0.86:
            step = rng.randrange(24 * 60 * MIN, 80 * 60 * MIN)  # past the 24 h caps
        elif r < 0.93:
            step = -rng.randrange(0, 20 * MIN)       # out of order in event time
        else:
            step = rng.choice([0, 1])                # same or next millisecond
        clock[u] += step
        src = rng.choice(["in:0", "in:0", "in:1", "other:0"])
        e = {
            "user_id": u,
            "product_id": f"p{rng.randrange(100)}",
            "category": rng.choice(CATEGORIES),
            "event_type": rng.choices(["view", "add_to_cart", "purchase"], [0.7, 0.2, 0.1])[0],
            "timestamp_ms": clock[u],
            "source": src,
            "offset": offsets[src],
        }
        offsets[src] += 1 + (1 if rng.random() < 0.1 else 0)  # gaps in offsets (compacted/filtered records)
        applied.append(e)
        events.append(e)
    return events


def main() -> None:
    events = make_events()
    (HERE / "events.ndjson").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events))
    events = read_events(HERE / "events.ndjson")
    for name, path in SETS.items():
        fs = FeatureSet.load(path)
        rows = replay(fs, events)
        body = ",\n".join("  " + json.dumps({"f": r["features"], "r": int(r["replayed"])}) for r in rows)
        (HERE / f"expected-{name}.json").write_text(
            "{\n" + f' "declaration": {json.dumps(str(path.relative_to(HERE.parent.parent)))},\n'
            + f' "feature_names": {json.dumps(fs.names)},\n "rows": [\n{body}\n ]\n' + "}\n")
        print(f"{name}: {len(rows)} rows x {fs.width} features, {sum(r['replayed'] for r in rows)} replays")


if __name__ == "__main__":
    main()
