// Fetch sizing that follows the arrival rate. kafkajs takes minBytes/maxWaitTime once, at consumer
// construction, and sends the same pair with every fetch. A batching pair (64 KiB / 5 ms) keeps
// the main thread off per-fetch overhead under load, but with no traffic it means a fetch every
// 5 ms: 13-29% of a core doing nothing (docs/hot-path.md). With no traffic the broker can hold the
// fetch instead (minBytes 1, a long max wait): it answers as soon as one record arrives, so the
// first event after a quiet spell is not delayed, and an idle engine wakes a few times a second.
//
// kafkajs has no API for this; its ConsumerGroup reads this.minBytes / this.maxWaitTime on every
// fetch (consumerGroup.js, fetch(nodeId)), so the patch sets them before each fetch. It patches
// the class prototype (works whenever loaded) and acts only for group ids registered here: other
// kafkajs consumers in the process (test audits, the bench) keep their own settings.
import './kafkajs-read-committed.js'; // its patches must be in place before kafkajs's consumer modules load (below)
import { createRequire } from 'node:module';

export interface AdaptiveFetch {
  /** The batching pair, under load. */
  busy: { minBytes: number; maxWaitMs: number };
  /** With no traffic: minBytes 1 and this long a wait. */
  idleMaxWaitMs: number;
}

interface BatchLike {
  isEmpty(): boolean;
}
interface ConsumerGroupLike {
  groupId: string;
  minBytes: number;
  maxWaitTime: number;
  fetch(nodeId: number): Promise<BatchLike[]>;
  [IDLE]?: boolean;
}

const IDLE = Symbol('scorestream.adaptiveFetch.idle');
const PATCHED = Symbol.for('scorestream.kafkajs.adaptiveFetch');
const policies = new Map<string, AdaptiveFetch>();
/** Sources per group id (in-process tests run several members of one group). */
const users = new Map<string, number>();

export function registerAdaptiveFetch(groupId: string, policy: AdaptiveFetch): void {
  policies.set(groupId, policy);
  users.set(groupId, (users.get(groupId) ?? 0) + 1);
}

export function unregisterAdaptiveFetch(groupId: string): void {
  const n = (users.get(groupId) ?? 1) - 1;
  if (n > 0) return void users.set(groupId, n);
  users.delete(groupId);
  policies.delete(groupId);
}

const require = createRequire(import.meta.url);
const ConsumerGroup = require('kafkajs/src/consumer/consumerGroup.js') as { prototype: ConsumerGroupLike & Record<symbol, unknown> };
const proto = ConsumerGroup.prototype;

if (!proto[PATCHED]) {
  const original = proto.fetch;
  proto[PATCHED] = true;
  proto.fetch = async function fetch(this: ConsumerGroupLike, nodeId: number): Promise<BatchLike[]> {
    const policy = policies.size ? policies.get(this.groupId) : undefined;
    if (!policy) return original.call(this, nodeId);
    const idle = this[IDLE] === true;
    this.minBytes = idle ? 1 : policy.busy.minBytes;
    // With no fetchable partition kafkajs sleeps maxWaitTime instead of fetching; that stays the
    // busy wait (idle is entered only after the broker itself returned nothing).
    this.maxWaitTime = idle ? policy.idleMaxWaitMs : policy.busy.maxWaitMs;
    const batches = await original.call(this, nodeId);
    // An empty array: no request was made (all paused, or an error recovered): keep the mode.
    if (batches.length > 0) {
      let empty = true;
      for (const b of batches) if (!b.isEmpty()) empty = false;
      this[IDLE] = empty;
    }
    return batches;
  };
}
