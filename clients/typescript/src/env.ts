// Client options from the environment variables the CLI and every taskstate client read,
// so a script, a tool handler and the CLI reach the same server the same way.

import { readFileSync } from "node:fs";

import type { TlsOptions } from "./transport.js";

/** The address of `make run` / `taskstate-server` with its defaults. */
export const DEFAULT_ADDRESS = "127.0.0.1:50051";

/** The environment variables optionsFromEnv() reads. */
export const ENV = {
  address: "TASKSTATE_ADDRESS",
  token: "TASKSTATE_TOKEN",
  tls: "TASKSTATE_TLS",
  caCert: "TASKSTATE_CA_CERT",
  clientCert: "TASKSTATE_CLIENT_CERT",
  clientKey: "TASKSTATE_CLIENT_KEY",
} as const;

/** What optionsFromEnv() returns: the connection part of ClientOptions. */
export interface EnvOptions {
  address: string;
  token?: string;
  tls?: boolean | TlsOptions;
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

/**
 * Connection options from the environment:
 * `TASKSTATE_ADDRESS` (default 127.0.0.1:50051), `TASKSTATE_TOKEN` (default none),
 * `TASKSTATE_TLS` (true/false; unset = the TLS default rule decides),
 * `TASKSTATE_CA_CERT` (PEM file replacing the system roots), and
 * `TASKSTATE_CLIENT_CERT` + `TASKSTATE_CLIENT_KEY` (PEM files, mutual TLS).
 * A CA or client certificate implies TLS unless `TASKSTATE_TLS=false`, which
 * wins and ignores them. The files are read now; an unreadable one throws.
 *
 *     const client = createClient({ ...optionsFromEnv(), defaultTimeoutMs: 5_000 });
 */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): EnvOptions {
  const options: EnvOptions = { address: value(env, ENV.address) ?? DEFAULT_ADDRESS };
  const token = value(env, ENV.token);
  if (token !== undefined) options.token = token;

  const flag = value(env, ENV.tls);
  const on = flag === undefined ? undefined : parseBool(flag, ENV.tls);
  if (on === false) {
    options.tls = false;
    return options;
  }
  const caPath = value(env, ENV.caCert);
  const certPath = value(env, ENV.clientCert);
  const keyPath = value(env, ENV.clientKey);
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new TypeError(`${ENV.clientCert} and ${ENV.clientKey} go together: set both or neither`);
  }
  const files: TlsOptions = {};
  if (caPath !== undefined) files.ca = readPem(caPath, ENV.caCert);
  if (certPath !== undefined) files.cert = readPem(certPath, ENV.clientCert);
  if (keyPath !== undefined) files.key = readPem(keyPath, ENV.clientKey);
  if (Object.keys(files).length > 0) options.tls = files;
  else if (on === true) options.tls = true;
  return options;
}

/** Parses a boolean environment value: 1/true/yes/on or 0/false/no/off (any case). */
export function parseBool(text: string, name: string): boolean {
  const v = text.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new TypeError(`${name}=${JSON.stringify(text)}: expected true or false`);
}

function value(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === undefined || v === "" ? undefined : v;
}

function readPem(path: string, name: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new TypeError(`${name}=${path}: cannot read it (${String(code ?? err)})`, {
      cause: err,
    });
  }
  if (!data.includes("-----BEGIN")) {
    throw new TypeError(`${name}=${path}: not a PEM file`);
  }
  return data;
}
