// The shapes of stored password secrets (pg_authid.rolpassword, userlist entries). Types only, so
// both md5.ts and verifier.ts can name them without importing each other.

export type ScramVerifier = {
  kind: "scram";
  iterations: number;
  salt: Uint8Array;
  storedKey: Uint8Array;
  serverKey: Uint8Array;
};

export type Verifier =
  | ScramVerifier
  /** "md5" + 32 lowercase hex chars = "md5" + md5hex(password + username). */
  | { kind: "md5"; hash: string }
  | { kind: "plain"; password: string };
