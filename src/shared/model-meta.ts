import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ModelLoadError } from './errors.js';

/** What models/train.py writes beside the model, and what the engine needs of it. */
export interface ModelMeta {
  /** The model's input columns, in order; their count is the model's width. */
  feature_names: string[];
  /** The declared feature set (validated on the main thread by src/features/feature-set.ts). */
  features?: unknown[];
  input_name: string;
  output_names: { label: string; probabilities: string };
  positive_class_index: number;
  cold_start: number[];
  fallback_prediction: number;
  model_version: string;
  sha256?: string;
}

export function defaultMetaPath(modelPath: string): string {
  return join(dirname(modelPath), 'model.json');
}

export function readModelMeta(metaPath: string): ModelMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(metaPath, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(metaPath, `cannot read model metadata: ${(err as Error).message}`, { cause: err });
  }
  const m = raw as Partial<ModelMeta>;
  const bad = (what: string) => new ModelLoadError(metaPath, `metadata ${what}`);
  if (!Array.isArray(m.feature_names) || m.feature_names.length === 0 || !m.feature_names.every((n) => typeof n === 'string')) throw bad('feature_names must list the features');
  const width = m.feature_names.length;
  if (m.features !== undefined && (!Array.isArray(m.features) || m.features.length !== width)) throw bad(`declares ${Array.isArray(m.features) ? m.features.length : 'no list of'} features but feature_names lists ${width}`);
  if (typeof m.input_name !== 'string') throw bad('input_name missing');
  if (!m.output_names || typeof m.output_names.probabilities !== 'string') throw bad('output_names.probabilities missing');
  if (!Array.isArray(m.cold_start) || m.cold_start.length !== width || !m.cold_start.every(Number.isFinite)) throw bad(`cold_start must be ${width} numbers, one per feature`);
  if (typeof m.positive_class_index !== 'number') m.positive_class_index = 1;
  if (typeof m.fallback_prediction !== 'number') m.fallback_prediction = 0.5;
  return m as ModelMeta;
}

/**
 * True when two models declare the same features (names, cold starts, declaration; key order
 * aside). A hot reload to other features is refused: the stored state belongs to the running
 * set, and changing it needs a restart (which uses another Redis key prefix).
 */
export function sameDeclaredFeatures(a: ModelMeta, b: ModelMeta): boolean {
  const canon = (m: ModelMeta) => canonicalJson([m.feature_names, m.cold_start, m.features ?? null]);
  return canon(a) === canon(b);
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Columns of the model's input: one per declared feature. */
export function modelWidth(meta: ModelMeta): number {
  return meta.feature_names.length;
}

/** Model bytes and the version derived from them (the first 12 hex digits of their sha256). */
export function readModelBytes(modelPath: string, meta: ModelMeta): { bytes: Buffer; version: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(modelPath);
  } catch (err) {
    throw new ModelLoadError(modelPath, `cannot read model file: ${(err as Error).message}`, { cause: err });
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (meta.sha256 && meta.sha256 !== sha) {
    throw new ModelLoadError(modelPath, `sha256 ${sha.slice(0, 12)} does not match model.json (${meta.sha256.slice(0, 12)}): model and metadata are from different trainings`);
  }
  return { bytes, version: sha.slice(0, 12) };
}
