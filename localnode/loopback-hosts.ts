// Preloaded (`node --import`) into peers in the local node runtime's loopback fallback, where
// there is no mount namespace to put the pod's hosts file over /etc/hosts: answers dns.lookup for
// the names in the file named by PEERNET_LOCALNODE_HOSTS, and leaves every other name to the
// system resolver. Net and libp2p's TCP dials go through dns.lookup.
import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import { readFileSync } from 'node:fs';

const file = process.env.PEERNET_LOCALNODE_HOSTS;

function fromHosts(name: string): string | undefined {
  if (file === undefined) return undefined;
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const [ip, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (ip !== undefined && ip.includes('.') && names.includes(name)) return ip;
  }
  return undefined;
}

type Callback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;
const original = dns.lookup.bind(dns) as (
  host: string,
  options: LookupOptions,
  cb: Callback,
) => void;

function lookup(
  host: string,
  optionsOrCb: LookupOptions | number | Callback,
  maybeCb?: Callback,
): void {
  const cb = (typeof optionsOrCb === 'function' ? optionsOrCb : maybeCb) as Callback;
  const options: LookupOptions =
    typeof optionsOrCb === 'function'
      ? {}
      : typeof optionsOrCb === 'number'
        ? { family: optionsOrCb }
        : optionsOrCb;
  const ip = fromHosts(host);
  if (ip === undefined) {
    original(host, options, cb);
    return;
  }
  process.nextTick(() =>
    options.all === true ? cb(null, [{ address: ip, family: 4 }]) : cb(null, ip, 4),
  );
}

(dns as { lookup: unknown }).lookup = lookup;
const promises = dns.promises as { lookup: unknown };
const originalPromise = dns.promises.lookup.bind(dns.promises);
promises.lookup = async (host: string, options: LookupOptions = {}) => {
  const ip = fromHosts(host);
  if (ip === undefined) return originalPromise(host, options);
  return options.all === true ? [{ address: ip, family: 4 }] : { address: ip, family: 4 };
};
