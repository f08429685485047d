import type { FeatureDef, FeatureSet } from './feature-set.js';

/**
 * Generates the Redis script for a declared feature set, once at start-up: the arithmetic of
 * every kind in Lua (feature-kinds.ts is the same in TypeScript, models/features.py in Python;
 * keep the three in step, the golden vectors check them).
 *
 * KEYS[i]                 user hash for event i (one key per event; a user may repeat, in order)
 * ARGV[1]                 ttl seconds
 * ARGV[2 + 5(i-1) ..]     per event: event code (0 view, 1 cart, 2 purchase), timestamp ms,
 *                         category, guard field (last applied offset of its input partition), offset
 * Returns, per event, little-endian float32 x (width + 1): the features after the event, then
 * 1 when the replay guard skipped the update. A replay leaves the hash untouched and returns
 * the features stored at the user's last applied event.
 *
 * The hash holds 't' (last event time, never backwards), the guards ('o:<topic>:<partition>'),
 * each feature's value after the last applied event and the extra state of since_last /
 * distinct_categories: in their own fields for features declared with a `field`, packed into
 * 's' for the others.
 */
export function generateLua(set: FeatureSet): string {
  const F = set.features;
  const fmt = `'<${'f'.repeat(set.width + 1)}'`;
  const consts: string[] = [];
  const tableOf = (name: string, list: string[], asIndex: boolean) => {
    consts.push(`local ${name} = {${list.map((c, k) => `[${luaString(c)}]=${asIndex ? k : 'true'}`).join(', ')}}`);
    return name;
  };
  const matchExpr = (f: FeatureDef): string => {
    const parts: string[] = [];
    if (f.eventTypes) parts.push(`(${f.eventTypes.map((c) => `code == ${c}`).join(' or ')})`);
    if (f.categories) parts.push(`${tableOf(`C${f.index}`, f.categories, false)}[cat]`);
    return parts.length ? parts.join(' and ') : 'true';
  };
  const v = (f: FeatureDef) => `v${f.index}`;
  const x = (f: FeatureDef) => `x${f.index}`;
  const body: string[] = [];
  for (const f of F) {
    const i = f.index;
    switch (f.kind) {
      case 'count':
        body.push(`if ${matchExpr(f)} then ${v(f)} = ${v(f)} + 1 end`);
        break;
      case 'decayed_count':
        body.push(`if not first then ${v(f)} = ${v(f)} * 2 ^ (-(te - T) / (${num(f.halfLifeMinutes)} * 60000)) end`);
        body.push(`if ${matchExpr(f)} then ${v(f)} = ${v(f)} + 1 end`);
        break;
      case 'since_prev':
        body.push(`if first then ${v(f)} = ${num(f.coldStart)} else ${v(f)} = clamp(dt / 60000, ${num(f.capMinutes)}) end`);
        break;
      case 'since_last':
        body.push(`if ${x(f)} == nil then ${v(f)} = ${num(f.coldStart)} else ${v(f)} = clamp((ts - ${x(f)}) / 60000, ${num(f.capMinutes)}) end`);
        body.push(`if ${matchExpr(f)} then ${x(f)} = te end`);
        break;
      case 'session_events':
        body.push(`if first then ${v(f)} = ${num(f.coldStart)} + 1 elseif dt > ${num(f.gapMinutes)} * 60000 then ${v(f)} = 1 else ${v(f)} = ${v(f)} + 1 end`);
        break;
      case 'distinct_categories': {
        const D = tableOf(`D${i}`, f.categoryList!, true);
        body.push(`do local m = ${x(f)} or 0; local bit = 2 ^ (${D}[cat] or ${f.categoryList!.length})`);
        body.push(`  if math.floor(m / bit) % 2 == 0 then ${x(f)} = m + bit; ${v(f)} = ${v(f)} + 1 else ${x(f)} = m end end`);
        break;
      }
      case 'event_type_is':
        body.push(`if code == ${f.eventType} then ${v(f)} = 1 else ${v(f)} = 0 end`);
        break;
      case 'category_is':
        if (f.category !== null) body.push(`if cat == ${luaString(f.category)} then ${v(f)} = 1 else ${v(f)} = 0 end`);
        else body.push(`if ${tableOf(`N${i}`, f.categoryList!, false)}[cat] then ${v(f)} = 0 else ${v(f)} = 1 end`);
        break;
      case 'hour_of_day':
        body.push(`${v(f)} = math.${f.fn}(2 * math.pi * (ts % 86400000) / 86400000)`);
        break;
    }
  }
  // Hash layout: 't', the guards, named features' fields (and '<field>_x' extras), and 's': the
  // unnamed features' values then their extras, packed as little-endian doubles (-1: no extra yet).
  const named = F.filter((f) => f.field !== null);
  const namedExtras = named.filter((f) => f.extraField !== null);
  const packed = F.filter((f) => f.field === null);
  const packedExtras = packed.filter((f) => f.hasExtra);
  const vals = F.map(v).join(', ');
  const pfmt = `'<${'d'.repeat(packed.length + packedExtras.length)}'`;
  const fetch = ["'t'", 'guard', ...named.map((f) => luaString(f.field!)), ...namedExtras.map((f) => luaString(f.extraField!))];
  if (packed.length) fetch.push("'s'");
  const sIdx = fetch.length;
  const stored = (f: FeatureDef) => (f.field !== null ? `tonumber(h[${named.indexOf(f) + 3}])` : `P[${packed.indexOf(f) + 1}]`);
  const storedExtra = (f: FeatureDef) =>
    f.field !== null ? `tonumber(h[${named.length + namedExtras.indexOf(f) + 3}])` : `P and P[${packed.length + packedExtras.indexOf(f) + 1}]`;
  const loadP = packed.length ? `  local P = nil\n  if h[${sIdx}] then P = {struct.unpack(${pfmt}, h[${sIdx}])} end\n` : "";
  const save = ['\'t\'', 'te', 'guard', 'offset', ...named.map((f) => `${luaString(f.field!)}, ${v(f)}`)];
  if (packed.length) save.push(`'s', struct.pack(${pfmt}, ${[...packed.map(v), ...packedExtras.map((f) => `${x(f)} or -1`)].join(', ')})`);
  return `-- Generated by src/features/feature-lua.ts for feature set ${set.hash} (${set.names.join(', ')}).
local ttl = tonumber(ARGV[1])
local function clamp(g, cap)
  if g < 0 then g = 0 end
  if g > cap then g = cap end
  return g
end
${consts.join('\n')}
local out = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local b = 2 + (i - 1) * 5
  local code = tonumber(ARGV[b])
  local ts = tonumber(ARGV[b + 1])
  local cat = ARGV[b + 2]
  local guard = ARGV[b + 3]
  local offset = tonumber(ARGV[b + 4])
  local h = redis.call('HMGET', key, ${fetch.join(', ')})
  local T = tonumber(h[1])
  local last = tonumber(h[2])
${loadP}  if T ~= nil and last ~= nil and last >= offset then
    out[i] = struct.pack(${fmt}, ${F.map(stored).join(', ')}, 1)
  else
    local first = T == nil
    local te, dt = ts, 0
    if not first then
      dt = ts - T
      if ts < T then te = T end
    end
${F.map((f) => `    local ${v(f)} = ${num(f.coldStart)}; if not first then ${v(f)} = ${stored(f)} end`).join('\n')}
${F.filter((f) => f.hasExtra).map((f) => `    local ${x(f)} = ${storedExtra(f)}; if ${x(f)} == -1 or ${x(f)} == false then ${x(f)} = nil end`).join('\n')}
${body.map((l) => '    ' + l).join('\n')}
    -- Numbers go to Redis as numbers: it converts them to text without losing precision.
    local a = {${save.join(', ')}}
${namedExtras.map((f) => `    if ${x(f)} ~= nil then a[#a + 1] = ${luaString(f.extraField!)}; a[#a + 1] = ${x(f)} end`).join('\n')}
    redis.call('HSET', key, unpack(a))
    redis.call('EXPIRE', key, ttl)
    out[i] = struct.pack(${fmt}, ${vals}, 0)
  end
end
return table.concat(out)
`;
}

/** A Lua string literal: printable ASCII as is, every other byte as a decimal escape. */
function luaString(s: string): string {
  let out = '"';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += byte >= 0x20 && byte < 0x7f && c !== '"' && c !== '\\' ? c : `\\${byte}`;
  }
  return out + '"';
}

/** A number literal Lua reads back exactly. */
function num(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite number: ${n}`);
  return String(n);
}
