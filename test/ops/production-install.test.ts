// The production install, as the Dockerfile does it: a build stage (npm ci, npm run build) and a
// runtime stage with only production dependencies (npm ci --omit=dev) plus dist/, bin/ and the
// model. No Docker here, so the Dockerfile's own WORKDIR/COPY/RUN/ENV steps run in temporary
// directories (test/kit/dockerfile.ts) on a clean copy of the repository. Then the runtime
// stage's CMD scores events in embedded mode, its HEALTHCHECK command passes, SIGTERM drains and
// exits 0, and `scorestream --help` works. npm uses the local cache (--prefer-offline).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '../kit/cli.js';
import { freePort } from '../kit/engine-process.js';
import { dockerIgnored, hostPathVar, parseDockerfile, readDockerignore, runDockerfile } from '../kit/dockerfile.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'ss-prod-install-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** The build context: the working tree as a clone would have it, minus .dockerignore. */
function buildContext(): string {
  const dir = join(work, 'context');
  const ignore = readDockerignore(join(ROOT, '.dockerignore'));
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const f of files) {
    if (dockerIgnored(f, ignore) || !existsSync(join(ROOT, f))) continue; // ignored, or deleted but not yet committed
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    copyFileSync(join(ROOT, f), join(dir, f));
  }
  return dir;
}

/** A user's environment with no scorestream setting in it (the image's ENV adds its own). */
function userEnv(): NodeJS.ProcessEnv {
  const env = cleanEnv();
  for (const k of Object.keys(env)) if (k.startsWith('npm_')) delete env[k]; // not npm run's own settings
  delete env.NODE_OPTIONS;
  return env;
}

test('Dockerfile stages in a clean copy: npm ci --omit=dev runtime scores events, passes its HEALTHCHECK, drains on SIGTERM; scorestream --help', { timeout: 240_000 }, async (t) => {
  const context = buildContext();
  assert.ok(!existsSync(join(context, 'node_modules')) && !existsSync(join(context, 'dist')), 'the context holds no node_modules or dist');
  const runs: string[] = [];
  const started = Date.now();
  const stages = runDockerfile(parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8')), {
    context,
    workDir: join(work, 'stages'),
    runEnv: { ...userEnv(), npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
    onRun: (stage, cmd) => runs.push(`${stage}: ${cmd}`),
  });
  t.diagnostic(`stages built in ${((Date.now() - started) / 1000).toFixed(1)} s: ${runs.join(' | ')}`);
  const runtime = stages.get('runtime');
  assert.ok(runtime, 'the Dockerfile has a stage named runtime');
  assert.ok(runtime.cmd && runtime.healthcheck, 'runtime stage has CMD and HEALTHCHECK');
  assert.equal(runtime.env.METRICS_HOST, '0.0.0.0', 'metrics bound to all interfaces in the container');
  assert.ok(runtime.user && runtime.user !== 'root' && runtime.user !== '0', `non-root USER (${runtime.user})`);

  // The runtime stage holds no dev dependency and no TypeScript source.
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string>; bin: Record<string, string> };
  for (const dev of Object.keys(pkg.devDependencies)) assert.ok(!existsSync(join(runtime.cwd, 'node_modules', dev)), `dev dependency ${dev} installed in the runtime stage`);
  assert.ok(!existsSync(join(runtime.cwd, 'src')), 'no src/ in the runtime stage');

  // CMD, with the image's ENV: the embedded generator (no KAFKA_BROKERS) scores events.
  const port = await freePort();
  const env = { ...userEnv(), ...runtime.env, PATH: hostPathVar(runtime), METRICS_PORT: String(port), GENERATOR_RATE: '500', WORKERS: '1', STATUS_LINE: 'off' };
  const [cmd, ...args] = runtime.cmd;
  const child = spawn(cmd, args, { cwd: runtime.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let done = false;
  void exited.then(() => (done = true));
  const predictions = () => out.split('\n').filter((l) => l.startsWith('{') && l.endsWith('}')).map((l) => JSON.parse(l) as { prediction: number; fallback: boolean });
  try {
    const deadline = Date.now() + 60_000;
    while (predictions().length < 100) {
      if (done) throw new Error(`engine exited early:\n${err.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`fewer than 100 predictions in 60 s:\n${err.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const p of predictions()) assert.ok(p.prediction >= 0 && p.prediction <= 1 && p.fallback === false, JSON.stringify(p));
    // The HEALTHCHECK's own command, run the way Docker runs it (same env, inside the container).
    const [hc, ...hcArgs] = runtime.healthcheck;
    const health = spawnSync(hc, hcArgs, { cwd: runtime.cwd, env, encoding: 'utf8', timeout: 10_000 });
    assert.equal(health.status, 0, `HEALTHCHECK failed: ${health.stderr}`);
  } finally {
    child.kill('SIGTERM'); // what docker stop / the kubelet send
  }
  assert.equal(await exited, 0, err.slice(-3000));
  const stopped = err.split('\n').find((l) => l.includes('"msg":"stopped"'));
  assert.ok(stopped, err.slice(-3000));
  assert.equal(JSON.parse(stopped).drained, true);
  assert.ok(!/Warning|DeprecationWarning|ExperimentalWarning/.test(err), `warnings on stderr:\n${err.split('\n').filter((l) => /Warning/.test(l)).join('\n')}`);

  // `scorestream --help` through package.json's bin, as a global install links it.
  const binDir = join(work, 'global-bin');
  mkdirSync(binDir, { recursive: true });
  symlinkSync(join(runtime.cwd, pkg.bin.scorestream), join(binDir, 'scorestream'));
  const help = spawnSync('scorestream', ['--help'], { cwd: tmpdir(), env: { ...env, PATH: `${binDir}:${env.PATH}` }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /KAFKA_BROKERS/);
  assert.match(help.stdout, /METRICS_HOST/);
  // And from the image's PATH (/app/bin), as `docker run scorestream scorestream --help` would.
  const inImage = spawnSync('scorestream', ['--help'], { cwd: runtime.cwd, env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(inImage.status, 0, inImage.stderr);
});
