// A new contact with an open connection enters the routing table without kad-dht's ping
// (trustConnectedContacts, profile `tuned`); the stock profile keeps kad-dht's ping, which shows
// that the count below sees the pings kad-dht sends. Real daemons in this process on 127.0.0.1.
import { afterAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { parseConfig } from '../config.js';
import { startDaemon, type Daemon } from '../daemon.js';

const log = pino({ level: 'silent' });
const stops: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop();
});

/** a daemon, and how many pings its node has sent since it started */
async function daemon(profile: string): Promise<{ d: Daemon; pings: () => number }> {
  const config = parseConfig([
    ...['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0'],
    ...['--drain-timeout', '0s', '--network', 'contacts', '--dht-profile', profile],
  ]);
  const d = await startDaemon(config, log);
  stops.push(() => d.stop({ drain: false }));
  const ping = d.node.services.ping;
  const original = ping.ping.bind(ping);
  let n = 0;
  ping.ping = (...args) => {
    n++;
    return original(...args);
  };
  return { d, pings: () => n };
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('new contacts in the routing table', () => {
  it.each([
    ['tuned', 'without a ping', 0],
    ['stock', "after kad-dht's ping", 1],
  ])(
    '%s: a connected DHT server enters both tables %s',
    async (profile, _how, minPings) => {
      const a = await daemon(profile);
      const b = await daemon(profile);
      await a.d.node.dial(b.d.node.getMultiaddrs()[0]!);
      await until('both tables to hold the other', () =>
        [a, b].every((x) => x.d.records.routingTableSize === 1),
      );
      const sent = a.pings() + b.pings();
      if (minPings === 0) expect(sent).toBe(0);
      else expect(sent).toBeGreaterThanOrEqual(minPings);
    },
    30_000,
  );
});
