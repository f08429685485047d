// The bench's load harness, in its own process so its CPU is measured apart from everything else:
// an open-loop generator and a latency reader on one thread. Started by harness.ts.
import type { Histogram } from 'hdr-histogram-js';
import { nowUs } from '../clock.js';
import { encodeHistogram, newLatencyHistogram } from '../histogram.js';
import type { HarnessClient } from './kafkajs-client.js';
import type { FromHarness, HarnessInit, ToHarness } from './protocol.js';
import { Workload, isFallback, seqOf, type EncodedEvents } from './workload.js';

/**
 * Generator: one wake-up per tick sends every due event in one produce request; event i is
 * scheduled at t0 + i/rate rounded up to the tick (bursts, as from producers with linger.ms = tick)
 * on this process's clock and sent when due, never waiting for replies (no coordinated omission), at most MAX_IN_FLIGHT
 * requests outstanding (events due meanwhile go in the next, bigger request).
 * Reader: runs when a fetch response arrives; latency = read time − scheduled time, matched by
 * the product_id sequence number.
 */
const MAX_IN_FLIGHT = 8;
const MAX_SEND = 5000;

const init = JSON.parse(process.env.BENCH_HARNESS_INIT ?? '{}') as HarnessInit;
const send = (m: FromHarness): void => void process.send!(m);

// Per sequence number: scheduled time (µs, this process's monotonic clock), seen/failed flags.
let sched = new Float64Array(1 << 16).fill(NaN);
let flags = new Uint8Array(1 << 16);
const SEEN = 1;
const FAILED = 2;
function ensure(n: number): void {
  if (n <= sched.length) return;
  let len = sched.length;
  while (len < n) len *= 2;
  const s = new Float64Array(len).fill(NaN);
  s.set(sched);
  sched = s;
  const f = new Uint8Array(len);
  f.set(flags);
  flags = f;
}

interface Window {
  step: number;
  startUs: number;
  endUs: number;
  seqFrom: number;
  seqTo: number;
  hist: Histogram;
  completed: number;
  readInWindow: number;
  fallbacks: number;
}
const windows: Window[] = [];
let read = 0;
let duplicates = 0;
let acked = 0;

const workload = new Workload(init.inputTopic, init.partitions, init.users, init.seed);
// Only the chosen client is loaded: the others' modules would only grow the heap the GC walks.
async function openClient(): Promise<HarnessClient> {
  if (init.client === 'kafkajs') return (await import('./kafkajs-client.js')).kafkajsClient(init);
  if (init.client === 'platformatic') return (await import('./platformatic-client.js')).platformaticClient(init);
  return (await import('./wire-client.js')).wireClient(init);
}
const client = await openClient();
const epochOffsetMs = Date.now() - nowUs() / 1000;

// One clock read per fetch response, not per value (nowUs allocates a BigInt): values handed over
// in one synchronous run arrived together.
let readStamp = 0;
const clearStamp = (): void => {
  readStamp = 0;
};

function onValue(v: Buffer, start: number, end: number): void {
  if (readStamp === 0) {
    readStamp = nowUs();
    queueMicrotask(clearStamp);
  }
  const readUs = readStamp;
  const seq = seqOf(v, start, end);
  if (seq < 0 || seq >= sched.length) return;
  if (flags[seq] & SEEN) {
    duplicates++;
    return;
  }
  flags[seq] |= SEEN;
  read++;
  for (const w of windows) {
    if (readUs >= w.startUs && readUs < w.endUs) w.readInWindow++;
    if (seq >= w.seqFrom && seq < w.seqTo) {
      w.hist.recordValue(Math.max(1, Math.round(readUs - sched[seq])));
      w.completed++;
      if (isFallback(v, start, end)) w.fallbacks++;
    }
  }
}

/** Sends events [from, to) of `ev`; marks them failed if the broker refuses them. */
function produce(ev: EncodedEvents, from: number, to: number): Promise<number> {
  return client.send(ev, from, to).then(
    () => {
      acked += to - from;
      return 0;
    },
    () => {
      for (let i = from; i < to; i++) flags[ev.firstSeq + i] |= FAILED;
      return to - from;
    },
  );
}

