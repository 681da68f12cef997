// Reads a V8 .cpuprofile (from `node --cpu-prof`) and lists where the time went: self time per function,
// inclusive time per function, and self time per file or package. Used by `npm run bench -- --profile`, and
// on its own:
//
//   node --import tsx bench/profile-summary.ts path/to/file.cpuprofile [top]
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface CostLine {
  name: string;
  ms: number;
  /** Share of the busy (non-idle) time, 0-100. */
  percent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  idleMs: number;
  selfByFunction: CostLine[];
  inclusiveByFunction: CostLine[];
  selfByFile: CostLine[];
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const META = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);

/** A short, stable name for a script URL: `node:internal/...`, `pkg:better-sqlite3`, `dist/http/server.js`. */
function shortUrl(url: string): string {
  if (url === '') return '';
  const plain = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = plain.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = plain.slice(nm + 'node_modules/'.length).split('/');
    const pkg = rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
    return `pkg:${pkg}`;
  }
  return plain.startsWith(ROOT + path.sep) ? path.relative(ROOT, plain) : plain;
}

function functionKey(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (META.has(name) || frame.url === '') return name === '(anonymous)' ? '(native)' : name;
  return `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

function fileKey(frame: CallFrame): string {
  if (frame.url === '') return META.has(frame.functionName) ? frame.functionName : '(native)';
  return shortUrl(frame.url);
}

function top(map: Map<string, number>, busyUs: number, n: number): CostLine[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, percent: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0 }));
}

export function summarizeProfile(file: string, n = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfFn = new Map<string, number>();
  const selfFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  // timeDeltas[i] is the time since the previous sample; it belongs to sample i-1, which was running then.
  for (let i = 0; i < profile.samples.length; i++) {
    const us = profile.timeDeltas[i + 1] ?? 0;
    const node = byId.get(profile.samples[i]!);
    if (!node || us <= 0) continue;
    totalUs += us;
    if (node.callFrame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const fk = functionKey(node.callFrame);
    selfFn.set(fk, (selfFn.get(fk) ?? 0) + us);
    const file = fileKey(node.callFrame);
    selfFile.set(file, (selfFile.get(file) ?? 0) + us);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const key = functionKey(byId.get(id)!.callFrame);
      if (key === '(root)' || seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const busyUs = totalUs - idleUs;
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    selfByFunction: top(selfFn, busyUs, n),
    inclusiveByFunction: top(inclusive, busyUs, n),
    selfByFile: top(selfFile, busyUs, n),
  };
}

export function formatProfileSummary(s: ProfileSummary): string {
  const section = (title: string, lines: CostLine[]): string =>
    [title, ...lines.map((l) => `  ${l.percent.toFixed(1).padStart(5)} %  ${l.ms.toFixed(1).padStart(9)} ms  ${l.name}`)].join('\n');
  return [
    `CPU profile ${path.relative(process.cwd(), s.file)}: ${s.totalMs} ms sampled, ${s.busyMs} ms busy, ${s.idleMs} ms idle (percentages are of busy time)`,
    section('Self time by function:', s.selfByFunction),
    section('Inclusive time by function:', s.inclusiveByFunction),
    section('Self time by file or package:', s.selfByFile),
  ].join('\n\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]');
    process.exit(1);
  }
  console.log(formatProfileSummary(summarizeProfile(file, Number(process.argv[3] ?? 20))));
}
