// Runs a Dockerfile's stages without Docker (these machines have no Docker engine): each stage
// gets its own directory standing in for the image's filesystem root, and WORKDIR, COPY
// (from the build context or --from another stage), RUN (sh -c in the working directory) and
// ENV are performed there. FROM only names the stage; USER, EXPOSE, HEALTHCHECK, STOPSIGNAL
// and CMD are recorded for the caller. The point is that a test runs the very commands the
// Dockerfile runs, so the two cannot drift apart.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  name: string;
  /** Stands in for the stage's "/". */
  root: string;
  /** Host path of the current WORKDIR. */
  cwd: string;
  /** Image path of the current WORKDIR. */
  workdir: string;
  env: Record<string, string>;
  cmd: string[] | null;
  healthcheck: string[] | null;
  user: string | null;
}

/** Instructions of a Dockerfile: comments dropped, backslash continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || line === '') continue; // comments may sit inside continuations too
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const full = pending + line;
    pending = '';
    const m = /^(\S+)\s+([\s\S]*)$/.exec(full);
    if (!m) throw new Error(`Dockerfile: cannot parse "${full}"`);
    out.push({ op: m[1].toUpperCase(), args: m[2].trim() });
  }
  return out;
}

/** Whether a context-relative path is excluded by .dockerignore patterns (no ! exceptions). */
export function dockerIgnored(path: string, patterns: string[]): boolean {
  return patterns.some((p) => {
    let re = '';
    for (let i = 0; i < p.length; i++) {
      if (p.startsWith('**/', i)) {
        re += '(?:.*/)?';
        i += 2;
      } else if (p.startsWith('**', i)) {
        re += '.*';
        i += 1;
      } else if (p[i] === '*') re += '[^/]*';
      else if (p[i] === '?') re += '[^/]';
      else re += p[i].replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    return new RegExp(`^${re}(?:/.*)?$`).test(path);
  });
}

export function readDockerignore(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => l.replace(/^\/+/, '').replace(/\/+$/, ''));
}

function expand(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? '');
}

/** Splits ENV's `K=V K2="V 2"` form (also the legacy `K V`). */
function parseEnv(args: string, vars: Record<string, string | undefined>): [string, string][] {
  if (!args.includes('=')) {
    const [k, ...rest] = args.split(/\s+/);
    return [[k, expand(rest.join(' '), vars)]];
  }
  const pairs: [string, string][] = [];
  for (const m of args.matchAll(/(\w+)=("([^"]*)"|\S*)/g)) pairs.push([m[1], expand(m[3] ?? m[2], vars)]);
  return pairs;
}

/** Leading --flag=value options of COPY/RUN, and the rest. */
function flags(args: string): { opts: Record<string, string>; rest: string } {
  const opts: Record<string, string> = {};
  let rest = args;
  for (let m = /^--([\w-]+)=(\S+)\s+/.exec(rest); m; m = /^--([\w-]+)=(\S+)\s+/.exec(rest)) {
    opts[m[1]] = m[2];
    rest = rest.slice(m[0].length);
  }
  return { opts, rest };
}

export interface RunOptions {
  /** The build context directory (already filtered by .dockerignore). */
  context: string;
  /** Directory under which each stage's root is created. */
  workDir: string;
  /** Extra environment for RUN steps (e.g. npm_config_prefer_offline); ENV lines override it. */
  runEnv: NodeJS.ProcessEnv;
  /** Called before each RUN, for logging. */
  onRun?: (stage: string, command: string) => void;
}

/** Performs every stage in order; returns them by name. */
export function runDockerfile(instructions: Instruction[], o: RunOptions): Map<string, Stage> {
  const stages = new Map<string, Stage>();
  const args: Record<string, string> = {};
  let stage: Stage | null = null;
  const hostPath = (s: Stage, p: string) => (isAbsolute(p) ? join(s.root, p) : join(s.cwd, p));
  for (const { op, args: a } of instructions) {
    if (op === 'ARG') {
      const [k, v = ''] = a.split('=');
      args[k] = v;
      continue;
    }
    if (op === 'FROM') {
      const m = /\s+AS\s+(\S+)$/i.exec(a);
      const name = m ? m[1] : `stage${stages.size}`;
      const root = join(o.workDir, name);
      mkdirSync(root, { recursive: true });
      stage = { name, root, cwd: root, workdir: '/', env: {}, cmd: null, healthcheck: null, user: null };
      stages.set(name, stage);
      continue;
    }
    if (!stage) throw new Error(`Dockerfile: ${op} before FROM`);
    const s: Stage = stage;
    switch (op) {
      case 'WORKDIR':
        s.workdir = isAbsolute(a) ? a : join(s.workdir, a);
        s.cwd = join(s.root, s.workdir);
        mkdirSync(s.cwd, { recursive: true });
        break;
      case 'ENV':
        for (const [k, v] of parseEnv(a, { ...o.runEnv, ...s.env })) s.env[k] = v;
        break;
      case 'COPY': {
        const { opts, rest } = flags(a);
        const parts = rest.split(/\s+/);
        const dest = parts.pop()!;
        const from = opts.from ? stages.get(opts.from) : null;
        if (opts.from && !from) throw new Error(`Dockerfile: COPY --from=${opts.from}: no such stage`);
        for (const src of parts) {
          const source = from ? hostPath(from, src) : join(o.context, src);
          if (!existsSync(source)) throw new Error(`Dockerfile: COPY ${src}: not found in ${from ? `stage ${from.name}` : 'the build context'}`);
          let target = hostPath(s, dest);
          // A file copied to a directory (dest ending in /) keeps its name; a directory's contents are copied.
          if (!statSync(source).isDirectory() && dest.endsWith('/')) target = join(target, basename(src));
          cpSync(source, target, { recursive: true });
        }
        break;
      }
      case 'RUN': {
        const { rest } = flags(a); // --mount=type=cache...: the host's npm cache plays that part
        o.onRun?.(s.name, rest);
        const r = spawnSync('sh', ['-c', rest], { cwd: s.cwd, env: { ...o.runEnv, ...s.env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        if (r.status !== 0) throw new Error(`Dockerfile stage ${s.name}: RUN ${rest} failed (exit ${r.status}):\n${(r.stdout + r.stderr).slice(-4000)}`);
        break;
      }
      case 'CMD':
        s.cmd = JSON.parse(a) as string[];
        break;
      case 'HEALTHCHECK': {
        const m = /CMD\s+(\[.*\])\s*$/.exec(a);
        if (!m) throw new Error('Dockerfile: HEALTHCHECK needs the exec form CMD [...]');
        s.healthcheck = JSON.parse(m[1]) as string[];
        break;
      }
      case 'USER':
        s.user = a;
        break;
      case 'EXPOSE':
      case 'STOPSIGNAL':
      case 'LABEL':
        break;
      default:
        throw new Error(`Dockerfile: ${op} is not supported by this runner; teach it or avoid it`);
    }
  }
  void args; // ARGs only parameterise FROM (the base image), which this runner does not use
  return stages;
}

/** A stage's PATH as the host sees it: entries inside the image map into the stage's root. */
export function hostPathVar(s: Stage): string {
  return (s.env.PATH ?? process.env.PATH ?? '')
    .split(':')
    .map((p) => (p.startsWith('/') && existsSync(join(s.root, p)) ? join(s.root, p) : p))
    .join(':');
}
