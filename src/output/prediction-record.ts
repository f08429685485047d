import type { UserEvent } from '../ingest/event.js';
import type { Partition } from '../partitions/partition.js';

/**
 * The prediction record's value, written directly as JSON text: the same bytes as
 * JSON.stringify of { user_id, product_id, prediction, event_time, processing_time,
 * model_version, fallback, source: { topic, partition, offset } }, without building that object
 * per event. `versionJson` is the model version already JSON-quoted (once per lane result);
 * the partition's part of the lineage is built once per partition.
 */
export function predictionValue(ev: UserEvent, prediction: number, nowMs: number, versionJson: string, fallback: boolean, part: Partition, offset: number): string {
  return (
    '{"user_id":' +
    JSON.stringify(ev.user_id) +
    ',"product_id":' +
    JSON.stringify(ev.product_id) +
    ',"prediction":' +
    prediction +
    ',"event_time":' +
    ev.timestamp_ms +
    ',"processing_time":' +
    nowMs +
    ',"model_version":' +
    versionJson +
    ',"fallback":' +
    fallback +
    part.lineageJson +
    offset +
    '}}'
  );
}
