// The client side of an authentication exchange as the auth code sees it: send a message,
// await the client's next one. Implemented by the client session during login.
import type { InboxFrame } from "../net/inbox.ts";

export interface ClientChannel {
  send(buf: Uint8Array): void;
  next(): Promise<InboxFrame>;
}
