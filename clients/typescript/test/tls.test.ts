// The TLS default rule (README "TLS"), the environment options, and TLS / mutual TLS
// against a live server whose certificates openssl makes here.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";

import { createClient, optionsFromEnv, resolveTransport } from "../src/index.js";
import type { ClientOptions, TaskClient, TlsDecidedBy, TlsOptions } from "../src/index.js";
import { makeCerts } from "./certs.js";
import type { TestCerts } from "./certs.js";
import { TestServer, failure } from "./server.js";

type Case = [address: string, tls: boolean | TlsOptions | undefined, url: string, by: TlsDecidedBy];

describe("TLS default rule", () => {
  const cases: Case[] = [
    // 3. by host: loopback -> plaintext, anything else -> TLS
    ["127.0.0.1:50051", undefined, "http://127.0.0.1:50051", "loopback"],
    ["127.8.9.10:1", undefined, "http://127.8.9.10:1", "loopback"],
    ["localhost:50051", undefined, "http://localhost:50051", "loopback"],
    ["LOCALHOST:50051", undefined, "http://localhost:50051", "loopback"],
    ["[::1]:50051", undefined, "http://[::1]:50051", "loopback"],
    ["[::ffff:127.0.0.1]:7", undefined, "http://[::ffff:7f00:1]:7", "loopback"],
    ["tasks.example.com:443", undefined, "https://tasks.example.com:443", "remote"],
    ["tasks.example.com:80", undefined, "https://tasks.example.com:80", "remote"],
    ["10.0.0.5:50051", undefined, "https://10.0.0.5:50051", "remote"],
    ["[2001:db8::1]:50051", undefined, "https://[2001:db8::1]:50051", "remote"],
    ["localhost.example.com:1", undefined, "https://localhost.example.com:1", "remote"],
    // 2. the scheme
    ["https://localhost:8443", undefined, "https://localhost:8443", "scheme"],
    ["http://tasks.example.com:8080/", undefined, "http://tasks.example.com:8080", "scheme"],
    ["https://tasks.example.com", undefined, "https://tasks.example.com:443", "scheme"],
    ["http://tasks.example.com", undefined, "http://tasks.example.com:80", "scheme"],
    // 1. an explicit option wins over both
    ["tasks.example.com:443", false, "http://tasks.example.com:443", "option"],
    ["https://tasks.example.com:443", false, "http://tasks.example.com:443", "option"],
    ["127.0.0.1:50051", true, "https://127.0.0.1:50051", "option"],
    ["http://127.0.0.1:50051", true, "https://127.0.0.1:50051", "option"],
    ["localhost:50051", { ca: "PEM" }, "https://localhost:50051", "option"],
    ["localhost:50051", { cert: "PEM", key: "PEM" }, "https://localhost:50051", "option"],
  ];
  for (const [address, tls, url, by] of cases) {
    it(`${address} with tls=${JSON.stringify(tls)} -> ${url} (${by})`, () => {
      const t = resolveTransport(address, tls);
      assert.equal(t.url, url);
      assert.equal(t.tls, url.startsWith("https:"));
      assert.equal(t.decidedBy, by);
    });
  }

  it("is what the client connects with", () => {
    const remote = createClient({ address: "tasks.example.com:443" });
    const local = createClient({ address: "127.0.0.1:50051" });
    try {
      assert.equal(remote.baseUrl, "https://tasks.example.com:443");
      assert.equal(remote.tls, true);
      assert.equal(local.baseUrl, "http://127.0.0.1:50051");
      assert.equal(local.tls, false);
    } finally {
      remote.close();
      local.close();
    }
  });

  it("refuses addresses and settings it cannot use", () => {
    for (const address of ["dns:///tasks:1", "unix:///tmp/sock", "::1:50051", "host:1/path", "host:99999"]) {
      assert.throws(() => resolveTransport(address), TypeError, address);
    }
    assert.throws(() => resolveTransport("h:1", { cert: "PEM" }), /go together/);
    assert.throws(() => createClient({ address: "h:1", tls: { key: "PEM" } }), /go together/);
  });
});

