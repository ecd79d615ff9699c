export { startNatsServer } from './nats_server.js';
export type { NatsServer, NatsServerOptions } from './nats_server.js';
export { waitFor, sleep } from './wait.js';
export { tempDir } from './tmp.js';
export { freePort } from './ports.js';
