// Enum values in plain words.
import type * as G from "./generated/graphql";

export const authorizeObjectWords: Record<G.AuthorizeObject, string> = {
  SHOP: "Your shops",
  TTUID: "Your TikTok accounts (TTUID)",
  SHOP_AND_TTUID: "Your shops and your TikTok accounts",
};

export const settingWords = {
  ticketAuthorization: {
    label: "Ticket authorization",
    yes: "May raise support tickets for you on TikTok Shop Partner Center",
    no: "May not raise tickets for you",
  },
  tspAccess: {
    label: "TSP access",
    yes: "May log into your Seller Center and operate it for you",
    no: "May not log into your Seller Center",
  },
  dataCompassAccess: {
    label: "Data Compass",
    yes: "May see your Data Compass analytics in Seller Center",
    no: "May not see your Data Compass analytics",
  },
} as const;

export type SettingKey = keyof typeof settingWords;
export const settingKeys: SettingKey[] = ["ticketAuthorization", "tspAccess", "dataCompassAccess"];

export const statusWords: Record<string, string> = {
  OPEN: "Open",
  ACCEPTED: "Accepted",
  WITHDRAWN: "Withdrawn",
  EXPIRED: "Expired",
  ACTIVE: "Active",
  COMPLETED: "Completed",
  CANCELED: "Canceled",
  CLOSED: "Closed",
  PARTNER_REVIEWING: "Reviewing",
  PARTNER_ACCEPTED: "Accepted",
  REJECTED: "Rejected",
  CONNECTED: "Connected",
};

export const marketWords: Record<string, string> = {
  US: "United States",
  GB: "United Kingdom",
  DE: "Germany",
  IT: "Italy",
  FR: "France",
  ES: "Spain",
  IE: "Ireland",
  ID: "Indonesia",
  MY: "Malaysia",
  VN: "Vietnam",
  TH: "Thailand",
  PH: "Philippines",
  SG: "Singapore",
  JP: "Japan",
  MX: "Mexico",
  BR: "Brazil",
};

const otherWords: Record<string, string> = {
  TSP: "TikTok Shop Partner (TSP)",
  MCN_CAP: "MCN / CAP",
  AFFILIATE_PARTNER: "Affiliate partner",
  SIZE_1_10: "1–10",
  SIZE_11_50: "11–50",
  SIZE_51_200: "51–200",
  SIZE_201_500: "201–500",
  SIZE_501_1000: "501–1,000",
};

export function market(value: string): string {
  return marketWords[value] ?? value;
}

export function words(value: string): string {
  return statusWords[value] ?? otherWords[value] ?? value.charAt(0) + value.slice(1).toLowerCase().replace(/_/g, " ");
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return "";
  const date = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
  return date.toLocaleDateString("en-GB", {
    day: "numeric",
    month: "short",
    year: "numeric",
    timeZone: "UTC",
  });
}

/** Local sellers in the UK and US and every cross-border seller authorize only through links. */
export function regionRule(seller: { kind: string; market: string }): string | null {
  if (seller.kind === "CROSS_BORDER") {
    return "As a cross-border seller you can authorize and renew a partner's services only through a link the partner sends you, like this one, not from the App & Service Store.";
  }
  if (seller.market === "US" || seller.market === "GB") {
    return `As a local seller in the ${market(seller.market)} you can authorize and renew a partner's services only through a link the partner sends you, like this one, not from the App & Service Store.`;
  }
  return null;
}

export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  const value = new Date(`${date}T00:00:00Z`);
  value.setUTCDate(value.getUTCDate() + days);
  return value.toISOString().slice(0, 10);
}
