// examples/kubernetes/ must agree with PgGate and its image: ports, probe paths, variable names,
// a config PgGate accepts, a grace period that covers the drain, the Dockerfile's user, and the
// names and selectors tying the objects together. Every check is shown failing on a mutated copy.

import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import {
  ADMIN_PASSWORD_ENV,
  AUTH_PASSWORD_ENV,
  ConfigError,
  ENV_KEY_PREFIX,
  parseConfig,
  SCHEMA,
  type Config,
} from "../../../src/config/index.ts";

const ROOT = join(import.meta.dir, "../../..");
const DIR = join(ROOT, "examples/kubernetes");

// The parts of the Kubernetes objects this test reads (everything else passes through untyped).
type Labels = Record<string, string>;
interface Meta {
  name: string;
  namespace?: string;
  labels?: Labels;
}
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[] };
  seccompProfile?: { type?: string };
}
interface Probe {
  httpGet?: { path?: string; port?: string | number };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string };
    configMapKeyRef?: { name: string; key: string };
  };
}
interface Container {
  name: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: unknown[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: unknown; httpGet?: unknown; tcpSocket?: unknown } };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  securityContext?: SecurityContext;
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string; items?: { key: string; path: string }[] } }[];
}
interface Deployment {
  metadata: Meta;
  spec: { selector: { matchLabels: Labels }; template: { metadata: { labels?: Labels }; spec: PodSpec } };
}
interface Service {
  metadata: Meta;
  spec: { selector: Labels; ports: { name?: string; port: number; targetPort?: string | number }[] };
}
interface ConfigMap {
  metadata: Meta;
  data: Record<string, string>;
}
interface Secret {
  metadata: Meta;
  stringData?: Record<string, string>;
  data?: Record<string, string>;
}
interface PodDisruptionBudget {
  metadata: Meta;
  spec: { selector: { matchLabels: Labels }; minAvailable?: number | string; maxUnavailable?: number | string };
}
interface ServiceMonitor {
  metadata: Meta;
  spec: { selector: { matchLabels: Labels }; endpoints: { port?: string; path?: string }[] };
}

interface Manifests {
  deployment: Deployment;
  service: Service;
  configMap: ConfigMap;
  secret: Secret;
  pdb: PodDisruptionBudget;
  serviceMonitor: ServiceMonitor;
  /** The Dockerfile's text (its USER and ENV apply inside the pod). */
  dockerfile: string;
}

const KINDS = {
  Deployment: "deployment",
  Service: "service",
  ConfigMap: "configMap",
  Secret: "secret",
  PodDisruptionBudget: "pdb",
  ServiceMonitor: "serviceMonitor",
} as const;

const manifestFiles = (): string[] => readdirSync(DIR).filter((f) => f.endsWith(".yaml") || f.endsWith(".yml")).sort();

