#!/usr/bin/env python3
"""Train the scorestream purchase-propensity model and export it to ONNX.

Deterministic: fixed seeds, single-threaded forest, and an ONNX file whose bytes depend only on
the data and the pinned library versions (models/requirements.txt). Re-running yields the same
model.onnx, hence the same model_version. Only model.json's `trained_at` varies, and only when
SOURCE_DATE_EPOCH is unset; the hash never covers it.

Usage: python3 models/train.py [--out models/] [--features models/feature-sets/default.json]
                                [--model rf|gbt] [--n-estimators 100] [--max-depth 8] [--seed 42]
  --n-estimators and --seed (the model's random_state) change the model, not the simulated data:
  models/fixtures/alt/ is `--n-estimators 10 --seed 7`, a second valid model for hot-reload tests.
  The heavy model (models/gbt-26/): `--features models/feature-sets/clickstream-26.json --model gbt
  --n-estimators 2500 --max-depth 6 --max-leaf-nodes 31 --learning-rate 0.005 --min-samples-leaf 100
  --out models/gbt-26`.

Features: the declaration file (--features) lists them; features.py computes them with the
engine's semantics (update-then-read per event, the per-user hash's 24 h TTL refreshed on every
event, so state restarts after a gap of >= 24 h) and model.json carries the declaration, which
the engine computes identically (golden vectors: models/golden/). The default set:
  views, cart_adds, purchases  counts over the user's current history, this event included
  minutes_since_prev           (ts - previous ts) / 60000 as a float, clamped to [0, 1440]; 1440 for
                               a user's first event and the first event after a >= 24 h gap
Cold start (a user with no history): [0, 0, 0, 1440].
Label: the user purchases within the 30 minutes after this event (this event excluded).
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import skl2onnx
import sklearn
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from features import EVENT_TYPE_CODES, FeatureSet, OfflineStore  # noqa: E402

SEED = 20250106
N_USERS = 5_000
DAYS = 7
T0_MS = 1_736_121_600_000  # 2025-01-06T00:00:00Z
MIN_MS = 60_000
DAY_MS = 24 * 60 * MIN_MS
TTL_MS = DAY_MS  # Redis hash TTL: 24 h
LABEL_WINDOW_MS = 30 * MIN_MS
HOLDOUT_USER_FRACTION = 0.2

VIEW, CART, PURCHASE = EVENT_TYPE_CODES["view"], EVENT_TYPE_CODES["add_to_cart"], EVENT_TYPE_CODES["purchase"]
DEFAULT_FEATURES = Path(__file__).resolve().parent / "feature-sets" / "default.json"
# Categories come from their own generator, so the default model's data (and bytes) do not change.
CATEGORY_SEED = 20251201
CATEGORIES = ["books", "electronics", "fashion", "home", "toys", "sports", "garden", "music"]

N_ESTIMATORS = 100
FOREST_SEED = 42
MAX_DEPTH = 8
OPSET = {"": 17, "ai.onnx.ml": 3}
N_FIXTURE_ROWS = 100
TOLERANCE = 1e-5


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def simulate_clickstream(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (user, ts_ms, code) arrays sorted by (user, ts).

    Each user has a latent intent; activity is heavy-tailed (lognormal number of sessions, Zipf-like).
    Within a session a user views, adds to cart and buys; the chance of a purchase grows with open
    cart items, intent and items carted in earlier sessions of the same day, so a user's recent
    history (what the features see) carries signal about purchases in the next 30 minutes.
    """
    users: list[int] = []
    stamps: list[int] = []
    codes: list[int] = []
    span_ms = DAYS * DAY_MS
    for u in range(N_USERS):
        intent = rng.normal(1.0, 0.6) if rng.random() < 0.3 else rng.normal(-0.9, 0.6)  # buyers vs browsers
        n_sessions = 1 + min(int(rng.lognormal(0.6, 1.0)), 60)
        # Sessions cluster: a few "visit days", several sessions on each.
        starts = np.sort(rng.integers(0, span_ms, size=n_sessions))
        if n_sessions > 2 and rng.random() < 0.6:
            anchor = int(rng.integers(0, span_ms - DAY_MS))
            k = n_sessions // 2
            starts[:k] = anchor + rng.integers(0, 12 * 60 * MIN_MS, size=k)
            starts = np.sort(starts)
        carry_cart = 0  # items carted but not bought, remembered across sessions
        last_end = -10**15
        for s in starts:
            t = int(max(int(s), last_end + 5 * MIN_MS))
            if t >= span_ms:
                break
            if t - last_end > DAY_MS:
                carry_cart = 0  # stale carts are forgotten after a day
            views_s = 0
            open_cart = carry_cart
            bought = 0
            returning = 1.0 if carry_cart > 0 else 0.0
            while True:
                p_buy = sigmoid(-4.6 + 1.3 * intent + 1.7 * min(open_cart, 3) + 1.0 * returning
                                - 1.5 * bought) if open_cart > 0 else sigmoid(-8.0 + 0.8 * intent)
                p_cart = sigmoid(-3.6 + 1.4 * intent + 0.05 * min(views_s, 15) - 0.5 * bought)
                r = rng.random()
                if r < p_buy:
                    code = PURCHASE
                    bought += 1
                    open_cart = 0
                elif r < p_buy + p_cart:
                    code = CART
                    open_cart += 1
                else:
                    code = VIEW
                    views_s += 1
                users.append(u)
                stamps.append(T0_MS + t)
                codes.append(code)
                p_exit = 0.45 if code == PURCHASE else (0.07 if open_cart else 0.13)
                if rng.random() < p_exit:
                    break
                # think time: lognormal, median ~35 s, capped at 20 min
                t += int(min(rng.lognormal(math.log(35_000), 1.0), 20 * MIN_MS))
                if t >= span_ms:
                    break
            carry_cart = open_cart
            last_end = t
    user = np.asarray(users, dtype=np.int64)
    ts = np.asarray(stamps, dtype=np.int64)
    code = np.asarray(codes, dtype=np.int8)
    order = np.lexsort((ts, user))
    return user[order], ts[order], code[order]


