import * as ort from 'onnxruntime-node';
import { InferenceError, ModelLoadError } from '../src/shared/errors.js';
import { defaultMetaPath, modelWidth, readModelBytes, readModelMeta, type ModelMeta } from '../src/shared/model-meta.js';

/**
 * One ONNX session, loaded once per worker thread. Single-threaded intra-op: parallelism comes
 * from the lanes, and N workers each spinning an ORT thread pool would fight for the cores.
 */
export class ModelSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly meta: ModelMeta,
    readonly version: string,
    readonly path: string,
    /** Features per row: the declared width, checked against the model's input shape. */
    readonly width: number,
  ) {}

  /** Loads and checks a model; throws ModelLoadError naming the file on any problem. */
  static async load(modelPath: string, metaPath = defaultMetaPath(modelPath)): Promise<ModelSession> {
    const meta = readModelMeta(metaPath);
    const { bytes, version } = readModelBytes(modelPath, meta);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        intraOpNumThreads: 1,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw new ModelLoadError(modelPath, `onnxruntime cannot load it: ${(err as Error).message}`, { cause: err });
    }
    if (!session.inputNames.includes(meta.input_name)) {
      throw new ModelLoadError(modelPath, `has inputs [${session.inputNames}] but model.json names '${meta.input_name}'`);
    }
    if (!session.outputNames.includes(meta.output_names.probabilities)) {
      throw new ModelLoadError(modelPath, `has outputs [${session.outputNames}] but model.json names '${meta.output_names.probabilities}'`);
    }
    const width = modelWidth(meta);
    // The input's last dimension, when the model fixes it (skl2onnx does: [None, width]).
    const shape = session.inputMetadata.find((i) => i.name === meta.input_name);
    const cols = shape && 'shape' in shape ? shape.shape[shape.shape.length - 1] : undefined;
    if (typeof cols === 'number' && cols > 0 && cols !== width) {
      throw new ModelLoadError(modelPath, `takes ${cols} features per row but model.json declares ${width} (${meta.feature_names.join(', ')})`);
    }
    const model = new ModelSession(session, meta, version, modelPath, width);
    // A model that loads but cannot score the cold-start vector must never serve.
    let p: number;
    try {
      p = (await model.score(Float32Array.from(meta.cold_start), 1))[0];
    } catch (err) {
      throw new ModelLoadError(modelPath, `fails on the cold-start vector: ${(err as Error).message}`, { cause: err });
    }
    if (!(p >= 0 && p <= 1)) throw new ModelLoadError(modelPath, `scores the cold-start vector as ${p}, not a probability`);
    return model;
  }

  /** Probability of the positive class for each of `n` rows of `features` (row-major, `width` per row). */
  async score(features: Float32Array, n: number): Promise<Float32Array> {
    const w = this.width;
    const input = new ort.Tensor('float32', features.length === n * w ? features : features.subarray(0, n * w), [n, w]);
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run({ [this.meta.input_name]: input }, [this.meta.output_names.probabilities]);
    } catch (err) {
      throw new InferenceError(`onnxruntime: ${(err as Error).message}`, { cause: err });
    }
    const probs = out[this.meta.output_names.probabilities];
    const data = probs.data as Float32Array;
    const classes = probs.dims.length === 2 ? Number(probs.dims[1]) : 1;
    const k = this.meta.positive_class_index;
    const result = new Float32Array(n);
    for (let i = 0; i < n; i++) result[i] = data[i * classes + k];
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
