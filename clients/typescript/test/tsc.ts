// Test helper: compiles a user's-eye TypeScript project (strict, ES modules, NodeNext), the
// way a project depending on @taskstate/client would, to check what the package exposes.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { repoRoot } from "./server.js";

const TSC = join(repoRoot(), "clients", "typescript", "node_modules", ".bin", "tsc");

/** Writes `dir`/tsconfig.json for the sources `include` (output in `dir`/out) and runs tsc. */
export function compileStrict(dir: string, include: string[]): void {
  const compilerOptions = {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    types: ["node"],
    rootDir: ".",
    outDir: "out",
  };
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, include }));
  try {
    execFileSync(TSC, ["-p", dir], { encoding: "utf8" });
  } catch (err) {
    assert.fail(`tsc -p ${dir} failed:\n${(err as { stdout?: string }).stdout ?? String(err)}`);
  }
}
