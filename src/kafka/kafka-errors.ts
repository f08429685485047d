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
 * Calls `visit` with the name and code of `err`, of each error in its cause chain and of each it
 * aggregates, until `visit` returns true (then true). kafkajs wraps a protocol error in
 * KafkaJSNonRetriableError / KafkaJSNumberOfRetriesExceeded with the original as `cause` and names
 * it `type` / `code`; @platformatic/kafka aggregates (`errors`: MultipleErrors of its retries,
 * ResponseError of a response) ProtocolErrors that name it `apiId` / `apiCode` (its `code` is
 * 'PLT_KFK_PROTOCOL'). Errors are told apart by name and code, never by message.
 */
function someKafkaError(err: unknown, visit: (name: string | undefined, code: number | undefined) => boolean): boolean {
  const queue: unknown[] = [err];
  for (let i = 0; i < queue.length && i < MAX_VISITED; i++) {
    const e = queue[i];
    if (!e || typeof e !== 'object') continue;
    const { type, code, apiId, apiCode, cause, errors } = e as Record<string, unknown>;
    const name = typeof type === 'string' ? type : typeof apiId === 'string' ? apiId : undefined;
    const num = typeof code === 'number' ? code : typeof apiCode === 'number' ? apiCode : undefined;
    if ((name !== undefined || num !== undefined) && visit(name, num)) return true;
    if (cause) queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return false;
}

/** True when `err` carries a Kafka error named in `types` or numbered in `codes` (see someKafkaError). */
export function hasKafkaError(err: unknown, types: ReadonlySet<string>, codes: ReadonlySet<number>): boolean {
  return someKafkaError(err, (name, code) => (name !== undefined && types.has(name)) || (code !== undefined && codes.has(code)));
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

const REBALANCE = {
  types: new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS']),
  codes: new Set([22, 25, 27]),
};

/**
 * True when the group coordinator rejected offsets for the member's generation (KIP-447): the
 * group is rebalancing or has just moved to a new generation. Expected around every rebalance.
 */
export function isRebalanceError(err: unknown): boolean {
  return hasKafkaError(err, REBALANCE.types, REBALANCE.codes);
}

/** The Kafka error names found along the chain and aggregates, for messages (the clients' own say little). */
export function kafkaErrorNames(err: unknown): string[] {
  const names = new Set<string>();
  someKafkaError(err, (name) => {
    if (name) names.add(name);
    return false;
  });
  return [...names];
}
