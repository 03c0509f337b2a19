// CPU quotas for benchmark processes through the cgroup v1 `cpu` controller, with a twin group
// under `cpuacct` that counts the CPU the group used: one pair per emulated machine, removed again
// (pids moved back to the root groups, rmdir) on every exit path. Needs root; touches only its own groups.

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { processTree } from "./procs.ts";

export const CPU_CGROUP_ROOT = "/sys/fs/cgroup/cpu";
export const CPUACCT_CGROUP_ROOT = "/sys/fs/cgroup/cpuacct";
const ROOTS = [CPU_CGROUP_ROOT, CPUACCT_CGROUP_ROOT];

export interface ThrottleStats {
  /** CFS periods in which the group had runnable tasks. */
  periods: number;
  /** Of those, periods in which it used up its quota and was stopped. */
  throttled: number;
  throttledMs: number;
}

export interface CpuGroup {
  name: string;
  /** The quota, in CPUs (0.4 = 40 % of one core per period). */
  cpus: number;
  /** Files a shell writes `$$` into to join the group (both hierarchies) before it execs. */
  procsFiles: string[];
  /** Moves one process (all its threads) into the group; later forks inherit it. */
  addPid(pid: number): void;
  /** Moves `root` and every live descendant (e.g. a postmaster and its existing backends). */
  addTree(root: number): number;
  throttling(): ThrottleStats;
  /** CPU time the group's processes used since the group was created, ms (cpuacct.usage). */
  usageMs(): number;
}

/** Why CPU quotas cannot be used here, or null when they can. */
export function cgroupUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "needs root (it writes to /sys/fs/cgroup/cpu)";
  if (!existsSync(join(CPU_CGROUP_ROOT, "cgroup.procs")) || !existsSync(join(CPU_CGROUP_ROOT, "cpu.cfs_quota_us"))) {
    return `no cgroup v1 cpu controller mounted at ${CPU_CGROUP_ROOT}`;
  }
  if (!existsSync(join(CPUACCT_CGROUP_ROOT, "cpuacct.usage"))) return `no cgroup v1 cpuacct controller mounted at ${CPUACCT_CGROUP_ROOT}`;
  return null;
}

function writePid(file: string, pid: number): boolean {
  try {
    writeFileSync(file, `${pid}\n`);
    return true;
  } catch (e) {
    // ESRCH: the process exited between listing and moving it.
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw e;
  }
}

/**
 * The groups of one benchmark run, named `pggate-bench-<our pid>-<name>` so that concurrent runs
 * do not share them. `removeAll()` is synchronous so that it can run from an exit hook.
 */
export class CpuGroups {
  /** Group name -> its directories (cpu, cpuacct). */
  private readonly groups = new Map<string, string[]>();

  constructor(private readonly prefix = `pggate-bench-${process.pid}`) {}

  create(name: string, cpus: number, periodUs = 100_000): CpuGroup {
    const dirs = ROOTS.map((root) => join(root, `${this.prefix}-${name}`));
    this.groups.set(name, []);
    for (const d of dirs) {
      mkdirSync(d);
      this.groups.get(name)!.push(d);
    }
    const [cpuDir, acctDir] = dirs;
    writeFileSync(join(cpuDir, "cpu.cfs_period_us"), String(periodUs));
    writeFileSync(join(cpuDir, "cpu.cfs_quota_us"), String(Math.round(cpus * periodUs)));
    const procsFiles = dirs.map((d) => join(d, "cgroup.procs"));
    const add = (pid: number) => procsFiles.every((f) => writePid(f, pid));
    const stat0 = readStat(cpuDir);
    return {
      name,
      cpus,
      procsFiles,
      addPid: (pid) => void add(pid),
      addTree: (root) => {
        let moved = 0;
        for (const s of processTree(root)) if (add(s.pid)) moved++;
        return moved;
      },
      throttling: () => {
        const now = readStat(cpuDir);
        return {
          periods: now.periods - stat0.periods,
          throttled: now.throttled - stat0.throttled,
          throttledMs: (now.throttledNs - stat0.throttledNs) / 1e6,
        };
      },
      usageMs: () => Number(readFileSync(join(acctDir, "cpuacct.usage"), "utf8").trim()) / 1e6,
    };
  }

  /** Moves every process of our groups back to the root groups and removes the groups. */
  removeAll(): string[] {
    const problems: string[] = [];
    for (const [name, dirs] of [...this.groups].reverse()) {
      for (const dir of [...dirs]) {
        const root = ROOTS.find((r) => dir.startsWith(`${r}/`)) as string;
        let lastError: Error | null = null;
        // A process forked while we move the others lands in the group, and an exited process
        // stays listed until its parent reaps it: repeat (for up to 5 s) until rmdir succeeds.
        for (let attempt = 0; attempt < 100; attempt++) {
          try {
            const pids = readFileSync(join(dir, "tasks"), "utf8").split("\n").filter(Boolean).map(Number);
            for (const pid of pids) writePid(join(root, "tasks"), pid);
            rmdirSync(dir);
            dirs.splice(dirs.indexOf(dir), 1);
            lastError = null;
            break;
          } catch (e) {
            lastError = e as Error;
            if ((e as NodeJS.ErrnoException).code === "ENOENT") {
              dirs.splice(dirs.indexOf(dir), 1);
              lastError = null;
              break;
            }
            Bun.sleepSync(50);
          }
        }
        if (lastError) problems.push(`cgroup ${dir}: ${lastError.message}`);
      }
      if (dirs.length === 0) this.groups.delete(name);
    }
    return problems;
  }
}

function readStat(dir: string): { periods: number; throttled: number; throttledNs: number } {
  const text = readFileSync(join(dir, "cpu.stat"), "utf8");
  const field = (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? 0);
  return { periods: field("nr_periods"), throttled: field("nr_throttled"), throttledNs: field("throttled_time") };
}
