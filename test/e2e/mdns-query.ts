// An mDNS question asked from inside a pod: the colocated e2e test runs it with
// `kubectl exec POD -c peer-0 -- node -e <program>` (the peer image has node, no shell). It asks
// the pod's link for a service (a PTR question, as @libp2p/mdns asks) and prints the peer IDs
// named in the answers, as JSON.

/**
 * Runs in the pod: self-contained (no imports, no closure), because its source text is the
 * program. `process.getBuiltinModule` works in the CommonJS of `node -e`.
 */
export function mdnsQuery(tag: string, durationMs: number): void {
  const { createSocket } = process.getBuiltinModule('node:dgram');
  const query = (name: string): Buffer => {
    const header = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]); // id 0, 1 question
    const labels = name.split('.').filter((l) => l !== '');
    const qname = Buffer.concat([
      ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
      Buffer.from([0]),
    ]);
    return Buffer.concat([header, qname, Buffer.from([0, 12, 0, 1])]); // PTR, IN
  };
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
    const timer = setInterval(send, 500);
    setTimeout(() => {
      clearInterval(timer);
      socket.close();
      process.stdout.write(`${JSON.stringify([...found])}\n`);
    }, durationMs);
  });
}

/** The program text for `node -e`. */
export function mdnsQueryProgram(tag: string, durationMs: number): string {
  return `(${mdnsQuery.toString()})(${JSON.stringify(tag)}, ${durationMs});`;
}
