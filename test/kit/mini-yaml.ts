// A small YAML reader for Kubernetes manifests as `helm template` renders them: block mappings
// and sequences (also "key:\n- item" at the key's indent), plain and quoted scalars, {} and [],
// comments, `---` documents. No anchors, flow collections with content, or block scalars (|, >):
// those throw, so a chart that starts using them fails loudly instead of being misread.
// (No YAML library is a dependency of this project; this keeps it that way.)

type Value = string | number | boolean | null | Value[] | { [k: string]: Value };

interface Line {
  indent: number;
  text: string;
  no: number;
}

function scalar(raw: string, no: number): Value {
  const s = raw.trim();
  if (s === '' || s === '~' || s === 'null') return null;
  if (s === '{}') return {};
  if (s === '[]') return [];
  if (s.startsWith('"')) return JSON.parse(s) as string;
  if (s.startsWith("'")) return s.slice(1, -1).replace(/''/g, "'");
  if (/^[|>[{&*!]/.test(s)) throw new Error(`mini-yaml: line ${no}: unsupported syntax "${s}"`);
  if (s === 'true' || s === 'false') return s === 'true';
  if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
  return s;
}

/** Strips a trailing comment that is outside quotes. */
function stripComment(t: string): string {
  let q: string | null = null;
  for (let i = 0; i < t.length; i++) {
    const c = t[i];
    if (q) {
      if (c === q && t[i - 1] !== '\\') q = null;
    } else if (c === '"' || c === "'") q = c;
    else if (c === '#' && (i === 0 || t[i - 1] === ' ')) return t.slice(0, i).trimEnd();
  }
  return t;
}

/** Splits "key: rest" (key possibly quoted); null when the text is not a mapping entry. */
function keyValue(t: string): [string, string] | null {
  const m = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^\s:#'"][^:#]*?)\s*:(?:\s+(.*))?$/.exec(t);
  if (!m) return null;
  const k = m[1].startsWith('"') ? (JSON.parse(m[1]) as string) : m[1].startsWith("'") ? m[1].slice(1, -1) : m[1];
  return [k, m[2] ?? ''];
}

function parseBlock(lines: Line[], i: number, indent: number): [Value, number] {
  const first = lines[i];
  if (first.text.startsWith('- ') || first.text === '-') {
    const arr: Value[] = [];
    while (i < lines.length && lines[i].indent === indent && (lines[i].text.startsWith('- ') || lines[i].text === '-')) {
      const rest = lines[i].text.slice(1).trimStart();
      const childIndent = indent + (lines[i].text.length - rest.length);
      if (rest === '') {
        const [v, j] = parseBlock(lines, i + 1, lines[i + 1].indent);
        arr.push(v);
        i = j;
      } else if (keyValue(rest)) {
        // "- key: v" starts a mapping whose further keys sit at the column of "key".
        const sub: Line[] = [{ indent: childIndent, text: rest, no: lines[i].no }];
        let j = i + 1;
        while (j < lines.length && lines[j].indent >= childIndent) sub.push(lines[j++]);
        const [v] = parseBlock(sub, 0, childIndent);
        arr.push(v);
        i = j;
      } else {
        arr.push(scalar(rest, lines[i].no));
        i++;
      }
    }
    return [arr, i];
  }
  const obj: { [k: string]: Value } = {};
  while (i < lines.length && lines[i].indent === indent) {
    const kv = keyValue(lines[i].text);
    if (!kv) throw new Error(`mini-yaml: line ${lines[i].no}: expected "key: value", got "${lines[i].text}"`);
    const [k, rest] = kv;
    if (rest !== '') {
      obj[k] = scalar(rest, lines[i].no);
      i++;
      continue;
    }
    const next = lines[i + 1];
    if (next && (next.indent > indent || (next.indent === indent && next.text.startsWith('- ')))) {
      const [v, j] = parseBlock(lines, i + 1, next.indent);
      obj[k] = v;
      i = j;
    } else {
      obj[k] = null;
      i++;
    }
  }
  if (i < lines.length && lines[i].indent > indent) throw new Error(`mini-yaml: line ${lines[i].no}: unexpected indentation`);
  return [obj, i];
}

/** Every non-empty document of a multi-document YAML text. */
export function parseYamlDocuments(text: string): Value[] {
  const docs: Value[] = [];
  for (const chunk of text.split(/^---\s*$/m)) {
    const lines: Line[] = [];
    chunk.split('\n').forEach((raw, n) => {
      const t = stripComment(raw.trimStart()).trimEnd();
      if (t === '' || t.startsWith('#')) return;
      lines.push({ indent: raw.length - raw.trimStart().length, text: t, no: n + 1 });
    });
    if (lines.length === 0) continue;
    const [v, end] = parseBlock(lines, 0, lines[0].indent);
    if (end !== lines.length) throw new Error(`mini-yaml: line ${lines[end].no}: not parsed`);
    docs.push(v);
  }
  return docs;
}
