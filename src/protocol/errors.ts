// The one error type the codec throws. The session turns it into FATAL 08P01 and closes.

/** Raised for malformed or oversized frames; always a protocol violation (SQLSTATE 08P01). */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

/**
 * A startup packet whose length is impossible. PostgreSQL answers it with nothing (it logs the
 * error as COMMERROR and closes): the peer may not speak the protocol at all — or is a driver that
 * sent Terminate before its StartupMessage (node-postgres connect() then end()).
 */
export class StartupLengthError extends ProtocolError {}
