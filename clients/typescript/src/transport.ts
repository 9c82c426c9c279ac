// The one TLS default rule every taskstate client shares (README "TLS"):
//   1. an explicit option wins: tls true / TLS settings -> TLS, tls false -> plaintext;
//   2. then the address's scheme: https:// -> TLS, http:// -> plaintext;
//   3. then the host: loopback (localhost, 127.0.0.0/8, ::1) -> plaintext, any other -> TLS.
// So a local dev server needs no options, and a token bound for a remote host never
// travels in the clear by accident. Pure functions: the decision is unit-testable.

import { BlockList, isIPv6 } from "node:net";

/** TLS settings for `https`/TLS connections (passed to `http2.connect`). */
export interface TlsOptions {
  /** PEM CA certificate(s) to trust instead of the system store. */
  ca?: string | Buffer | Array<string | Buffer> | undefined;
  /** PEM client certificate and its key, for mutual TLS (give both or neither). */
  cert?: string | Buffer | undefined;
  key?: string | Buffer | undefined;
  /** Server name for SNI and certificate checks (default: the address host). */
  servername?: string | undefined;
  /** Default true. Set false only in tests. */
  rejectUnauthorized?: boolean | undefined;
}

/** Which step of the rule decided: an option, the address's scheme, or its host. */
export type TlsDecidedBy = "option" | "scheme" | "loopback" | "remote";

/** Where and how the client connects. */
export interface Transport {
  /** The base URL the HTTP/2 session opens: `https://host:port` or `http://host:port`. */
  url: string;
  /** True for TLS. */
  tls: boolean;
  /** The host as parsed (IPv6 without brackets). */
  host: string;
  /** Why `tls` is what it is. */
  decidedBy: TlsDecidedBy;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/**
 * Applies the TLS default rule to an address (`host:port`, `[v6]:port`,
 * `http://host:port` or `https://host:port`) and the `tls` option.
 * Throws a TypeError for an address it cannot parse.
 */
export function resolveTransport(
  address: string,
  tls?: boolean | TlsOptions | undefined,
): Transport {
  const { scheme, rest } = splitScheme(address);
  let url: URL;
  try {
    url = new URL(`http://${rest}`);
  } catch {
    throw new TypeError(
      `address ${JSON.stringify(address)}: expected host:port (IPv6 as [::1]:50051)`,
    );
  }
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "" || url.username !== "") {
    throw new TypeError(`address ${JSON.stringify(address)}: expected host:port, nothing more`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  let secure: boolean;
  let decidedBy: TlsDecidedBy;
  if (tls !== undefined) {
    secure = tls !== false;
    decidedBy = "option";
  } else if (scheme !== undefined) {
    secure = scheme === "https";
    decidedBy = "scheme";
  } else if (isLoopbackHost(host)) {
    secure = false;
    decidedBy = "loopback";
  } else {
    secure = true;
    decidedBy = "remote";
  }
  if (secure && typeof tls === "object") checkTlsOptions(tls);
  // The port as written (the URL parser drops ":80", http's default, which TLS would turn
  // into 443); without one, the scheme's default port, else the chosen protocol's.
  const written = /:(\d+)$/.exec(rest)?.[1];
  const port = written ?? (scheme === "http" ? "80" : scheme === "https" ? "443" : undefined);
  const hostPort = port === undefined ? url.hostname : `${url.hostname}:${Number(port)}`;
  return { url: `${secure ? "https" : "http"}://${hostPort}`, tls: secure, host, decidedBy };
}

/** True for `localhost` and loopback IP addresses (127.0.0.0/8, ::1, ::ffff:127.x.x.x). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (h === "localhost" || h === "localhost.") return true;
  if (isIPv6(h)) return LOOPBACK.check(h, "ipv6");
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(h)) return LOOPBACK.check(h, "ipv4");
  return false;
}

function splitScheme(address: string): { scheme: "http" | "https" | undefined; rest: string } {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(address);
  if (!m) return { scheme: undefined, rest: address };
  const scheme = (m[1] as string).toLowerCase();
  if (scheme !== "http" && scheme !== "https") {
    throw new TypeError(
      `address ${JSON.stringify(address)}: unsupported scheme ${scheme}:// ` +
        "(use host:port, http://host:port or https://host:port)",
    );
  }
  return { scheme, rest: address.slice(m[0].length).replace(/\/+$/, "") };
}

function checkTlsOptions(tls: TlsOptions): void {
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new TypeError("tls: a client certificate (cert) and its key (key) go together");
  }
}
