// The Helm chart (deploy/kubernetes/e-wallet), checked offline: the real Helm
// CLI (built from its Go module, scripts/check-deploy/helm.mjs) lints and
// renders it; every rendered Kubernetes object is validated against the
// Kubernetes API schemas of the kubernetes-models package (types, required
// fields, formats; those schemas do not forbid unknown fields, so the shape
// checks below name the fields that matter); the operators' custom resources
// (CloudNativePG, Strimzi, Altinity) against their CRD schemas, vendored in
// deploy/kubernetes/crd-schemas (no registry package ships them), as strictly
// as the API server (unknown fields are errors); each service's environment passes its own config schema; the NetworkPolicies
// mirror the mTLS caller tables (services/<name>/src/grpc/callers.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadServiceConfig, validateEnvironment, type ServiceConfig } from '../../scripts/check-deploy/config-schemas.mjs';
import { loadCrdValidators } from '../../scripts/check-deploy/crd-schemas.mjs';
import { HELM_VERSION, chartDir, ensureHelm, helmUnavailableReason, runHelm } from '../../scripts/check-deploy/helm.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** The oldest Kubernetes the chart supports (Chart.yaml kubeVersion); kubernetes-models' schemas are 1.27's. */
const KUBE_VERSION = '1.27.1';
const RELEASE = 'wallet';
const OUR_SERVICES = ['api-gateway', 'identity-service', 'bank-service', 'bank-card-adapter', 'analytics-service', 'payment-gateway-mock', 'webhook-service'];
/** One pod each, no autoscaling: the stand-in for one external provider, and the webhook dispatcher. */
const SINGLE_POD = ['payment-gateway-mock', 'webhook-service'];
/** gRPC servers and their caller tables (ADR 0009). */
const CALLER_TABLES: Record<string, string> = {
  'bank-service': 'services/bank-service/src/grpc/callers.ts',
  'bank-card-adapter': 'services/bank-card-adapter/src/grpc/callers.ts',
  'analytics-service': 'services/analytics-service/src/grpc/callers.ts',
  'webhook-service': 'services/webhook-service/src/grpc/callers.ts',
};
/** Kinds rendered from the operators' CRDs, with the fields our services rely on. */
const CUSTOM_RESOURCES: Record<string, { apiVersion: string; required: string[] }> = {
  Cluster: { apiVersion: 'postgresql.cnpg.io/v1', required: ['spec.instances', 'spec.storage.size', 'spec.managed.roles'] },
  Database: { apiVersion: 'postgresql.cnpg.io/v1', required: ['spec.name', 'spec.owner', 'spec.cluster.name'] },
  Kafka: { apiVersion: 'kafka.strimzi.io/v1', required: ['spec.kafka.version', 'spec.kafka.listeners', 'spec.entityOperator.topicOperator'] },
  KafkaNodePool: { apiVersion: 'kafka.strimzi.io/v1', required: ['spec.replicas', 'spec.roles', 'spec.storage', 'metadata.labels.strimzi\\.io/cluster'] },
  KafkaTopic: { apiVersion: 'kafka.strimzi.io/v1', required: ['spec.topicName', 'spec.partitions', 'spec.replicas', 'metadata.labels.strimzi\\.io/cluster'] },
  ClickHouseInstallation: { apiVersion: 'clickhouse.altinity.com/v1', required: ['spec.configuration.clusters', 'spec.configuration.users'] },
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered YAML of many kinds; the schemas above type-check it, the tests read paths in it
type Rendered = any;
type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: Rendered; data?: Record<string, string> };

const crdValidators = loadCrdValidators();
const unavailable = helmUnavailableReason();
if (unavailable) console.warn(`[kubernetes.test] skipped: ${unavailable}`);
let helm = '';

