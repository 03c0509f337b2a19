// Every error PgGate raises toward a client: SQLSTATE constants, the PgError value and its one
// encoder. Nothing else in src/ assembles ErrorResponse frames.
import { Backend, ErrorField, encodeErrorFields, type ErrorFields } from "../protocol/index.ts";

export const SqlState = {
  ProtocolViolation: "08P01",
  InvalidSqlStatementName: "26000",
  ConnectionFailure: "08006",
  ConnectionException: "08000",
  SqlclientUnableToEstablishSqlconnection: "08001",
  InvalidAuthorizationSpecification: "28000",
  InvalidPassword: "28P01",
  InvalidCatalogName: "3D000",
  TooManyConnections: "53300",
  AdminShutdown: "57P01",
  CannotConnectNow: "57P03",
  QueryCanceled: "57014",
  FeatureNotSupported: "0A000",
  ReadOnlySqlTransaction: "25006",
  InternalError: "XX000",
  IdleSessionTimeout: "57P05",
  ConfigurationLimitExceeded: "53400",
  OutOfMemory: "53200",
  ProgramLimitExceeded: "54000",
  InvalidParameterValue: "22023",
  SyntaxError: "42601",
  InsufficientPrivilege: "42501",
  InFailedSqlTransaction: "25P02",
  NameTooLong: "42622",
} as const;

export type Severity = "FATAL" | "ERROR" | "WARNING" | "NOTICE";

/** An error to send to a client. FATAL: send, then close. ERROR: send, then ReadyForQuery. */
export class PgError extends Error {
  override readonly name = "PgError";
  constructor(
    readonly severity: Severity,
    readonly code: string,
    message: string,
    readonly detail?: string,
    readonly hint?: string,
    /** PostgreSQL's source routine, for errors drivers recognise by it. */
    readonly routine?: string,
  ) {
    super(message);
  }

  get isFatal(): boolean {
    return this.severity === "FATAL";
  }
}

export const fatal = (code: string, message: string, hint?: string): PgError =>
  new PgError("FATAL", code, message, undefined, hint);
export const error = (code: string, message: string, hint?: string): PgError =>
  new PgError("ERROR", code, message, undefined, hint);

/** The single ErrorResponse/NoticeResponse encoder. */
export function encodePgError(e: PgError): Uint8Array {
  const fields: ErrorFields = new Map();
  fields.set(ErrorField.Severity, e.severity);
  fields.set(ErrorField.SeverityV, e.severity);
  fields.set(ErrorField.Code, e.code);
  fields.set(ErrorField.Message, e.message);
  if (e.detail) fields.set(ErrorField.Detail, e.detail);
  if (e.hint) fields.set(ErrorField.Hint, e.hint);
  if (e.routine) fields.set(ErrorField.Routine, e.routine);
  const type = e.severity === "WARNING" || e.severity === "NOTICE" ? Backend.NoticeResponse : Backend.ErrorResponse;
  return encodeErrorFields(type, fields);
}

/** Named constructors for the errors raised in more than one place. */
export const Errors = {
  /**
   * What PostgreSQL raises when a prepared statement's result (here also parameter) types
   * changed since it was described; drivers re-prepare on it (postgres.js by the routine).
   */
  cachedPlanChanged: () => new PgError("ERROR", SqlState.FeatureNotSupported, "cached plan must not change result type", undefined, undefined, "RevalidateCachedQuery"),
  invalidMessageType: (type: number) => fatal(SqlState.ProtocolViolation, `invalid frontend message type ${type}`),
  protocolViolation: (what: string) => fatal(SqlState.ProtocolViolation, `protocol violation: ${what}`),
  tooManyClients: (max: number) =>
    fatal(SqlState.TooManyConnections, `sorry, too many clients already (listen.max_client_connections = ${max})`),
  passwordFailed: (user: string) =>
    fatal(SqlState.InvalidPassword, `password authentication failed for user "${user}"`),
  nodeUnreachable: (node: string, why: string) =>
    fatal(
      SqlState.SqlclientUnableToEstablishSqlconnection,
      `PgGate could not connect to ${node}: ${why}`,
      "Check that the server is running and that nodes.* in the PgGate config points at it.",
    ),
  shuttingDown: () => fatal(SqlState.AdminShutdown, "terminating connection due to PgGate shutdown"),
  authStepTimeout: (ms: number) =>
    fatal(SqlState.ProtocolViolation, `authentication request not answered within ${ms} ms (listen.auth_step_timeout_ms)`),
  handshakeTimeout: (ms: number) =>
    fatal(SqlState.ProtocolViolation, `startup not completed within ${ms} ms (listen.handshake_timeout_ms)`),
} as const;
