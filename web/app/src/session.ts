// Who is signed in: a bearer token per role, kept for this browser tab only.
export type Role = "SELLER" | "PARTNER";

export type DemoAccount = { role: Role; name: string; token: string };
export type PageConfig = { demo: boolean; demoAccounts: DemoAccount[] };

export function pageConfig(): PageConfig {
  const element = document.getElementById("tsp-config");
  if (!element?.textContent) return { demo: false, demoAccounts: [] };
  try {
    return JSON.parse(element.textContent) as PageConfig;
  } catch {
    return { demo: false, demoAccounts: [] };
  }
}

const key = (role: Role) => `tsp.token.${role}`;

export function storedToken(role: Role): string | null {
  return sessionStorage.getItem(key(role));
}

export function storeToken(role: Role, token: string | null): void {
  if (token) sessionStorage.setItem(key(role), token);
  else sessionStorage.removeItem(key(role));
}

/** The platform's login hands the page a token as #token=...; keep it and clean the address. */
export function takeTokenFromFragment(role: Role): void {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (!token) return;
  storeToken(role, token);
  history.replaceState(null, "", location.pathname + location.search);
}
