// IP addresses for auth.hba: the rules' addresses and masks as PostgreSQL reads them (strict
// dotted quads, IPv6 with an embedded IPv4 tail), and whether a client's address is in a rule's
// network (IPv4-mapped IPv6 clients match IPv4 lines). Pure.
import type { HbaAddress } from "./hba-types.ts";


export interface Ip {
  readonly family: 4 | 6;
  readonly bytes: number[];
}

/** Strict dotted quad: no leading zeros, since inet_aton would read 010 as octal. */
function parseIpv4(text: string): number[] | null {
  const m = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/.exec(text);
  if (m === null) return null;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : null;
}

/** One side of a "::" split, as 16-bit words; a dotted IPv4 tail only where `tailAllowed`. */
function ipv6Words(part: string, tailAllowed: boolean): number[] | null {
  if (part === "") return [];
  const groups = part.split(":");
  const words: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i];
    if (tailAllowed && i === groups.length - 1 && group.includes(".")) {
      const v4 = parseIpv4(group);
      if (v4 === null) return null;
      words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
      words.push(parseInt(group, 16));
    } else {
      return null;
    }
  }
  return words;
}

/** RFC 4291 text forms: eight groups, or fewer around one "::", optionally ending in a dotted quad. */
function parseIpv6(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const compressed = halves.length === 2;
  const left = ipv6Words(halves[0], !compressed);
  const right = compressed ? ipv6Words(halves[1], true) : [];
  if (left === null || right === null) return null;
  const present = left.length + right.length;
  if (compressed ? present > 7 : present !== 8) return null;
  const words = [...left, ...new Array<number>(8 - present).fill(0), ...right];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

export function parseIp(text: string): Ip | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(text);
  return v6 === null ? null : { family: 6, bytes: v6 };
}

/** The client's address in each family it can be compared in; an IPv4-mapped address has both. */
export interface ClientIp {
  readonly v4: number[] | null;
  readonly v6: number[] | null;
}

function isV4Mapped(bytes: readonly number[]): boolean {
  return bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

export function clientIp(address: string): ClientIp {
  // The zone of a link-local address plays no part in matching, as in PostgreSQL.
  const zone = address.indexOf("%");
  const ip = parseIp(zone >= 0 ? address.slice(0, zone) : address);
  if (ip === null) return { v4: null, v6: null };
  if (ip.family === 4) return { v4: ip.bytes, v6: null };
  return { v4: isV4Mapped(ip.bytes) ? ip.bytes.slice(12) : null, v6: ip.bytes };
}

export function inNet(client: ClientIp, net: Extract<HbaAddress, { kind: "net" }>): boolean {
  const bytes = net.family === 4 ? client.v4 : client.v6;
  if (bytes === null) return false;
  return net.address.every((b, i) => (b & net.mask[i]) === (bytes[i] & net.mask[i]));
}
