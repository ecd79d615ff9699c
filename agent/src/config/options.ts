/**
 * The agent's validated configuration. Every duration is in milliseconds and every
 * size in bytes, whatever unit the YAML used. Instances returned by `loadConfig` and
 * `parseConfig` are deep-frozen.
 */
export interface AgentConfig {
  /** Organisation id: `[A-Za-z0-9_-]{1,64}`, a NATS subject token. Required. Env `CONNLOG_AGENT_ORG`. */
  readonly org: string;
  /** Site id: `[A-Za-z0-9_-]{1,64}`. Required. Env `CONNLOG_AGENT_SITE`. */
  readonly site: string;
  /**
   * Agent id, part of every batch's `Nats-Msg-Id`. Env `CONNLOG_AGENT_ID`.
   * @default generated once (UUIDv7) and persisted in `<spool.dir>/agent-id`
   */
  readonly agentId: string | undefined;
  readonly nats: NatsConfig;
  readonly spool: SpoolConfig;
  /**
   * How often an open session emits an `UPDATE` with cumulative counters.
   * @default 60000 (`"60s"`)
   */
  readonly updateInterval: number;
  /**
   * On SIGTERM, how long open sessions may continue before they are ended with
   * `agent_shutdown`.
   * @default 10000 (`"10s"`)
   */
  readonly shutdownGrace: number;
  /**
   * How long a connect to a target may take before the session ends with
   * `dial_timeout`; a resource may override it.
   * @default 10000 (`"10s"`)
   */
  readonly dialTimeout: number;
  /**
   * Processes that proxy the TCP resources. 1: the agent's own process does all the
   * work. N > 1: N worker processes share each TCP listener (connections are dealt
   * round-robin) and hand their session events to the agent's process, which alone
   * spools and publishes. UDP resources always run in the agent's process. See
   * docs/agent.md § Worker processes.
   * @default 1
   */
  readonly workers: number;
  readonly publish: PublishConfig;
  readonly http: HttpConfig;
  readonly log: LogConfig;
  /**
   * PROXY protocol settings for every resource; a resource's own `proxyProtocol` keys
   * override these one by one. See docs/identity.md.
   */
  readonly proxyProtocol: ProxyProtocolConfig;
  /** The peer map (source IP/CIDR → client id, user id); undefined when not configured. */
  readonly peerMap: PeerMapConfig | undefined;
  /** The proxied resources. At least one; ids unique. */
  readonly resources: readonly ResourceConfig[];
}

export interface NatsConfig {
  /**
   * NATS server URLs. Env `CONNLOG_AGENT_NATS_SERVERS` (comma-separated), flag `--nats`.
   * @default ["nats://127.0.0.1:4222"]
   */
  readonly servers: readonly string[];
  /** User name (with `pass`). Env `CONNLOG_AGENT_NATS_USER`. @default undefined */
  readonly user: string | undefined;
  /** Password (with `user`). Env `CONNLOG_AGENT_NATS_PASS`. @default undefined */
  readonly pass: string | undefined;
  /** Token authentication. Env `CONNLOG_AGENT_NATS_TOKEN`. @default undefined */
  readonly token: string | undefined;
  /** Path of a `.creds` file (JWT + nkey seed). Env `CONNLOG_AGENT_NATS_CREDS_FILE`. @default undefined */
  readonly credsFile: string | undefined;
  /**
   * Connection name shown by the NATS server. Env `CONNLOG_AGENT_NATS_NAME`.
   * @default "connlog-agent/<org>/<site>"
   */
  readonly name: string;
  /**
   * Inbox prefix for the replies to JetStream publishes. Per-site NATS users should
   * get their own (and permissions for it), so one site cannot read another's replies.
   * Env `CONNLOG_AGENT_NATS_INBOX_PREFIX`.
   * @default "_INBOX"
   */
  readonly inboxPrefix: string;
}

export type FsyncPolicy = 'always' | 'interval' | 'never';

export interface SpoolConfig {
  /**
   * Directory of the spool, the agent id file and the open-sessions journal.
   * Relative paths are relative to the working directory. Env `CONNLOG_AGENT_SPOOL_DIR`.
   * @default "./data/agent-spool"
   */
  readonly dir: string;
  /**
   * Bound of unacknowledged batches held; when reached, new batches wait in memory and
   * then new sessions go unrecorded (counted, reported as a recording gap).
   * @default 1073741824 (`"1GiB"`)
   */
  readonly maxBytes: number;
  /** Size of one segment file. @default 16777216 (`"16MiB"`) */
  readonly segmentBytes: number;
  /** When appended batches are fsynced. @default "interval" */
  readonly fsync: FsyncPolicy;
  /** Period of the `interval` fsync policy. @default 1000 (`"1s"`) */
  readonly fsyncInterval: number;
  /**
   * `disk` (survives restarts) or `memory` (bounded by `maxBytes`, lost on exit; for
   * tests and hosts without a writable disk).
   * @default "disk"
   */
  readonly kind: 'disk' | 'memory';
}

