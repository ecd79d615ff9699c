export {
  Registry,
  Counter,
  CounterSeries,
  Gauge,
  GaugeSeries,
  Histogram,
  PROMETHEUS_CONTENT_TYPE,
  sumSnapshots,
} from './registry.js';
export type { MetricSnapshot, SeriesSnapshot, SnapshotSource } from './registry.js';
