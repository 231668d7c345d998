package mediaserver

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mermaidDir is where .ci/run installs the Mermaid parser (npm package
// mermaid): MEDIASERVER_MERMAID_DIR, else ~/.cache/mediaserver/mermaid.
func mermaidDir() string {
	if d := os.Getenv("MEDIASERVER_MERMAID_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "mediaserver", "mermaid")
}

// mermaidScript parses each file named on the command line with Mermaid's
// own parser and prints one line per file: "ok <type>" or "error <msg>".
const mermaidScript = `
import mermaid from 'mermaid';
import { readFileSync } from 'node:fs';
for (const f of process.argv.slice(1)) {
  try {
    const r = await mermaid.parse(readFileSync(f, 'utf8'));
    console.log('ok ' + r.diagramType);
  } catch (e) {
    console.log('error ' + String(e.message || e).split('\n').join(' | '));
  }
}
`

// CheckMermaidForTest parses diagrams with the real Mermaid parser when
// node and the parser are installed (.ci/run installs them), and fails the
// test for any diagram Mermaid refuses or reads as something other than a
// sequence diagram. Without them it logs that only the structural checks
// ran. It is exported for the package's external tests.
func CheckMermaidForTest(t *testing.T, diagrams ...string) {
	t.Helper()
	dir := mermaidDir()
	node, err := exec.LookPath("node")
	if err != nil || dir == "" {
		t.Log("node not installed: the diagrams get the structural checks only")
		return
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "mermaid", "package.json")); err != nil {
		t.Logf("Mermaid parser not installed in %s (npm install --prefix %s mermaid@11): structural checks only", dir, dir)
		return
	}
	tmp := t.TempDir()
	args := []string{"--input-type=module", "-e", mermaidScript}
	for i, d := range diagrams {
		name := filepath.Join(tmp, fmt.Sprintf("d%d.mmd", i))
		if err := os.WriteFile(name, []byte(d), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(diagrams) {
		t.Fatalf("Mermaid answered %d lines for %d diagrams:\n%s", len(lines), len(diagrams), out)
	}
	for i, l := range lines {
		if l != "ok sequence" {
			t.Errorf("Mermaid refuses diagram %d: %s\n%s", i, l, diagrams[i])
		}
	}
}

// TestTraceMermaidHostileText: text that Mermaid's sequence syntax gives a
// meaning to (';', '#', ':', '%%', quotes, '<>', arrows, line breaks,
// "end", non-ASCII) in SIP messages, callback answers and notes still
// renders as a diagram Mermaid parses, one line per entry.
func TestTraceMermaidHostileText(t *testing.T) {
	tr := newTrace()
	tr.labels["p1"], tr.labels["p2"] = "alice;#x", "bob as x %% y"
	tr.actors = []string{"p1", "p2"}
	hostile := []string{
		"INVITE sip:a;b=c#d@example.com \"Q\" <x> %% comment",
		"a->>b: injected\nNote over a: x",
		"end", "loop 5", "alt x", "participant Evil as E", "ünïcödé – 🎵 ≠",
		"trailing backslash \\", "{\"json\":[1,2,{\"k\":\"v;#\"}]}",
	}
	for _, s := range hostile {
		tr.add("p1", actorServer, "SIP "+s, false)
		tr.addValue(actorServer, actorApp, "POST /newCall", map[string]string{"user": s})
		tr.add(actorServer, actorServer, s, true)
		tr.add("p1", "p2", s, true)
	}
	d := tr.mermaid()
	if n := strings.Count(d, "\n"); n != 1+2+2+4*len(hostile) {
		t.Fatalf("diagram has %d lines for %d entries:\n%s", n, 4*len(hostile), d)
	}
	if !strings.Contains(d, "v#59;#35;") {
		t.Errorf("';' and '#' are not kept as Mermaid entity codes:\n%s", d)
	}
	CheckMermaidForTest(t, d)
}
