// The layer rules of docs/ARCHITECTURE.md hold for every import in src/: no cycles (type-only imports
// included), no import of a higher layer, no import between folders that share a layer. The layer table is
// read from the document itself, so the rules and their description cannot drift apart.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { ROOT } from './helpers/server.js';

const SRC = path.join(ROOT, 'src');

/** One row of the layer table: its rank and the paths (folders end with `/`) under src/ it holds. */
interface Layer {
  rank: number;
  paths: string[];
}

/** Reads the table between the layers markers of docs/ARCHITECTURE.md. */
function documentedLayers(): Layer[] {
  const doc = readFileSync(path.join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');
  const block = /<!-- layers:start -->([\s\S]*?)<!-- layers:end -->/.exec(doc)?.[1] ?? '';
  const layers: Layer[] = [];
  for (const line of block.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (!/^\d+$/.test(cells[1] ?? '')) continue;
    layers.push({ rank: Number(cells[1]), paths: [...cells[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!) });
  }
  return layers;
}

/** Every .ts file under src/, as a path relative to src/ with `/` separators. */
function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') ? [path.relative(SRC, full).split(path.sep).join('/')] : [];
  });
}

/** The src/ files a file imports (static, type-only, re-exports and dynamic imports), by the compiler's parser. */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(SRC, file), 'utf8');
  const { importedFiles } = ts.preProcessFile(text, true, true);
  const out: string[] = [];
  for (const { fileName } of importedFiles) {
    if (!fileName.startsWith('.')) continue;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), fileName)).replace(/\.js$/, '.ts');
    if (!target.startsWith('../')) out.push(target);
  }
  return out;
}

export type Graph = ReadonlyMap<string, readonly string[]>;

/** The layer entry that holds a file: a file entry, else the longest folder entry that contains it. */
function placeOf(file: string, layers: readonly Layer[]): { rank: number; path: string } | null {
  let best: { rank: number; path: string } | null = null;
  for (const layer of layers) {
    for (const p of layer.paths) {
      const holds = p.endsWith('/') ? file.startsWith(p) : file === p;
      if (holds && (!best || p.length > best.path.length)) best = { rank: layer.rank, path: p };
    }
  }
  return best;
}

/** Import cycles, each as a path that returns to its start (Tarjan's strongly connected components). */
export function cyclesOf(graph: Graph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(cycleThrough(graph, new Set(component), v));
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles;
}

/** One concrete cycle from `start` back to it inside a strongly connected component, for the message. */
function cycleThrough(graph: Graph, component: ReadonlySet<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const cycle = [start];
        for (let at = v; at !== start; at = previous.get(at)!) cycle.splice(1, 0, at);
        return [...cycle, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

/** Imports that break the layer rules, and files no layer holds. */
export function layerViolations(graph: Graph, layers: readonly Layer[]): string[] {
  const problems: string[] = [];
  for (const [file, targets] of graph) {
    const from = placeOf(file, layers);
    if (!from) {
      problems.push(`${file} is in no layer of docs/ARCHITECTURE.md`);
      continue;
    }
    for (const target of targets) {
      const to = placeOf(target, layers);
      if (!to || to.path === from.path) continue;
      if (to.rank > from.rank) problems.push(`${file} (layer ${from.rank}) imports ${target} from the higher layer ${to.rank}`);
      else if (to.rank === from.rank) problems.push(`${file} imports ${target}: ${from.path} and ${to.path} share layer ${from.rank} and must not import each other`);
    }
  }
  return problems;
}

function sourceGraph(): Graph {
  return new Map(sourceFiles().map((f) => [f, importsOf(f)]));
}

test('docs/ARCHITECTURE.md orders the layers 1, 2, 3, ... and names each path once', () => {
  const layers = documentedLayers();
  assert.ok(layers.length >= 10, 'the layer table is found');
  assert.deepEqual(
    layers.map((l) => l.rank),
    layers.map((_, i) => i + 1),
  );
  const paths = layers.flatMap((l) => l.paths);
  assert.deepEqual([...new Set(paths)], paths);
});

test('no import cycles among the modules of src/, type-only imports included', () => {
  assert.deepEqual(
    cyclesOf(sourceGraph()).map((c) => c.join(' -> ')),
    [],
  );
});

test('every import in src/ goes to the same folder or a lower layer, and every file is in a layer', () => {
  assert.deepEqual(layerViolations(sourceGraph(), documentedLayers()), []);
});

test('the layer check reports a cycle, an upward import, an import within a shared layer and an unplaced file', () => {
  const layers: Layer[] = [
    { rank: 1, paths: ['low/'] },
    { rank: 2, paths: ['left/', 'right/'] },
    { rank: 3, paths: ['high.ts'] },
  ];
  const graph: Graph = new Map([
    ['low/a.ts', ['low/b.ts', 'high.ts']],
    ['low/b.ts', ['low/a.ts']],
    ['left/x.ts', ['right/y.ts', 'low/a.ts']],
    ['right/y.ts', []],
    ['high.ts', ['left/x.ts']],
    ['stray/z.ts', []],
  ]);
  assert.deepEqual(cyclesOf(graph), [['high.ts', 'left/x.ts', 'low/a.ts', 'high.ts']]);
  assert.deepEqual(layerViolations(graph, layers), [
    'low/a.ts (layer 1) imports high.ts from the higher layer 3',
    'left/x.ts imports right/y.ts: left/ and right/ share layer 2 and must not import each other',
    'stray/z.ts is in no layer of docs/ARCHITECTURE.md',
  ]);
});
