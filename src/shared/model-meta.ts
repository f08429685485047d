import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ModelLoadError } from './errors.js';

/** What models/train.py writes beside the model, and what the engine needs of it. */
export interface ModelMeta {
  feature_names: string[];
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
  if (!Array.isArray(m.feature_names) || m.feature_names.length !== 4) throw bad('feature_names must list the 4 features');
  if (typeof m.input_name !== 'string') throw bad('input_name missing');
  if (!m.output_names || typeof m.output_names.probabilities !== 'string') throw bad('output_names.probabilities missing');
  if (!Array.isArray(m.cold_start) || m.cold_start.length !== 4 || !m.cold_start.every(Number.isFinite)) throw bad('cold_start must be 4 numbers');
  if (typeof m.positive_class_index !== 'number') m.positive_class_index = 1;
  if (typeof m.fallback_prediction !== 'number') m.fallback_prediction = 0.5;
  return m as ModelMeta;
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
