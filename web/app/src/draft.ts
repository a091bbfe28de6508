// What the seller is about to authorize, kept in the tab so a new sign-in loses nothing.
import type * as G from "./generated/graphql";
import type { UserError } from "./api";
import type { Contact } from "./components";
import { authorizeObjectWords, settingKeys, settingWords, formatDate, words, type SettingKey } from "./words";

export type Draft = {
  serviceIds: string[];
  startDate: string;
  endDate: string;
  settings: G.AuthorizationSettingsInput;
  contact: Contact;
  shopIds: string[] | null;
  tiktokAccountIds: string[] | null;
};

// Drafts are kept under the signed-in seller's id (`tsp.draft.<seller id>.<form>`), so a seller
// who signs in later in this tab never sees, or sends, another seller's contact or shops. Signing
// out forgets them all; a sign-in that expires keeps them for the same seller to sign in again.
const PREFIX = "tsp.draft.";
// The same drafts in memory, for a browser that refuses sessionStorage.
const held = new Map<string, Draft | null>();

function storageKey(sellerId: string, form: string): string {
  return `${PREFIX}${sellerId}.${form}`;
}

export function loadDraft(sellerId: string, form: string): Draft | null {
  const key = storageKey(sellerId, form);
  if (held.has(key)) return held.get(key) ?? null;
  try {
    const text = sessionStorage.getItem(key);
    return text ? (JSON.parse(text) as Draft) : null;
  } catch {
    return null;
  }
}

export function saveDraft(sellerId: string, form: string, draft: Draft | null): void {
  const key = storageKey(sellerId, form);
  held.set(key, draft);
  try {
    if (draft) sessionStorage.setItem(key, JSON.stringify(draft));
    else sessionStorage.removeItem(key);
  } catch {
    // Kept in memory only: a reload loses it, nothing else does.
  }
}

/** Every seller's drafts in this tab, gone (on signing out). */
export function forgetDrafts(): void {
  held.clear();
  try {
    const keys = Array.from({ length: sessionStorage.length }, (_, index) => sessionStorage.key(index));
    for (const key of keys) if (key?.startsWith(PREFIX)) sessionStorage.removeItem(key);
  } catch {
    // Nothing stored to forget.
  }
}

/** Today's date in UTC: the day the gateway's date rules count in (an authorization's first
 * and last days are UTC days), whatever the browser's time zone. */
export function todayUtc(): string {
  return new Date().toISOString().slice(0, 10);
}

/** The day an offer's authorization starts if accepted now: the offered start, or today once
 * that has passed (the gateway's rule, which it does not count as a change by the seller). */
