// Counters and histograms for the per-request metrics, counted as plain numbers in nested maps. prom-client's own
// Counter and Histogram turn every call's label object into a sorted hash string: about a tenth of a cheap API
// call's CPU (bench/README.md). These count with one map lookup per label value and are read by the same
// prom-client Registry at scrape time, in the shape its own metrics give (`get()`), so /metrics is unchanged.
import type { Registry } from 'prom-client';

interface Cell {
  labels: Record<string, string>;
}

/** Cells by label values, in the order of the label names. */
class CellTree<C extends Cell> {
  private readonly root = new Map<string, unknown>();
  /** In the order they were first counted, as prom-client lists them. */
  readonly cells: C[] = [];

  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: (labels: Record<string, string>) => C,
  ) {}

  /** The cell of these label values (one per label name, in order), made at first use. */
  get(values: readonly string[]): C {
    let node = this.root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(values[i]!) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(values[i]!, next);
      }
      node = next;
    }
    let cell = node.get(values[last]!) as C | undefined;
    if (cell === undefined) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((name, i) => (labels[name] = values[i]!));
      cell = this.make(labels);
      node.set(values[last]!, cell);
      this.cells.push(cell);
    }
    return cell;
  }
}

interface CounterCell extends Cell {
  value: number;
}

/** What the registry reads of a metric (prom-client's shape); the cells of one metric, by label values. */
abstract class CellMetric<C extends Cell, V> {
  readonly aggregator = 'sum';
  protected readonly tree: CellTree<C>;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    labelNames: readonly string[],
    newCell: (labels: Record<string, string>) => C,
    registry: Registry,
  ) {
    this.tree = new CellTree(labelNames, newCell);
    registry.registerMetric(this as never);
  }

  protected abstract values(): V[];

  get(): { name: string; help: string; type: string; aggregator: string; values: V[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.values() };
  }
}

/** A counter with labels; `inc` takes the label values in the order of `labelNames`. */
export class CellCounter extends CellMetric<CounterCell, { labels: Record<string, string>; value: number }> {
  constructor(name: string, help: string, labelNames: readonly string[], registry: Registry) {
    super(name, help, 'counter', labelNames, (labels) => ({ labels, value: 0 }), registry);
  }

  inc(...values: string[]): void {
    this.tree.get(values).value++;
  }

  protected values(): Array<{ labels: Record<string, string>; value: number }> {
    return this.tree.cells.map((c) => ({ labels: c.labels, value: c.value }));
  }
}

interface HistogramCell extends Cell {
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

interface HistogramValue {
  labels: Record<string, string | number>;
  sharedLabels?: Record<string, string>;
  value: number;
  metricName: string;
}

/** A histogram with labels and fixed upper bounds; `observe` takes the value, then the label values in order. */
export class CellHistogram extends CellMetric<HistogramCell, HistogramValue> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    super(name, help, 'histogram', labelNames, (labels) => ({ labels, counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 }), registry);
  }

  observe(value: number, ...values: string[]): void {
    const cell = this.tree.get(values);
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    cell.counts[i]!++;
    cell.sum += value;
    cell.count++;
  }

  /** As prom-client's Histogram exports: cumulative `_bucket` lines with `le`, then `+Inf`, `_sum` and `_count`. */
  protected values(): HistogramValue[] {
    const values: HistogramValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const cell of this.tree.cells) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += cell.counts[i]!;
        values.push({ labels: { le }, sharedLabels: cell.labels, value: acc, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: cell.labels, value: cell.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels: cell.labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: cell.labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return values;
  }
}
