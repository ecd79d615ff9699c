export { startNatsServer } from './nats_server.js';
export type { NatsServer, NatsServerOptions } from './nats_server.js';
export { waitFor, sleep } from './wait.js';
export { tempDir } from './tmp.js';
export { freePort } from './ports.js';
export { blackHole } from './black_hole.js';
export { uuidv7 } from './uuid.js';
export type { BlackHole } from './black_hole.js';
export { shebangNodeFlags } from './node_bin.js';
