// Loading a query, retrying while the gateway is unreachable.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiUnreachable, call, listen, SignInRequired, type Result, type Variables } from "./api";
import type { OperationName } from "./generated/documents";

export type Loaded<T> =
  | { state: "loading" }
  | { state: "ready"; data: T }
  | { state: "unreachable"; retryIn: number; retry: () => void }
  | { state: "signin"; message: string }
  | { state: "error"; message: string };

const RETRY_SECONDS = [2, 4, 8, 15];

/** A query's state, its reload, and whether the data shown answers the current variables and
 * token (false while a changed query's answer is on its way). */
export function useQuery<K extends OperationName>(
  name: K,
  variables: Variables<K>,
  token: string | null | undefined,
  enabled = true,
): [Loaded<Result<K>>, () => void, boolean] {
  const [loaded, setLoaded] = useState<Loaded<Result<K>>>({ state: "loading" });
  // Which variables and token the data shown answers: after a sign-in, the data read before it
  // is still shown until the new answer comes, but it is not what this caller may see.
  const [answered, setAnswered] = useState<string | null>(null);
  const [generation, setGeneration] = useState(0);
  const attempts = useRef(0);
  const reload = useCallback(() => setGeneration((value) => value + 1), []);
  const key = JSON.stringify(variables);
  const asked = `${key}\n${token ?? ""}`;

  useEffect(() => {
    if (!enabled) return;
    let live = true;
    let timer: number | undefined;
    call(name, variables, token)
      .then((data) => {
        attempts.current = 0;
        if (live) {
          setLoaded({ state: "ready", data });
          setAnswered(asked);
        }
      })
      .catch((error: unknown) => {
        if (!live) return;
        if (error instanceof ApiUnreachable) {
          const wait = RETRY_SECONDS[Math.min(attempts.current, RETRY_SECONDS.length - 1)];
          attempts.current += 1;
          let left = wait;
          const retry = () => {
            window.clearInterval(timer);
            reload();
          };
          setLoaded({ state: "unreachable", retryIn: left, retry });
          timer = window.setInterval(() => {
            left -= 1;
            if (left <= 0) retry();
            else setLoaded({ state: "unreachable", retryIn: left, retry });
          }, 1000);
        } else if (error instanceof SignInRequired) {
          setLoaded({ state: "signin", message: error.message });
        } else {
          setLoaded({ state: "error", message: (error as Error).message });
        }
      });
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, [name, key, token, generation, enabled]);
  return [loaded, reload, answered === asked];
}

/** Calls ``onChange`` whenever one of the partner's events arrives (live updates), or when the
 * gateway refused the stream's cursor and events since it may have been missed. */
export function useLiveEvents(token: string | null | undefined, onChange: () => void): void {
  useEffect(() => {
    if (!token) return;
    // An event, or a gap the stream cannot replay: either way the page reads again.
    return listen(token, () => onChange(), () => onChange());
  }, [token, onChange]);
}
