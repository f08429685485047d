import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './services.js';

/**
 * A model heavy enough that inference matters, on the same 4 features: models/train.py's forest
 * with HEAVY_TREES trees instead of 100 (inference cost grows with the tree count; ~12x the
 * default's CPU per row). Trained once into .cache/ (about 2-3 minutes on 2 cores; ~15 MB, so not
 * committed) and reused by later runs.
 */
export const HEAVY_TREES = 1200;
export const HEAVY_MODEL_DIR = `.cache/bench-models/heavy-rf-${HEAVY_TREES}`;

export function heavyModelPath(): string | null {
  const p = join(ROOT, HEAVY_MODEL_DIR, 'model.onnx');
  return existsSync(p) && existsSync(join(ROOT, HEAVY_MODEL_DIR, 'model.json')) ? p : null;
}

/** The heavy model's path, training it first when `train` allows; null when it is not there. */
export function ensureHeavyModel(train: boolean, log: (s: string) => void): string | null {
  const have = heavyModelPath();
  if (have || !train) return have;
  log(`training the heavy model fixture (${HEAVY_TREES} trees, once, into ${HEAVY_MODEL_DIR}; a few minutes)`);
  try {
    execFileSync('python3', ['models/train.py', '--out', HEAVY_MODEL_DIR, '--n-estimators', String(HEAVY_TREES)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    log(`heavy model training failed: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).slice(-500)}`);
    return null;
  }
  return heavyModelPath();
}
