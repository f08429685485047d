import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './services.js';

/**
 * The bench compiles the project into its own directory (not dist/, which other builds and
 * tests on the same checkout may be rewriting meanwhile) and runs the engine from there.
 * Incremental, so a rerun recompiles only what changed.
 */
export const BUILD_DIR = '.cache/bench-build';

export function buildEngine(log: (s: string) => void): boolean {
  const out = join(ROOT, BUILD_DIR);
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  log(`compiling to ${BUILD_DIR}/ (the engine runs compiled, as users run it)`);
  let report = '';
  try {
    execFileSync(process.execPath, [tsc, '-p', 'bench/tsconfig.bench.json', '--outDir', out, '--incremental', '--tsBuildInfoFile', join(out, '.tsbuildinfo')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    report = String((err as { stdout?: Buffer }).stdout ?? '') + String((err as { stderr?: Buffer }).stderr ?? '');
  }
  // tsc emits despite type errors (say, in a test another engineer is editing): use that.
  if (!existsSync(join(out, 'src/main.js'))) {
    log(`build failed; fix it, or run from sources with --runtime tsx:\n${report.slice(-3000)}`);
    return false;
  }
  for (const f of readdirSync(join(ROOT, 'src/features'))) if (f.endsWith('.lua')) copyFileSync(join(ROOT, 'src/features', f), join(out, 'src/features', f));
  if (report) {
    const errors = report.split('\n').filter((l) => /error TS\d+/.test(l));
    log(`build: tsc reported ${errors.length} type error(s); using the emitted code: ${errors.slice(0, 3).join(' | ')}`);
  }
  return true;
}
