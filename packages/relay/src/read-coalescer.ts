/**
 * Identical reads of one till in flight at once share one request to the server. Each
 * identical message costs the relay's signer a second of the server's window
 * (request-signer.ts); a till firing the same read twice before the first answer would spend
 * two for one answer.
 */
export function createReadCoalescer<A>(read: (pathAndQuery: string, serial: string) => Promise<A>) {
  const inFlight = new Map<string, Promise<A>>();
  return (pathAndQuery: string, serial: string): Promise<A> => {
    // A GET has no body: the serial and the path and query name the message.
    const key = `${serial} ${pathAndQuery}`;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = read(pathAndQuery, serial).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  };
}
