// A hung host for tests: SIGSTOP a node's postmaster and every process under it (the sockets stay
// open, nothing answers), and SIGCONT them again.
import { run } from "./harness.ts";

/** SIGSTOPs a node's postmaster and every process under it (a hung host); returns them for thaw(). */
export async function freeze(dataDir: string): Promise<number[]> {
  const postmaster = Number((await Bun.file(`${dataDir}/postmaster.pid`).text()).split("\n")[0]);
  const children = (await run(["pgrep", "-P", String(postmaster)])).stdout.split("\n").filter(Boolean).map(Number);
  const pids = [postmaster, ...children];
  for (const pid of pids) process.kill(pid, "SIGSTOP");
  return pids;
}

export function thaw(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGCONT");
    } catch {
      // gone meanwhile
    }
  }
}
