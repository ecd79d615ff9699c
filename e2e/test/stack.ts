import { join } from 'node:path';
import { freePort, startNatsServer, tempDir, type NatsServer } from '@connlog/testkit';
import {
  AGENT_BIN,
  COLLECTOR_BIN,
  spawnDaemon,
  waitHealthy,
  writeYaml,
  type Daemon,
} from './processes.js';

export interface CollectorHandle {
  daemon: Daemon;
  url: string;
  dataDir: string;
  /**
   * Run a read-only query through the collector's SQL endpoint; JSONEachRow rows.
   * `key`: an API key, for a collector with `auth.enabled`.
   */
  sql<T = Record<string, unknown>>(query: string, key?: string): Promise<T[]>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface AgentResource {
  id: string;
  protocol: 'tcp' | 'udp';
  listen: string;
  target: string;
  dialTimeout?: string;
  /** UDP: a flow ends after this long without a datagram. */
  idleTimeout?: string;
  /** UDP: bound of concurrent flows. */
  maxFlows?: number;
  /** UDP: largest datagram payload forwarded. */
  maxDatagramBytes?: number;
  /** The resource's own `proxyProtocol` keys (docs/identity.md). */
  proxyProtocol?: Record<string, unknown>;
}

export interface AgentHandle {
  daemon: Daemon;
  url: string;
  configFile: string;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface Stack {
  dir: string;
  nats: NatsServer;
  /**
   * Start a collector. `options.name` (default `collector`) names its config file and
   * data dir, so several collectors (each owning its embedded store) can run at once.
   */
  startCollector(
    extra?: Record<string, unknown>,
    options?: { name?: string },
  ): Promise<CollectorHandle>;
  startAgent(resources: AgentResource[], extra?: Record<string, unknown>): Promise<AgentHandle>;
  /** Stop every daemon started here, the NATS server, and remove the temp dir. */
  close(): Promise<void>;
}

export interface StackOptions {
  /** Extra nats-server config (e.g. an `accounts` block), appended to the generated one. */
  natsConfig?: string;
}

export async function startStack(name: string, options: StackOptions = {}): Promise<Stack> {
  const dir = tempDir(`e2e-${name}`);
  const nats = await startNatsServer(
    options.natsConfig === undefined ? {} : { extraConfig: options.natsConfig },
  );
  const daemons: Daemon[] = [];
  const startCollector = async (
    extra: Record<string, unknown> = {},
    options: { name?: string } = {},
  ): Promise<CollectorHandle> => {
    const name = options.name ?? 'collector';
    const collectorDataDir = join(dir.path, name);
    const port = await freePort();
    const config = {
      dataDir: collectorDataDir,
      nats: { servers: [nats.url] },
      ingest: { flushInterval: '200ms' },
      http: { listen: `127.0.0.1:${port}` },
      log: { level: 'info' },
      ...extra,
    };
    const file = writeYaml(dir.path, `${name}.yaml`, config);
    const daemon = spawnDaemon(name, COLLECTOR_BIN, ['run', '--config', file]);
    daemons.push(daemon);
    const url = `http://127.0.0.1:${port}`;
    await waitHealthy(daemon, `${url}/healthz`, 90_000);
    return {
      daemon,
      url,
      dataDir: collectorDataDir,
      stop: (signal) => daemon.stop(signal),
      sql: async <T>(query: string, key?: string): Promise<T[]> => {
        const response = await fetch(`${url}/sql?default_format=JSONEachRow`, {
          method: 'POST',
          body: query,
          ...(key !== undefined ? { headers: { authorization: `Bearer ${key}` } } : {}),
        });
        const text = await response.text();
        if (response.status !== 200) throw new Error(`sql failed (${response.status}): ${text}`);
        return text
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as T);
      },
    };
  };

  const startAgent = async (
    resources: AgentResource[],
    extra: Record<string, unknown> = {},
  ): Promise<AgentHandle> => {
    const port = await freePort();
    const config = {
      org: 'acme',
      site: 'berlin',
      nats: { servers: [nats.url] },
      spool: { dir: join(dir.path, 'agent-spool') },
      updateInterval: '1s',
      shutdownGrace: '2s',
      publish: { flushInterval: '100ms' },
      http: { listen: `127.0.0.1:${port}` },
      log: { level: 'info' },
      resources,
      ...extra,
    };
    const configFile = writeYaml(dir.path, 'agent.yaml', config);
    const daemon = spawnDaemon('agent', AGENT_BIN, ['run', '--config', configFile]);
    daemons.push(daemon);
    const url = `http://127.0.0.1:${port}`;
    await waitHealthy(daemon, `${url}/healthz`);
    return { daemon, url, configFile, stop: (signal) => daemon.stop(signal) };
  };

  return {
    dir: dir.path,
    nats,
    startCollector,
    startAgent,
    close: async () => {
      await Promise.all(daemons.map((daemon) => daemon.stop('SIGKILL')));
      await nats.remove();
      dir.remove();
    },
  };
}
