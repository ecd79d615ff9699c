/**
 * A minimal Prometheus registry: counters, gauges and histograms with a fixed label
 * set per metric, rendered in the text exposition format. Label values must come from
 * bounded sets (close reasons, stages, resource ids from config) — never from traffic.
 */

type Labels = Record<string, string>;

/**
 * One metric's values as plain data, to carry to another process (structured-clone
 * safe). Label values are in the metric's label-name order.
 */
export interface MetricSnapshot {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  series: SeriesSnapshot[];
}

export interface SeriesSnapshot {
  labels: string[];
  /** Counter or gauge value; a histogram's observation count. */
  value: number;
  /** Histogram only: cumulative count per bucket, and the sum of observations. */
  buckets?: number[];
  sum?: number;
}

/**
 * `into` plus `from`, series summed per metric and label set (histograms bucket by
 * bucket). For keeping what a process that is gone had counted.
 */
export function sumSnapshots(
  into: readonly MetricSnapshot[],
  from: readonly MetricSnapshot[],
): MetricSnapshot[] {
  const out = new Map<
    string,
    { type: MetricSnapshot['type']; series: Map<string, SeriesSnapshot> }
  >();
  for (const snapshot of [...into, ...from]) {
    let metric = out.get(snapshot.name);
    if (metric === undefined)
      out.set(snapshot.name, (metric = { type: snapshot.type, series: new Map() }));
    if (metric.type !== snapshot.type) continue;
    for (const series of snapshot.series) {
      const key = series.labels.join('\u0000');
      const have = metric.series.get(key);
      if (have === undefined) {
        metric.series.set(key, {
          ...series,
          labels: [...series.labels],
          ...(series.buckets && { buckets: [...series.buckets] }),
        });
        continue;
      }
      have.value += series.value;
      if (series.sum !== undefined) have.sum = (have.sum ?? 0) + series.sum;
      if (series.buckets && have.buckets) {
        have.buckets = have.buckets.map((n, i) => n + (series.buckets?.[i] ?? 0));
      }
    }
  }
  return [...out].map(([name, { type, series }]) => ({ name, type, series: [...series.values()] }));
}

/** Snapshots of other registries (e.g. other processes), added into this one's output. */
export type SnapshotSource = () => readonly MetricSnapshot[];

interface Metric {
  readonly name: string;
  readonly type: MetricSnapshot['type'];
  snapshot(): MetricSnapshot;
  /** The text of these series (the metric's own, or summed with other registries'). */
  renderSeries(series: readonly SeriesSnapshot[]): string;
}

function labelKey(names: readonly string[], labels: Labels): string {
  return names.map((name) => labels[name] ?? '').join('\u0000');
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatLabels(names: readonly string[], values: readonly string[], extra = ''): string {
  const parts = names.map((name, i) => `${name}="${escapeLabel(values[i] ?? '')}"`);
  if (extra !== '') parts.push(extra);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

interface Slot {
  labels: string[];
  value: number;
}

/**
 * A counter's series for one label set, looked up once: a hot path keeps it and
 * updates it without building a label key per call. It shows in `render()` from its
 * first update on, as with `Counter.inc(labels)`.
 */
export class CounterSeries {
  private slot: Slot | undefined;

  constructor(
    private readonly name: string,
    private readonly resolve: () => Slot,
  ) {}

  inc(by = 1): void {
    if (by < 0) throw new RangeError(`counter ${this.name} cannot decrease`);
    (this.slot ??= this.resolve()).value += by;
  }
}

/** A gauge's series for one label set, looked up once (see `CounterSeries`). */
export class GaugeSeries {
  private slot: Slot | undefined;

  constructor(private readonly resolve: () => Slot) {}

  set(value: number): void {
    (this.slot ??= this.resolve()).value = value;
  }

  inc(by = 1): void {
    (this.slot ??= this.resolve()).value += by;
  }

  dec(by = 1): void {
    (this.slot ??= this.resolve()).value -= by;
  }
}

abstract class ValueMetric implements Metric {
  protected readonly values = new Map<string, Slot>();

  constructor(
    readonly name: string,
    private readonly help: string,
    readonly type: 'counter' | 'gauge',
    protected readonly labelNames: readonly string[],
  ) {}

  protected slot(labels: Labels): Slot {
    const key = labelKey(this.labelNames, labels);
    let slot = this.values.get(key);
    if (!slot) {
      slot = { labels: this.labelNames.map((name) => labels[name] ?? ''), value: 0 };
      this.values.set(key, slot);
    }
    return slot;
  }

  get(labels: Labels = {}): number {
    return this.values.get(labelKey(this.labelNames, labels))?.value ?? 0;
  }

  snapshot(): MetricSnapshot {
    const series = [...this.values.values()].map((slot) => ({
      labels: [...slot.labels],
      value: slot.value,
    }));
    return { name: this.name, type: this.type, series };
  }

  renderSeries(series: readonly SeriesSnapshot[]): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    if (series.length === 0 && this.labelNames.length === 0) lines.push(`${this.name} 0`);
    for (const one of series) {
      lines.push(
        `${this.name}${formatLabels(this.labelNames, one.labels)} ${formatValue(one.value)}`,
      );
    }
    return lines.join('\n');
  }
}

export class Counter extends ValueMetric {
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, 'counter', labelNames);
  }

  inc(labels: Labels = {}, by = 1): void {
    if (by < 0) throw new RangeError(`counter ${this.name} cannot decrease`);
    this.slot(labels).value += by;
  }

  /** The series of `labels`, to update repeatedly without a lookup per update. */
  labels(labels: Labels): CounterSeries {
    const copy = { ...labels };
    return new CounterSeries(this.name, () => this.slot(copy));
  }
}

