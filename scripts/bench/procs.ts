// Process bookkeeping for the benchmark: spawns tracked children, reads CPU and memory of process
// trees from /proc, and kills every tree it started (also from a synchronous exit hook).
// Knows nothing about PostgreSQL or the systems under test.

import { readdirSync, readFileSync } from "node:fs";
import type { Subprocess } from "bun";

export const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** Children we started (root pids of trees); the exit hook kills their whole trees. */
const tracked = new Set<Subprocess>();

export function track<T extends Subprocess>(proc: T): T {
  tracked.add(proc);
  void proc.exited.then(() => tracked.delete(proc));
  return proc;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// /proc readers

interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks: reaped children stay counted in the parent. */
  ticks: number;
  /** utime + stime only (the process itself). */
  ownTicks: number;
  starttime: number;
}

function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // comm may contain spaces and parentheses: split after the last ')'.
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  const comm = text.slice(open + 1, close);
  const f = text.slice(close + 2).split(" ");
  // f[0] = state (field 3); utime = field 14 -> f[11], stime f[12], cutime f[13], cstime f[14], starttime field 22 -> f[19].
  return {
    pid,
    comm,
    state: f[0],
    ppid: Number(f[1]),
    ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]),
    ownTicks: Number(f[11]) + Number(f[12]),
    starttime: Number(f[19]),
  };
}

function allStats(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const s = readStat(Number(name));
    if (s) out.push(s);
  }
  return out;
}

/** `root` and all its descendants that are still alive (zombies excluded). */
export function processTree(root: number): ProcStat[] {
  const stats = allStats();
  const byParent = new Map<number, ProcStat[]>();
  for (const s of stats) {
    const list = byParent.get(s.ppid);
    if (list) list.push(s);
    else byParent.set(s.ppid, [s]);
  }
  const self = stats.find((s) => s.pid === root);
  if (!self) return [];
  const out: ProcStat[] = [];
  const queue = [self];
  while (queue.length > 0) {
    const s = queue.shift() as ProcStat;
    if (s.state !== "Z") out.push(s);
    queue.push(...(byParent.get(s.pid) ?? []));
  }
  return out;
}

/** The pids of the tree whose command name is one of `comms` (e.g. pgbouncer under runuser). */
export function treePids(root: number, comms: string[]): number[] {
  return processTree(root)
    .filter((s) => comms.includes(s.comm))
    .map((s) => s.pid);
}

/** Sum of CPU ticks (user + system, own + reaped children) over `pids`. */
export function cpuTicks(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) sum += readStat(pid)?.ticks ?? 0;
  return sum;
}

export interface MemSample {
  /** Sum of VmRSS over the pids, KiB. */
  rssKb: number;
  /** Sum of VmHWM (peak RSS since each process started), KiB. */
  hwmKb: number;
}

function statusField(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

export function memory(pids: number[]): MemSample {
  let rssKb = 0;
  let hwmKb = 0;
  for (const pid of pids) {
    try {
      const text = readFileSync(`/proc/${pid}/status`, "utf8");
      rssKb += statusField(text, "VmRSS");
      hwmKb += statusField(text, "VmHWM");
    } catch {
      // exited between the listing and the read
    }
  }
  return { rssKb, hwmKb };
}

/** Sum of Pss (proportional set size: shared pages split among their users), KiB. */
export function pssKb(pids: number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += statusField(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"), "Pss");
    } catch {
      // exited or no smaps_rollup
    }
  }
  return sum;
}

/** Samples memory of `pids` every `everyMs` until stop() is called; returns the peak RSS seen. */
export function memorySampler(pids: () => number[], everyMs = 250): { stop(): MemSample } {
  let peak: MemSample = memory(pids());
  const timer = setInterval(() => {
    const m = memory(pids());
    if (m.rssKb > peak.rssKb) peak = { rssKb: m.rssKb, hwmKb: Math.max(m.hwmKb, peak.hwmKb) };
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const last = memory(pids());
      return { rssKb: Math.max(peak.rssKb, last.rssKb), hwmKb: Math.max(peak.hwmKb, last.hwmKb) };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Killing

function signalPid(pid: number, sig: NodeJS.Signals | number): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Sends `signal` to `mainPid` (the server process, which may sit below runuser/bash), waits up to
 * `graceMs` for the spawned root to exit, then SIGKILLs whatever is left of the tree.
 */
export async function stopTree(proc: Subprocess, mainPid: number | null, signal: NodeJS.Signals, graceMs = 5_000): Promise<void> {
  const pidsBefore = processTree(proc.pid);
  signalPid(mainPid ?? proc.pid, signal);
  const exited = await Promise.race([proc.exited.then(() => true), sleep(graceMs).then(() => false)]);
  // Descendants may outlive the root (re-parented to init): kill the ones still alive by identity.
  for (const s of pidsBefore) {
    const now = readStat(s.pid);
    if (now && now.starttime === s.starttime && now.state !== "Z") signalPid(s.pid, "SIGKILL");
  }
  if (!exited) {
    signalPid(proc.pid, "SIGKILL");
    await Promise.race([proc.exited, sleep(2_000)]);
  }
}

/** Synchronous last resort (process 'exit'): SIGKILL every tracked tree. */
export function killAllTrackedSync(): void {
  for (const proc of tracked) {
    for (const s of processTree(proc.pid).reverse()) signalPid(s.pid, "SIGKILL");
    signalPid(proc.pid, "SIGKILL");
  }
  tracked.clear();
}

/** Best-effort async stop of every tracked tree (SIGINT path): TERM, short grace, KILL. */
export async function stopAllTracked(): Promise<void> {
  await Promise.all([...tracked].map((p) => stopTree(p, null, "SIGTERM", 3_000)));
}

// ---------------------------------------------------------------------------------------------
// Ports

/** Binds port 0 n times at once (so the ports are distinct), then releases them all. */
export function freePorts(n: number): number[] {
  const listeners = Array.from({ length: n }, () => Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }));
  const ports = listeners.map((l) => l.port);
  for (const l of listeners) l.stop(true);
  return ports;
}

/** Resolves once something accepts TCP connections on host:port, or throws after timeoutMs. */
export async function waitForPort(port: number, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          open(s) {
            s.end();
            resolve(true);
          },
          data() {},
          error() {
            resolve(false);
          },
          connectError() {
            resolve(false);
          },
        },
      }).catch(() => resolve(false));
    });
    if (ok) return;
    if (!alive()) throw new Error("process exited before it listened");
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

// ---------------------------------------------------------------------------------------------
// Foreign load: CPU used during a run by processes that are not ours (other users of the machine)

export type Snapshot = Map<number, { starttime: number; ticks: number }>;

export function snapshotAll(): Snapshot {
  const snap: Snapshot = new Map();
  for (const s of allStats()) snap.set(s.pid, { starttime: s.starttime, ticks: s.ownTicks });
  return snap;
}

/**
 * CPU ticks (utime + stime) spent between two snapshots by processes outside `ourRoots`' trees.
 * Processes that started and exited in between are missed (an underestimate): counting reaped
 * children (cutime) instead would charge their whole lives to a short run.
 */
export function foreignTicks(before: Snapshot, after: Snapshot, ourRoots: number[]): number {
  const ours = new Set<number>();
  for (const root of ourRoots) for (const s of processTree(root)) ours.add(s.pid);
  let sum = 0;
  for (const [pid, a] of after) {
    if (ours.has(pid)) continue;
    const b = before.get(pid);
    sum += b && b.starttime === a.starttime ? Math.max(0, a.ticks - b.ticks) : a.ticks;
  }
  return sum;
}
