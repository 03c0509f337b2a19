// Public surface of the router: query classification (pure) and its cached front.
// Nothing here does I/O or tracks transaction state; the session layer owns that.

export {
  awaitsCatalog,
  classify,
  type CatalogLookup,
  type Classification,
  type ClassifyContext,
  type PggateSet,
  type PinReason,
  type Reason,
  type RelationKind,
  type Route,
  type TxnEffect,
  type Volatility,
} from "./classify.ts";
export { settingsToDefault, type SettingToDefault } from "./defaults.ts";
export { createRouter, type Router, type RouterOptions } from "./cache.ts";
export {
  lex,
  TokenKind,
  type Comment,
  type LexResult,
  type StatementRange,
  type Token,
} from "./lexer.ts";
export { splitStatements, stringValue, tokenText } from "./token-values.ts";
export {
  listenStatementsIn,
  mentionsNotifyOrListen,
  parseListenOnly,
  quoteChannel,
  startsWithListen,
  type ListenOp,
  type ListenStatement,
} from "./listen.ts";
export { mergeClassifications, route, type RouteContext, type RouteDecision, type Target } from "./decide.ts";
