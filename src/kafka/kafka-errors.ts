/** Kafka error codes (protocol) that mean "another producer with this transactional id took over". */
const FENCED_CODES = new Set([
  47, // INVALID_PRODUCER_EPOCH
  52, // TRANSACTION_COORDINATOR_FENCED
  90, // PRODUCER_FENCED (to newer request versions; kafkajs 2.2.4's older ones get INVALID_PRODUCER_EPOCH)
]);
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'TRANSACTION_COORDINATOR_FENCED', 'PRODUCER_FENCED']);

/** Errors looked at per search: a bound against cyclic or huge aggregates. */
const MAX_VISITED = 64;

/**
 * True when `err`, an error in its cause chain, or one it aggregates, is a Kafka protocol error
 * named in `types` or numbered in `codes`. kafkajs wraps a protocol error in
 * KafkaJSNonRetriableError / KafkaJSNumberOfRetriesExceeded with the original as `cause` and names
 * it `type` / `code`; @platformatic/kafka aggregates (`errors`: MultipleErrors of its retries,
 * ResponseError of a response) ProtocolErrors that name it `apiId` / `apiCode` (its `code` is
 * 'PLT_KFK_PROTOCOL'). Looked up by type and code, never in the message.
 */
export function hasKafkaError(err: unknown, types: ReadonlySet<string>, codes: ReadonlySet<number>): boolean {
  const queue: unknown[] = [err];
  for (let i = 0; i < queue.length && i < MAX_VISITED; i++) {
    const e = queue[i];
    if (!e || typeof e !== 'object') continue;
    const { type, code, apiId, apiCode, cause, errors } = e as Record<string, unknown>;
    for (const t of [type, apiId]) if (typeof t === 'string' && types.has(t)) return true;
    for (const c of [code, apiCode]) if (typeof c === 'number' && codes.has(c)) return true;
    if (cause) queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return false;
}

/** True when `err` is (or carries) Kafka's "fenced" error: another producer took the transactional id. */
export function isFencedError(err: unknown): boolean {
  return hasKafkaError(err, FENCED_TYPES, FENCED_CODES);
}

const INVALID_TXN_STATE = { types: new Set(['INVALID_TXN_STATE']), codes: new Set([48]) };

/** True when `err` is (or carries) INVALID_TXN_STATE: the coordinator has no such transaction open. */
export function isInvalidTxnStateError(err: unknown): boolean {
  return hasKafkaError(err, INVALID_TXN_STATE.types, INVALID_TXN_STATE.codes);
}
