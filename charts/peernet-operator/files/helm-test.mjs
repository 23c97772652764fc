// `helm test`: run by node in the peer image (no shell, no kubectl). Creates a small
// PeerNetwork, waits for its Ready condition, checks that a PUT without the network's API token
// is refused, PUTs a record with it (read from the Secret) through one peer's HTTP API and GETs
// it through another, then deletes the network (also on failure). Talks to the API server with
// the pod's ServiceAccount token; NODE_EXTRA_CA_CERTS (set in the pod) trusts its CA.
//
// The test network sets spec.networkPolicy.enabled: false, so the peers' API ports admit this
// pod where NetworkPolicy is enforced too (the operator's default policy admits them only from
// the operator's pods and the sources the chart names). No `kubectl exec`, no pod proxy.
import { readFileSync } from 'node:fs';

const ns = process.env.TEST_NAMESPACE;
const name = process.env.TEST_NETWORK;
const nodeSelector = JSON.parse(process.env.TEST_NODE_SELECTOR || '{}');
const timeoutMs = Number(process.env.TEST_TIMEOUT_SECONDS ?? '240') * 1000;
const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
const host = process.env.KUBERNETES_SERVICE_HOST;
const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
const api = `https://${host?.includes(':') ? `[${host}]` : host}:${port}`;
const base = `${api}/apis/peernet.io/v1alpha1/namespaces/${ns}/peernetworks`;
const log = (line) => console.log(`[helm test] ${line}`);

async function kube(method, path, body) {
  const token = readFileSync(`${sa}/token`, 'utf8').trim();
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const deadline = Date.now() + timeoutMs;
  const created = await kube('POST', base, {
    apiVersion: 'peernet.io/v1alpha1',
    kind: 'PeerNetwork',
    metadata: { name, namespace: ns, labels: { 'peernet.io/helm-test': 'true' } },
    spec: {
      replicas: 2,
      topology: {
        mode: 'sameNode',
        ...(Object.keys(nodeSelector).length > 0 ? { nodeSelector } : {}),
      },
      networkPolicy: { enabled: false },
    },
  });
  if (created.status !== 201)
    throw new Error(`create ${ns}/${name}: HTTP ${created.status} ${created.text}`);
  log(`created PeerNetwork ${ns}/${name} (2 peers, sameNode)`);

  let net;
  for (;;) {
    const r = await kube('GET', `${base}/${name}`);
    net = r.json;
    const ready = net?.status?.conditions?.find((c) => c.type === 'Ready');
    const peers = (net?.status?.peers ?? []).filter((p) => p.ready && p.ip);
    if (
      ready?.status === 'True' &&
      ready.observedGeneration === net.metadata.generation &&
      peers.length >= 2
    )
      break;
    if (Date.now() > deadline)
      throw new Error(`not Ready in ${timeoutMs / 1000}s: ${JSON.stringify(net?.status ?? {})}`);
    await sleep(2000);
  }
  log(
    `Ready: ${net.status.readyPeers}/${net.status.desiredPeers} peers, phase ${net.status.phase}`,
  );

  const [a, b] = net.status.peers.filter((p) => p.ready && p.ip);
  // the API port of a peer: 5001 + its container's index (peer-<i>)
  const url = (p) => {
    const i = Number(/-(\d+)$/.exec(p.container)?.[1] ?? '0');
    const ip = p.ip.includes(':') ? `[${p.ip}]` : p.ip;
    return `http://${ip}:${5001 + i}`;
  };
  const key = `helm-test-${Date.now()}`;
  const value = `written by helm test on ${a.name}`;
  // writes need the network's API token: without it the peer answers 401
  const anonymous = await fetch(`${url(a)}/v1/records/${key}`, {
    method: 'PUT',
    body: value,
    signal: AbortSignal.timeout(30_000),
  });
  await anonymous.text();
  if (anonymous.status !== 401)
    throw new Error(
      `PUT ${key} on ${a.name} without the API token: HTTP ${anonymous.status}, not 401`,
    );
  log(`PUT without the API token: HTTP 401, as it should`);
  const secret = await kube('GET', `${api}/api/v1/namespaces/${ns}/secrets/${name}-api-token`);
  if (secret.status !== 200)
    throw new Error(`read Secret ${ns}/${name}-api-token: HTTP ${secret.status} ${secret.text}`);
  const apiToken = Buffer.from(secret.json?.data?.token ?? '', 'base64')
    .toString('utf8')
    .trim();
  const put = await fetch(`${url(a)}/v1/records/${key}`, {
    method: 'PUT',
    body: value,
    headers: { authorization: `Bearer ${apiToken}` },
    signal: AbortSignal.timeout(30_000),
  });
  const putText = await put.text();
  if (put.status !== 200) throw new Error(`PUT ${key} on ${a.name}: HTTP ${put.status} ${putText}`);
  log(`PUT ${key} on ${a.name} (${url(a)}): ${putText}`);

  for (;;) {
    const got = await fetch(`${url(b)}/v1/records/${key}`, { signal: AbortSignal.timeout(30_000) });
    const text = await got.text();
    if (got.status === 200 && text === value) {
      log(`GET ${key} on ${b.name} (${url(b)}): ${JSON.stringify(text)}`);
      return;
    }
    if (Date.now() > deadline)
      throw new Error(`GET ${key} on ${b.name}: HTTP ${got.status} ${text}`);
    await sleep(1000);
  }
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  console.error(`[helm test] FAILED: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  const del = await kube('DELETE', `${base}/${name}`).catch((e) => ({
    status: 0,
    text: String(e),
  }));
  if (del.status !== 200 && del.status !== 202 && del.status !== 404) {
    console.error(`[helm test] deleting ${ns}/${name}: HTTP ${del.status} ${del.text}`);
    failed = true;
  } else log(`deleted PeerNetwork ${ns}/${name}`);
}
log(failed ? 'failed' : 'passed');
process.exit(failed ? 1 : 0);
