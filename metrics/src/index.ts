export {
  Registry,
  Counter,
  CounterSeries,
  Gauge,
  GaugeSeries,
  Histogram,
  PROMETHEUS_CONTENT_TYPE,
} from './registry.js';