def assign_categories(user: np.ndarray) -> list[str]:
    """A category per event: each user mostly browses a favourite one (own generator: see CATEGORY_SEED)."""
    crng = np.random.default_rng(CATEGORY_SEED)
    fav = crng.integers(0, len(CATEGORIES), size=N_USERS)
    pick = crng.integers(0, len(CATEGORIES), size=len(user))
    keep = crng.random(len(user)) < 0.7
    return [CATEGORIES[int(fav[u]) if k else int(c)] for u, k, c in zip(user, keep, pick)]


def engine_features(fs: FeatureSet, user: np.ndarray, ts: np.ndarray, code: np.ndarray, cats: list[str]) -> np.ndarray:
    """Features per event exactly as the engine's update-then-read hash yields them (float32)."""
    store = OfflineStore(fs, ttl_ms=TTL_MS)
    x = np.empty((len(user), fs.width), dtype=np.float64)
    for i in range(len(user)):
        x[i] = store.update(str(int(user[i])), int(code[i]), cats[i], int(ts[i]))[0]
    return x.astype(np.float32)


def labels(user: np.ndarray, ts: np.ndarray, code: np.ndarray) -> np.ndarray:
    """1 if the same user purchases within LABEL_WINDOW_MS after this event (exclusive of it)."""
    n = len(user)
    y = np.zeros(n, dtype=np.int64)
    next_purchase_ts = None
    for i in range(n - 1, -1, -1):
        if i == n - 1 or user[i + 1] != user[i]:
            next_purchase_ts = None
        if next_purchase_ts is not None and next_purchase_ts - ts[i] <= LABEL_WINDOW_MS:
            y[i] = 1
        if code[i] == PURCHASE:
            next_purchase_ts = int(ts[i])
    return y


