export { Registry, Counter, Gauge, Histogram, PROMETHEUS_CONTENT_TYPE } from './registry.js';
