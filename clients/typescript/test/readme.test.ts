// Every ```ts block of the README type-checks (strict) as an ES module importing
// "@taskstate/client" (this package, through its exports: the built dist/), and every block
// not marked `<!-- not-run -->` runs to completion against a live server, as written.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";

import { TestServer, repoRoot } from "./server.js";
import { compileStrict } from "./tsc.js";

const PKG_DIR = resolve(repoRoot(), "clients", "typescript");
const NOT_RUN = "<!-- not-run -->";

interface Snippet {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  run: boolean;
}

/** The ```ts / ```typescript blocks of a Markdown text. */
function tsBlocks(markdown: string): Snippet[] {
  const lines = markdown.split("\n");
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] as string)) continue;
    let prev = i - 1;
    while (prev >= 0 && (lines[prev] as string).trim() === "") prev--;
    const run = prev < 0 || (lines[prev] as string).trim() !== NOT_RUN;
    const end = lines.indexOf("```", i + 1);
    assert.ok(end > i, `unclosed block at line ${i + 1}`);
    out.push({ line: i + 1, code: lines.slice(i + 1, end).join("\n") + "\n", run });
    i = end;
  }
  return out;
}

describe("README examples", () => {
  // Inside the package, so that "@taskstate/client" resolves to this package (self-reference).
  const dir = join(PKG_DIR, "build", "readme");
  const snippets = tsBlocks(readFileSync(join(PKG_DIR, "README.md"), "utf8"));
  let server: TestServer;

  before(async () => {
    server = await TestServer.start({ sqlite: true });
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  });
  after(async () => {
    await server?.close();
  });

  it("has runnable examples", () => {
    assert.ok(snippets.filter((s) => s.run).length >= 4, "fewer runnable blocks than expected");
  });

  it("type-checks every block (strict)", () => {
    for (const s of snippets) writeFileSync(join(dir, `block-${s.line}.ts`), s.code);
    compileStrict(dir, ["*.ts"]);
  });

  for (const s of snippets.filter((x) => x.run)) {
    it(`runs the block at README.md:${s.line}`, () => {
      const env: NodeJS.ProcessEnv = { ...process.env, TASKSTATE_ADDRESS: server.address };
      for (const name of ["TOKEN", "TLS", "CA_CERT", "CLIENT_CERT", "CLIENT_KEY"]) {
        delete env[`TASKSTATE_${name}`];
      }
      const result = spawnSync(process.execPath, [join(dir, "out", `block-${s.line}.js`)], {
        env,
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(
        result.status,
        0,
        `README.md:${s.line} exited with ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`,
      );
    });
  }
});
