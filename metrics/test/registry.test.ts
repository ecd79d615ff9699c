import { describe, expect, it } from 'vitest';
import { Registry } from '../src/index.js';

describe('Registry', () => {
  it('renders counters, gauges and histograms in Prometheus text format', () => {
    const registry = new Registry();
    const ended = registry.counter('connlog_sessions_ended_total', 'Sessions ended', ['reason']);
    const open = registry.gauge('connlog_sessions_open', 'Open sessions');
    const latency = registry.histogram('connlog_insert_seconds', 'Insert latency', [0.1, 1]);
    ended.inc({ reason: 'client_closed' });
    ended.inc({ reason: 'client_closed' }, 2);
    ended.inc({ reason: 'reset' });
    open.set({}, 5);
    latency.observe(0.05);
    latency.observe(0.5);
    const text = registry.render();
    expect(text).toContain('# TYPE connlog_sessions_ended_total counter');
    expect(text).toContain('connlog_sessions_ended_total{reason="client_closed"} 3');
    expect(text).toContain('connlog_sessions_ended_total{reason="reset"} 1');
    expect(text).toContain('connlog_sessions_open 5');
    expect(text).toContain('connlog_insert_seconds_bucket{le="0.1"} 1');
    expect(text).toContain('connlog_insert_seconds_bucket{le="1"} 2');
    expect(text).toContain('connlog_insert_seconds_bucket{le="+Inf"} 2');
    expect(text).toContain('connlog_insert_seconds_count 2');
    expect(ended.get({ reason: 'client_closed' })).toBe(3);
  });

  it('escapes label values and refuses duplicate names and negative counter steps', () => {
    const registry = new Registry();
    const c = registry.counter('x_total', 'x', ['l']);
    c.inc({ l: 'a"b\\c\nd' });
    expect(registry.render()).toContain('x_total{l="a\\"b\\\\c\\nd"} 1');
    expect(() => registry.counter('x_total', 'again')).toThrow(/twice/);
    expect(() => c.inc({}, -1)).toThrow(/cannot decrease/);
  });

  it('updates a series looked up once like the labelled calls do', () => {
    const registry = new Registry();
    const c = registry.counter('s_total', 's', ['resource', 'reason']);
    const g = registry.gauge('s_open', 'open', ['resource']);
    const series = c.labels({ resource: 'db', reason: 'reset' });
    const open = g.labels({ resource: 'db' });
    // Not rendered before its first update, as a series that was never incremented.
    expect(registry.render()).not.toContain('s_total{');
    series.inc();
    c.inc({ resource: 'db', reason: 'reset' }, 2);
    series.inc(4);
    open.inc();
    open.inc();
    open.dec();
    expect(c.get({ resource: 'db', reason: 'reset' })).toBe(7);
    expect(registry.render()).toContain('s_total{resource="db",reason="reset"} 7');
    expect(registry.render()).toContain('s_open{resource="db"} 1');
    open.set(9);
    g.inc({ resource: 'db' });
    expect(g.get({ resource: 'db' })).toBe(10);
    expect(() => series.inc(-1)).toThrow(/cannot decrease/);
  });

  it('computes gauges at scrape time', () => {
    const registry = new Registry();
    let depth = 1;
    const gauge = registry.gauge('queue_depth', 'depth');
    gauge.onCollect(() => gauge.set({}, depth));
    depth = 7;
    expect(registry.render()).toContain('queue_depth 7');
  });
});
