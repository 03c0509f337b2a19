// The one error type the codec throws. The session turns it into FATAL 08P01 and closes.

/** Raised for malformed or oversized frames; always a protocol violation (SQLSTATE 08P01). */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}