describe("optionsFromEnv", () => {
  let dir: string;
  let pem: string;
  let notPem: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "taskstate-ts-env-"));
    pem = join(dir, "ca.pem");
    notPem = join(dir, "ca.txt");
    writeFileSync(pem, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
    writeFileSync(notPem, "hello");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("defaults to make run's address, no token, and the rule", () => {
    assert.deepEqual(optionsFromEnv({}), { address: "127.0.0.1:50051" });
    assert.deepEqual(optionsFromEnv({ TASKSTATE_ADDRESS: " ", TASKSTATE_TOKEN: "" }), {
      address: "127.0.0.1:50051",
    });
  });

  it("reads the address, the token and TASKSTATE_TLS", () => {
    const env = { TASKSTATE_ADDRESS: "tasks.example.com:443", TASKSTATE_TOKEN: "tok" };
    assert.deepEqual(optionsFromEnv(env), { address: "tasks.example.com:443", token: "tok" });
    const flags = [["true", true], ["1", true], ["Yes", true], ["off", false], ["FALSE", false]] as const;
    for (const [text, tls] of flags) {
      assert.equal(optionsFromEnv({ TASKSTATE_TLS: text }).tls, tls, text);
    }
    assert.throws(() => optionsFromEnv({ TASKSTATE_TLS: "maybe" }), /TASKSTATE_TLS="maybe": expected true or false/);
  });

  it("reads the PEM files, which imply TLS unless TASKSTATE_TLS=false", () => {
    const tls = optionsFromEnv({ TASKSTATE_CA_CERT: pem }).tls;
    assert.ok(typeof tls === "object" && Buffer.isBuffer(tls.ca));
    const mtls = optionsFromEnv({ TASKSTATE_CLIENT_CERT: pem, TASKSTATE_CLIENT_KEY: pem }).tls;
    assert.ok(typeof mtls === "object" && mtls.cert !== undefined && mtls.key !== undefined);
    assert.equal(optionsFromEnv({ TASKSTATE_TLS: "false", TASKSTATE_CA_CERT: pem }).tls, false);
    assert.throws(() => optionsFromEnv({ TASKSTATE_CLIENT_CERT: pem }), /TASKSTATE_CLIENT_KEY/);
    assert.throws(
      () => optionsFromEnv({ TASKSTATE_CA_CERT: join(dir, "missing.pem") }),
      /TASKSTATE_CA_CERT=.*missing\.pem: cannot read it \(ENOENT\)/,
    );
    assert.throws(() => optionsFromEnv({ TASKSTATE_CA_CERT: notPem }), /not a PEM file/);
  });
});

/** A TLS server with fresh certificates, and the clients to close after it. */
class TlsServer {
  certs!: TestCerts;
  server!: TestServer;
  readonly clients: TaskClient[] = [];

  client(options: ClientOptions): TaskClient {
    const c = createClient(options);
    this.clients.push(c);
    return c;
  }
}

/** Starts a TlsServer before the enclosing describe()'s tests (extra flags from its certs). */
function tlsServer(flags: (certs: TestCerts) => string[]): TlsServer {
  const f = new TlsServer();
  before(async () => {
    f.certs = makeCerts();
    const { serverCert, serverKey } = f.certs;
    f.server = await TestServer.start({
      args: ["--tls-cert", serverCert, "--tls-key", serverKey, ...flags(f.certs)],
    });
  });
  after(async () => {
    for (const c of f.clients) c.close();
    await f.server?.close();
    f.certs?.remove();
  });
  return f;
}

describe("TLS against a live server", () => {
  const f = tlsServer(() => []);

  it("connects with a CA certificate, by IP or by name", async () => {
    const port = f.server.address.slice(f.server.address.lastIndexOf(":") + 1);
    for (const address of [f.server.address, `https://localhost:${port}`]) {
      const c = f.client({ address, tls: { ca: f.certs.caPem } });
      assert.equal(c.tls, true);
      const task = await c.create({ variables: { via: address } });
      assert.deepEqual((await c.get(task.taskId)).variables, { via: address });
    }
  });

  it("connects with TASKSTATE_CA_CERT from the environment", async () => {
    const c = f.client(
      optionsFromEnv({ TASKSTATE_ADDRESS: f.server.address, TASKSTATE_CA_CERT: f.certs.caCert }),
    );
    assert.equal((await c.create()).status, "working");
  });

  it("fails clearly without the CA, or in plaintext (the loopback default)", async () => {
    const untrusted = f.client({ address: f.server.address, tls: true, defaultTimeoutMs: 5_000 });
    const e1 = await failure(untrusted.create());
    assert.equal(e1.code, "UNAVAILABLE");
    assert.equal(e1.fromServer, false);
    const plain = f.client({ address: f.server.address, defaultTimeoutMs: 5_000 });
    assert.equal(plain.tls, false);
    const e2 = await failure(plain.create());
    assert.equal(e2.code, "UNAVAILABLE");
  });
});

describe("mutual TLS against a live server", () => {
  const f = tlsServer((certs) => ["--tls-client-ca", certs.caCert]);

  it("connects with a client certificate and key", async () => {
    const { caPem, clientCert, clientKey } = f.certs;
    const tls = { ca: caPem, cert: readFileSync(clientCert), key: readFileSync(clientKey) };
    const c = f.client({ address: f.server.address, tls });
    assert.equal((await c.create()).version, 1);
  });

  it("connects with TASKSTATE_CLIENT_CERT / TASKSTATE_CLIENT_KEY", async () => {
    const env = {
      TASKSTATE_ADDRESS: f.server.address,
      TASKSTATE_CA_CERT: f.certs.caCert,
      TASKSTATE_CLIENT_CERT: f.certs.clientCert,
      TASKSTATE_CLIENT_KEY: f.certs.clientKey,
    };
    const c = f.client(optionsFromEnv(env));
    assert.equal((await c.create()).version, 1);
  });

  it("is refused without a client certificate", async () => {
    const c = f.client({ address: f.server.address, tls: { ca: f.certs.caPem }, defaultTimeoutMs: 5_000 });
    const err = await failure(c.create());
    assert.equal(err.code, "UNAVAILABLE");
  });
});
