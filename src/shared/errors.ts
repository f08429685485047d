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
  constructor(readonly path: string, message: string, options?: { cause?: unknown }) {
    super(`model ${path}: ${message}`, options);
  }
}

/** A worker lane failed in a way that re-dispatching cannot fix. */
export class LaneError extends ScorestreamError {}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