/** Every document of every manifest, by kind; exactly one of each kind this example needs. */
function loadManifests(): Manifests {
  const found: Partial<Record<(typeof KINDS)[keyof typeof KINDS], unknown>> = {};
  for (const file of manifestFiles()) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, file), "utf8"))) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0].message}`);
      const obj = doc.toJS() as { kind?: string } | null;
      if (obj === null) continue;
      const slot = KINDS[obj.kind as keyof typeof KINDS];
      if (!slot) throw new Error(`${file}: unexpected kind ${obj.kind}`);
      if (found[slot]) throw new Error(`${file}: a second ${obj.kind}`);
      found[slot] = obj;
    }
  }
  for (const [kind, slot] of Object.entries(KINDS)) if (!found[slot]) throw new Error(`no ${kind} in examples/kubernetes`);
  return { ...(found as Omit<Manifests, "dockerfile">), dockerfile: readFileSync(join(ROOT, "Dockerfile"), "utf8") };
}

/** The path PgGate reads its config from when started without arguments (src/main.ts). */
function defaultConfigPath(): string {
  const m = /const DEFAULT_CONFIG = "([^"]+)"/.exec(readFileSync(join(ROOT, "src/main.ts"), "utf8"));
  if (!m) throw new Error("src/main.ts: DEFAULT_CONFIG not found");
  return m[1];
}

/** The final stage's USER uid[:gid] and ENV variables. */
function dockerImage(dockerfile: string): { uid: number; gid: number | null; env: Record<string, string> } {
  const lines = dockerfile.replace(/\\\n/g, " ").split("\n").filter((l) => !l.trimStart().startsWith("#"));
  const finalStage = lines.slice(lines.findLastIndex((l) => /^FROM\s/i.test(l)));
  let uid = NaN;
  let gid: number | null = null;
  const env: Record<string, string> = {};
  for (const line of finalStage) {
    const user = /^USER\s+(\d+)(?::(\d+))?\s*$/i.exec(line);
    if (user) {
      uid = Number(user[1]);
      gid = user[2] === undefined ? null : Number(user[2]);
    }
    const e = /^ENV\s+(.*)$/i.exec(line);
    if (e) for (const [, k, v] of e[1].matchAll(/(\w+)=(\S*)/g)) env[k] = v;
  }
  if (Number.isNaN(uid)) throw new Error("Dockerfile: no numeric USER in the final stage");
  return { uid, gid, env };
}

/** The YAML paths the environment can set (`databases` cannot be). */
const ENV_PATHS: ReadonlySet<string> = new Set(SCHEMA.map((k) => k.path).filter((p) => p !== "databases"));

/** Whether PgGate reads this variable: a password variable, or PGGATE_<SECTION>__<KEY> naming a schema key. */
function isPgGateVariable(name: string): boolean {
  if (name === AUTH_PASSWORD_ENV || name === ADMIN_PASSWORD_ENV) return true;
  if (!name.toUpperCase().startsWith(ENV_KEY_PREFIX)) return false;
  return ENV_PATHS.has(name.slice(ENV_KEY_PREFIX.length).toLowerCase().split("__").join("."));
}

const isSubset = (selector: Labels, labels: Labels | undefined): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** Everything in the manifests that disagrees with PgGate, the image or each other ([] = none). */
function disagreements(m: Manifests): string[] {
  const problems: string[] = [];
  const image = dockerImage(m.dockerfile);
  const pod = m.deployment.spec.template.spec;
  const podLabels = m.deployment.spec.template.metadata.labels;
  const container = pod.containers.find((c) => c.name === "pggate") ?? pod.containers[0];
  if (!container) return ["the Deployment has no container"];

  // The environment inside the pod: the image's ENV, then the container's, Secret refs resolved.
  const env: Record<string, string> = { ...image.env };
  for (const name of Object.keys(image.env)) if (!isPgGateVariable(name)) problems.push(`Dockerfile ENV ${name} is not a PgGate variable`);
  if (container.envFrom) problems.push("envFrom: variable names must be listed to be checked");
  for (const v of container.env ?? []) {
    if (!isPgGateVariable(v.name)) problems.push(`env ${v.name} is not a PgGate variable (${AUTH_PASSWORD_ENV}, ${ADMIN_PASSWORD_ENV} or ${ENV_KEY_PREFIX}<SECTION>__<KEY> of a config key)`);
    const secretRef = v.valueFrom?.secretKeyRef;
    const mapRef = v.valueFrom?.configMapKeyRef;
    let value: string | undefined = v.value;
    if (secretRef) {
      if (secretRef.name !== m.secret.metadata.name) problems.push(`env ${v.name} names Secret ${secretRef.name}, not ${m.secret.metadata.name}`);
      value = m.secret.stringData?.[secretRef.key] ?? (m.secret.data?.[secretRef.key] === undefined ? undefined : atob(m.secret.data[secretRef.key]));
      if (value === undefined) problems.push(`env ${v.name}: Secret ${secretRef.name} has no key ${secretRef.key}`);
    } else if (mapRef) {
      if (mapRef.name !== m.configMap.metadata.name) problems.push(`env ${v.name} names ConfigMap ${mapRef.name}, not ${m.configMap.metadata.name}`);
      value = m.configMap.data[mapRef.key];
      if (value === undefined) problems.push(`env ${v.name}: ConfigMap ${mapRef.name} has no key ${mapRef.key}`);
    }
    if (value !== undefined) env[v.name] = value;
  }

  // The ConfigMap must land where PgGate looks when started without arguments.
  const configPath = defaultConfigPath();
  if (container.command || container.args) problems.push("command/args: the image's entrypoint must start PgGate without arguments to read " + configPath);
  let configText: string | undefined;
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    if (!volume?.configMap || volume.configMap.name !== m.configMap.metadata.name) continue;
    const items = volume.configMap.items ?? Object.keys(m.configMap.data).map((key) => ({ key, path: key }));
    for (const item of items) {
      const at = mount.subPath === undefined ? `${mount.mountPath}/${item.path}` : mount.subPath === item.path ? mount.mountPath : null;
      if (at === configPath) configText = m.configMap.data[item.key];
    }
  }
  if (configText === undefined) {
    problems.push(`no ConfigMap key is mounted at ${configPath}`);
    return problems;
  }

  let config: Config;
  try {
    config = parseConfig(configText, { source: configPath, env });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(`PgGate rejects the ConfigMap's pggate.yaml: ${e.message}`);
    return problems;
  }
  if (config.auth.authUser !== "" && config.auth.authPassword === "") problems.push(`auth.auth_user ${config.auth.authUser} has no password (${AUTH_PASSWORD_ENV})`);
  if (!config.metrics.enabled) problems.push("metrics.enabled is false: no /readyz or /healthz for the probes");
  if (config.workers !== 1) problems.push(`workers: ${config.workers}: the probes reach worker 0 only (worker i serves metrics.port + i)`);
  for (const [key, host] of [["listen.host", config.listen.host], ["metrics.host", config.metrics.host]]) {
    if (host !== "0.0.0.0" && host !== "::") problems.push(`${key} is ${host}: unreachable on the pod IP`);
  }

  // Ports, by name, as PgGate will listen.
  const ports = new Map((container.ports ?? []).map((p) => [p.name, p.containerPort]));
  if (ports.get("postgres") !== config.listen.port) problems.push(`containerPort postgres is ${ports.get("postgres")}, listen.port is ${config.listen.port}`);
  if (ports.get("metrics") !== config.metrics.port) problems.push(`containerPort metrics is ${ports.get("metrics")}, metrics.port is ${config.metrics.port}`);
  const portNumber = (p: string | number | undefined): number | undefined => (typeof p === "number" ? p : ports.get(p));

  for (const [probeName, probe, path] of [["readinessProbe", container.readinessProbe, "/readyz"], ["livenessProbe", container.livenessProbe, "/healthz"]] as const) {
    if (probe?.httpGet?.path !== path) problems.push(`${probeName} must GET ${path}, got ${probe?.httpGet?.path}`);
    if (portNumber(probe?.httpGet?.port) !== config.metrics.port) problems.push(`${probeName} port ${probe?.httpGet?.port} is not metrics.port ${config.metrics.port}`);
  }

  // Draining: the grace period counts from the preStop hook, then SIGTERM gets shutdown_timeout_ms.
  const preStop = container.lifecycle?.preStop;
  if (preStop?.exec) problems.push("preStop exec: the image has no shell or sleep binary");
  if (preStop?.httpGet || preStop?.tcpSocket) problems.push("preStop httpGet/tcpSocket: PgGate has no drain endpoint; SIGTERM drains");
  const sleepS = preStop?.sleep?.seconds ?? 0;
  const graceS = pod.terminationGracePeriodSeconds ?? 30;
  const needS = sleepS + Math.ceil(config.shutdownTimeoutMs / 1000) + 1;
  if (graceS < needS) problems.push(`terminationGracePeriodSeconds ${graceS} < preStop sleep ${sleepS} + shutdown_timeout_ms ${config.shutdownTimeoutMs} / 1000 + 1`);

  // The image's user, locked down.
  const sc: SecurityContext = { ...pod.securityContext, ...container.securityContext };
  if (sc.runAsUser !== image.uid) problems.push(`runAsUser ${sc.runAsUser} is not the Dockerfile's USER ${image.uid}`);
  if (image.gid !== null && sc.runAsGroup !== undefined && sc.runAsGroup !== image.gid) problems.push(`runAsGroup ${sc.runAsGroup} is not the Dockerfile's group ${image.gid}`);
  if (sc.runAsNonRoot !== true) problems.push("runAsNonRoot is not true");
  if (container.securityContext?.readOnlyRootFilesystem !== true) problems.push("readOnlyRootFilesystem is not true");
  if (container.securityContext?.allowPrivilegeEscalation !== false) problems.push("allowPrivilegeEscalation is not false");
  if (!container.securityContext?.capabilities?.drop?.includes("ALL")) problems.push("capabilities do not drop ALL");
  if (sc.seccompProfile?.type !== "RuntimeDefault") problems.push(`seccompProfile is ${sc.seccompProfile?.type}, not RuntimeDefault`);

  // Names and selectors.
  const podSelectors: [string, Labels][] = [
    ["Deployment selector", m.deployment.spec.selector.matchLabels],
    ["Service selector", m.service.spec.selector],
    ["PodDisruptionBudget selector", m.pdb.spec.selector.matchLabels],
  ];
  for (const [what, selector] of podSelectors) if (!isSubset(selector, podLabels)) problems.push(`${what} ${JSON.stringify(selector)} does not match the pod labels`);
  if (!isSubset(m.serviceMonitor.spec.selector.matchLabels, m.service.metadata.labels)) problems.push("ServiceMonitor selector does not match the Service's labels");
  if (m.pdb.spec.minAvailable === undefined && m.pdb.spec.maxUnavailable === undefined) problems.push("PodDisruptionBudget sets neither minAvailable nor maxUnavailable");
  for (const p of m.service.spec.ports) {
    const target = portNumber(p.targetPort ?? p.port);
    if (target === undefined) problems.push(`Service port ${p.name} targets ${p.targetPort}, which is no container port`);
  }
  const servicePort = (name: string) => m.service.spec.ports.find((p) => p.name === name);
  if (portNumber(servicePort("postgres")?.targetPort) !== config.listen.port) problems.push("Service port postgres does not reach listen.port");
  if (portNumber(servicePort("metrics")?.targetPort) !== config.metrics.port) problems.push("Service port metrics does not reach metrics.port");
  for (const ep of m.serviceMonitor.spec.endpoints) {
    if (!ep.port || !servicePort(ep.port)) problems.push(`ServiceMonitor endpoint port ${ep.port} is no Service port name`);
    else if (portNumber(servicePort(ep.port)?.targetPort) !== config.metrics.port) problems.push(`ServiceMonitor endpoint port ${ep.port} is not the metrics port`);
    if ((ep.path ?? "/metrics") !== "/metrics") problems.push(`ServiceMonitor path ${ep.path} is not /metrics`);
  }
  const namespaces = new Set([m.deployment, m.service, m.configMap, m.secret, m.pdb, m.serviceMonitor].map((o) => o.metadata.namespace));
  if (namespaces.size > 1) problems.push(`objects in different namespaces: ${[...namespaces].join(", ")}`);
  return problems;
}

