/** Named error classes: errors are values a caller can branch on, never strings to parse. */

export class ScorestreamError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A setting has a value that is not allowed. `message` is one line meant for the operator. */
export class ConfigError extends ScorestreamError {
  constructor(readonly setting: string, readonly value: unknown, readonly allowed: string) {
    super(`invalid setting ${setting}=${JSON.stringify(value)}: ${allowed}`);
  }
}

/** An input record is not a valid event. `field` names what is wrong ('value' for the record as a whole). */
export class ValidationError extends ScorestreamError {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

/** The feature store could not update/read features for a batch. */
export class FeatureStoreError extends ScorestreamError {}

/** The model file is missing, corrupt, or does not match its model.json. */
export class ModelLoadError extends ScorestreamError {
  constructor(readonly path: string, readonly detail: string, options?: { cause?: unknown }) {
    super(`model ${path}: ${detail}`, options);
  }
}

/**
 * A model's feature declaration is invalid (unknown kind, bad parameter): a configuration error,
 * exit code 2. `file` is the model.json, `feature` the offending feature's name or position.
 */
export class FeatureSetError extends ScorestreamError {
  constructor(readonly file: string, readonly feature: string, detail: string) {
    super(`feature set in ${file}: ${feature ? `feature ${feature}: ` : ''}${detail}`);
  }
}

/** A loaded model failed to score a micro-batch (its rows fall back). */
export class InferenceError extends ScorestreamError {}

/** A worker lane failed in a way that re-dispatching cannot fix. */
export class LaneError extends ScorestreamError {}

/**
 * An error as plain data, for crossing a thread boundary: structured clone keeps neither the
 * class nor its own fields, so the worker sends this and the main thread rebuilds the class.
 */
export interface ErrorData {
  name: string;
  message: string;
  /** ModelLoadError: the file and what is wrong with it. */
  path?: string;
  detail?: string;
}

export function toErrorData(err: unknown): ErrorData {
  if (err instanceof ModelLoadError) return { name: err.name, message: err.message, path: err.path, detail: err.detail };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

/** Rebuilds the named error a worker sent; names this module does not know become InferenceError. */
export function fromErrorData(d: ErrorData): ScorestreamError {
  if (d.name === 'ModelLoadError' && d.path !== undefined) return new ModelLoadError(d.path, d.detail ?? d.message);
  if (d.name === 'InferenceError') return new InferenceError(d.message);
  return new InferenceError(`${d.name}: ${d.message}`);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
