import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/** Resolves a host name to its addresses; tests inject one to play DNS. */
export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Addresses a webhook must never reach in AUTH_MODE=aws (DESIGN §11): loopback, private,
 * link-local (the cloud metadata service at 169.254.169.254 included), CGNAT, multicast,
 * unspecified, and the other special-purpose ranges of RFC 6890 that are not the internet.
 */
const forbidden = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  forbidden.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['::', 96], // IPv4-compatible (deprecated): an IPv4 address in disguise
  ['64:ff9b::', 96], // NAT64: an IPv4 address in disguise
  ['64:ff9b:1::', 48], // local-use NAT64
  ['2002::', 16], // 6to4: an IPv4 address in disguise
  ['2001:db8::', 32],
] as const) {
  forbidden.addSubnet(network, prefix, 'ipv6');
}

/** True when a webhook may not be sent to the address (it is not a public unicast one). */
export function forbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return forbidden.check(address, 'ipv4');
  if (family !== 6) return true;
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) reaches the IPv4 address it maps.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return forbidden.check(mapped[1], 'ipv4');
  return forbidden.check(address, 'ipv6');
}

export class TargetRefusedError extends Error {
  override name = 'TargetRefusedError';
}

/**
 * Where webhooks may go. In AUTH_MODE=aws: `https` only, and every address the host resolves
 * to must be public — checked at subscribe and again for every connection (connectionLookup),
 * so a name re-pointed at 127.0.0.1 after subscribing is refused when it matters. In
 * AUTH_MODE=local anything http(s) goes, for receivers on localhost.
 */
export class TargetGuard {
  constructor(
    private readonly mode: 'local' | 'aws',
    private readonly resolve: Resolver = systemResolver,
  ) {}

  /** Throws TargetRefusedError with a message for the client when the URL may not be used. */
  async check(targetUrl: string): Promise<void> {
    let url: URL;
    try {
      url = new URL(targetUrl);
    } catch {
      throw new TargetRefusedError('target_url is not a valid URL.');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new TargetRefusedError('target_url must be an http or https URL.');
    }
    if (url.username || url.password) {
      throw new TargetRefusedError('target_url must not carry a user name or password.');
    }
    if (this.mode === 'local') return;
    if (url.protocol !== 'https:') throw new TargetRefusedError('target_url must be https.');
    await this.addresses(url.hostname.replace(/^\[|\]$/g, ''));
  }

  /**
   * What connectionLookup cannot see, for the poster to check before each request: Node
   * connects to an IP-literal host without any lookup, and the scheme is no lookup's business.
   * So in AUTH_MODE=aws a target stored as `http://...` or `https://10.0.0.1/` (subscribed under
   * AUTH_MODE=local, say, on the same tables) is refused here. Undefined when it may be tried.
   */
  refusal(url: URL): TargetRefusedError | undefined {
    if (this.mode === 'local') return undefined;
    if (url.protocol !== 'https:') return new TargetRefusedError('target_url must be https.');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) && forbiddenAddress(host)) {
      return new TargetRefusedError(
        `target_url's host ${host} is a loopback, private, link-local or otherwise non-public address; webhooks go only to public addresses.`,
      );
    }
    return undefined;
  }

  /**
   * A `lookup` for http(s).request: resolves through the resolver and refuses a forbidden
   * address in AUTH_MODE=aws, so the check holds for the address actually connected to.
   */
  readonly connectionLookup = (
    hostname: string,
    options: { all?: boolean },
    callback: (
      error: Error | null,
      address: string | Array<{ address: string; family: number }>,
      family?: number,
    ) => void,
  ): void => {
    this.addresses(hostname).then(
      (addresses) => {
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]?.address ?? '', addresses[0]?.family ?? 4);
      },
      (error: Error) => callback(error, ''),
    );
  };

  private async addresses(hostname: string): Promise<Array<{ address: string; family: number }>> {
    const literal = isIP(hostname);
    let addresses: Array<{ address: string; family: number }>;
    if (literal) {
      addresses = [{ address: hostname, family: literal }];
    } else {
      try {
        addresses = await this.resolve(hostname);
      } catch {
        throw new TargetRefusedError(`target_url's host ${hostname} does not resolve.`);
      }
    }
    if (addresses.length === 0)
      throw new TargetRefusedError(`target_url's host ${hostname} does not resolve.`);
    if (this.mode === 'aws') {
      const refused = addresses.find(({ address }) => forbiddenAddress(address));
      if (refused) {
        throw new TargetRefusedError(
          `target_url's host ${hostname} resolves to ${refused.address}, a loopback, private, link-local or otherwise non-public address; webhooks go only to public addresses.`,
        );
      }
    }
    return addresses;
  }
}
