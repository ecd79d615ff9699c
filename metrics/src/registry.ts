/**
 * A minimal Prometheus registry: counters, gauges and histograms with a fixed label
 * set per metric, rendered in the text exposition format. Label values must come from
 * bounded sets (close reasons, stages, resource ids from config) — never from traffic.
 */

type Labels = Record<string, string>;

interface Metric {
  readonly name: string;
  render(): string;
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
    private readonly type: 'counter' | 'gauge',
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

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    if (this.values.size === 0 && this.labelNames.length === 0) lines.push(`${this.name} 0`);
    for (const slot of this.values.values()) {
      lines.push(
        `${this.name}${formatLabels(this.labelNames, slot.labels)} ${formatValue(slot.value)}`,
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

  override render(): string {
    this.collector?.();
    return super.render();
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<
    string,
    { labels: string[]; counts: number[]; sum: number; count: number }
  >();

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

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const entry of this.series.values()) {
      this.buckets.forEach((bound, i) => {
        const le = `le="${formatValue(bound)}"`;
        lines.push(
          `${this.name}_bucket${formatLabels(this.labelNames, entry.labels, le)} ${entry.counts[i] ?? 0}`,
        );
      });
      lines.push(
        `${this.name}_bucket${formatLabels(this.labelNames, entry.labels, 'le="+Inf"')} ${entry.count}`,
      );
      lines.push(`${this.name}_sum${formatLabels(this.labelNames, entry.labels)} ${entry.sum}`);
      lines.push(`${this.name}_count${formatLabels(this.labelNames, entry.labels)} ${entry.count}`);
    }
    return lines.join('\n');
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric>();

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

  /** Prometheus text exposition format (version 0.0.4). */
  render(): string {
    return `${[...this.metrics.values()].map((metric) => metric.render()).join('\n')}\n`;
  }
}

/** Content type of `Registry.render()`. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
