// prepack: the package ships the repository's LICENSE (Apache-2.0), kept once at the root.
// Copied at pack time so the two never drift; fails loudly if the root file is missing.
import { copyFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const root = join(here, "..", "..", "LICENSE");
if (!existsSync(root)) {
  console.error(`prepack: ${root} not found; the package must ship a LICENSE`);
  process.exit(1);
}
copyFileSync(root, join(here, "LICENSE"));