function template(args: string[] = []): K8sObject[] {
  const result = runHelm(helm, ['template', RELEASE, chartDir, '--kube-version', KUBE_VERSION, ...args]);
  if (result.status !== 0) throw new Error(`helm template ${args.join(' ')}: ${result.stderr}`);
  return parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

function get(object: unknown, path: string): unknown {
  let value: unknown = object;
  for (const key of path.split(/(?<!\\)\./).map((k) => k.replace(/\\\./g, '.'))) value = (value as Record<string, unknown> | undefined)?.[key];
  return value;
}

/** kubernetes-models class of an apiVersion/kind, e.g. apps/v1 Deployment -> kubernetes-models/apps/v1/Deployment. */
async function validateKubernetesObject(object: K8sObject): Promise<void> {
  const custom = crdValidators.get(`${object.apiVersion}/${object.kind}`);
  if (custom) {
    const problems = custom(object);
    if (problems.length > 0) throw new Error(`${object.kind} ${object.metadata.name}: ${problems.join('; ')}`);
    return;
  }
  const module = (await import(/* @vite-ignore */ `kubernetes-models/${object.apiVersion}/${object.kind}`)) as Record<string, new (data: unknown) => { validate(): void }>;
  new module[object.kind]!(object).validate();
}

const find = (objects: K8sObject[], kind: string, name: string) => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} rendered`);
  return found;
};

describe.skipIf(unavailable !== null)(`Helm chart deploy/kubernetes/e-wallet (helm ${HELM_VERSION}, built from its Go module)`, () => {
  let objects: K8sObject[] = [];
  beforeAll(() => {
    helm = ensureHelm({ log: (line) => console.log(`[kubernetes.test] ${line}`) });
    objects = template();
  }, 1_800_000);

  it('passes helm lint --strict', () => {
    const result = runHelm(helm, ['lint', chartDir, '--strict', '--kube-version', KUBE_VERSION]);
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });

  it('renders every object valid against the Kubernetes schemas (kubernetes-models), and the check can fail', async () => {
    const builtIn = objects.filter((o) => !(o.kind in CUSTOM_RESOURCES));
    expect(builtIn.length).toBeGreaterThan(20);
    for (const object of builtIn) {
      await expect(validateKubernetesObject(object), `${object.kind} ${object.metadata.name}`).resolves.toBeUndefined();
    }
    const broken = structuredClone(find(objects, 'Deployment', 'bank-service'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'fifty';
    await expect(validateKubernetesObject(broken)).rejects.toThrow(/containerPort/);
  });

  it('renders the operators\' custom resources (CloudNativePG, Strimzi, Altinity) valid against their CRD schemas, with the fields the services rely on', async () => {
    const kinds = new Set(objects.map((o) => o.kind));
    for (const object of objects.filter((o) => o.kind in CUSTOM_RESOURCES)) {
      await expect(validateKubernetesObject(object), `${object.kind} ${object.metadata.name}`).resolves.toBeUndefined();
    }
    // Strict like the API server: a misspelt field and a wrong value are refused.
    const broken = structuredClone(find(objects, 'Kafka', 'wallet-kafka'));
    broken.spec.kafka.listners = broken.spec.kafka.listeners;
    broken.spec.kafka.listeners[0].type = 'internl';
    await expect(validateKubernetesObject(broken)).rejects.toThrow(/additional properties: listners.*\/spec\/kafka\/listeners\/0\/type/);
    for (const [kind, { apiVersion, required }] of Object.entries(CUSTOM_RESOURCES)) {
      expect(kinds, kind).toContain(kind);
      for (const object of objects.filter((o) => o.kind === kind)) {
        expect(object.apiVersion, `${kind} ${object.metadata.name}`).toBe(apiVersion);
        for (const path of required) expect(get(object, path), `${kind} ${object.metadata.name}: ${path}`).toBeDefined();
      }
    }
    // One database and login role per PostgreSQL service, as in compose.
    const roles = (find(objects, 'Cluster', 'wallet-postgres').spec.managed.roles as { name: string }[]).map((r) => r.name).sort();
    const owners = objects.filter((o) => o.kind === 'Database').map((o) => o.spec.owner as string).sort();
    expect(owners).toEqual(roles);
    // The contract topics, partitioned, replicated; the analytics HPA never passes the partition count.
    const operations = find(objects, 'KafkaTopic', 'wallet-operations');
    expect(operations.spec.topicName).toBe('wallet.operations');
    expect(find(objects, 'KafkaTopic', 'wallet-operations-dlq').spec.topicName).toBe('wallet.operations.dlq');
    expect(find(objects, 'HorizontalPodAutoscaler', 'analytics-service').spec.maxReplicas).toBeLessThanOrEqual(operations.spec.partitions);
    // Brokers point at the Strimzi bootstrap Service of that cluster.
    const brokers = find(objects, 'ConfigMap', 'bank-service-env').data!.KAFKA_BROKERS;
    expect(brokers).toBe(`${find(objects, 'Kafka', 'wallet-kafka').metadata.name}-kafka-bootstrap:9092`);
  });

  it('refuses to render more analytics replicas than the topic has partitions', () => {
    expect(() => template(['--set', 'services.analytics-service.autoscaling.maxReplicas=7'])).toThrow(/operationsPartitions/);
  });

  it('runs every service of ours as a Deployment with probes on its ops port, limits and a locked-down security context', () => {
    for (const name of OUR_SERVICES) {
      const deployment = find(objects, 'Deployment', name);
      const pod = deployment.spec.template.spec;
      const [container] = pod.containers;
      const ops = container.ports.find((p: { name: string }) => p.name === 'ops');
      expect(ops, `${name}: ops port`).toBeDefined();
      expect(container.livenessProbe.httpGet, name).toEqual({ path: '/healthz', port: 'ops' });
      expect(container.readinessProbe.httpGet, name).toEqual({ path: '/readyz', port: 'ops' });
      expect(container.startupProbe.httpGet, name).toEqual({ path: '/healthz', port: 'ops' });
      expect(container.resources.requests.cpu && container.resources.requests.memory, `${name}: requests`).toBeTruthy();
      expect(container.resources.limits.cpu && container.resources.limits.memory, `${name}: limits`).toBeTruthy();
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(container.image).toBe(`docker.io/e-wallet/${name}:0.1.0`);
      // The ops port the probes use is the one the service listens on (its *_OPS_PORT).
      const env = find(objects, 'ConfigMap', `${name}-env`).data!;
      const opsVariable = Object.keys(env).find((k) => k.endsWith('_OPS_PORT'))!;
      expect(String(ops.containerPort), `${name}: ${opsVariable}`).toBe(env[opsVariable]);
    }
  });

  it('mounts each service\'s one Secret as files at /run/secrets and names each file by an X_FILE variable (ADR 0009)', () => {
    for (const name of OUR_SERVICES) {
      const pod = find(objects, 'Deployment', name).spec.template.spec;
      const volume = pod.volumes.find((v: { name: string }) => v.name === 'secrets');
      expect(volume.secret.secretName, name).toBe(`${name}-secrets`);
      expect(pod.containers[0].volumeMounts).toContainEqual({ name: 'secrets', mountPath: '/run/secrets', readOnly: true });
      const env = find(objects, 'ConfigMap', `${name}-env`).data!;
      for (const [key, value] of Object.entries(env)) {
        expect(key, `${name}: ${key} is a secret; give it as a file (${key}_FILE)`).not.toMatch(/(^|_)(PASSWORD|SECRET|KEY|TOKEN|CREDENTIAL)$|^(DATABASE|CLICKHOUSE|REDIS)_URL$/);
        if (key.endsWith('_FILE')) expect(value, `${name}: ${key}`).toMatch(/^\/run\/secrets\/[a-z0-9.-]+$/);
      }
    }
    // The chart makes no Secret unless asked (a throw-away cluster); then they are valid objects too.
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  describe('each service\'s environment against its own config schema', () => {
    const configs: Record<string, ServiceConfig> = {};
    beforeAll(async () => {
      for (const name of OUR_SERVICES) configs[name] = await loadServiceConfig(join(root, 'services', name));
    });

    it.each(OUR_SERVICES)('%s: every variable is one its schema reads, and every value is valid', (name) => {
      const config = configs[name]!;
      const container = find(objects, 'Deployment', name).spec.template.spec.containers[0];
      const env: Record<string, string> = { ...find(objects, 'ConfigMap', `${name}-env`).data };
      // Downward API variables take the pod's name (a Deployment pod: <name>-<hash>-<suffix>).
      for (const item of container.env ?? []) env[item.name] = `${name}-5d8f7c9b4-x2x7q`;
      // NODE_ENV and NODE_OPTIONS (e.g. the bank's heap bound) are read by Node.js itself.
      const unknown = Object.keys(env).filter((key) => !config.keys.includes(key) && key !== 'NODE_ENV' && key !== 'NODE_OPTIONS' && !/^OTEL_[A-Z_]+$/.test(key));
      expect(unknown, `${name}: variables no config schema reads`).toEqual([]);
      // Secrets themselves are files; the schema sees a value of the right shape in their place.
      const withSecrets = { ...env };
      for (const key of Object.keys(env).filter((k) => k.endsWith('_FILE'))) {
        const secret = key.slice(0, -'_FILE'.length);
        if (secret in config.secrets) withSecrets[secret] = config.secrets[secret]!.devDefault ?? placeholderSecret(secret);
      }
      expect(validateEnvironment(config, withSecrets), `${name}: values`).toEqual([]);
      // Nothing points at this machine: a container's loopback is itself.
      for (const [key, value] of Object.entries(env)) expect(value, `${name}: ${key}`).not.toMatch(/127\.0\.0\.1|localhost/);
    });
  });

  it('gives every gRPC server a headless Service, and every gRPC client a dns:/// target of it (client-side round_robin over every pod)', () => {
    const targets: [string, string, string][] = [
      ['api-gateway', 'GATEWAY_BANK_GRPC_ADDRESS', 'bank-service'],
      ['api-gateway', 'GATEWAY_CARD_ADAPTER_GRPC_ADDRESS', 'bank-card-adapter'],
      ['api-gateway', 'GATEWAY_ANALYTICS_GRPC_ADDRESS', 'analytics-service'],
      ['bank-card-adapter', 'CARD_ADAPTER_BANK_GRPC_ADDRESS', 'bank-service'],
      ['api-gateway', 'GATEWAY_WEBHOOK_GRPC_ADDRESS', 'webhook-service'],
      ['webhook-service', 'WEBHOOK_BANK_GRPC_ADDRESS', 'bank-service'],
    ];
    for (const [client, variable, server] of targets) {
      const service = find(objects, 'Service', server);
      expect(service.spec.clusterIP, `${server}: headless`).toBe('None');
      const grpc = service.spec.ports.find((p: { name: string }) => p.name === 'grpc');
      expect(grpc.appProtocol).toBe('grpc');
      expect(find(objects, 'ConfigMap', `${client}-env`).data![variable]).toBe(`dns:///${server}:${grpc.port}`);
    }
    // HTTP services behind kube-proxy (one TCP connection per request stream is fine there).
    expect(find(objects, 'Service', 'api-gateway').spec.clusterIP).toBeUndefined();
    expect(find(objects, 'Service', 'identity-service').spec.clusterIP).toBeUndefined();
  });

  it('keeps at least one pod of each replicated service through voluntary disruptions, and autoscales within bounds', () => {
    for (const name of OUR_SERVICES.filter((n) => !SINGLE_POD.includes(n))) {
      const pdb = find(objects, 'PodDisruptionBudget', name);
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(pdb.spec.selector.matchLabels).toEqual(find(objects, 'Deployment', name).spec.selector.matchLabels);
      const hpa = find(objects, 'HorizontalPodAutoscaler', name);
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.spec.maxReplicas).toBeLessThanOrEqual(8);
      // The HPA owns the replica count; a fixed one in the Deployment would fight it on every upgrade.
      expect(find(objects, 'Deployment', name).spec.replicas, name).toBeUndefined();
    }
    // The stand-in for one external provider: one pod, no autoscaling, no budget.
    const mock = objects.filter((o) => o.metadata.labels?.['app.kubernetes.io/name'] === 'payment-gateway-mock');
    expect(mock.map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'NetworkPolicy', 'Service']);
    expect(find(objects, 'Deployment', 'payment-gateway-mock').spec.replicas).toBe(1);
  });

  it('lets a gRPC server be reached only by the callers its mTLS caller table names, on its gRPC port', () => {
    for (const [server, file] of Object.entries(CALLER_TABLES)) {
      const text = readFileSync(join(root, file), 'utf8');
      const callers = [...new Set([...text.matchAll(/'([a-z-]+)'/g)].map((m) => m[1]!).filter((n) => OUR_SERVICES.includes(n)))].sort();
      expect(callers.length, `${file}: callers found`).toBeGreaterThan(0);
      const policy = find(objects, 'NetworkPolicy', server);
      const grpcPort = find(objects, 'Service', server).spec.ports.find((p: { name: string }) => p.name === 'grpc').port;
      const rules = (policy.spec.ingress as { from: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[])
        .filter((rule) => rule.ports.some((p) => p.port === grpcPort));
      const allowed = rules.flatMap((rule) => rule.from.map((peer) => peer.podSelector?.matchLabels['app.kubernetes.io/name'] ?? 'not a pod of ours')).sort();
      expect(allowed, `${server}: NetworkPolicy peers on ${grpcPort} = ${file}`).toEqual(callers);
      // And each caller may send there (its egress), nobody else.
      for (const name of OUR_SERVICES) {
        const egress = find(objects, 'NetworkPolicy', name).spec.egress as { to: { podSelector?: { matchLabels: Record<string, string> } }[]; ports: { port: number }[] }[];
        const reaches = egress.some((rule) => rule.to.some((peer) => peer.podSelector?.matchLabels['app.kubernetes.io/name'] === server) && rule.ports.some((p) => p.port === grpcPort));
        expect(reaches, `${name} -> ${server}`).toBe(callers.includes(name));
      }
    }
  });

  it('denies by default, lets the REST API in from the ingress controller only, and the ops ports from monitoring only', () => {
    const deny = find(objects, 'NetworkPolicy', 'e-wallet-default-deny');
    expect(deny.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(deny.spec.ingress).toBeUndefined();
    expect(deny.spec.egress).toBeUndefined();
    const gateway = find(objects, 'NetworkPolicy', 'api-gateway');
    const http = gateway.spec.ingress.find((r: { ports: { port: number }[] }) => r.ports.some((p) => p.port === 8080));
    expect(http.from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }]);
    for (const name of OUR_SERVICES) {
      const policy = find(objects, 'NetworkPolicy', name);
      expect(policy.spec.policyTypes, name).toEqual(['Ingress', 'Egress']);
      const opsPort = find(objects, 'Service', name).spec.ports.find((p: { name: string }) => p.name === 'ops').port;
      const opsRules = policy.spec.ingress.filter((r: { ports: { port: number }[] }) => r.ports.some((p) => p.port === opsPort));
      const monitoring = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }];
      // And the gateway, whose GET /admin/system (the operator console) reads every other service's /readyz and /metrics.
      const console = [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'api-gateway', 'app.kubernetes.io/instance': RELEASE } } }];
      expect(opsRules.map((r: { from: unknown }) => r.from), name).toEqual(name === 'api-gateway' ? [monitoring] : [monitoring, console]);
    }
    // Infrastructure: only the services that use it (Kafka: bank and analytics; ClickHouse: analytics).
    const reachesLabel = (name: string, label: string) =>
      (find(objects, 'NetworkPolicy', name).spec.egress as { to: { podSelector?: { matchLabels: Record<string, string> } }[] }[]).some((rule) =>
        rule.to.some((peer) => peer.podSelector?.matchLabels[label] !== undefined));
    expect(OUR_SERVICES.filter((n) => reachesLabel(n, 'strimzi.io/cluster')).sort()).toEqual(['analytics-service', 'bank-service', 'webhook-service']);
    expect(OUR_SERVICES.filter((n) => reachesLabel(n, 'clickhouse.altinity.com/chi'))).toEqual(['analytics-service']);
    expect(OUR_SERVICES.filter((n) => reachesLabel(n, 'cnpg.io/cluster')).sort()).toEqual(['bank-card-adapter', 'bank-service', 'identity-service', 'payment-gateway-mock', 'webhook-service']);
    // Webhook receivers: anywhere but private ranges (the service refuses those itself too).
    const webhookEgress = find(objects, 'NetworkPolicy', 'webhook-service').spec.egress as { to: { ipBlock?: { cidr: string; except: string[] } }[]; ports: { port: number }[] }[];
    const internet = webhookEgress.find((rule) => rule.to.some((peer) => peer.ipBlock?.cidr === '0.0.0.0/0'))!;
    expect(internet.to[0]!.ipBlock!.except).toEqual(expect.arrayContaining(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16']));
    expect(internet.ports).toEqual([{ port: 443, protocol: 'TCP' }]);
    // Only the webhook-service reaches out to arbitrary addresses.
    for (const name of OUR_SERVICES.filter((n) => n !== 'webhook-service')) {
      const egress = find(objects, 'NetworkPolicy', name).spec.egress as { to: { ipBlock?: { cidr: string } }[] }[];
      expect(egress.some((rule) => rule.to.some((peer) => peer.ipBlock?.cidr === '0.0.0.0/0')), name).toBe(false);
    }
  });

  it('renders valid objects with every toggle flipped: no operators, an external payment gateway, an Ingress, chart-made Secrets', async () => {
    const flipped = template([
      '--set', 'postgres.enabled=false,kafka.enabled=false,clickhouse.enabled=false',
      '--set', 'services.payment-gateway-mock.enabled=false',
      '--set', 'paymentGateway.url=https://pay.example.com,paymentGateway.egressCidrs={203.0.113.0/24}',
      '--set', 'ingress.enabled=true,ingress.tlsSecretName=wallet-tls',
      '--set', 'secrets.create=true,secrets.data.bank-service.database-url=postgresql://bank_service:x@wallet-postgres-rw:5432/bank',
    ]);
    expect(flipped.filter((o) => o.kind in CUSTOM_RESOURCES)).toEqual([]);
    expect(flipped.some((o) => o.metadata.name === 'payment-gateway-mock')).toBe(false);
    for (const object of flipped) await expect(validateKubernetesObject(object), `${object.kind} ${object.metadata.name}`).resolves.toBeUndefined();
    const adapterEgress = find(flipped, 'NetworkPolicy', 'bank-card-adapter').spec.egress as { to: { ipBlock?: { cidr: string } }[]; ports: { port: number }[] }[];
    expect(adapterEgress).toContainEqual({ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ port: 443, protocol: 'TCP' }] });
    expect(find(flipped, 'ConfigMap', 'bank-card-adapter-env').data!.CARD_ADAPTER_PAYMENT_GATEWAY_URL).toBe('https://pay.example.com');
    expect(find(flipped, 'Ingress', 'api-gateway').spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'api-gateway', port: { name: 'http' } });
    expect(flipped.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name).sort()).toEqual(OUR_SERVICES.filter((n) => n !== 'payment-gateway-mock').map((n) => `${n}-secrets`).sort());
  });
});

/** A value of a secret's usual shape, for schema validation only. */
function placeholderSecret(name: string): string {
  if (name === 'DATABASE_URL') return 'postgresql://role:placeholder@wallet-postgres-rw:5432/db?sslmode=verify-full';
  if (name === 'CLICKHOUSE_URL') return 'http://analytics:placeholder@clickhouse-wallet:8123';
  if (name === 'REDIS_URL') return 'redis://default:placeholder@valkey:6379';
  return 'placeholder-secret-value-with-enough-length-0123456789';
}
