/** Kafka error codes (protocol) that mean "another producer with this transactional id took over". */
const FENCED_CODES = new Set([
  47, // INVALID_PRODUCER_EPOCH
  52, // TRANSACTION_COORDINATOR_FENCED
  90, // PRODUCER_FENCED (unknown to kafkajs 2.2.4: arrives as KAFKA_UNKNOWN_ERROR with this code)
]);
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'TRANSACTION_COORDINATOR_FENCED', 'PRODUCER_FENCED']);

/**
 * True when `err`, or any error in its cause chain, is Kafka's "fenced" error. kafkajs wraps a
 * protocol error in KafkaJSNonRetriableError / KafkaJSNumberOfRetriesExceeded with the original
 * as `cause`, so the type and code are looked up along the chain, never in the message.
 */
export function isFencedError(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const { type, code } = e as { type?: unknown; code?: unknown };
    if (typeof type === 'string' && FENCED_TYPES.has(type)) return true;
    if (typeof code === 'number' && FENCED_CODES.has(code)) return true;
  }
  return false;
}