export class Gauge extends ValueMetric {
  private collector: (() => void) | undefined;

  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, 'gauge', labelNames);
  }

  set(labels: Labels, value: number): void {
    this.slot(labels).value = value;
  }

  inc(labels: Labels = {}, by = 1): void {
    this.slot(labels).value += by;
  }

  dec(labels: Labels = {}, by = 1): void {
    this.slot(labels).value -= by;
  }

  /** The series of `labels`, to update repeatedly without a lookup per update. */
  labels(labels: Labels): GaugeSeries {
    const copy = { ...labels };
    return new GaugeSeries(() => this.slot(copy));
  }

  /** Compute the value(s) at scrape time (queue depths, lag). */
  onCollect(collect: () => void): this {
    this.collector = collect;
    return this;
  }

  override snapshot(): MetricSnapshot {
    this.collector?.();
    return super.snapshot();
  }
}

interface HistogramEntry {
  labels: string[];
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram implements Metric {
  readonly type = 'histogram';
  private readonly series = new Map<string, HistogramEntry>();

  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly buckets: readonly number[],
    private readonly labelNames: readonly string[] = [],
  ) {}

  observe(value: number, labels: Labels = {}): void {
    const key = labelKey(this.labelNames, labels);
    let entry = this.series.get(key);
    if (!entry) {
      entry = {
        labels: this.labelNames.map((name) => labels[name] ?? ''),
        counts: this.buckets.map(() => 0),
        sum: 0,
        count: 0,
      };
      this.series.set(key, entry);
    }
    for (let i = 0; i < this.buckets.length; i += 1) {
      if (value <= (this.buckets[i] ?? Infinity)) entry.counts[i] = (entry.counts[i] ?? 0) + 1;
    }
    entry.sum += value;
    entry.count += 1;
  }

  /** Number of observations (all label sets), for tests. */
  count(): number {
    let total = 0;
    for (const entry of this.series.values()) total += entry.count;
    return total;
  }

  snapshot(): MetricSnapshot {
    const series = [...this.series.values()].map((entry) => ({
      labels: [...entry.labels],
      value: entry.count,
      buckets: [...entry.counts],
      sum: entry.sum,
    }));
    return { name: this.name, type: 'histogram', series };
  }

  renderSeries(series: readonly SeriesSnapshot[]): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const one of series) {
      this.buckets.forEach((bound, i) => {
        const le = `le="${formatValue(bound)}"`;
        lines.push(
          `${this.name}_bucket${formatLabels(this.labelNames, one.labels, le)} ${one.buckets?.[i] ?? 0}`,
        );
      });
      lines.push(
        `${this.name}_bucket${formatLabels(this.labelNames, one.labels, 'le="+Inf"')} ${one.value}`,
      );
      lines.push(`${this.name}_sum${formatLabels(this.labelNames, one.labels)} ${one.sum ?? 0}`);
      lines.push(`${this.name}_count${formatLabels(this.labelNames, one.labels)} ${one.value}`);
    }
    return lines.join('\n');
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric>();
  private readonly sources: SnapshotSource[] = [];

  private add<T extends Metric>(metric: T): T {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} registered twice`);
    this.metrics.set(metric.name, metric);
    return metric;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }

  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly string[] = [],
  ): Histogram {
    return this.add(new Histogram(name, help, buckets, labelNames));
  }

  /** Every metric's values as plain data (see `MetricSnapshot`). */
  snapshot(): MetricSnapshot[] {
    return [...this.metrics.values()].map((metric) => metric.snapshot());
  }

  /**
   * Add what `source` returns into every `render()`: series of a metric registered here
   * are summed per label set with this registry's own (same name; a name not registered
   * here is ignored, as are series of another type).
   */
  addSource(source: SnapshotSource): void {
    this.sources.push(source);
  }

  /** Prometheus text exposition format (version 0.0.4). */
  render(): string {
    const extra = new Map<string, MetricSnapshot[]>();
    for (const source of this.sources) {
      for (const snapshot of source()) {
        if (this.metrics.get(snapshot.name)?.type !== snapshot.type) continue;
        let list = extra.get(snapshot.name);
        if (list === undefined) extra.set(snapshot.name, (list = []));
        list.push(snapshot);
      }
    }
    const text = [...this.metrics.values()].map((metric) => {
      const own = metric.snapshot();
      const others = extra.get(metric.name);
      // Summed per label set: counters add up across processes, and so do gauges of
      // things each process holds its own share of (open sessions).
      const series = others ? (sumSnapshots([own], others)[0]?.series ?? []) : own.series;
      return metric.renderSeries(series);
    });
    return `${text.join('\n')}\n`;
  }
}

/** Content type of `Registry.render()`. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
