// The npm package: `npm pack` ships the library only (no tests, no test tools), with
// complete metadata, and a project that installs the tarball can import and type-check it.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, it } from "node:test";

import { repoRoot } from "./server.js";
import { compileStrict } from "./tsc.js";

const PKG_DIR = resolve(repoRoot(), "clients", "typescript");

interface PackResult {
  filename: string;
  files: { path: string }[];
}

interface PackageJson {
  name: string;
  license: string;
  type: string;
  main: string;
  types: string;
  files: string[];
  engines: { node: string };
  repository: { type: string; url: string; directory: string };
  exports: Record<string, string | Record<string, string>>;
  scripts: Record<string, string>;
}

describe("the npm package", () => {
  let tmp: string;
  let packed: PackResult;
  let files: string[];

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "taskstate-ts-pack-"));
    // `npm test` has just built dist/; of the lifecycle scripts only prepack (LICENSE) remains.
    execFileSync(process.execPath, [join(PKG_DIR, "scripts", "license.mjs")], { stdio: "pipe" });
    const args = ["pack", "--json", "--ignore-scripts", "--pack-destination", tmp];
    const out = execFileSync("npm", args, {
      cwd: PKG_DIR,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    packed = (JSON.parse(out) as PackResult[])[0] as PackResult;
    files = packed.files.map((f) => f.path).sort();
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("ships the compiled library, README, LICENSE and package.json only", () => {
    for (const required of [
      "LICENSE",
      "README.md",
      "package.json",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/client.js",
      "dist/gen/taskstate/v1/taskstate_pb.js",
      "dist/gen/taskstate/v1/taskstate_pb.d.ts",
    ]) {
      assert.ok(files.includes(required), `${required} missing from ${files.join(", ")}`);
    }
    const unexpected = files.filter(
      (f) => !/^(LICENSE|README\.md|package\.json|dist\/[\w/]+\.(js|d\.ts))$/.test(f),
    );
    assert.deepEqual(unexpected, []);
    const runners = files.filter((f) => /conformance|relay|test/i.test(f));
    assert.deepEqual(runners, [], "test runners in the package");
    assert.match(readFileSync(join(PKG_DIR, "LICENSE"), "utf8"), /Apache License/);
  });

  it("has complete metadata whose paths are all in the package", () => {
    const pkg = JSON.parse(readFileSync(join(PKG_DIR, "package.json"), "utf8")) as PackageJson;
    assert.equal(pkg.name, "@taskstate/client");
    assert.equal(pkg.license, "Apache-2.0");
    assert.equal(pkg.type, "module");
    assert.match(pkg.engines.node, /^>=20/);
    assert.equal(pkg.repository.type, "git");
    assert.match(pkg.repository.url, /^git\+https:\/\/github\.com\/.+\.git$/);
    assert.equal(pkg.repository.directory, "clients/typescript");
    assert.deepEqual(pkg.files.sort(), ["LICENSE", "README.md", "dist"]);
    const targets = [pkg.main, pkg.types];
    for (const entry of Object.values(pkg.exports)) {
      targets.push(...(typeof entry === "string" ? [entry] : Object.values(entry)));
    }
    for (const target of targets) {
      assert.ok(files.includes(target.replace(/^\.\//, "")), `${target} is not in the package`);
    }
  });

  it("installs from the tarball, type-checks and runs in a fresh project", () => {
    const project = join(tmp, "consumer");
    const installed = join(project, "node_modules", "@taskstate", "client");
    mkdirSync(installed, { recursive: true });
    execFileSync("tar", ["-xzf", join(tmp, packed.filename), "-C", installed, "--strip-components=1"]);
    // The dependencies (and the compiler) come from this checkout, as `npm install` would.
    for (const dep of ["@bufbuild", "@connectrpc", "@types"]) {
      symlinkSync(join(PKG_DIR, "node_modules", dep), join(project, "node_modules", dep), "dir");
    }
    writeFileSync(join(project, "package.json"), JSON.stringify({ type: "module", private: true }));
    writeFileSync(
      join(project, "main.ts"),
      [
        'import { createClient, optionsFromEnv, resolveTransport } from "@taskstate/client";',
        'import type { Task, TaskStatusName } from "@taskstate/client";',
        'import { TaskService } from "@taskstate/client/gen/taskstate/v1/taskstate_pb";',
        'const status: TaskStatusName = "completed";',
        "const task: Pick<Task, \"status\"> = { status };",
        'const client = createClient(optionsFromEnv({ TASKSTATE_ADDRESS: "tasks.example.com:443" }));',
        "client.close();",
        "console.log(JSON.stringify({",
        '  tls: client.tls, rule: resolveTransport("127.0.0.1:50051").tls,',
        "  service: TaskService.typeName, status: task.status,",
        "}));",
        "",
      ].join("\n"),
    );
    compileStrict(project, ["main.ts"]);
    const out = execFileSync(process.execPath, [join(project, "out", "main.js")], { encoding: "utf8" });
    assert.deepEqual(JSON.parse(out), {
      tls: true,
      rule: false,
      service: "taskstate.v1.TaskService",
      status: "completed",
    });
  });
});
