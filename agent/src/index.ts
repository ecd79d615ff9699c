export { createAgent } from './agent.js';
export type { Agent, AgentDeps, AgentStatus, ResourceStatus } from './agent.js';
export { loadConfig, ENV_VARS } from './config/load.js';
export type { ConfigFlags } from './config/load.js';
export { parseConfig } from './config/validate.js';
export type {
  AgentConfig,
  FsyncPolicy,
  HttpConfig,
  LogConfig,
  LogLevel,
  NatsConfig,
  PeerMapConfig,
  ProxyProtocolConfig,
  ProxyProtocolModeName,
  PublishConfig,
  ResourceConfig,
  SpoolConfig,
} from './config/options.js';
export { AgentError } from './errors.js';
export type { AgentErrorCode } from './errors.js';
export { MemorySpool } from './spool/memory.js';
// For edge-proxy tools and tests that need to send what a trusted sender sends.
export { encodeProxyV1, encodeProxyV2 } from './identity/proxy_encode.js';
export type { ProxyV1Fields, ProxyV2Fields } from './identity/proxy_encode.js';
export { AGENT_VERSION } from './version.js';