def export_onnx(model, width: int, name: str) -> bytes:
    onx = convert_sklearn(
        model,
        name=name,
        initial_types=[("features", FloatTensorType([None, width]))],
        options={id(model): {"zipmap": False}},
        target_opset=OPSET,
    )
    # Strip everything that could vary between runs (skl2onnx names the graph with a uuid).
    onx.graph.name = name
    onx.graph.doc_string = ""
    onx.doc_string = ""
    onx.producer_name = "skl2onnx"
    onx.producer_version = skl2onnx.__version__
    onx.domain = "scorestream"
    onx.model_version = 1
    del onx.metadata_props[:]
    names = {o.name for o in onx.graph.output}
    if names != {"label", "probabilities"} or [i.name for i in onx.graph.input] != ["features"]:
        sys.exit(f"unexpected ONNX signature: inputs {[i.name for i in onx.graph.input]}, outputs {names}")
    onnx.checker.check_model(onx)
    return onx.SerializeToString()


def compact_json(obj: dict) -> str:
    """JSON with one line per top-level key's list element (readable diffs, small file)."""
    parts = []
    for k, v in obj.items():
        if isinstance(v, list):
            body = ",\n".join("  " + json.dumps(e) for e in v)
            parts.append(f" {json.dumps(k)}: [\n{body}\n ]")
        else:
            parts.append(f" {json.dumps(k)}: {json.dumps(v)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent), help="output directory (default: models/)")
    ap.add_argument("--features", default=str(DEFAULT_FEATURES), help="feature declaration (JSON list; default: feature-sets/default.json)")
    ap.add_argument("--model", choices=["rf", "gbt"], default="rf", help="rf: RandomForest; gbt: HistGradientBoosting (default rf)")
    ap.add_argument("--n-estimators", type=int, default=N_ESTIMATORS, help=f"trees (rf) or boosting iterations (gbt) (default {N_ESTIMATORS})")
    ap.add_argument("--max-depth", type=int, default=MAX_DEPTH, help=f"tree depth (default {MAX_DEPTH})")
    ap.add_argument("--min-samples-leaf", type=int, default=1, help="smallest leaf (default 1 for rf, 20 for gbt); larger keeps deep trees small")
    ap.add_argument("--max-leaf-nodes", type=int, default=31, help="gbt: leaves per tree (default 31)")
    ap.add_argument("--learning-rate", type=float, default=0.1, help="gbt: shrinkage (default 0.1)")
    ap.add_argument("--seed", type=int, default=FOREST_SEED, help=f"the model's random_state (default {FOREST_SEED})")
    args = ap.parse_args()
    declaration = json.loads(Path(args.features).read_text())
    fs = FeatureSet(declaration)
    out = Path(args.out)
    (out / "fixtures").mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    rng = np.random.default_rng(SEED)
    user, ts, code = simulate_clickstream(rng)
    cats = assign_categories(user)
    x = engine_features(fs, user, ts, code, cats)
    y = labels(user, ts, code)
    n = len(y)
    shares = np.bincount(code, minlength=3) / n
    print(f"events {n}, users {len(np.unique(user))}, view/cart/purchase "
          f"{shares[0]:.3f}/{shares[1]:.3f}/{shares[2]:.3f}, positive rate {y.mean():.3f}")

    # User-based holdout: 20% of users never seen in training.
    holdout_users = rng.permutation(N_USERS)[: int(N_USERS * HOLDOUT_USER_FRACTION)]
    is_holdout = np.isin(user, holdout_users)
    x_tr, y_tr, x_ho, y_ho = x[~is_holdout], y[~is_holdout], x[is_holdout], y[is_holdout]

    if args.model == "rf":
        name = "scorestream_purchase_rf"
        model = RandomForestClassifier(n_estimators=args.n_estimators, max_depth=args.max_depth,
                                       min_samples_leaf=args.min_samples_leaf, random_state=args.seed, n_jobs=1)
    else:
        name = "scorestream_purchase_gbt"
        # No early stopping: the iteration count is the declared cost of the model.
        model = HistGradientBoostingClassifier(max_iter=args.n_estimators, max_depth=args.max_depth,
                                               max_leaf_nodes=args.max_leaf_nodes, learning_rate=args.learning_rate,
                                               min_samples_leaf=max(args.min_samples_leaf, 20) if args.min_samples_leaf == 1 else args.min_samples_leaf,
                                               l2_regularization=1.0, early_stopping=False, random_state=args.seed)
    model.fit(x_tr, y_tr)
    if list(model.classes_) != [0, 1]:
        sys.exit(f"unexpected classes {model.classes_}")
    p_ho = model.predict_proba(x_ho)[:, 1]
    auc = float(roc_auc_score(y_ho, p_ho))

    blob = export_onnx(model, fs.width, name)
    sha = hashlib.sha256(blob).hexdigest()
    (out / "model.onnx").write_bytes(blob)

    sess = ort.InferenceSession(blob, providers=["CPUExecutionProvider"])
    # Fixture: the cold-start vector, then plausible rows drawn from holdout features (float32 already).
    pick = rng.choice(len(x_ho), size=N_FIXTURE_ROWS, replace=False)
    rows = np.vstack([np.asarray([fs.cold_start], dtype=np.float32), x_ho[np.sort(pick)]]).astype(np.float32)
    p_sk = model.predict_proba(rows)[:, 1]
    label_onnx, proba_onnx = sess.run(["label", "probabilities"], {"features": rows})
    p_onnx = proba_onnx[:, 1].astype(np.float64)
    diff = float(np.max(np.abs(p_sk - p_onnx)))
    if not diff <= TOLERANCE:
        sys.exit(f"FAIL: sklearn vs onnxruntime max |diff| {diff:.3g} > {TOLERANCE} on fixture rows")
    # Same check over the whole holdout, reported (float32 thresholds can flip rare tie rows).
    p_ho_onnx = sess.run(["probabilities"], {"features": x_ho})[0][:, 1]
    ho_diff = np.abs(p_ho - p_ho_onnx)
    n_bad = int(np.sum(ho_diff > TOLERANCE))
    if n_bad > len(ho_diff) * 1e-3:
        sys.exit(f"FAIL: {n_bad} holdout rows differ by > {TOLERANCE} between sklearn and onnxruntime")

    sde = os.environ.get("SOURCE_DATE_EPOCH")
    when = dt.datetime.fromtimestamp(int(sde), dt.timezone.utc) if sde else dt.datetime.now(dt.timezone.utc)
    meta = {
        "name": name,
        "feature_names": fs.names,
        "features": declaration,
        "input_name": "features",
        "output_names": {"label": "label", "probabilities": "probabilities"},
        "positive_class_index": 1,
        "cold_start": fs.cold_start,
        "fallback_prediction": 0.5,
        "model_version": sha[:12],
        "sha256": sha,
        "trained_at": when.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "holdout_auc": round(auc, 6),
        "algorithm": type(model).__name__,
        "n_estimators": args.n_estimators,
        "forest_seed": args.seed,
        "max_depth": args.max_depth,
        **({"min_samples_leaf": args.min_samples_leaf} if args.min_samples_leaf != 1 else {}),
        **({"max_leaf_nodes": args.max_leaf_nodes, "learning_rate": args.learning_rate} if args.model == "gbt" else {}),
        "train_rows": int(len(y_tr)),
        "holdout_rows": int(len(y_ho)),
        "sklearn_version": sklearn.__version__,
        "skl2onnx_version": skl2onnx.__version__,
        "onnx_version": onnx.__version__,
        "opset": OPSET[""],
        "opset_ai_onnx_ml": OPSET["ai.onnx.ml"],
        "feature_ttl_seconds": TTL_MS // 1000,
        "label": "user purchases within 30 minutes after this event",
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    fixture = {
        "model_version": sha[:12],
        "rows": [[float(v) for v in r] for r in rows],
        "probabilities": [float(v) for v in p_sk],
        "onnx_probabilities": [float(v) for v in p_onnx],
        "labels": [int(v) for v in label_onnx],
    }
    (out / "fixtures" / "expected.json").write_text(compact_json(fixture))

    print(f"train rows {len(y_tr)}, holdout rows {len(y_ho)} ({len(holdout_users)} users)")
    print(f"sklearn vs onnxruntime: fixture max |diff| {diff:.2e}; holdout rows > {TOLERANCE}: {n_bad}/{len(ho_diff)}")
    print(f"model_version {sha[:12]} (sha256 {sha})")
    print(f"took {time.perf_counter() - t_start:.1f} s")
    print(f"model size {len(blob)} bytes")
    print(f"holdout AUC {auc:.4f}")


if __name__ == "__main__":
    main()
