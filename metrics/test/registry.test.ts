import { describe, expect, it } from 'vitest';
import { Registry, sumSnapshots } from '../src/index.js';

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

  it("adds other registries' snapshots into its output, summed per label set", () => {
    const build = () => {
      const registry = new Registry();
      return {
        registry,
        started: registry.counter('started_total', 'started', ['resource']),
        open: registry.gauge('open', 'open'),
        seconds: registry.histogram('seconds', 'seconds', [0.1, 1]),
      };
    };
    const main = build();
    const worker = build();
    main.started.inc({ resource: 'db' }, 2);
    worker.started.inc({ resource: 'db' }, 3);
    worker.started.inc({ resource: 'web' });
    main.open.set({}, 1);
    worker.open.set({}, 4);
    main.seconds.observe(0.05);
    worker.seconds.observe(0.5);
    worker.seconds.observe(5);
    // Through a structured clone, as between processes.
    const snapshot = structuredClone(worker.registry.snapshot());
    main.registry.addSource(() => [
      ...snapshot,
      { name: 'not_here', type: 'counter', series: [{ labels: [], value: 9 }] },
      { name: 'open', type: 'counter', series: [{ labels: [], value: 100 }] },
    ]);
    const text = main.registry.render();
    expect(text).toContain('started_total{resource="db"} 5');
    expect(text).toContain('started_total{resource="web"} 1');
    expect(text).toContain('\nopen 5\n');
    expect(text).toContain('seconds_bucket{le="0.1"} 1');
    expect(text).toContain('seconds_bucket{le="1"} 2');
    expect(text).toContain('seconds_bucket{le="+Inf"} 3');
    expect(text).toContain('seconds_sum 5.55');
    expect(text).not.toContain('not_here');
    // The registry's own values are untouched by the merge.
    expect(main.started.get({ resource: 'db' })).toBe(2);
    expect(main.registry.render()).toBe(text);
  });

  it('sums snapshots per metric and label set', () => {
    const a = new Registry();
    const b = new Registry();
    a.counter('c_total', 'c', ['l']).inc({ l: 'x' }, 2);
    b.counter('c_total', 'c', ['l']).inc({ l: 'x' }, 3);
    a.histogram('h', 'h', [1]).observe(0.5);
    b.histogram('h', 'h', [1]).observe(2);
    const sum = sumSnapshots(a.snapshot(), b.snapshot());
    const target = new Registry();
    target.counter('c_total', 'c', ['l']);
    target.histogram('h', 'h', [1]);
    target.addSource(() => sum);
    const text = target.render();
    expect(text).toContain('c_total{l="x"} 5');
    expect(text).toContain('h_bucket{le="1"} 1');
    expect(text).toContain('h_count 2');
    expect(text).toContain('h_sum 2.5');
    // The inputs are not changed.
    expect(sumSnapshots(a.snapshot(), []).find((m) => m.name === 'c_total')?.series[0]?.value).toBe(
      2,
    );
  });
});
