import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

/**
 * Latency histograms in integer microseconds, up to 60 s, 3 significant digits. Threads and
 * processes hand histograms over encoded (compressed base64) and they are merged with add(),
 * never by averaging percentiles.
 */
export function newLatencyHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 32 });
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(b64: string): Histogram {
  return hdr.decodeFromCompressedBase64(b64);
}

/** Merges encoded histograms into one. */
export function mergeHistograms(encoded: readonly string[]): Histogram {
  const out = newLatencyHistogram();
  for (const e of encoded) out.add(decodeHistogram(e));
  return out;
}

export interface LatencyPercentiles {
  p50_ms: number;
  p90_ms: number;
  p95_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  mean_ms: number;
  count: number;
}

const ms = (us: number): number => Math.round(us) / 1000;

export function percentilesOf(h: Histogram): LatencyPercentiles {
  if (h.totalCount === 0) return { p50_ms: NaN, p90_ms: NaN, p95_ms: NaN, p99_ms: NaN, p999_ms: NaN, max_ms: NaN, mean_ms: NaN, count: 0 };
  return {
    p50_ms: ms(h.getValueAtPercentile(50)),
    p90_ms: ms(h.getValueAtPercentile(90)),
    p95_ms: ms(h.getValueAtPercentile(95)),
    p99_ms: ms(h.getValueAtPercentile(99)),
    p999_ms: ms(h.getValueAtPercentile(99.9)),
    max_ms: ms(h.maxValue),
    mean_ms: Math.round(h.mean) / 1000,
    count: h.totalCount,
  };
}

/** Percentile → latency points for a CDF plot, denser in the tail. */
export function cdfOf(h: Histogram): { percentile: number; latency_ms: number }[] {
  if (h.totalCount === 0) return [];
  const ps = [0, 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97, 98, 99, 99.5, 99.7, 99.9, 99.95, 99.99, 100];
  return ps.map((p) => ({ percentile: p, latency_ms: ms(p === 0 ? h.minNonZeroValue : p === 100 ? h.maxValue : h.getValueAtPercentile(p)) }));
}
