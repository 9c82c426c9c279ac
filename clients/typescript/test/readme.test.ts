// Every ```ts block of this package's README and of the repository's README type-checks (strict)
// as an ES module importing "@taskstate/client" (this package, through its exports: the built
// dist/), and every block not marked `<!-- not-run -->` runs to completion against a live server,
// as written.

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
  /** Where it is written: `README.md:12` (this package's) or `../../README.md:154` (the root's). */
  where: string;
  /** A file name for it, unique across both READMEs. */
  name: string;
  code: string;
  run: boolean;
}

/** The ```ts / ```typescript blocks of a Markdown file; `label` names the file in messages. */
function tsBlocks(path: string, label: string, prefix: string): Snippet[] {
  const lines = readFileSync(path, "utf8").split("\n");
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] as string)) continue;
    let prev = i - 1;
    while (prev >= 0 && (lines[prev] as string).trim() === "") prev--;
    const run = prev < 0 || (lines[prev] as string).trim() !== NOT_RUN;
    const end = lines.indexOf("```", i + 1);
    assert.ok(end > i, `unclosed block at line ${i + 1}`);
    const code = lines.slice(i + 1, end).join("\n") + "\n";
    out.push({ where: `${label}:${i + 1}`, name: `${prefix}-${i + 1}`, code, run });
    i = end;
  }
  return out;
}

describe("README examples", () => {
  // Inside the package, so that "@taskstate/client" resolves to this package (self-reference).
  const dir = join(PKG_DIR, "build", "readme");
  const own = tsBlocks(join(PKG_DIR, "README.md"), "README.md", "block");
  const root = tsBlocks(join(repoRoot(), "README.md"), "../../README.md", "root");
  const snippets = [...own, ...root];
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
    assert.ok(own.filter((s) => s.run).length >= 4, "fewer runnable blocks than expected");
    assert.ok(root.some((s) => s.run), "the root README's TypeScript section has no runnable block");
  });

  it("type-checks every block (strict)", () => {
    for (const s of snippets) writeFileSync(join(dir, `${s.name}.ts`), s.code);
    compileStrict(dir, ["*.ts"]);
  });

  for (const s of snippets.filter((x) => x.run)) {
    it(`runs the block at ${s.where}`, () => {
      const env: NodeJS.ProcessEnv = { ...process.env, TASKSTATE_ADDRESS: server.address };
      for (const name of ["TOKEN", "TLS", "CA_CERT", "CLIENT_CERT", "CLIENT_KEY"]) {
        delete env[`TASKSTATE_${name}`];
      }
      const result = spawnSync(process.execPath, [join(dir, "out", `${s.name}.js`)], {
        env,
        encoding: "utf8",
        timeout: 60_000,
      });
      assert.equal(
        result.status,
        0,
        `${s.where} exited with ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`,
      );
    });
  }
});
