"""The declared feature set, offline: the arithmetic of every feature kind in Python (standard
library only), used by train.py and checked against the engine by the golden vectors.

The engine computes the same kinds in TypeScript (src/features/feature-kinds.ts) and Lua
(src/features/feature-lua.ts); src/features/feature-set.ts validates declarations and is the
reference for the vocabulary. Keep the expressions in the same order in all three.

A declaration is model.json's "features": a list of {"name", "kind", ...parameters, "cold_start"?}.
Per event: `first` when the user has no state; T the user's last event time (never moves
backwards); te = max(ts, T) becomes the new T; dt = ts - T (raw, may be negative).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

EVENT_TYPE_CODES = {"view": 0, "add_to_cart": 1, "purchase": 2}
MIN_MS = 60_000
DAY_MS = 86_400_000
KINDS = ("count", "decayed_count", "since_prev", "since_last", "session_events",
         "distinct_categories", "event_type_is", "category_is", "hour_of_day")


class FeatureSetError(ValueError):
    pass


class Feature:
    def __init__(self, index: int, raw: dict):
        self.index = index
        self.name = raw["name"]
        self.kind = raw["kind"]
        if self.kind not in KINDS:
            raise FeatureSetError(f"feature {self.name!r}: unknown kind {self.kind!r}")
        et = raw.get("event_type")
        ets = None if et is None else ([et] if isinstance(et, str) else list(et))
        cats = raw.get("category")
        self.event_types = None if ets is None else [EVENT_TYPE_CODES[t] for t in ets]
        self.categories = None if cats is None else ([cats] if isinstance(cats, str) else list(cats))
        self.cap = float(raw.get("cap_minutes", 1440))
        self.half_life = float(raw.get("half_life_minutes", 0))
        self.gap = float(raw.get("gap_minutes", 30))
        self.category_list = raw.get("categories") if self.kind == "distinct_categories" else raw.get("not_in")
        self.event_type = self.event_types[0] if self.kind == "event_type_is" else -1
        self.category = raw.get("category") if self.kind == "category_is" else None
        if self.kind == "category_is":
            self.categories = None
        self.fn = raw.get("fn")
        default_cs = self.cap if self.kind in ("since_prev", "since_last") else 0.0
        self.cold_start = float(raw.get("cold_start", default_cs))

    def matches(self, code: int, category: str) -> bool:
        return (self.event_types is None or code in self.event_types) and \
            (self.categories is None or category in self.categories)


class FeatureSet:
    def __init__(self, decl: list[dict]):
        if not isinstance(decl, list) or not decl:
            raise FeatureSetError('"features" must be a non-empty list')
        self.features = [Feature(i, d) for i, d in enumerate(decl)]
        self.declaration = decl
        self.width = len(self.features)
        self.names = [f.name for f in self.features]
        self.cold_start = [f.cold_start for f in self.features]

    @classmethod
    def load(cls, path: str | Path) -> "FeatureSet":
        """A declaration file: a list, or an object with "features" (model.json)."""
        data = json.loads(Path(path).read_text())
        return cls(data["features"] if isinstance(data, dict) else data)


def _clamp(x: float, cap: float) -> float:
    return min(max(x, 0.0), cap)


class UserState:
    __slots__ = ("t", "vals", "extra", "guards")

    def __init__(self, fs: FeatureSet):
        self.t = None
        self.vals = list(fs.cold_start)
        self.extra = [None] * fs.width
        self.guards: dict[str, int] = {}


def apply_event(fs: FeatureSet, s: UserState, code: int, category: str, ts: int) -> None:
    """Applies one event; afterwards s.vals holds the event's features (float64)."""
    first = s.t is None
    T = s.t
    te = ts if first or ts >= T else T
    dt = 0 if first else ts - T
    v, x = s.vals, s.extra
    for f in fs.features:
        i = f.index
        k = f.kind
        if k == "count":
            if f.matches(code, category):
                v[i] = v[i] + 1
        elif k == "decayed_count":
            c = v[i]
            if not first:
                c = c * 2.0 ** (-(te - T) / (f.half_life * MIN_MS))
            if f.matches(code, category):
                c = c + 1
            v[i] = c
        elif k == "since_prev":
            v[i] = f.cold_start if first else _clamp(dt / MIN_MS, f.cap)
        elif k == "since_last":
            last = x[i]
            v[i] = f.cold_start if last is None else _clamp((ts - last) / MIN_MS, f.cap)
            if f.matches(code, category):
                x[i] = te
        elif k == "session_events":
            v[i] = f.cold_start + 1 if first else (1.0 if dt > f.gap * MIN_MS else v[i] + 1)
        elif k == "distinct_categories":
            m = 0 if x[i] is None else x[i]
            b = f.category_list.index(category) if category in f.category_list else len(f.category_list)
            if (m >> b) & 1 == 0:
                x[i] = m | (1 << b)
                v[i] = v[i] + 1
            else:
                x[i] = m
        elif k == "event_type_is":
            v[i] = 1.0 if code == f.event_type else 0.0
        elif k == "category_is":
            if f.category is not None:
                v[i] = 1.0 if category == f.category else 0.0
            else:
                v[i] = 0.0 if category in f.category_list else 1.0
        elif k == "hour_of_day":
            a = 2 * math.pi * (ts % DAY_MS) / DAY_MS
            v[i] = math.sin(a) if f.fn == "sin" else math.cos(a)
    s.t = te


class OfflineStore:
    """The stores' semantics offline: per-user state, replay guard per source, and (optionally) a
    TTL measured in event time (the engine's is wall-clock: a key expires ttl after its last write)."""

    def __init__(self, fs: FeatureSet, ttl_ms: int | None = None):
        self.fs = fs
        self.ttl_ms = ttl_ms
        self.users: dict[str, UserState] = {}

    def update(self, user: str, code: int, category: str, ts: int, source: str = "log:0",
               offset: int | None = None) -> tuple[list[float], bool]:
        s = self.users.get(user)
        if s is not None and self.ttl_ms is not None and ts - s.t >= self.ttl_ms:
            s = None
        if s is not None and offset is not None:
            last = s.guards.get(source)
            if last is not None and last >= offset:
                return list(s.vals), True
        if s is None:
            s = UserState(self.fs)
            self.users[user] = s
        apply_event(self.fs, s, code, category, ts)
        if offset is not None:
            s.guards[source] = offset
        return list(s.vals), False


def read_events(path: str | Path) -> list[dict]:
    """NDJSON events; `source` defaults to "log:0" and `offset` to the line's index."""
    out = []
    for n, line in enumerate(Path(path).read_text().splitlines()):
        if line.strip():
            e = json.loads(line)
            e.setdefault("source", "log:0")
            e.setdefault("offset", n)
            out.append(e)
    return out


def replay(fs: FeatureSet, events: list[dict]) -> list[dict]:
    """Features (float64) and replay flag after each event, in order."""
    store = OfflineStore(fs)
    rows = []
    for e in events:
        vals, replayed = store.update(e["user_id"], EVENT_TYPE_CODES[e["event_type"]], e["category"],
                                      int(e["timestamp_ms"]), e["source"], int(e["offset"]))
        rows.append({"features": vals, "replayed": replayed})
    return rows
