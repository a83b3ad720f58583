// What every report page shares: one small stylesheet, the page shell, the grid of figures, escaping. All
// inline, so the file opens offline as it is; no scripts.
#include "report/detail.hpp"

namespace mmdebias::core::report {
namespace {

// System fonts, a readable measure, zebra tables with right-aligned tabular numbers; figures 2-3 a row,
// scaled to their cell (gnuplot's SVG has a viewBox).
const char* kStyle = R"(
*{box-sizing:border-box}
body{margin:0;color:#1f2328;background:#f6f8fa;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1320px;margin:0 auto;padding:20px 28px 48px;background:#fff;min-height:100vh}
h1{font-size:1.55em;margin:.1em 0 .1em}h1 small{font-weight:400;color:#57606a;font-size:.6em;margin-left:.5em}
h2{font-size:1.15em;margin:1.8em 0 .6em;padding-bottom:.25em;border-bottom:1px solid #d8dee4}
h3{font-size:1em;margin:1.2em 0 .4em}
p.sub{margin:0 0 1em;color:#57606a;font-size:.9em}p.note{color:#57606a;font-size:.85em;margin:.3em 0}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:.85em}
dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(230px,1fr));gap:10px 22px;margin:.6em 0 0}
dl.facts div{min-width:0}dl.facts dt{font-size:.72em;text-transform:uppercase;letter-spacing:.05em;color:#57606a}
dl.facts dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;margin:.3em 0 1em;font-size:.9em}
th,td{padding:5px 12px;text-align:left;vertical-align:top;border-bottom:1px solid #e6e9ed}
thead th{background:#f6f8fa;border-bottom:2px solid #d0d7de;font-weight:600;white-space:nowrap}
tbody tr:nth-child(even){background:#f9fafb}tbody th{font-weight:500}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.diff td{background:#fff8c5}
.better{color:#1a7f37}.worse{color:#cf222e}
td.sig{font-weight:600;background:#fff8c5}td.sig.better{background:#dafbe1}td.sig.worse{background:#ffebe9}
table.sweep{width:100%;table-layout:fixed}table.sweep td,table.sweep th{overflow-wrap:anywhere}table.sweep tbody tr{background:none}table.sweep tbody:nth-of-type(even){background:#f6f8fa}
table.sweep tbody{border-bottom:1px solid #d0d7de}
.tag{display:inline-block;font-size:.72em;padding:0 .45em;border-radius:1em;background:#ddf4ff;color:#0969da;margin-left:.4em;vertical-align:1px}
.finished{color:#1a7f37}.failed{color:#cf222e}.missing{color:#8c959f}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(400px,1fr));gap:14px}
figure{margin:0;padding:8px 8px 6px;border:1px solid #e6e9ed;border-radius:6px;background:#fff;min-width:0}
figure svg{display:block;width:100%;height:auto}
figcaption{font-size:.8em;color:#57606a;margin-top:4px}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px}
.scroll{overflow-x:auto}.row{display:flex;flex-wrap:wrap;gap:0 32px;align-items:flex-start}.row section{min-width:0}.row p.note{max-width:26em}
details{margin:.4em 0}summary{cursor:pointer;color:#0969da}
pre{background:#f6f8fa;padding:.8em;overflow:auto;max-height:36em;border-radius:6px}
a{color:#0969da;text-decoration:none}a:hover{text-decoration:underline}
)";

}  // namespace

std::string escape_html(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string html_document(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>\n<meta name=viewport content=\"width=device-width,initial-scale=1\">\n"
         "<title>" + escape_html(title) + "</title>\n<style>" + kStyle + "</style></head>\n<body><main>\n" + body + "</main></body></html>\n";
}

std::string figure_grid(const std::vector<Figure>& figures) {
  std::string s = "<div class=grid>\n";
  for (const auto& f : figures)
    s += "<figure id=\"" + f.plot.id + "\">" + f.svg + "<figcaption>" + escape_html(f.plot.caption) + "</figcaption></figure>\n";
  return s + "</div>\n";
}

}  // namespace mmdebias::core::report
