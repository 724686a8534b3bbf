import { isIPv6 } from 'node:net';
import type { Request } from 'express';

/**
 * The address a request is counted against by the failed-authentication limit.
 *
 * `req.ip` is the socket's peer address unless Express's 'trust proxy' is set
 * (TRIGGERS_TRUST_PROXY): only then is X-Forwarded-For read, and only the hops the setting
 * trusts, so a client cannot pick its own address by sending the header. On Lambda,
 * serverless-http gives the request API Gateway's `sourceIp` as its peer address: the
 * caller's address as API Gateway saw it, again without reading X-Forwarded-For.
 *
 * An IPv6 client commonly holds a whole /64, so one is counted by its /64: rotating through
 * its own addresses does not reset the count. IPv4-mapped addresses count as IPv4.
 */
export function clientAddress(req: Request): string {
  const address = req.ip ?? req.socket.remoteAddress ?? 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  return isIPv6(address) ? ipv6Prefix64(address) : address;
}

/** The first four 16-bit groups of an IPv6 address, as `a:b:c:d::/64`. */
function ipv6Prefix64(address: string): string {
  const [head = '', tail = ''] = address.split('%')[0]?.split('::') ?? [];
  const headGroups = head === '' ? [] : head.split(':');
  // An embedded IPv4 ending (`64:ff9b::192.0.2.1`) fills two groups.
  const tailGroups =
    tail === '' ? [] : tail.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group]));
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = address.includes('::')
    ? [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups]
    : headGroups;
  return `${groups
    .slice(0, 4)
    .map((group) => (Number.parseInt(group, 16) || 0).toString(16))
    .join(':')}::/64`;
}
