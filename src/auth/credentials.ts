// What PgGate holds to open server connections on a user's behalf, per auth mode. Never a
// password when it can be avoided: SCRAM keys recovered from a client's proof, or an MD5 hash.

export type ServerCredentials =
  /** Cleartext: from a userlist file, or the client typed it when a server asked for it. */
  | { kind: "password"; password: string }
  /** "md5" + md5(password + user): enough to answer any MD5 challenge. */
  | { kind: "md5"; hash: string }
  /** ClientKey recovered from a SCRAM proof plus the verifier's ServerKey. */
  | { kind: "scram"; clientKey: Uint8Array; serverKey: Uint8Array }
  /** Nothing: only servers that trust us (or passthrough relays) can be reached. */
  | { kind: "none" };