export interface PublishConfig {
  /** A batch closes at this many events. @default 1000 */
  readonly maxBatchEvents: number;
  /** A batch closes before its encoding exceeds this size. @default 524288 (`"512KiB"`) */
  readonly maxBatchBytes: number;
  /** A batch closes this long after its first event. @default 1000 (`"1s"`) */
  readonly flushInterval: number;
  /** Unacknowledged JetStream publishes in flight. @default 16 */
  readonly maxInflight: number;
  /**
   * Bound of encoded batches waiting in memory for the spool. When reached, new sessions
   * are not recorded until it drains (see docs/agent.md, "When a bound is hit").
   * @default 16777216 (`"16MiB"`)
   */
  readonly maxBufferBytes: number;
  /** How long one publish waits for its JetStream ack before it is retried. @default 5000 */
  readonly ackTimeout: number;
  /**
   * On shutdown, how long to wait for the spool to drain to JetStream before closing
   * (what is left stays in a disk spool for the next start).
   * @default 5000 (`"5s"`)
   */
  readonly drainTimeout: number;
}

export interface HttpConfig {
  /**
   * Address of `/healthz` and `/metrics`; `""` disables the HTTP server.
   * Env `CONNLOG_AGENT_HTTP_LISTEN`, flag `--http-listen`.
   * @default "127.0.0.1:9464"
   */
  readonly listen: string;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LogConfig {
  /** Env `CONNLOG_AGENT_LOG_LEVEL`, flag `--log-level`. @default "info" */
  readonly level: LogLevel;
}

export interface ResourceConfig {
  /** Resource id: `[A-Za-z0-9_-]{1,64}`, unique; recorded on every session. */
  readonly id: string;
  /** `tcp`, or `udp` (a session is a flow: one client address:port). */
  readonly protocol: 'tcp' | 'udp';
  /** `host:port` to listen on; port 0 picks a free port (see `status()`). */
  readonly listen: string;
  /** `host:port` of the target, as recorded in `dest_host` (the host part). */
  readonly target: string;
  /** Dial timeout of this resource. @default the top-level `dialTimeout` */
  readonly dialTimeout: number;
  /**
   * UDP only: a flow without a datagram in either direction for this long ends with
   * `idle_timeout`.
   * @default 60000 (`"60s"`)
   */
  readonly idleTimeout: number;
  /**
   * UDP only: bound of concurrent flows (each holds a socket toward the target).
   * Datagrams that would open a flow beyond it are dropped and counted.
   * @default 4096
   */
  readonly maxFlows: number;
  /**
   * UDP only: largest datagram payload forwarded, either way (after a PROXY header is
   * stripped). Larger datagrams are dropped and counted; they start no flow.
   * @default 65535 (nothing is dropped)
   */
  readonly maxDatagramBytes: number;
  /**
   * The peer map of this resource: its own `peerMap`, else the top-level one, else
   * undefined.
   */
  readonly peerMap: PeerMapConfig | undefined;
  /** This resource's effective PROXY protocol settings (top level merged with its own keys). */
  readonly proxyProtocol: ProxyProtocolConfig;
}

export type ProxyProtocolModeName = 'off' | 'optional' | 'required';

/** PROXY protocol settings, validated (see docs/identity.md for the modes). */
export interface ProxyProtocolConfig {
  /** `off`, `optional` or `required`. @default "off" */
  readonly mode: ProxyProtocolModeName;
  /** Sources allowed to send a header, as written (IPs or CIDRs). Non-empty unless `off`. @default [] */
  readonly trustedCidrs: readonly string[];
  /** TCP: how long a connection may take to deliver its header, in ms (1..60000). @default 3000 (`"3s"`) */
  readonly headerTimeout: number;
  /** v2 TLV type carrying the client id. @default 225 (0xE1) */
  readonly clientIdTlv: number;
  /** v2 TLV type carrying the user id. @default 226 (0xE2) */
  readonly userIdTlv: number;
  /** Take `PP2_TYPE_UNIQUE_ID` (0x05) as the client id when the client id TLV is absent. @default false */
  readonly uniqueIdAsClientId: boolean;
  /** Largest v2 header accepted, in bytes (232..65551). @default 4096 (`"4KiB"`) */
  readonly maxHeaderBytes: number;
}

export interface PeerMapConfig {
  /**
   * Path of the peer map file (YAML or JSON), watched and re-read on change and on
   * SIGHUP. Env `CONNLOG_AGENT_PEER_MAP_FILE`.
   */
  readonly file: string;
}
