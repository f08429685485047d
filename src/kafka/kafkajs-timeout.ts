// kafkajs 2.2.4 schedules its request-queue check with setTimeout(fn, throttledUntil - Date.now()),
// and throttledUntil starts at -1: a delay of about minus the epoch in ms. Node has always run such
// a timer after 1 ms; Node 24 also prints "TimeoutNegativeWarning: -17...e12 is a negative number"
// on the engine's first Kafka response (kafkajs issue #1751, unreleased fix PR #1768). This clamps
// the delay to the 1 ms Node uses anyway, so the behaviour is unchanged and the warning goes.
// It patches the class prototype, so it works whenever it is loaded, before or after kafkajs.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const CHECK_PENDING_REQUESTS_INTERVAL = 10; // kafkajs's own constant in requestQueue/index.js

interface RequestQueueLike {
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  pending: unknown[];
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

const PATCHED = Symbol.for('scorestream.kafkajs.nonNegativeTimeout');
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: RequestQueueLike & Record<symbol, boolean> };
const proto = RequestQueue.prototype;

if (!proto[PATCHED]) {
  proto[PATCHED] = true;
  // kafkajs's method, with the delay clamped to >= 1 ms.
  proto.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueLike) {
    let scheduleAt = this.throttledUntil - Date.now();
    if (this.throttleCheckTimeoutId) return;
    if (this.pending.length > 0) scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL;
    this.throttleCheckTimeoutId = setTimeout(() => {
      this.throttleCheckTimeoutId = null;
      this.checkPendingRequests();
    }, Math.max(1, scheduleAt));
  };
}
