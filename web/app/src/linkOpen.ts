// Counting an offer's link page as opened, for the partner's insights (once per visitor, offer
// and day: the gateway keeps it unique). A random id stands for this browser when no seller is
// signed in; it names nobody and is kept only in this browser.
import { call } from "./api";
import { storedToken } from "./session";

const VISITOR_KEY = "tsp.visitorId";

function visitorId(): string {
  try {
    const known = localStorage.getItem(VISITOR_KEY);
    if (known) return known;
    const fresh = crypto.randomUUID();
    localStorage.setItem(VISITOR_KEY, fresh);
    return fresh;
  } catch {
    return crypto.randomUUID(); // storage refused: counted as a new visitor, which is all we lose
  }
}

export function recordLinkOpen(token: string): void {
  // A partner signed in in this tab (previewing its own link from My service offers) is sent as
  // itself, so the gateway leaves its own partner's opens uncounted; else the signed-in seller.
  const caller = storedToken("PARTNER") ?? storedToken("SELLER");
  // Never in the way of the page: a failure only leaves one open uncounted.
  call("RecordOfferLinkOpen", { token, visitorId: visitorId() }, caller).catch(() => undefined);
}
