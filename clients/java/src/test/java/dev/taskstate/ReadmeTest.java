package dev.taskstate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;

/**
 * Runs the Java examples of the READMEs as written: every {@code ```java} block of
 * clients/java/README.md and of the root README's "## Java" section ($TASKSTATE_ROOT_README checks
 * a draft), except those after a {@code <!-- not-run -->} line, against a fresh server configured
 * like {@code make run} (SQLite, no tokens, loopback). Each block is the body of a {@code static
 * void run() throws Exception}; all of them are compiled together and run in turn in a new JVM
 * whose only configuration is TASKSTATE_ADDRESS.
 */
class ReadmeTest {
  private static final String IMPORTS =
      "import dev.taskstate.*;\nimport java.nio.file.*;\nimport java.time.*;\n"
          + "import java.util.*;\nimport java.util.concurrent.*;\n";

  record Block(String where, String code) {}

  /** The runnable java blocks of a markdown file, in {@code section} only if it is not null. */
  static List<Block> javaBlocks(Path md, String section) throws Exception {
    List<Block> out = new ArrayList<>();
    List<String> lines = Files.readAllLines(md, StandardCharsets.UTF_8);
    boolean inSection = section == null;
    StringBuilder cur = null;
    boolean skip = false;
    int start = 0;
    String prev = "";
    for (int n = 0; n < lines.size(); n++) {
      String line = lines.get(n);
      if (cur != null && line.startsWith("```")) {
        if (!skip) {
          out.add(new Block(md.getFileName() + ":" + start, cur.toString()));
        }
        cur = null;
      } else if (cur != null) {
        cur.append(line).append('\n');
      } else if (section != null && line.startsWith("## ")) {
        inSection = line.trim().equals(section);
      } else if (line.startsWith("```")) {
        cur = new StringBuilder();
        start = n + 1;
        skip = !(inSection && line.trim().equals("```java")) || prev.trim().equals("<!-- not-run -->");
      }
      if (!line.isBlank()) {
        prev = line;
      }
    }
    return out;
  }

  @Test
  void readmeExamplesRun() throws Exception {
    Path root = TestServer.repoRoot();
    List<Block> blocks = new ArrayList<>(javaBlocks(root.resolve("clients/java/README.md"), null));
    assertFalse(blocks.isEmpty(), "clients/java/README.md has no runnable java block");
    String draft = System.getenv("TASKSTATE_ROOT_README");
    Path rootReadme = draft != null ? Path.of(draft) : root.resolve("README.md");
    blocks.addAll(javaBlocks(rootReadme, "## Java"));

    Path dir = Files.createTempDirectory("readme-java");
    List<File> sources = new ArrayList<>();
    StringBuilder main = new StringBuilder(IMPORTS + "public class RunAll {\n");
    main.append("  public static void main(String[] args) {\n    int failed = 0;\n");
    for (int i = 0; i < blocks.size(); i++) {
      Block b = blocks.get(i);
      String src =
          IMPORTS + "// " + b.where() + "\nclass Example" + i
              + " {\n  static void run() throws Exception {\n" + b.code() + "  }\n}\n";
      sources.add(write(dir.resolve("Example" + i + ".java"), src));
      main.append("    try { Example").append(i).append(".run(); } catch (Throwable t) {\n")
          .append("      failed++; System.err.println(\"").append(b.where())
          .append(": \" + t); t.printStackTrace();\n    }\n");
    }
    main.append("    System.exit(failed == 0 ? 0 : 1);\n  }\n}\n");
    sources.add(write(dir.resolve("RunAll.java"), main.toString()));

    String cp = System.getProperty("java.class.path");
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    DiagnosticCollector<JavaFileObject> diags = new DiagnosticCollector<>();
    try (StandardJavaFileManager fm = javac.getStandardFileManager(diags, null, null)) {
      boolean ok =
          javac
              .getTask(null, fm, diags, List.of("-d", dir.toString(), "-cp", cp), null,
                  fm.getJavaFileObjectsFromFiles(sources))
              .call();
      assertTrue(ok, "the README examples do not compile: " + diags.getDiagnostics());
    }

    Path db = dir.resolve("taskstate.db");
    try (TestServer server = TestServer.start("--store", "sqlite:///" + db)) {
      Path java = Path.of(System.getProperty("java.home"), "bin", "java");
      ProcessBuilder pb =
          new ProcessBuilder(java.toString(), "-cp", dir + File.pathSeparator + cp, "RunAll")
              .redirectErrorStream(true);
      pb.environment().keySet().removeIf(k -> k.startsWith("TASKSTATE_"));
      pb.environment().put("TASKSTATE_ADDRESS", server.address);
      Process p = pb.start();
      String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(2, TimeUnit.MINUTES));
      System.out.println(output);
      assertEquals(0, p.exitValue(), "the README examples failed:\n" + output);
    }
  }

  private static File write(Path path, String source) throws Exception {
    Files.writeString(path, source);
    return path.toFile();
  }
}
