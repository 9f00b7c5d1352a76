// HtmlReport (report.h): one self-contained page, inline CSS and <details>, no script.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "harness/run/report.h"

namespace fpconform::harness {
namespace {

// Html returns `text` safe as HTML text or attribute value: control characters visible as
// TerminalSafe shows them (line breaks kept), then &, <, >, " and ' as entities.
std::string Html(std::string_view raw) {
  std::string text = TerminalSafe(raw, /*keep_newlines=*/true);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (std::string_view entity = MarkupEntity(c); !entity.empty()) {
      out += entity;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Anchor returns the id of a scenario's section.
std::string Anchor(const std::string& scenario_id) { return "s-" + Html(scenario_id); }

// CssClass returns the class a status is coloured with.
const char* CssClass(JobStatus status) {
  switch (status) {
    case JobStatus::kPass:
      return "pass";
    case JobStatus::kKnownDeviation:
      return "dev";
    case JobStatus::kNotApplicable:
      return "na";
    case JobStatus::kFail:
    case JobStatus::kDeviationFixed:
    case JobStatus::kError:
      return "fail";
  }
  return "fail";
}

std::string Join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (const std::string& item : items) {
    out += (out.empty() ? "" : separator) + item;
  }
  return out;
}

std::string Outcomes(const std::vector<Outcome>& outcomes) {
  std::vector<std::string> names;
  for (Outcome o : outcomes) {
    names.emplace_back(OutcomeName(o));
  }
  return Join(names, " or ");
}

std::string Ms(std::chrono::steady_clock::time_point t, std::chrono::steady_clock::time_point t0) {
  if (t.time_since_epoch().count() == 0) {
    return "";
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f",
                std::chrono::duration<double, std::milli>(t - t0).count());
  return buf;
}

// Cell: the state of one target on a set of runs (a scenario, or a clause's scenarios).
struct Cell {
  int runs = 0, failed = 0, deviations = 0, not_applicable = 0, passed = 0;
  std::vector<const JobResult*> notable;  // failed or deviating, first repeat of each

  void Add(const JobResult& r) {
    ++runs;
    failed += IsFailure(r.status);
    deviations += r.status == JobStatus::kKnownDeviation;
    not_applicable += r.status == JobStatus::kNotApplicable;
    passed += r.status == JobStatus::kPass;
    bool listed = std::any_of(notable.begin(), notable.end(),
                              [&](const JobResult* n) { return n->scenario == r.scenario; });
    if (!listed && (IsFailure(r.status) || r.status == JobStatus::kKnownDeviation)) {
      notable.push_back(&r);
    }
  }
  // Word: fail, deviation, pass, not applicable, or no run.
  std::pair<const char*, const char*> Word() const {
    if (runs == 0) {
      return {"none", "no run"};
    }
    if (failed > 0) {
      return {"fail", "FAIL"};
    }
    if (deviations > 0) {
      return {"dev", "DEVIATION"};
    }
    if (passed == 0 && not_applicable > 0) {
      return {"na", "N/A"};
    }
    return {"pass", "PASS"};
  }
};

constexpr char kStyle[] = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;padding:1em 1.5em;color:#1b1f24;background:#fff}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;margin:1.4em 0 .5em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
.run{color:#57606a;margin:.2em 0 1em}.run span{margin-right:1.2em}
table{border-collapse:collapse;margin:.4em 0}th,td{border:1px solid #d0d7de;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{background:#dafbe1;color:#116329}.fail{background:#ffebe9;color:#a40e26;font-weight:600}
.dev{background:#fff8c5;color:#7d4e00}.na,.none{background:#f6f8fa;color:#57606a}
.badge{display:inline-block;padding:0 .45em;border-radius:.8em;font-size:.85em}
details{border:1px solid #d0d7de;border-radius:6px;margin:.35em 0;padding:.3em .7em}
details>summary{cursor:pointer}details[open]>summary{margin-bottom:.4em}
pre{background:#f6f8fa;padding:.5em;overflow-x:auto;max-height:24em;white-space:pre-wrap;word-break:break-all}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.92em}
.matrix td a{font-size:.85em;display:block}.muted{color:#57606a}
.failure{border-left:4px solid #cf222e}
)css";

class HtmlWriter {
 public:
  explicit HtmlWriter(const ReportInputs& in) : in_(in) {
    for (const JobResult& r : *in.results) {
      by_scenario_target_[{r.scenario->id, r.target->name}].push_back(&r);
    }
    for (const Clause& c : *in.clauses) {
      clause_summary_[c.id] = &c;
    }
  }

  std::string Write() {
    out_ += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
    out_ += "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n";
    out_ += "<title>fpconform report</title>\n<style>";
    out_ += kStyle;
    out_ += "</style></head>\n<body>\n";
    Header();
    Summary();
    Failures();
    Matrix();
    Profile();
    Scenarios();
    out_ += "</body></html>\n";
    return std::move(out_);
  }

 private:
  void Header() {
    out_ += "<header><h1>fpconform report</h1>\n<p class=\"run\" id=\"run\">";
    if (in_.info != nullptr) {
      const RunInfo& i = *in_.info;
      for (const auto& [label, value] :
           {std::pair{"suite", i.suite_version}, std::pair{"catalog", i.catalog_digest},
            std::pair{"revision", i.revision}, std::pair{"started", i.started_at},
            std::pair{"host", i.host}}) {
        if (!value.empty()) {
          out_ += std::string("<span>") + label + " <code>" + Html(value) + "</code></span>";
        }
      }
      if (!i.complete) {
        out_ += "<span class=\"fail badge\">incomplete run</span>";
      }
    }
    char duration[48];
    std::snprintf(duration, sizeof(duration), "<span>duration %.1f s</span>",
                  static_cast<double>(in_.duration.count()) / 1000.0);
    out_ += duration;
    out_ += "</p>\n<p id=\"totals\"><strong>" + Html(SummaryLine(CountResults(*in_.results))) +
            "</strong></p></header>\n";
  }

  void Summary() {
    out_ +=
        "<h2 id=\"summary\">Targets by level</h2>\n<table class=\"levels\"><tr><th>target</th>"
        "<th>product</th><th>normative</th><th>inferred</th><th>implementation-defined</th>"
        "<th>notes</th><th>runs</th></tr>\n";
    for (const TargetDescriptor& t : *in_.targets) {
      std::vector<const JobResult*> own = TargetResults(*in_.results, t.name);
      LevelTotals levels = CountLevels(own);
      auto cell = [](const LevelCount& c) {
        const char* cls = c.total == 0 ? "na" : c.passed == c.total ? "pass" : "fail";
        return std::string("<td class=\"num ") + cls + "\">" + std::to_string(c.passed) + "/" +
               std::to_string(c.total) + "</td>";
      };
      out_ += "<tr><td><strong>" + Html(t.name) + "</strong><br><span class=\"muted\">" +
              Html(t.description) + "</span></td><td>" + ProductName(t.product) + "</td>" +
              cell(levels.normative) + cell(levels.inferred) + cell(levels.implementation_defined) +
              "<td class=\"num\">" + std::to_string(levels.notes) + "</td><td class=\"num\">" +
              std::to_string(own.size()) + "</td></tr>\n";
    }
    out_ += "</table>\n";
  }

  void Failures() {
    std::vector<const JobResult*> failures;
    for (const JobResult& r : *in_.results) {
      if (IsFailure(r.status)) {
        failures.push_back(&r);
      }
    }
    out_ += "<h2 id=\"failures\">Failures (" + std::to_string(failures.size()) + ")</h2>\n";
    if (failures.empty()) {
      out_ += "<p class=\"pass badge\">No failure.</p>\n";
      return;
    }
    for (const JobResult* r : failures) {
      out_ += "<details open class=\"failure\"><summary><span class=\"badge fail\">" +
              StatusWord(r->status) + "</span> <a href=\"#" + Anchor(r->scenario->id) +
              "\"><code>" + Html(r->scenario->id) + "</code></a> [" + Html(r->target->name) +
              (r->repeat > 0 ? " #" + std::to_string(r->repeat + 1) : "") + "] " +
              LevelName(r->scenario->level) + " " + Html(Join(r->scenario->clauses, ", ")) +
              "</summary>\n";
      ResultBody(*r);
      out_ += "</details>\n";
    }
  }

  // ResultBody: the message, the connections expected and observed with their evidence,
  // the failed checks, the process and the rerun command.
  void ResultBody(const JobResult& r) {
    out_ += "<p class=\"message\">" + Html(r.message) + "</p>\n";
    if (!r.deviation.empty()) {
      out_ += "<p>" +
              std::string(r.status == JobStatus::kNotApplicable ? "not applicable: "
                                                                : "known deviation: ") +
              Html(r.deviation) + "</p>\n";
    }
    if (!r.verdict.connections.empty()) {
      out_ +=
          "<table class=\"verdict\"><tr><th>connection</th><th>expected</th><th>observed</th>"
          "<th>evidence</th></tr>\n";
      for (const ConnectionVerdict& v : r.verdict.connections) {
        out_ += std::string("<tr class=\"") + (v.ok ? "" : "fail") + "\"><td>" +
                Html(v.connection) + "</td><td>" +
                (v.expected.empty() ? "(not judged)" : Outcomes(v.expected)) + "</td><td>" +
                OutcomeName(v.observed) + "</td><td>" + Html(v.evidence) + "</td></tr>\n";
      }
      out_ += "</table>\n";
    }
    std::vector<const Check*> failed;
    for (const Check& c : r.verdict.checks) {
      if (!c.ok) {
        failed.push_back(&c);
      }
    }
    if (!failed.empty()) {
      out_ += "<ul class=\"checks\">";
      for (const Check* c : failed) {
        out_ += std::string("<li>") + (c->grade == Grade::kNote ? "note" : "failed") + " " +
                GradeName(c->grade) + " check <code>" + CheckKindName(c->kind) + "</code>" +
                (c->clauses.empty() ? "" : " (" + Html(Join(c->clauses, ", ")) + ")") +
                (c->detail.empty() ? "" : ": " + Html(c->detail)) + "</li>";
      }
      out_ += "</ul>\n";
    }
    out_ += "<p>process: " + Html(Describe(r.process)) + "</p>\n";
    if (!r.rerun.empty() && r.status != JobStatus::kPass && r.status != JobStatus::kNotApplicable) {
      out_ += "<p>rerun: <code class=\"rerun\">" + Html(r.rerun) + "</code></p>\n";
    }
  }

  void Matrix() {
    out_ +=
        "<h2 id=\"matrix\">Clauses</h2>\n<table class=\"matrix\"><tr><th>clause</th>"
        "<th>level</th>";
    for (const TargetDescriptor& t : *in_.targets) {
      out_ += "<th>" + Html(t.name) + "</th>";
    }
    out_ += "</tr>\n";
    auto index = ClauseIndex(*in_.scenarios);
    for (const Clause& clause : *in_.clauses) {
      const std::vector<const Scenario*>& scenarios = index[clause.id];
      out_ += "<tr id=\"c-" + Html(clause.id) + "\"><td><details><summary><strong>" +
              Html(clause.id) + "</strong> " + Html(clause.summary) + "</summary>";
      if (scenarios.empty()) {
        out_ += "<span class=\"muted\">no scenario selected</span>";
      }
      for (const Scenario* s : scenarios) {
        out_ += "<a href=\"#" + Anchor(s->id) + "\"><code>" + Html(s->id) + "</code></a><br>";
      }
      out_ += std::string("</details></td><td>") + LevelName(clause.level) + "</td>";
      for (const TargetDescriptor& t : *in_.targets) {
        Cell cell;
        for (const Scenario* s : scenarios) {
          auto it = by_scenario_target_.find({s->id, t.name});
          if (it != by_scenario_target_.end()) {
            for (const JobResult* r : it->second) {
              cell.Add(*r);
            }
          }
        }
        auto [cls, word] = cell.Word();
        out_ += std::string("<td class=\"") + cls + "\">" + word;
        if (cell.runs > 0) {
          out_ += " <span class=\"muted\">" + std::to_string(cell.passed) + "/" +
                  std::to_string(cell.runs) + "</span>";
        }
        for (const JobResult* r : cell.notable) {
          out_ += "<a href=\"#" + Anchor(r->scenario->id) + "\">" + Html(r->scenario->id) + "</a>";
        }
        out_ += "</td>";
      }
      out_ += "</tr>\n";
    }
    out_ += "</table>\n";
  }

  void Profile() {
    std::vector<ProfileEntry> profile = BuildProfile(in_);
    out_ += "<h2 id=\"profile\">Implementation-defined profile</h2>\n";
    if (profile.empty()) {
      out_ += "<p class=\"muted\">No implementation-defined clause in this run.</p>\n";
      return;
    }
    out_ +=
        "<table class=\"profile\"><tr><th>target</th><th>point</th><th>behaviour shown</th>"
        "<th>stable</th><th>scenarios</th></tr>\n";
    for (const ProfileEntry& e : profile) {
      std::string scenarios;
      for (const auto& [id, shown] : e.scenarios) {
        scenarios += "<a href=\"#" + Anchor(id) + "\"><code>" + Html(id) +
                     "</code></a>: " + Html(Join(shown, ", ")) + "<br>";
      }
      out_ += "<tr><td>" + Html(e.target) + "</td><td><strong>" + Html(e.clause) + "</strong> " +
              Html(e.summary) + "</td><td>" + Html(e.shown) + "</td><td class=\"" +
              (e.unstable ? "fail\">unstable: " + Html(e.why) : "pass\">yes") + "</td><td>" +
              scenarios + "</td></tr>\n";
    }
    out_ += "</table>\n";
  }

  void Scenarios() {
    out_ += "<h2 id=\"scenarios\">Scenarios (" + std::to_string(in_.scenarios->size()) + ")</h2>\n";
    for (const Scenario& s : *in_.scenarios) {
      out_ += "<details class=\"scenario\" id=\"" + Anchor(s.id) + "\"><summary><code>" +
              Html(s.id) + "</code> " + LevelName(s.level);
      for (const TargetDescriptor& t : *in_.targets) {
        Cell cell;
        auto it = by_scenario_target_.find({s.id, t.name});
        if (it == by_scenario_target_.end()) {
          continue;
        }
        for (const JobResult* r : it->second) {
          cell.Add(*r);
        }
        auto [cls, word] = cell.Word();
        out_ += std::string(" <span class=\"badge ") + cls + "\">" + Html(t.name) + " " + word +
                "</span>";
      }
      out_ += "</summary>\n<p>" + Html(s.description) + "</p>\n<ul class=\"clauses\">";
      for (const std::string& id : s.clauses) {
        auto c = clause_summary_.find(id);
        out_ += "<li><a href=\"#c-" + Html(id) + "\">" + Html(id) + "</a> " +
                (c != clause_summary_.end() ? Html(c->second->summary) : "") + "</li>";
      }
      out_ += "</ul>\n<p>expected: ";
      std::vector<std::string> want;
      for (const auto& [connection, outcomes] : s.expect) {
        want.push_back(Html(connection) + " " + Outcomes(outcomes));
      }
      out_ += Join(want, "; ") + "</p>\n";
      for (const TargetDescriptor& t : *in_.targets) {
        auto it = by_scenario_target_.find({s.id, t.name});
        if (it == by_scenario_target_.end()) {
          continue;
        }
        for (const JobResult* r : it->second) {
          out_ += std::string("<h4><span class=\"badge ") + CssClass(r->status) + "\">" +
                  StatusWord(r->status) + "</span> " + Html(t.name) +
                  (r->repeat > 0 ? " #" + std::to_string(r->repeat + 1) : "") + "</h4>\n";
          ResultBody(*r);
          Observations(*r);
          Tails(*r);
        }
        if (in_.configurations != nullptr) {
          auto config = in_.configurations->find({t.name, s.id});
          if (config != in_.configurations->end()) {
            out_ += "<details><summary>configuration for " + Html(t.name) +
                    " (dry render: the ports and paths of a run differ)</summary><pre>" +
                    Html(config->second) + "</pre></details>\n";
          }
        }
      }
      out_ += "</details>\n";
    }
  }

  void Observations(const JobResult& r) {
    std::chrono::steady_clock::time_point t0{};
    bool any = false;
    for (const ConnectionEvidence& e : r.connections) {
      for (const ServerObservation& o : e.observations) {
        any = true;
        if (t0.time_since_epoch().count() == 0 || o.accepted_at < t0) {
          t0 = o.accepted_at;
        }
      }
    }
    if (!any) {
      return;
    }
    out_ +=
        "<table class=\"observations\"><tr><th>server</th><th>#</th><th>ClientHello</th>"
        "<th>SNI</th><th>offered</th><th>negotiated</th><th>alert</th><th>bytes</th>"
        "<th>request</th><th>end</th><th>ms: accepted, handshake, data, end</th></tr>\n";
    for (const ConnectionEvidence& e : r.connections) {
      for (const ServerObservation& o : e.observations) {
        std::string alert =
            o.alert_received ? std::to_string(*o.alert_received) + " " + o.alert_description : "";
        out_ += "<tr><td>" + Html(e.connection) + "</td><td class=\"num\">" +
                std::to_string(o.index) + "</td><td>" + (o.client_hello_seen ? "yes" : "no") +
                "</td><td>" + Html(o.sni) + "</td><td>" + Html(Join(o.offered_versions, ", ")) +
                "</td><td>" + Html(o.negotiated_version) + "</td><td>" + Html(alert) +
                "</td><td class=\"num\">" + std::to_string(o.app_bytes) + "</td><td><code>" +
                Html(o.first_request_line) + "</code></td><td>" + Html(o.detail) + "</td><td>" +
                Ms(o.accepted_at, t0) + ", " + Ms(o.handshake_done_at, t0) + ", " +
                Ms(o.first_data_at, t0) + ", " + Ms(o.ended_at, t0) + "</td></tr>\n";
      }
    }
    out_ += "</table>\n";
  }

  void Tails(const JobResult& r) {
    for (const auto& [name, text] :
         {std::pair{"stdout", &r.stdout_tail}, std::pair{"stderr", &r.stderr_tail},
          std::pair{"log", &r.log_tail}}) {
      if (!text->empty()) {
        out_ += std::string("<details><summary>") + name + " (tail)</summary><pre>" + Html(*text) +
                "</pre></details>\n";
      }
    }
  }

  const ReportInputs& in_;
  std::string out_;
  std::map<std::pair<std::string, std::string>, std::vector<const JobResult*>> by_scenario_target_;
  std::map<std::string, const Clause*> clause_summary_;
};

}  // namespace

std::string HtmlReport(const ReportInputs& inputs) { return HtmlWriter(inputs).Write(); }

}  // namespace fpconform::harness
