// The pages an authorization link opens, and the partner's pages: one app, routed by path.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Shell } from "./components";
import { OfferPage, LinkProblem } from "./pages/OfferPage";
import { PartnerPage, type PartnerView } from "./pages/PartnerPage";
import { ServiceLinkPage } from "./pages/ServiceLinkPage";
import { takeTokenFromFragment } from "./session";
import "./style.css";

// Link tokens are URL-safe base64 (32 characters today); anything else is a damaged link.
const TOKEN = /^[A-Za-z0-9_-]{8,64}$/;
const VIEWS: PartnerView[] = ["offers", "new", "authorizations", "requests", "insights", "exports"];

function usePath(): [string, (path: string) => void] {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const go = (next: string) => {
    history.pushState(null, "", next);
    setPath(next);
    window.scrollTo(0, 0);
  };
  return [path, go];
}

function BadLink() {
  return (
    <LinkProblem title="This link is not valid">
      <p>
        The address does not hold a complete authorization link: part of it may be missing or
        changed. Open the link from the partner's message again, or ask the partner to send it
        once more.
      </p>
    </LinkProblem>
  );
}

/** A path part decoded, or null when it is not valid percent-encoding (decodeURIComponent
 * throws on "%", "%ZZ" or a cut multi-byte sequence, which would leave a blank page). */
function decoded(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

function App() {
  const [path, go] = usePath();
  const parts = path.split("/").filter(Boolean).map(decoded);
  if (parts[0] === "authorize") {
    // A part that does not decode (a "%" cut from its two digits) is a damaged link too.
    if (parts.includes(null)) return <BadLink />;
    if (parts[1] === "service") {
      const token = parts[2];
      return parts.length === 3 && token && TOKEN.test(token) ? <ServiceLinkPage token={token} /> : <BadLink />;
    }
    const token = parts[1];
    return parts.length === 2 && token && TOKEN.test(token) ? <OfferPage token={token} /> : <BadLink />;
  }
  if (parts[0] === "partner") {
    const view = (VIEWS as string[]).includes(parts[1] ?? "") ? (parts[1] as PartnerView) : "offers";
    return <PartnerPage view={view} go={(next) => go(`/partner/${next}`)} />;
  }
  return (
    <Shell title="Not found">
      <h1>Page not found</h1>
      <p>
        Authorization links look like <code>/authorize/&lt;token&gt;</code>. Partners manage their
        offers at <a href="/partner">/partner</a>.
      </p>
    </Shell>
  );
}

takeTokenFromFragment(location.pathname.startsWith("/partner") ? "PARTNER" : "SELLER");
render(<App />, document.getElementById("app")!);
