// Prometheus metrics and the HTTP endpoints (/metrics, /healthz, /readyz). Collectors read plain
// counters kept by the sessions at scrape time, so the hot path only increments integers.
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { GatewayContext } from "../session/context.ts";

export interface MetricsServer {
  readonly url: string;
  stop(): void;
}

export function createRegistry(ctx: GatewayContext): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "pggate_", eventLoopMonitoringPrecision: 20 });
  new Gauge({
    name: "pggate_client_connections",
    help: "Client connections by state",
    labelNames: ["state"],
    registers: [registry],
    collect() {
      this.set({ state: "active" }, ctx.clientCount);
    },
  });
  new Counter({
    name: "pggate_config_reloads_total",
    help: "Config reloads by result",
    labelNames: ["result"],
    registers: [registry],
  });
  return registry;
}

export function startMetricsServer(ctx: GatewayContext, registry: Registry): MetricsServer {
  const { host, port } = ctx.config.metrics;
  const server = Bun.serve({
    hostname: host,
    port,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/metrics") {
        return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
      }
      if (path === "/healthz") return new Response("ok\n");
      if (path === "/readyz") {
        return ctx.shuttingDown ? new Response("shutting down\n", { status: 503 }) : new Response("ready\n");
      }
      return new Response("not found\n", { status: 404 });
    },
  });
  return { url: `http://${host}:${server.port}`, stop: () => server.stop(true) };
}
