// The cluster's own certificate authority, made with openssl: the API server's serving
// certificate must name the address pods reach it at (the host bridge and the `kubernetes`
// Service IP), and the API server needs a client certificate the kubelets trust for logs,
// exec and port-forward. kube-apiserver's self-signed `--cert-dir` certificate can do neither.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.js';

export interface ClusterPki {
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  /** The API server's client certificate towards the kubelets. */
  kubeletClientCert: string;
  kubeletClientKey: string;
}

export function pkiPaths(dir: string): ClusterPki {
  return {
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    apiserverCert: join(dir, 'apiserver.crt'),
    apiserverKey: join(dir, 'apiserver.key'),
    kubeletClientCert: join(dir, 'apiserver-kubelet-client.crt'),
    kubeletClientKey: join(dir, 'apiserver-kubelet-client.key'),
  };
}

/** The subjectAltName of the API server: every address and name a client may use. */
export function apiserverAltNames(ips: readonly string[]): string {
  const dns = [
    'localhost',
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    'kubernetes.default.svc.cluster.local',
  ];
  return [...ips.map((ip) => `IP:${ip}`), ...dns.map((d) => `DNS:${d}`)].join(',');
}

async function leaf(
  pki: ClusterPki,
  key: string,
  cert: string,
  subject: string,
  ext: string,
  dir: string,
): Promise<void> {
  const csr = `${cert}.csr`;
  const extFile = `${cert}.ext`;
  writeFileSync(extFile, ext);
  await run('openssl', ['genrsa', '-out', key, '2048']);
  await run('openssl', ['req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-CAcreateserial',
    '-CAserial',
    join(dir, 'ca.srl'),
    '-days',
    '365',
    '-sha256',
    '-extfile',
    extFile,
    '-out',
    cert,
  ]);
}

/** Writes a fresh CA and the API server's serving and kubelet-client certificates into `dir`. */
export async function createPki(dir: string, apiserverIps: readonly string[]): Promise<ClusterPki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pki = pkiPaths(dir);
  await run('openssl', ['genrsa', '-out', pki.caKey, '2048']);
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    '-key',
    pki.caKey,
    '-subj',
    '/CN=peernet-local-ca',
    '-days',
    '365',
    '-sha256',
    '-out',
    pki.caCert,
  ]);
  await leaf(
    pki,
    pki.apiserverKey,
    pki.apiserverCert,
    '/CN=kube-apiserver',
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${apiserverAltNames(apiserverIps)}\n`,
    dir,
  );
  await leaf(
    pki,
    pki.kubeletClientKey,
    pki.kubeletClientCert,
    '/O=system:masters/CN=kube-apiserver-kubelet-client',
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
    dir,
  );
  return pki;
}