async function runStep(m: Extract<ToHarness, { t: 'step' }>): Promise<void> {
  const intervalUs = 1e6 / m.rate;
  const tickUs = init.tickMs * 1000;
  const total = Math.floor(((m.warmupMs + m.durationMs) * m.rate) / 1000);
  // Event i is due at its nominal time i/rate rounded up to the next tick: the upstream producers
  // modelled send in bursts, as a client with linger.ms = tick does, and the generator wakes only
  // on ticks. Latency counts from the burst's scheduled instant, so the tick adds no wait of its
  // own to the latency, and a late wake-up (timer jitter, a busy CPU) is still counted (open loop).
  const offsetOf = (i: number): number => Math.ceil((i * intervalUs) / tickUs - 1e-9) * tickUs;
  // Encoded before t0, outside the schedule: the send loop only slices bytes.
  // timestamp_ms is the scheduled time, so t0 is planned before encoding (about 3 µs an event).
  const plannedT0 = nowUs() + 20_000 + total * 3;
  const ev = workload.encode(total, (i) => epochOffsetMs + (plannedT0 + offsetOf(i)) / 1000);
  ensure(ev.firstSeq + total);
  const t0 = Math.max(plannedT0, nowUs() + 5_000);
  for (let i = 0; i < total; i++) sched[ev.firstSeq + i] = t0 + offsetOf(i);
  const startUs = t0 + m.warmupMs * 1000;
  const endUs = startUs + m.durationMs * 1000;
  let firstMeasured = 0;
  while (firstMeasured < total && sched[ev.firstSeq + firstMeasured] < startUs) firstMeasured++;
  let lastMeasured = firstMeasured;
  while (lastMeasured < total && sched[ev.firstSeq + lastMeasured] < endUs) lastMeasured++;
  windows.push({ step: m.step, startUs, endUs, seqFrom: ev.firstSeq + firstMeasured, seqTo: ev.firstSeq + lastMeasured, hist: newLatencyHistogram(), completed: 0, readInWindow: 0, fallbacks: 0 });
  setTimeout(() => send({ t: 'edge', step: m.step, edge: 'start' }), (startUs - nowUs()) / 1000);
  setTimeout(() => send({ t: 'edge', step: m.step, edge: 'end' }), (endUs - nowUs()) / 1000);
  const lag = newLatencyHistogram();
  let next = 0;
  let inFlight = 0;
  let sendErrors = 0;
  let requests = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const tick = (): void => {
    const now = nowUs();
    let due = next;
    while (due < total && sched[ev.firstSeq + due] <= now) due++;
    while (next < due && inFlight < MAX_IN_FLIGHT) {
      const from = next;
      const to = Math.min(due, from + MAX_SEND);
      next = to;
      // One burst shares one scheduled instant: record the send lag once per burst, with its count.
      for (let i = Math.max(from, firstMeasured), end = Math.min(to, lastMeasured); i < end; ) {
        const at = sched[ev.firstSeq + i];
        let j = i + 1;
        while (j < end && sched[ev.firstSeq + j] === at) j++;
        lag.recordValueWithCount(Math.max(1, Math.round(now - at)), j - i);
        i = j;
      }
      inFlight++;
      requests++;
      void produce(ev, from, to).then((failed) => {
        sendErrors += failed;
        inFlight--;
        if (next >= total && inFlight === 0) finish();
      });
    }
    if (next >= total) return;
    setTimeout(tick, Math.max(0, (sched[ev.firstSeq + next] - nowUs()) / 1000));
  };
  setTimeout(tick, Math.max(0, (t0 - nowUs()) / 1000));
  await done;
  let failedMeasured = 0;
  for (let i = firstMeasured; i < lastMeasured; i++) if (flags[ev.firstSeq + i] & FAILED) failedMeasured++;
  send({ t: 'sent', step: m.step, measured: lastMeasured - firstMeasured - failedMeasured, sent: total, sendErrors, requests, sendLagHistogram: encodeHistogram(lag) });
}

/** `count` events as fast as the broker takes them (a backlog for drain measurements). */
async function runBacklog(count: number): Promise<void> {
  const t = nowUs();
  const ev = workload.encode(count, () => epochOffsetMs + t / 1000);
  ensure(ev.firstSeq + count);
  for (let i = 0; i < count; i++) sched[ev.firstSeq + i] = t;
  let sendErrors = 0;
  const pending = new Set<Promise<void>>();
  for (let from = 0; from < count; from += MAX_SEND) {
    const p: Promise<void> = produce(ev, from, Math.min(count, from + MAX_SEND)).then((f) => {
      sendErrors += f;
      pending.delete(p);
    });
    pending.add(p);
    if (pending.size >= MAX_IN_FLIGHT) await Promise.race(pending);
  }
  await Promise.all(pending);
  send({ t: 'backlog-done', sent: count, sendErrors, ms: Math.round((nowUs() - t) / 1000) });
}

function finishWindow(step: number): void {
  const i = windows.findIndex((w) => w.step === step);
  const w = windows[i];
  if (!w) {
    send({ t: 'result', step, histogram: encodeHistogram(newLatencyHistogram()), completed: 0, unfinished: 0, readInWindow: 0, fallbacks: 0 });
    return;
  }
  windows.splice(i, 1);
  const cutoffUs = nowUs();
  let unfinished = 0;
  for (let s = w.seqFrom; s < w.seqTo; s++) {
    if (flags[s] & (SEEN | FAILED)) continue;
    w.hist.recordValue(Math.max(1, Math.round(cutoffUs - sched[s])));
    unfinished++;
  }
  send({ t: 'result', step, histogram: encodeHistogram(w.hist), completed: w.completed, unfinished, readInWindow: w.readInWindow, fallbacks: w.fallbacks });
}

let queue = Promise.resolve();
const fail = (err: Error) => send({ t: 'error', message: err.stack ?? err.message });
process.on('message', (m: ToHarness) => {
  if (m.t === 'step') queue = queue.then(() => runStep(m)).catch(fail);
  else if (m.t === 'backlog') queue = queue.then(() => runBacklog(m.count)).catch(fail);
  else if (m.t === 'stats') {
    const completed: Record<number, number> = {};
    for (const w of windows) completed[w.step] = w.completed;
    send({ t: 'stats', read, duplicates, acked, completed });
  } else if (m.t === 'finish') finishWindow(m.step);
  else if (m.t === 'close') void queue.then(() => client.close()).finally(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));

(init.read ? client.startReader(onValue) : Promise.resolve()).then(() => send({ t: 'ready' }), fail);
