// What the seller is about to authorize, kept in the tab so a new sign-in loses nothing.
import type * as G from "./generated/graphql";
import type { Contact } from "./components";
import { authorizeObjectWords, settingKeys, settingWords, formatDate } from "./words";

export type Draft = {
  serviceIds: string[];
  startDate: string;
  endDate: string;
  settings: G.AuthorizationSettingsInput;
  contact: Contact;
  shopIds: string[] | null;
  tiktokAccountIds: string[] | null;
};

export function loadDraft(key: string): Draft | null {
  try {
    const text = sessionStorage.getItem(`tsp.draft.${key}`);
    return text ? (JSON.parse(text) as Draft) : null;
  } catch {
    return null;
  }
}

export function saveDraft(key: string, draft: Draft | null): void {
  if (draft) sessionStorage.setItem(`tsp.draft.${key}`, JSON.stringify(draft));
  else sessionStorage.removeItem(`tsp.draft.${key}`);
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
  if (draft.startDate !== offer.startDate) {
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
        offered: offer.settings[key] ? "Allowed" : "Not allowed",
        chosen: draft.settings[key] ? "Allowed" : "Not allowed",
      });
    }
  }
  for (const key of Object.keys(contactLabels) as (keyof Contact)[]) {
    const offered = offer.contact?.[key] ?? "";
    if (draft.contact[key].trim() !== offered) {
      changes.push({ field: contactLabels[key], offered: offered || "(empty)", chosen: draft.contact[key].trim() || "(empty)" });
    }
  }
  return changes;
}

/** One side of a recorded change (the API's ChangedValue: exactly one field is set). */
export type ChangedValue = {
  text?: string | null;
  flag?: boolean | null;
  number?: number | null;
  ids?: readonly string[] | null;
  texts?: readonly string[] | null;
} | null | undefined;

export function showValue(value: ChangedValue): string {
  if (!value) return "(none)";
  if (value.flag !== null && value.flag !== undefined) return value.flag ? "Allowed" : "Not allowed";
  if (value.text !== null && value.text !== undefined) return value.text;
  if (value.number !== null && value.number !== undefined) return String(value.number);
  if (value.ids) return value.ids.length === 1 ? "1 selected" : `${value.ids.length} selected`;
  if (value.texts) return value.texts.join(", ");
  return "(none)";
}