export function effectiveStart(offer: { startDate: string }): string {
  const today = todayUtc();
  return offer.startDate < today ? today : offer.startDate;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Problems the page can see before asking the gateway: a date left empty (or half typed, which
 * a date input reports as empty) would otherwise reach the API as "" and be refused as a whole
 * request, not next to its field. */
export function dateProblems(draft: Draft): UserError[] {
  const problems: UserError[] = [];
  if (!DATE.test(draft.startDate)) {
    problems.push({ field: ["input", "startDate"], message: "Enter the start date: day, month and year.", code: "REQUIRED" });
  }
  if (!DATE.test(draft.endDate)) {
    problems.push({ field: ["input", "endDate"], message: "Enter the end date: day, month and year.", code: "REQUIRED" });
  }
  return problems;
}

export function needsShops(object: G.AuthorizeObject): boolean {
  return object !== "TTUID";
}

export function needsAccounts(object: G.AuthorizeObject): boolean {
  return object !== "SHOP";
}

export type Change = { field: string; offered: string; chosen: string };

type Offer = NonNullable<G.OfferByLinkQuery["serviceOfferByLink"]>;

const contactLabels: Record<keyof Contact, string> = {
  name: "Contact name",
  email: "Contact email",
  phone: "Contact phone",
};

const NONE = "(none)";

/** A setting in the words the offer's own list uses ("May log into your Seller Center"). */
function settingValue(key: SettingKey, on: boolean): string {
  return on ? settingWords[key].yes : settingWords[key].no;
}

/** How the draft differs from the offer, in words, before the seller confirms. */
export function offerDiff(offer: Offer, draft: Draft): Change[] {
  const changes: Change[] = [];
  const dropped = offer.services.filter((service) => !draft.serviceIds.includes(service.id));
  if (dropped.length) {
    changes.push({
      field: "Services",
      offered: offer.services.map((service) => service.name).join(", "),
      chosen: `without ${dropped.map((service) => service.name).join(", ")}`,
    });
  }
  // Against the start the offer gives today: a start that has passed becomes today by the
  // gateway's rule, which is no change of the seller's.
  if (draft.startDate !== effectiveStart(offer)) {
    changes.push({ field: "Start date", offered: formatDate(offer.startDate), chosen: formatDate(draft.startDate) });
  }
  if (draft.endDate !== offer.endDate) {
    changes.push({ field: "End date", offered: formatDate(offer.endDate), chosen: formatDate(draft.endDate) });
  }
  if (draft.settings.authorizeObject !== offer.settings.authorizeObject) {
    changes.push({
      field: "Authorize object",
      offered: authorizeObjectWords[offer.settings.authorizeObject],
      chosen: authorizeObjectWords[draft.settings.authorizeObject],
    });
  }
  for (const key of settingKeys) {
    if (draft.settings[key] !== offer.settings[key]) {
      changes.push({
        field: settingWords[key].label,
        offered: settingValue(key, offer.settings[key]),
        chosen: settingValue(key, draft.settings[key]),
      });
    }
  }
  for (const key of Object.keys(contactLabels) as (keyof Contact)[]) {
    const offered = offer.contact?.[key] ?? "";
    if (draft.contact[key].trim() !== offered) {
      changes.push({ field: contactLabels[key], offered: offered || NONE, chosen: draft.contact[key].trim() || NONE });
    }
  }
  return changes;
}

/** The contact as the seller states it: every field sent, a blank one as null, so that emptied
 * fields clear the offer's contact (a null contact would mean "as offered"). */
export function statedContact(contact: Contact): G.SellerContactInput {
  const value = (text: string) => text.trim() || null;
  return { name: value(contact.name), email: value(contact.email), phone: value(contact.phone) };
}

/** One side of a recorded change (the API's ChangedValue: exactly one field is set). */
export type ChangedValue = {
  text?: string | null;
  flag?: boolean | null;
  number?: number | null;
  ids?: readonly string[] | null;
  texts?: readonly string[] | null;
} | null | undefined;

export type RecordedChange = { field: string; offered?: ChangedValue; consented?: ChangedValue };
export type ConsentRow = { path: string; label: string; offered: string; consented: string };

function raw(value: ChangedValue): string {
  if (!value) return NONE;
  if (value.flag !== null && value.flag !== undefined) return value.flag ? "Yes" : "No";
  if (value.text !== null && value.text !== undefined) return value.text;
  if (value.number !== null && value.number !== undefined) return String(value.number);
  if (value.ids) return value.ids.length === 1 ? "1 selected" : `${value.ids.length} selected`;
  if (value.texts) return value.texts.join(", ");
  return NONE;
}

/** What the gateway recorded as changed from the offer (`changesFromOffer`: paths such as
 * `settings.tspAccess`, dates as ISO text, enum values), in the words the offer page uses. */
export function consentRows(changes: readonly RecordedChange[], services: readonly { id: string; name: string }[]): ConsentRow[] {
  const serviceNames = (value: ChangedValue) =>
    value?.ids ? value.ids.map((id) => services.find((service) => service.id === id)?.name ?? "another service").join(", ") : NONE;
  return changes.map((change) => {
    const [group, key] = change.field.split(".", 2);
    let label = change.field;
    let show = raw;
    if (change.field === "serviceIds") {
      label = "Services";
      show = serviceNames;
    } else if (change.field === "startDate" || change.field === "endDate") {
      label = change.field === "startDate" ? "Start date" : "End date";
      show = (value) => (value?.text ? formatDate(value.text) : NONE);
    } else if (change.field === "settings.authorizeObject") {
      label = "Authorize object";
      show = (value) => (value?.text ? (authorizeObjectWords[value.text as G.AuthorizeObject] ?? words(value.text)) : NONE);
    } else if (group === "settings" && key in settingWords) {
      const setting = key as SettingKey;
      label = settingWords[setting].label;
      show = (value) => (typeof value?.flag === "boolean" ? settingValue(setting, value.flag) : NONE);
    } else if (group === "contact" && key in contactLabels) {
      label = contactLabels[key as keyof Contact];
    }
    return { path: change.field, label, offered: show(change.offered), consented: show(change.consented) };
  });
}
