// Authentication exchange messages: 'R' requests from a server (or from PgGate to a client) and
// the 'p' answers (PasswordMessage, SASLInitialResponse, SASLResponse) — "Message Formats".
import { BodyReader } from "../body-reader.ts";
import { AuthCode, Backend, Frontend } from "../codes.ts";
import { MessageWriter } from "../writer.ts";

export interface AuthenticationRequest {
  code: number;
  /** MD5Password: the 4-byte salt. SASLContinue/SASLFinal: the SASL data. */
  data: Uint8Array;
  /** SASL: the mechanisms the server offers. */
  mechanisms: string[];
}

/** Decodes the body `buf[start, end)` of an 'R' message. */
export function decodeAuthentication(buf: Uint8Array, start: number, end: number): AuthenticationRequest {
  const r = new BodyReader(buf, start, end);
  const code = r.int32();
  const mechanisms: string[] = [];
  if (code === AuthCode.SASL) {
    while (r.remaining > 0) {
      const m = r.cstring();
      if (m === "") break;
      mechanisms.push(m);
    }
    return { code, data: new Uint8Array(0), mechanisms };
  }
  return { code, data: r.rest(), mechanisms };
}

function authMessage(code: number, data?: Uint8Array): Uint8Array {
  const w = new MessageWriter(16 + (data?.length ?? 0)).begin(Backend.Authentication).int32(code);
  if (data) w.bytes(data);
  return w.finish().take();
}

export const buildAuthenticationOk = (): Uint8Array => authMessage(AuthCode.Ok);
export const buildAuthenticationCleartextPassword = (): Uint8Array => authMessage(AuthCode.CleartextPassword);
export const buildAuthenticationMD5Password = (salt: Uint8Array): Uint8Array => authMessage(AuthCode.MD5Password, salt);
export const buildAuthenticationSASLContinue = (data: Uint8Array): Uint8Array => authMessage(AuthCode.SASLContinue, data);
export const buildAuthenticationSASLFinal = (data: Uint8Array): Uint8Array => authMessage(AuthCode.SASLFinal, data);

export function buildAuthenticationSASL(mechanisms: readonly string[]): Uint8Array {
  const w = new MessageWriter().begin(Backend.Authentication).int32(AuthCode.SASL);
  for (const m of mechanisms) w.cstring(m);
  return w.int8(0).finish().take();
}

/** PasswordMessage: cleartext password or MD5 response. */
export function buildPasswordMessage(password: string): Uint8Array {
  return new MessageWriter().begin(Frontend.PasswordMessage).cstring(password).finish().take();
}

export function buildSASLInitialResponse(mechanism: string, data: Uint8Array): Uint8Array {
  return new MessageWriter()
    .begin(Frontend.PasswordMessage)
    .cstring(mechanism)
    .int32(data.length)
    .bytes(data)
    .finish()
    .take();
}

export function buildSASLResponse(data: Uint8Array): Uint8Array {
  return new MessageWriter().begin(Frontend.PasswordMessage).bytes(data).finish().take();
}

export function decodePasswordMessage(buf: Uint8Array, start: number, end: number): string {
  return new BodyReader(buf, start, end).cstring();
}

export function decodeSASLInitialResponse(
  buf: Uint8Array,
  start: number,
  end: number,
): { mechanism: string; data: Uint8Array } {
  const r = new BodyReader(buf, start, end);
  const mechanism = r.cstring();
  const len = r.int32();
  return { mechanism, data: len < 0 ? new Uint8Array(0) : r.bytes(len) };
}
