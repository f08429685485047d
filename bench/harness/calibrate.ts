import { CpuSnapshot } from '../cpu-sampler.js';
import { decodeHistogram, percentilesOf } from '../histogram.js';
import { KAFKA_BROKERS, createTopics, deleteGroups, deleteTopics, uniqueName } from '../services.js';
import type { Runtime } from '../target-process.js';
import { Harness, type HarnessSettings } from './harness.js';
import { setNice } from '../pinning.js';

export interface HarnessCalibration {
  rate: number;
  seconds: number;
  /** Generator + reader process, % of one core over the measured window. */
  harness_pct: number | null;
  /** Same, per 1,000 events/s. */
  harness_pct_per_1000eps: number | null;
  produce_requests_per_s: number;
  /** Produce → read back through the broker alone (the harness's own floor). */
  p50_ms: number;
  p99_ms: number;
  achieved_rate: number;
  client: string;
  tick_ms: number;
  fetch_wait_ms: number;
}

/**
 * The harness's own cost: it produces at `rate` and reads its own input topic back (no engine),
 * so the CPU of its process is all generator and reader.
 */
export async function calibrateHarness(rate: number, seconds: number, runtime: Runtime, settings: HarnessSettings, nice = 0): Promise<HarnessCalibration> {
  const id = uniqueName('bench-harness-cal');
  const topic = `${id}-in`;
  await createTopics([topic], 4);
  const h = Harness.start({ brokers: KAFKA_BROKERS.split(','), inputTopic: topic, readTopic: topic, groupId: `${id}-reader`, partitions: 4, users: 10_000, seed: 7, read: true, ...settings }, runtime);
  try {
    await h.ready;
    if (nice) setNice(h.pid, nice, false);
    await h.step(1, Math.min(rate, 2000), 0, 1500); // warm-up: JIT, connections
    await h.finish(1);
    const warmupMs = 1000;
    let c0: CpuSnapshot | null = null;
    const t = setTimeout(() => (c0 = new CpuSnapshot({ harness: h.pid })), warmupMs + 20);
    const sent = await h.step(2, rate, warmupMs, seconds * 1000);
    const c1 = new CpuSnapshot({ harness: h.pid });
    clearTimeout(t);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && ((await h.stats()).completed[2] ?? 0) < sent.measured) await new Promise((r) => setTimeout(r, 20));
    const lat = await h.finish(2);
    const p = percentilesOf(decodeHistogram(lat.histogram));
    const use = c0 ? (c0 as CpuSnapshot).diff(c1).procs.harness : null;
    return {
      rate,
      seconds,
      harness_pct: use?.pct ?? null,
      harness_pct_per_1000eps: use ? Math.round((use.pct / (rate / 1000)) * 100) / 100 : null,
      produce_requests_per_s: Math.round(sent.requests / (seconds + warmupMs / 1000)),
      p50_ms: p.p50_ms,
      p99_ms: p.p99_ms,
      achieved_rate: Math.round(lat.readInWindow / seconds),
      client: settings.client,
      tick_ms: settings.tickMs,
      fetch_wait_ms: settings.fetchWaitMs,
    };
  } finally {
    await h.close();
    await Promise.allSettled([deleteTopics([topic]), deleteGroups([`${id}-reader`])]);
  }
}
