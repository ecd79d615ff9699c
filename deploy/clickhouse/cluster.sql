-- connlog ClickHouse schema for cluster connlog (database connlog).
-- Generated from collector/src/store/schema.ts (`connlog-collector schema`); the
-- collector applies these migrations itself, idempotently, at startup.

-- migration 1: sessions table
CREATE TABLE IF NOT EXISTS connlog.sessions_local ON CLUSTER connlog
(
    org_id LowCardinality(String) COMMENT 'Organisation (the <org> token of the NATS subject)',
    site_id LowCardinality(String) COMMENT 'Site whose agent proxied the session',
    agent_id LowCardinality(String) COMMENT 'Agent instance that recorded the session',
    resource_id LowCardinality(String) COMMENT 'Configured resource (listen address to target) the client reached',
    session_id UUID COMMENT 'Session id (UUIDv7 minted by the agent when it accepted the client)' CODEC(ZSTD(1)),
    protocol LowCardinality(String) COMMENT 'tcp or udp',
    client_id String COMMENT 'Client identity; empty when unknown' CODEC(ZSTD(1)),
    user_id String COMMENT 'User identity; empty when unknown' CODEC(ZSTD(1)),
    source_ip IPv6 COMMENT 'Client address; IPv4 stored IPv4-mapped (::ffff:a.b.c.d)' CODEC(ZSTD(1)),
    source_port UInt16 COMMENT 'Client port' CODEC(ZSTD(1)),
    dest_ip IPv6 COMMENT 'Target address the agent dialed; :: when the dial never resolved one' CODEC(ZSTD(1)),
    dest_port UInt16 COMMENT 'Target port' CODEC(ZSTD(1)),
    dest_host LowCardinality(String) COMMENT 'Target as configured on the resource (hostname or IP)',
    started_at DateTime64(3, 'UTC') COMMENT 'When the agent accepted the client connection (or first datagram)' CODEC(Delta, ZSTD(1)),
    ended_at Nullable(DateTime64(3, 'UTC')) COMMENT 'When the session closed; NULL while ongoing' CODEC(Delta, ZSTD(1)),
    duration_ms UInt64 COMMENT 'ended_at - started_at; for an ongoing session, up to its latest update' CODEC(T64, ZSTD(1)),
    bytes_tx UInt64 COMMENT 'Bytes sent by the client toward the target (client -> target), cumulative' CODEC(T64, ZSTD(1)),
    bytes_rx UInt64 COMMENT 'Bytes returned to the client (target -> client), cumulative' CODEC(T64, ZSTD(1)),
    packets_tx UInt64 COMMENT 'Datagrams client -> target, cumulative (UDP; 0 for TCP)' CODEC(T64, ZSTD(1)),
    packets_rx UInt64 COMMENT 'Datagrams target -> client, cumulative (UDP; 0 for TCP)' CODEC(T64, ZSTD(1)),
    close_reason LowCardinality(String) COMMENT 'client_closed, target_closed, idle_timeout, dial_failed, dial_timeout, reset, agent_shutdown, agent_restart, error; empty while ongoing',
    error String COMMENT 'Short error text (dial or I/O failure); empty when none' CODEC(ZSTD(1)),
    status LowCardinality(String) DEFAULT if(ended_at IS NULL, 'ongoing', 'completed') COMMENT 'ongoing or completed, derived from ended_at at insert',
    retention_days UInt16 COMMENT 'Org retention stamped at insert; the row expires started_at + retention_days',
    version UInt64 COMMENT 'Event seq (START = 1); the highest version of a session wins' CODEC(T64, ZSTD(1)),
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'When the collector inserted this version' CODEC(Delta, ZSTD(1)),
    source_addr String ALIAS if(startsWith(IPv6NumToString(source_ip), '::ffff:') AND isIPv4String(substring(IPv6NumToString(source_ip), 8)), concat(substring(IPv6NumToString(source_ip), 8), ':', toString(source_port)), concat('[', IPv6NumToString(source_ip), ']:', toString(source_port))) COMMENT 'source_ip:source_port as text (IPv6 in brackets)',
    dest_addr String ALIAS if(startsWith(IPv6NumToString(dest_ip), '::ffff:') AND isIPv4String(substring(IPv6NumToString(dest_ip), 8)), concat(substring(IPv6NumToString(dest_ip), 8), ':', toString(dest_port)), concat('[', IPv6NumToString(dest_ip), ']:', toString(dest_port))) COMMENT 'dest_ip:dest_port as text (IPv6 in brackets)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
PARTITION BY toDate(started_at)
ORDER BY (org_id, started_at, session_id)
TTL toDateTime(started_at) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 1000, merge_with_ttl_timeout = 3600, ttl_only_drop_parts = 0
COMMENT 'One row per session event version (START, UPDATE, END); query network_logs for one row per session';

CREATE TABLE IF NOT EXISTS connlog.sessions ON CLUSTER connlog
AS connlog.sessions_local
ENGINE = Distributed(connlog, connlog, sessions_local, cityHash64(session_id));

-- migration 2: admin_actions table
CREATE TABLE IF NOT EXISTS connlog.admin_actions_local ON CLUSTER connlog
(
    timestamp DateTime64(3, 'UTC') COMMENT 'When the action happened' CODEC(Delta, ZSTD(1)),
    org_id LowCardinality(String) COMMENT 'Organisation the action applies to; empty for global actions',
    action LowCardinality(String) COMMENT 'What was done, e.g. retention.update, api_key.create, sql.query',
    actor_type LowCardinality(String) COMMENT 'user, api_key or cli',
    actor String COMMENT 'Human-readable actor (user name, key name, OS user)' CODEC(ZSTD(1)),
    actor_id String COMMENT 'Stable actor id (user id, key id)' CODEC(ZSTD(1)),
    outcome LowCardinality(String) COMMENT 'success, denied or error',
    metadata String COMMENT 'JSON object with action details (never secrets)' CODEC(ZSTD(3)),
    retention_days UInt16 DEFAULT 365 COMMENT 'The row expires timestamp + retention_days'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(timestamp)
ORDER BY (org_id, timestamp)
TTL toDateTime(timestamp) + toIntervalDay(retention_days)
SETTINGS non_replicated_deduplication_window = 1000, merge_with_ttl_timeout = 3600
COMMENT 'Audit trail of every admin action';

CREATE TABLE IF NOT EXISTS connlog.admin_actions ON CLUSTER connlog
AS connlog.admin_actions_local
ENGINE = Distributed(connlog, connlog, admin_actions_local, cityHash64(org_id));

-- migration 3: network_logs view
CREATE OR REPLACE VIEW connlog.network_logs ON CLUSTER connlog
AS SELECT org_id, site_id, agent_id, resource_id, session_id, protocol, client_id, user_id, source_ip, source_port, dest_ip, dest_port, dest_host, started_at, ended_at, duration_ms, bytes_tx, bytes_rx, packets_tx, packets_rx, close_reason, error, status, retention_days, version, inserted_at, source_addr, dest_addr
FROM connlog.sessions FINAL
SETTINGS do_not_merge_across_partitions_select_final = 1;

-- migration 4: saturating TTL
ALTER TABLE connlog.sessions_local ON CLUSTER connlog MODIFY TTL toDateTime(least(toUInt64(toUnixTimestamp(started_at)) + toUInt64(retention_days) * 86400, 4294967295)) SETTINGS materialize_ttl_after_modify = 0;

ALTER TABLE connlog.admin_actions_local ON CLUSTER connlog MODIFY TTL toDateTime(least(toUInt64(toUnixTimestamp(timestamp)) + toUInt64(retention_days) * 86400, 4294967295)) SETTINGS materialize_ttl_after_modify = 0;

-- migration 5: recording_gaps table
CREATE TABLE IF NOT EXISTS connlog.recording_gaps_local ON CLUSTER connlog
(
    org_id LowCardinality(String) COMMENT 'Organisation of the agent',
    site_id LowCardinality(String) COMMENT 'Site of the agent',
    agent_id LowCardinality(String) COMMENT 'Agent that could not record',
    from_at DateTime64(3, 'UTC') COMMENT 'First session not recorded' CODEC(Delta, ZSTD(1)),
    to_at DateTime64(3, 'UTC') COMMENT 'When recording resumed' CODEC(Delta, ZSTD(1)),
    sessions_not_recorded UInt64 COMMENT 'Sessions proxied in [from_at, to_at] with no record' CODEC(T64, ZSTD(1)),
    reason LowCardinality(String) COMMENT 'spool_full (the disk spool reached spool.maxBytes) or buffer_full (the in-memory buffer did)',
    retention_days UInt16 COMMENT 'Org retention stamped at insert; the row expires from_at + retention_days',
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3) COMMENT 'When the collector inserted the row' CODEC(Delta, ZSTD(1))
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(from_at)
ORDER BY (org_id, site_id, from_at, agent_id, reason)
TTL toDateTime(least(toUInt64(toUnixTimestamp(from_at)) + toUInt64(retention_days) * 86400, 4294967295))
SETTINGS non_replicated_deduplication_window = 1000, merge_with_ttl_timeout = 3600
COMMENT 'Sessions agents proxied without recording them (spool or buffer full), per gap';

CREATE TABLE IF NOT EXISTS connlog.recording_gaps ON CLUSTER connlog
AS connlog.recording_gaps_local
ENGINE = Distributed(connlog, connlog, recording_gaps_local, cityHash64(org_id, site_id));
