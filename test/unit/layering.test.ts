// The folders of src/ are the data path's stages; imports between them must not form a cycle
// (a stage may use the ones below it, never the other way round), and the worker-thread code
// imports only src/shared/ of the main thread's modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) return tsFiles(rel);
    return name.endsWith('.ts') ? [rel] : [];
  });
}

/** Relative imports (static, side-effect and `import type`) of a file, as repo paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/(?:from|import)\s+'(\.[^']+)'/g)].map((m) => normalize(join(dirname(file), m[1])));
}

const folderOf = (file: string): string => {
  const parts = file.split('/');
  return parts[0] === 'workers' ? 'workers' : parts.length > 2 ? parts[1] : '(src)';
};

test('imports between the folders of src/ form no cycle', () => {
  const edges = new Map<string, Map<string, string>>();
  for (const f of [...tsFiles('src'), ...tsFiles('workers')]) {
    for (const target of importsOf(f)) {
      const [a, b] = [folderOf(f), folderOf(target)];
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Map());
      edges.get(a)!.set(b, `${f} imports ${relative(ROOT, join(ROOT, target))}`);
    }
  }
  const state = new Map<string, 'open' | 'done'>();
  const cycles: string[] = [];
  const visit = (u: string, path: string[]): void => {
    state.set(u, 'open');
    for (const [v, why] of edges.get(u) ?? []) {
      if (state.get(v) === 'open') cycles.push(`${[...path.slice(path.indexOf(v)), u, v].join(' > ')} (${why})`);
      else if (!state.has(v)) visit(v, [...path, u]);
    }
    state.set(u, 'done');
  };
  for (const u of edges.keys()) if (!state.has(u)) visit(u, []);
  assert.deepEqual(cycles, []);
});

test('worker-thread code imports only src/shared/ of the main thread', () => {
  const outside = tsFiles('workers').flatMap((f) => importsOf(f).filter((t) => !t.startsWith('workers/') && !t.startsWith('src/shared/')).map((t) => `${f} imports ${t}`));
  assert.deepEqual(outside, []);
});
