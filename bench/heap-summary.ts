// Summarises a V8 .heapsnapshot by (node type, constructor name): count and self size, and
// compares two. Parses the file from a Buffer without JSON.parse on the whole text (a snapshot
// of a large heap is longer than V8's maximum string length); only the strings table is parsed
// as JSON.
import { readFileSync } from 'node:fs';

export interface HeapGroup {
  key: string;
  count: number;
  bytes: number;
}

export interface HeapSummary {
  totalBytes: number;
  nodes: number;
  groups: Map<string, HeapGroup>;
}

/** Index of `needle` in `buf` at or after `from`; throws when absent. */
function find(buf: Buffer, needle: string, from = 0): number {
  const i = buf.indexOf(needle, from, 'latin1');
  if (i < 0) throw new Error(`heap snapshot: no ${needle}`);
  return i;
}

/** The unsigned integers of a JSON array of numbers starting at `start` ('['), until its ']'. */
function parseNumbers(buf: Buffer, start: number, count: number): Float64Array {
  const out = new Float64Array(count);
  let n = 0;
  let cur = -1;
  for (let i = start + 1; i < buf.length; i++) {
    const c = buf[i];
    if (c >= 48 && c <= 57) cur = (cur < 0 ? 0 : cur * 10) + (c - 48);
    else {
      if (cur >= 0) {
        out[n++] = cur;
        cur = -1;
      }
      if (c === 93) break; // ]
    }
  }
  if (n !== count) throw new Error(`heap snapshot: ${n} numbers, expected ${count}`);
  return out;
}

export function summarizeHeapSnapshot(path: string): HeapSummary {
  const buf = readFileSync(path);
  const nodesAt = find(buf, '"nodes":[');
  const header = JSON.parse(buf.toString('utf8', 0, nodesAt).replace(/,\s*$/, '') + '}') as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] }; node_count: number };
  };
  const { meta, node_count: nodeCount } = header.snapshot;
  const width = meta.node_fields.length;
  const fType = meta.node_fields.indexOf('type');
  const fName = meta.node_fields.indexOf('name');
  const fSize = meta.node_fields.indexOf('self_size');
  const types = meta.node_types[0];
  const nodes = parseNumbers(buf, nodesAt + '"nodes":'.length, nodeCount * width);
  const stringsAt = find(buf, '"strings":[', nodesAt);
  const end = buf.lastIndexOf(']');
  const strings = JSON.parse(buf.toString('utf8', stringsAt + '"strings":'.length, end + 1)) as string[];
  const groups = new Map<string, HeapGroup>();
  let totalBytes = 0;
  for (let i = 0; i < nodeCount; i++) {
    const o = i * width;
    const type = types[nodes[o + fType]];
    const size = nodes[o + fSize];
    totalBytes += size;
    // Objects and closures by constructor/function name; strings, arrays, code... by type alone.
    const key = type === 'object' || type === 'closure' || type === 'native' ? `${type}:${strings[nodes[o + fName]]}` : `(${type})`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, count: 0, bytes: 0 }));
    g.count++;
    g.bytes += size;
  }
  return { totalBytes, nodes: nodeCount, groups };
}

/** The groups that grew most from `a` to `b` (by bytes). */
export function heapGrowth(a: HeapSummary, b: HeapSummary, top = 12): { key: string; countDelta: number; bytesDelta: number; bytesEnd: number }[] {
  const keys = new Set([...a.groups.keys(), ...b.groups.keys()]);
  const rows = [...keys].map((key) => {
    const x = a.groups.get(key) ?? { count: 0, bytes: 0 };
    const y = b.groups.get(key) ?? { count: 0, bytes: 0 };
    return { key, countDelta: y.count - x.count, bytesDelta: y.bytes - x.bytes, bytesEnd: y.bytes };
  });
  return rows.sort((p, q) => q.bytesDelta - p.bytesDelta).slice(0, top);
}
