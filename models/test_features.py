"""Python side of the golden vectors: models/features.py reproduces the committed expected rows
(models/golden/expected-*.json) for the committed event log, and a few cases worked out by hand.
Standard library only. Run: python3 -m unittest discover -s models -p 'test_*.py'
(test/unit/golden-python.test.ts runs it in npm test)."""
from __future__ import annotations

import json
import math
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from features import FeatureSet, OfflineStore, read_events, replay  # noqa: E402

ROOT = HERE.parent
MIN = 60_000
T0 = 1_736_121_600_000  # 2025-01-06T00:00:00Z


def close(a: float, b: float, rel: float = 1e-6) -> bool:
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b)) or abs(a - b) < 1e-12


class GoldenVectors(unittest.TestCase):
    def test_committed_rows(self):
        events = read_events(HERE / "golden" / "events.ndjson")
        files = sorted((HERE / "golden").glob("expected-*.json"))
        self.assertEqual(len(files), 3)
        for f in files:
            exp = json.loads(f.read_text())
            fs = FeatureSet.load(ROOT / exp["declaration"])
            self.assertEqual(fs.names, exp["feature_names"])
            rows = replay(fs, events)
            self.assertEqual(len(rows), len(exp["rows"]))
            for i, (got, want) in enumerate(zip(rows, exp["rows"])):
                self.assertEqual(int(got["replayed"]), want["r"], f"{f.name} event {i} replayed")
                for k, (a, b) in enumerate(zip(got["features"], want["f"])):
                    self.assertTrue(close(a, b), f"{f.name} event {i} {fs.names[k]}: {a} != {b}")


def one(decl: dict) -> FeatureSet:
    return FeatureSet([{"name": "f", **decl}])


class ByHand(unittest.TestCase):
    def run_events(self, fs, evs):
        st = OfflineStore(fs)
        return [st.update(u, c, cat, ts, src, off)[0][0] for (u, c, cat, ts, src, off) in evs]

    def test_default_four(self):
        fs = FeatureSet.load(HERE / "feature-sets" / "default.json")
        st = OfflineStore(fs)
        self.assertEqual(st.update("a", 0, "x", T0, "in:0", 0)[0], [1, 0, 0, 1440])
        self.assertEqual(st.update("a", 1, "x", T0 + 90_000, "in:0", 1)[0], [1, 1, 0, 1.5])
        self.assertEqual(st.update("a", 2, "x", T0 + 90_000 - MIN, "in:0", 2)[0], [1, 1, 1, 0])  # out of order: 0
        self.assertEqual(st.update("a", 0, "x", T0 + 90_000 + 30_000, "in:0", 3)[0], [2, 1, 1, 0.5])  # from the max time
        self.assertEqual(st.update("a", 0, "x", T0 + 99 * MIN, "in:0", 3), ([2, 1, 1, 0.5], True))  # replay
        self.assertEqual(st.update("a", 0, "x", T0 + 48 * 60 * MIN, "in:1", 0)[0], [3, 1, 1, 1440])  # other partition, capped

    def test_decayed_count_halves_per_half_life(self):
        fs = one({"kind": "decayed_count", "half_life_minutes": 10, "event_type": "view"})
        got = self.run_events(fs, [("a", 0, "x", T0, "s", 0), ("a", 1, "x", T0 + 10 * MIN, "s", 1), ("a", 0, "x", T0 + 30 * MIN, "s", 2)])
        self.assertEqual(got, [1.0, 0.5, 0.5 / 4 + 1])

    def test_since_last_and_session(self):
        fs = FeatureSet([{"name": "s", "kind": "since_last", "event_type": "add_to_cart", "cap_minutes": 60},
                         {"name": "n", "kind": "session_events", "gap_minutes": 30}])
        st = OfflineStore(fs)
        self.assertEqual(st.update("a", 0, "x", T0, "s", 0)[0], [60, 1])           # no cart yet: cold start = cap
        self.assertEqual(st.update("a", 1, "x", T0 + MIN, "s", 1)[0], [60, 2])     # measured before this cart
        self.assertEqual(st.update("a", 0, "x", T0 + 3 * MIN, "s", 2)[0], [2, 3])
        self.assertEqual(st.update("a", 0, "x", T0 + 33 * MIN, "s", 3)[0], [32, 4])  # a gap of exactly 30 min: same session
        self.assertEqual(st.update("a", 0, "x", T0 + 65 * MIN + 1, "s", 4)[0], [60, 1])  # > 30 min: new session; capped

    def test_distinct_categories_with_other_bucket(self):
        fs = one({"kind": "distinct_categories", "categories": ["a", "b"]})
        got = self.run_events(fs, [("u", 0, c, T0 + k, "s", k) for k, c in enumerate(["a", "a", "zz", "b", "yy", "a"])])
        self.assertEqual(got, [1, 1, 2, 3, 3, 3])

    def test_event_features(self):
        fs = FeatureSet([{"name": "sin", "kind": "hour_of_day", "fn": "sin"},
                         {"name": "cos", "kind": "hour_of_day", "fn": "cos"},
                         {"name": "other", "kind": "category_is", "not_in": ["a"]},
                         {"name": "cart", "kind": "event_type_is", "event_type": "add_to_cart"}])
        vals = OfflineStore(fs).update("u", 1, "b", T0 + 6 * 60 * MIN)[0]
        self.assertTrue(math.isclose(vals[0], 1.0) and abs(vals[1]) < 1e-15)
        self.assertEqual(vals[2:], [1.0, 1.0])


if __name__ == "__main__":
    unittest.main()
