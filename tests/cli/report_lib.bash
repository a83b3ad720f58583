# Shared by the report tests (sourced after lib.bash; not a test itself): render a report in headless Chromium
# and check what a reader would see.

# render FILE: the DOM Chromium built from FILE, in $work/dom.html (fails the test when Chromium cannot render it).
render() {
  timeout 120 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$work/chromium" --dump-dom "file://$1" \
    >"$work/dom.html" 2>"$work/chromium.log" || { fail "chromium could not render $1: $(tail -3 "$work/chromium.log")"; return 1; }
}

# figures FILE ID...: renders FILE and checks each id is a <figure> holding an <svg> with drawn paths, that the page
# names nothing outside itself, and that its text (manifests and plots aside) shows no raw long float such as
# 0.072831 or 55327.7613: numbers are formatted for people.
figures() {
  local file=$1
  shift
  render "$file" || return
  python3 - "$work/dom.html" "$@" <<'PY' || fail "the rendered page of $file fails the checks above"
import html.parser, re, sys
class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []; self.paths = {}; self.svgs = {}; self.external = []; self.skip = 0; self.text = []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href", "xlink:href"):
            if k in a and ":" in (a[k] or "") and not a[k].startswith("#"): self.external.append(a[k])
        if tag in ("script", "link", "img", "iframe"): self.external.append(tag)
        if tag in ("svg", "pre", "style"): self.skip += 1
        if tag == "figure": self.stack.append(a.get("id"))
        fig = self.stack[-1] if self.stack else None
        if fig and tag == "svg": self.svgs[fig] = self.svgs.get(fig, 0) + 1
        if fig and tag == "path": self.paths[fig] = self.paths.get(fig, 0) + 1
    def handle_endtag(self, tag):
        if tag == "figure" and self.stack: self.stack.pop()
        if tag in ("svg", "pre", "style"): self.skip -= 1
    def handle_data(self, data):
        if not self.skip: self.text.append(data)
p = Page(); p.feed(open(sys.argv[1]).read())
bad = [f"{i}: {p.svgs.get(i, 0)} svg, {p.paths.get(i, 0)} paths" for i in sys.argv[2:] if not p.svgs.get(i) or p.paths.get(i, 0) < 5]
if p.external: bad.append("external references: " + ", ".join(p.external[:5]))
raw = re.findall(r"(?<![\w.])\d+\.\d{5,}\b|(?<![\w.,])\d{5,}\.\d+", " ".join(p.text))
if raw: bad.append("raw long floats in the page text: " + ", ".join(raw[:5]))
print("\n".join(bad)); sys.exit(1 if bad else 0)
PY
}

# screenshot FILE PNG: what a reader sees at 1280 px wide (kept when REPORT_SCREENS names a directory).
screenshot() {
  [[ -n "${REPORT_SCREENS:-}" ]] || return 0
  mkdir -p "$REPORT_SCREENS"
  timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/chromium" \
    --window-size=1280,2000 --screenshot="$REPORT_SCREENS/$2" "file://$1" >/dev/null 2>&1 || echo "note: no screenshot of $1"
}
