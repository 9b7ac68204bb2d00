import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rill = process.env.RILL_BIN ?? resolve(webDir, '../.venv/bin/rill');

/** Bots for the suite: a fast echo, a slow one (stop, reload, switch), and the guide. */
const CONFIG = `
# The history test seeds 100 turns in a few seconds: no per-user turn limit here.
chat_turns_per_minute = 0

[[bots]]
id = "echo"
name = "Echo"
description = "Streams your message back word by word."
provider = "echo"
model = "echo"
pace = 0.01

[[bots]]
id = "slow"
name = "Slow Echo"
description = "Echo at reading speed, for stop and reload."
provider = "echo"
model = "echo"
pace = 0.06

[[bots]]
id = "fast"
name = "Fast Echo"
description = "Echo without pauses, for very long replies."
provider = "echo"
model = "echo"
pace = 0
max_tokens = 200000

[[bots]]
id = "guide"
name = "Rill Guide"
description = "Answers questions about SSE and Rill (English, 한국어)."
provider = "guide"
model = "guide-bm25"
pace = 0.01
`;

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForHealth(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`rill serve exited (${child.exitCode}):\n${log()}`);
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`rill serve did not become healthy:\n${log()}`);
}

/** Builds the app, starts a real `rill serve` on a free port with a temp data dir, stops it after. */
export default async function globalSetup(): Promise<() => Promise<void>> {
  if (process.env.RILL_E2E_URL) return async () => undefined;
  if (!process.env.E2E_SKIP_BUILD || !existsSync(join(webDir, 'dist/index.html'))) {
    execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: webDir, stdio: 'inherit' });
  }
  const dir = mkdtempSync(join(tmpdir(), 'rill-e2e-'));
  const configPath = join(dir, 'rill.toml');
  writeFileSync(configPath, CONFIG);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child = spawn(rill, ['serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', join(dir, 'data'), '--config', configPath], {
    cwd: dir,
    env: { ...process.env, RILL_WEB_DIR: join(webDir, 'dist'), RILL_LOG_LEVEL: 'warning' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  await waitForHealth(url, child, () => output);
  process.env.RILL_E2E_URL = url;
  process.env.RILL_E2E_PORT = String(port);
  process.env.RILL_E2E_DIR = dir;

  return async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise<void>((r) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          r();
        });
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
