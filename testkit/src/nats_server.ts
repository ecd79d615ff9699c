import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './tmp.js';
import { waitFor } from './wait.js';

export interface NatsServerOptions {
  /** Fixed client port; default a random one (`-1`), fixed after the first start. */
  port?: number;
  /** Extra lines appended to the generated server config. */
  extraConfig?: string;
  /** Store directory; default a temp dir removed by `remove()`. */
  storeDir?: string;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** SIGTERM and wait for exit (JetStream flushes its store). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** Start again on the same port and store. */
  restart(): Promise<void>;
  /** Stop and delete the temp store. Idempotent. */
  remove(): Promise<void>;
}

/**
 * Start a real `nats-server` with JetStream on a random port with its own store dir.
 * The ports file is read to learn the port; an early exit fails fast with its stderr.
 */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = tempDir('nats');
  const storeDir = options.storeDir ?? join(dir.path, 'store');
  mkdirSync(storeDir, { recursive: true });
  const portsDir = join(dir.path, 'ports');
  mkdirSync(portsDir, { recursive: true });
  let port = options.port ?? -1;
  let child: ChildProcess | undefined;
  let removed = false;

  const writeConfig = (): string => {
    const file = join(dir.path, 'nats.conf');
    writeFileSync(
      file,
      [
        `listen: "127.0.0.1:${port}"`,
        `jetstream { store_dir: "${storeDir}" }`,
        `ports_file_dir: "${portsDir}"`,
        options.extraConfig ?? '',
      ].join('\n'),
    );
    return file;
  };

  const launch = async (): Promise<void> => {
    for (const name of readdirSync(portsDir)) writeFileSync(join(portsDir, name), '');
    const proc = spawn('nats-server', ['-c', writeConfig()], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    let stderr = '';
    let exited: string | undefined;
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    proc.on('exit', (code, signal) => {
      exited = `nats-server exited (code ${code}, signal ${signal}): ${stderr}`;
    });
    proc.on('error', (err) => {
      exited = `nats-server could not start: ${err.message} (is it installed?)`;
    });
    const found = await waitFor(
      () => {
        if (exited) throw new Error(exited);
        const file = readdirSync(portsDir).find((name) => name.endsWith('.ports'));
        if (!file) return undefined;
        const text = readFileSync(join(portsDir, file), 'utf8');
        if (text === '') return undefined;
        const parsed = JSON.parse(text) as { nats?: string[] };
        const url = parsed.nats?.[0];
        return url ? Number(new URL(url).port) : undefined;
      },
      15_000,
      'nats-server to write its ports file',
    ).catch((err: unknown) => {
      proc.kill('SIGKILL');
      throw err;
    });
    port = found;
  };

  const waitExit = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  };

  await launch();
  return {
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    storeDir,
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    restart: async () => {
      await waitExit('SIGTERM');
      await launch();
    },
    remove: async () => {
      if (removed) return;
      removed = true;
      await waitExit('SIGKILL');
      dir.remove();
    },
  };
}