describe("examples/kubernetes", () => {
  test("every manifest agrees with PgGate, the Dockerfile and the other manifests", () => {
    expect(disagreements(loadManifests())).toEqual([]);
  });

  test("the ConfigMap's pggate.yaml is what PgGate runs with: ports, drain time, auth password from the Secret", () => {
    const m = loadManifests();
    const config = parseConfig(m.configMap.data["pggate.yaml"], {
      source: defaultConfigPath(),
      env: { ...dockerImage(m.dockerfile).env, [AUTH_PASSWORD_ENV]: m.secret.stringData!["auth-password"] },
    });
    expect(config.auth.mode).toBe("auth_query");
    expect(config.auth.authPassword).toBe(m.secret.stringData!["auth-password"]);
    expect(config.routing.readYourWrites).toBe("global");
    expect(config.listen.port).toBe(6432);
    expect(config.metrics.port).toBe(8080);
  });

  test("the Dockerfile's USER and ENV are read (65532, the two host variables)", () => {
    const image = dockerImage(readFileSync(join(ROOT, "Dockerfile"), "utf8"));
    expect(image.uid).toBe(65532);
    expect(Object.keys(image.env).sort()).toEqual(["PGGATE_LISTEN__HOST", "PGGATE_METRICS__HOST"]);
  });

  test("variable names: password variables and schema keys pass, near misses do not", () => {
    for (const ok of ["PGGATE_AUTH_PASSWORD", "PGGATE_ADMIN_PASSWORD", "PGGATE_POOL__SIZE", "PGGATE_LISTEN__TLS__MODE", "PGGATE_NODES__PRIMARY", "PGGATE_SHUTDOWN_TIMEOUT_MS"]) {
      expect([ok, isPgGateVariable(ok)]).toEqual([ok, true]);
    }
    for (const bad of ["PGGATE_POOL__SIZ", "PGGATE_POOL_SIZE", "PGGATE_DATABASES", "PGGATE_LISTEN", "PGGATE_AUTH__PASSWORD", "POOL__SIZE"]) {
      expect([bad, isPgGateVariable(bad)]).toEqual([bad, false]);
    }
  });

  test("the examples README names every manifest", () => {
    const readme = readFileSync(join(DIR, "README.md"), "utf8");
    for (const file of manifestFiles()) expect([file, readme.includes(file)]).toEqual([file, true]);
  });

  // Each mutation breaks one agreement; the checker must name it.
  const containerOf = (m: Manifests): Container => m.deployment.spec.template.spec.containers[0];
  const configWith = (m: Manifests, from: RegExp, to: string): void => {
    const text = m.configMap.data["pggate.yaml"];
    if (!from.test(text)) throw new Error(`mutation: ${from} not in pggate.yaml`);
    m.configMap.data["pggate.yaml"] = text.replace(from, to);
  };
  const mutations: [string, (m: Manifests) => void, RegExp][] = [
    ["metrics container port moved", (m) => void (containerOf(m).ports!.find((p) => p.name === "metrics")!.containerPort = 9090), /containerPort metrics is 9090/],
    ["listen.port changed in the ConfigMap only", (m) => configWith(m, /port: 6432/, "port: 5432"), /containerPort postgres is 6432, listen\.port is 5432/],
    ["metrics.port left to default while the container says 9100", (m) => {
      configWith(m, /\n  port: 8080[^\n]*/, "");
      containerOf(m).ports!.find((p) => p.name === "metrics")!.containerPort = 9100;
    }, /containerPort metrics is 9100, metrics\.port is 8080/],
    ["readiness probe on /healthz", (m) => void (containerOf(m).readinessProbe!.httpGet!.path = "/healthz"), /readinessProbe must GET \/readyz/],
    ["liveness probe on the postgres port", (m) => void (containerOf(m).livenessProbe!.httpGet!.port = "postgres"), /livenessProbe port postgres/],
    ["misspelt variable", (m) => void containerOf(m).env!.push({ name: "PGGATE_POOL__SIZ", value: "5" }), /env PGGATE_POOL__SIZ is not a PgGate variable/],
    ["variable of a valid name but a bad value", (m) => void containerOf(m).env!.push({ name: "PGGATE_POOL__SIZE", value: "0" }), /PgGate rejects .*pool\.size/s],
    ["ConfigMap pool.size out of range", (m) => configWith(m, /size: 8\b/, "size: 0"), /PgGate rejects .*pool\.size/s],
    ["unknown key in the ConfigMap", (m) => configWith(m, /read_your_writes: global/, "read_your_write: global"), /PgGate rejects .*read_your_write/s],
    ["Secret key renamed", (m) => {
      m.secret.stringData = { "password": m.secret.stringData!["auth-password"], "admin-password": "x" };
    }, /Secret pggate-secrets has no key auth-password/],
    ["auth password variable removed", (m) => void (containerOf(m).env = containerOf(m).env!.filter((v) => v.name !== AUTH_PASSWORD_ENV)), /auth\.auth_user pggate_auth has no password/],
    ["grace period shorter than the drain", (m) => void (m.deployment.spec.template.spec.terminationGracePeriodSeconds = 30), /terminationGracePeriodSeconds 30 < preStop sleep 10 \+ shutdown_timeout_ms 25000/],
    ["shutdown_timeout_ms raised past the grace period", (m) => configWith(m, /shutdown_timeout_ms: 25000/, "shutdown_timeout_ms: 60000"), /terminationGracePeriodSeconds 40 < /],
    ["preStop exec sleep", (m) => void (containerOf(m).lifecycle = { preStop: { exec: { command: ["sleep", "10"] } } }), /no shell/],
    ["another user", (m) => void (containerOf(m).securityContext!.runAsUser = 1000), /runAsUser 1000 is not the Dockerfile's USER 65532/],
    ["Dockerfile user changed", (m) => void (m.dockerfile = m.dockerfile.replace("USER 65532:65532", "USER 10001:10001")), /runAsUser 65532 is not the Dockerfile's USER 10001/],
    ["writable root filesystem", (m) => void (containerOf(m).securityContext!.readOnlyRootFilesystem = false), /readOnlyRootFilesystem/],
    ["capabilities kept", (m) => void (containerOf(m).securityContext!.capabilities = { drop: ["NET_RAW"] }), /drop ALL/],
    ["config mounted elsewhere", (m) => void (containerOf(m).volumeMounts![0].mountPath = "/config"), /no ConfigMap key is mounted at \/etc\/pggate\/pggate\.yaml/],
    // The file's metrics.host alone cannot do it: the image's PGGATE_METRICS__HOST wins over it.
    ["metrics only on loopback", (m) => void containerOf(m).env!.push({ name: "PGGATE_METRICS__HOST", value: "127.0.0.1" }), /metrics\.host is 127\.0\.0\.1/],
    ["Service targets an unknown port name", (m) => void (m.service.spec.ports[0].targetPort = "pg"), /Service port postgres targets pg/],
    ["ServiceMonitor names no Service port", (m) => void (m.serviceMonitor.spec.endpoints[0].port = "http-metrics"), /ServiceMonitor endpoint port http-metrics/],
    ["PDB selects other pods", (m) => void (m.pdb.spec.selector.matchLabels = { "app.kubernetes.io/name": "pgbouncer" }), /PodDisruptionBudget selector/],
    ["Service selects other pods", (m) => void (m.service.spec.selector["app.kubernetes.io/instance"] = "other"), /Service selector/],
    ["ServiceMonitor selects another Service", (m) => void (m.serviceMonitor.spec.selector.matchLabels = { app: "pggate" }), /ServiceMonitor selector/],
    ["workers: 2", (m) => configWith(m, /workers: 1/, "workers: 2"), /workers: 2/],
  ];
  for (const [what, mutate, expected] of mutations) {
    test(`detects: ${what}`, () => {
      const m = loadManifests();
      mutate(m);
      expect(disagreements(m).join("\n")).toMatch(expected);
    });
  }
});
