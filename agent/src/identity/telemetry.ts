import type { Counter, Gauge, Registry } from '@connlog/metrics';
import type { Logger } from 'pino';
import type { ProxyRejectReason } from './gate.js';
import type { PeerMapReloadEvent } from './peer_map.js';

/**
 * Identity metrics, one method per event. Labels come from bounded sets: resource ids
 * from config, the four reject reasons, `ok`/`failed`. Peer map reload lines are
 * logged by the peer map itself (it knows the file); here they are only counted.
 */
export class IdentityTelemetry {
  private readonly headers: Counter;
  private readonly rejects: Counter;
  private readonly reloads: Counter;
  private readonly peerEntries: Gauge;
  /** resource + reason pairs already warned about: one warn each, then debug. */
  private readonly warned = new Set<string>();

  constructor(
    private readonly log: Logger,
    registry: Registry,
  ) {
    this.headers = registry.counter(
      'connlog_agent_proxy_headers_total',
      'Connections and datagrams accepted through a PROXY protocol listener, per resource and header version (none = no header).',
      ['resource', 'version'],
    );
    this.rejects = registry.counter(
      'connlog_agent_proxy_header_rejected_total',
      'Connections and datagrams refused by the PROXY protocol policy, per resource and reason.',
      ['resource', 'reason'],
    );
    this.reloads = registry.counter(
      'connlog_agent_peer_map_reloads_total',
      'Peer map reloads, per outcome (ok, failed: the previous map was kept).',
      ['outcome'],
    );
    this.peerEntries = registry.gauge(
      'connlog_agent_peer_map_entries',
      'Entries in the peer map in effect, per peer map file (as configured).',
      ['file'],
    );
  }

  /** A header was accepted (or, `none`, the connection went on without one). */
  proxyHeaderAccepted(resource: string, version: 1 | 2 | 'none'): void {
    this.headers.inc({ resource, version: String(version) });
  }

  /**
   * A connection or datagram was refused. The first time per resource and reason is a
   * warning (likely a trustedCidrs or sender misconfiguration); after that debug, since
   * a scanner can produce one per connection.
   */
  proxyHeaderRejected(
    resource: string,
    reason: ProxyRejectReason,
    detail: string,
    remoteAddress: string,
  ): void {
    this.rejects.inc({ resource, reason });
    const key = `${resource}\u0000${reason}`;
    if (this.warned.has(key)) {
      this.log.debug(
        { resource, reason, detail, remoteAddress },
        'PROXY protocol: connection refused',
      );
      return;
    }
    this.warned.add(key);
    this.log.warn(
      { resource, reason, detail, remoteAddress },
      'PROXY protocol: connection refused (further refusals for this resource and reason are logged at debug)',
    );
  }

  /** Hook for `createPeerMap({ onReload })`; `file` as configured (a bounded label). */
  peerMapReloaded(file: string, event: PeerMapReloadEvent): void {
    this.reloads.inc({ outcome: event.ok ? 'ok' : 'failed' });
    if (event.ok) this.peerEntries.set({ file }, event.entries);
  }

  /** The map loaded at startup. */
  peerMapLoaded(file: string, entries: number): void {
    this.peerEntries.set({ file }, entries);
  }
}
