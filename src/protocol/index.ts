// Public surface of the pure protocol codec. Imports nothing else from src/.
export * from "./codes.ts";
export * from "./errors.ts";
export * from "./frame-reader.ts";
export * from "./body-reader.ts";
export * from "./writer.ts";
export * from "./messages/startup.ts";
export * from "./messages/authentication.ts";
export * from "./messages/session-status.ts";
export * from "./messages/error-response.ts";
export * from "./messages/query.ts";
export * from "./messages/result.ts";
