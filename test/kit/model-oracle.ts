// What the model says on the features a test expects: each prediction checked against the real
// model (workers/model-session) run here on the oracle's features of its input event.
import type { ModelSession } from '../../workers/model-session.js';

interface Scored {
  value: { user_id: string; prediction: number };
  source: { partition: number; offset: number };
}

/** The model's scores on `featuresAt` ("partition:offset" → the model's width of features) of each prediction's input, in order. */
export async function modelOnOracle(model: ModelSession, predictions: readonly Scored[], featuresAt: Map<string, number[]>): Promise<{ rows: Float32Array; scores: Float32Array }> {
  const w = model.width;
  const rows = new Float32Array(predictions.length * w);
  predictions.forEach((p, i) => rows.set(featuresAt.get(`${p.source.partition}:${p.source.offset}`)!, i * w));
  return { rows, scores: await model.score(rows, predictions.length) };
}

/** Predictions that differ from the model by more than 1e-6: how many, and the first one described. */
export async function modelMismatches(model: ModelSession, predictions: readonly Scored[], featuresAt: Map<string, number[]>): Promise<{ count: number; first: string }> {
  const { rows, scores } = await modelOnOracle(model, predictions, featuresAt);
  let count = 0;
  let first = '';
  predictions.forEach((p, i) => {
    if (Math.abs(p.value.prediction - scores[i]) > 1e-6 && !count++) first = `${p.value.user_id} @${p.source.partition}:${p.source.offset}: got ${p.value.prediction}, model on ${rows.subarray(i * model.width, (i + 1) * model.width).join(',')} gives ${scores[i]}`;
  });
  return { count, first };
}
