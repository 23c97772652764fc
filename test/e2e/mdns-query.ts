// Run inside a pod's network namespace by the colocated e2e test: asks the pod's link for an mDNS
// service (a PTR question, as @libp2p/mdns asks) and prints the peer IDs named in the answers,
// as JSON. `node mdns-query.js SERVICE_TAG DURATION_MS`
import { createSocket } from 'node:dgram';

const [tag = '', durationArg = '3000'] = process.argv.slice(2);

function query(name: string): Buffer {
  const header = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]); // id 0, 1 question
  const labels = name.split('.').filter((l) => l !== '');
  const qname = Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ]);
  return Buffer.concat([header, qname, Buffer.from([0, 12, 0, 1])]); // PTR, IN
}

const found = new Set<string>();
const socket = createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (msg) => {
  for (const m of msg.toString('latin1').matchAll(/\/p2p\/([1-9A-HJ-NP-Za-km-z]{40,60})/g))
    if (m[1] !== undefined) found.add(m[1]);
});
socket.bind(5353, '0.0.0.0', () => {
  socket.addMembership('224.0.0.251');
  socket.setMulticastLoopback(true);
  const send = (): void => socket.send(query(tag), 5353, '224.0.0.251');
  send();
  const t = setInterval(send, 500);
  setTimeout(() => {
    clearInterval(t);
    socket.close();
    process.stdout.write(`${JSON.stringify([...found])}\n`);
  }, Number(durationArg));
});
