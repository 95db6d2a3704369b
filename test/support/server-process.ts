import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A server started the way a user starts it (`npm start`, `node dist/main.js`), as a real
 * child process in a process group of its own: the test signals the process it started
 * only, and the cleanup can still reach anything that process left behind.
 */
export interface ServerProcess {
  child: ChildProcess;
  /** The port from the start banner (started with PORT=0). */
  port: number;
  /** Resolves with the exit code (or the signal) once the process has exited. */
  exited: Promise<number | string | null>;
  output(): string;
  /** SIGKILL to the whole process group, whatever is left of it; for `finally`. */
  kill(): void;
}

/** The environment minus every Strata setting, plus `env`. */
export function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^(STRATA_|DATABASE_URL$|NODE_ENV$|PORT$|LOG_LEVEL$)/.test(k)) base[k] = v;
  return { ...base, PORT: '0', LOG_LEVEL: 'warn', ...env };
}

/**
 * Spawns `command` and waits until its banner names a URL and the server answers there
 * (so it has set up its signal handlers, which happens right after the banner); fails
 * with the output if it exits or `ms` passes first.
 */
export async function startServerProcess(
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; ms?: number },
): Promise<ServerProcess> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  let done = false;
  void exited.then(() => (done = true));
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  };
  const deadline = Date.now() + (options.ms ?? 60_000);
  try {
    for (;;) {
      if (done) throw new Error(`${command} ${args.join(' ')} exited before it listened:\n${out}`);
      if (Date.now() > deadline)
        throw new Error(`${command} ${args.join(' ')} did not listen in time:\n${out}`);
      const port = Number(/http:\/\/[^\s/:]+:(\d+)/.exec(out)?.[1]);
      if (port && (await answers(port))) return { child, port, exited, output: () => out, kill };
      await sleep(100);
    }
  } catch (err) {
    kill();
    throw err;
  }
}

/** Whether 127.0.0.1:port answers HTTP. */
export async function answers(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}

/** Whether a TCP connection to 127.0.0.1:port is refused (nothing listens). */
export function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/** The exit code, or a failure naming `what` after `ms`. */
export async function exitWithin(
  server: ServerProcess,
  what: string,
  ms: number,
): Promise<number | string | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not exit within ${ms} ms:\n${server.output()}`)),
      ms,
    );
  });
  try {
    return await Promise.race([server.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command to its end; its exit code and interleaved output. */
export function runToEnd(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<{ code: number | string | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? signal, output }));
  });
}
