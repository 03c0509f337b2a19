// Message type bytes of protocol 3.0, named as in PostgreSQL's libpq/protocol.h and split by
// direction (several letters mean different things each way). Constants only.

/** Frontend (client → server) message types. */
export const Frontend = {
  Bind: 0x42, // 'B'
  Close: 0x43, // 'C'
  Describe: 0x44, // 'D'
  Execute: 0x45, // 'E'
  FunctionCall: 0x46, // 'F'
  Flush: 0x48, // 'H'
  Parse: 0x50, // 'P'
  Query: 0x51, // 'Q'
  Sync: 0x53, // 'S'
  Terminate: 0x58, // 'X'
  CopyFail: 0x66, // 'f'
  CopyDone: 0x63, // 'c'
  CopyData: 0x64, // 'd'
  /** PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse all share 'p'. */
  PasswordMessage: 0x70, // 'p'
} as const;

/**
 * Message types a client may send once logged in (1 = valid), indexed by type byte. PostgreSQL
 * answers any other type with FATAL 08P01 "invalid frontend message type" at once (postgres.c,
 * PostgresMain), PasswordMessage included; so does PgGate, instead of queueing it.
 */
export const SESSION_FRONTEND_TYPES: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (const [name, code] of Object.entries(Frontend)) if (name !== "PasswordMessage") t[code] = 1;
  return t;
})();

/** Backend (server → client) message types. */
export const Backend = {
  ParseComplete: 0x31, // '1'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  NotificationResponse: 0x41, // 'A'
  CommandComplete: 0x43, // 'C'
  DataRow: 0x44, // 'D'
  ErrorResponse: 0x45, // 'E'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  EmptyQueryResponse: 0x49, // 'I'
  BackendKeyData: 0x4b, // 'K'
  NoticeResponse: 0x4e, // 'N'
  Authentication: 0x52, // 'R'
  ParameterStatus: 0x53, // 'S'
  RowDescription: 0x54, // 'T'
  FunctionCallResponse: 0x56, // 'V'
  CopyBothResponse: 0x57, // 'W'
  ReadyForQuery: 0x5a, // 'Z'
  CopyDone: 0x63, // 'c'
  CopyData: 0x64, // 'd'
  NoData: 0x6e, // 'n'
  PortalSuspended: 0x73, // 's'
  ParameterDescription: 0x74, // 't'
  NegotiateProtocolVersion: 0x76, // 'v'
} as const;

/** Authentication request codes carried in an 'R' message ("Message Formats"). */
export const AuthCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** Special "protocol versions" of untyped startup-phase packets. */
export const StartupCode = {
  /** Protocol 3.0 = 196608. */
  ProtocolV3: 0x00030000,
  CancelRequest: 80877102,
  SSLRequest: 80877103,
  GSSENCRequest: 80877104,
} as const;

/** Transaction status byte of ReadyForQuery. */
export const TxStatus = {
  Idle: 0x49, // 'I'
  InTransaction: 0x54, // 'T'
  Failed: 0x45, // 'E'
} as const;
