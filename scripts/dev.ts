// `npm run dev`: a throwaway local cluster (primary + 1 replica) with PgGate in front of it.
// Prints a psql-ready URL and the metrics URL; Ctrl-C stops PgGate and removes the cluster.
import { configFromObject } from "../src/config/index.ts";
import { Gateway } from "../src/gateway.ts";
import { startCluster } from "./cluster.ts";

async function freePort(preferred: number): Promise<number> {
  try {
    const probe = Bun.listen({ hostname: "127.0.0.1", port: preferred, socket: { data() {} } });
    probe.stop(true);
    return preferred;
  } catch {
    return 0;
  }
}

const cluster = await startCluster({ replicas: 1, log: (l) => console.error(l) });
let gateway: Gateway | null = null;
let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await gateway?.shutdown();
    await cluster.stop();
  }
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

try {
  const config = configFromObject(
    {
      // PGGATE_DEV_PORT / PGGATE_DEV_METRICS_PORT choose the ports; else 6432 and 8080 when free.
      listen: { host: "127.0.0.1", port: Number(process.env.PGGATE_DEV_PORT) || (await freePort(6432)) },
      metrics: { host: "127.0.0.1", port: Number(process.env.PGGATE_DEV_METRICS_PORT) || (await freePort(8080)) },
      nodes: {
        primary: { host: cluster.primary.host, port: cluster.primary.port },
        replicas: cluster.replicas.map((r) => ({ host: r.host, port: r.port })),
        tls: { mode: "disable" },
      },
      // passthrough keeps the primary the authority; the auth_user lets PgGate reuse what the
      // primary accepted, so SCRAM users' reads reach the replica too.
      auth: { mode: "passthrough", auth_user: cluster.authUser.user, auth_password: cluster.authUser.password, auth_query: cluster.authQuery },
    },
    { source: "", env: {} },
  );
  // A table for the write half of the demo.
  await cluster.psql(cluster.primary, "CREATE TABLE IF NOT EXISTS demo (id serial PRIMARY KEY, note text); GRANT ALL ON demo, demo_id_seq TO PUBLIC;", "app");
  gateway = new Gateway(config);
  gateway.start();
  const { user, password } = cluster.users.scram;
  const url = `postgresql://${user}:${password}@127.0.0.1:${gateway.port}/app`;
  const replicaPort = cluster.replicas[0].port;
  console.log(`
PgGate is running in front of a throwaway cluster (primary :${cluster.primary.port}, replica :${replicaPort}).

  psql "${url}"

Reads go to the replica, writes to the primary:
  psql "${url}" -Atc "select inet_server_port()"                                  # ${replicaPort} (the replica)
  psql "${url}" -Atc "insert into demo (note) values ('hi') returning inet_server_port()"   # ${cluster.primary.port} (the primary)

  admin console: psql "postgresql://${cluster.superuser}@127.0.0.1:${gateway.port}/pggate" -c "show nodes"
  metrics:       ${gateway.metricsUrl}/metrics

Also available: users pggate_md5 / md5_pw and pggate_plain / plain_pw. Ctrl-C stops everything.
`);
} catch (e) {
  console.error(`dev: ${(e as Error).message}`);
  await stop(1);
}
