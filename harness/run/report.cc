#include "harness/run/report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/json_text.h"

namespace fpconform::harness {

using nlohmann::ordered_json;

std::string StatusWord(JobStatus status) {
  switch (status) {
    case JobStatus::kPass:
      return "PASS";
    case JobStatus::kFail:
      return "FAIL";
    case JobStatus::kKnownDeviation:
      return "DEVIATION";
    case JobStatus::kDeviationFixed:
      return "FIXED";
    case JobStatus::kError:
      return "ERROR";
    case JobStatus::kNotApplicable:
      return "N/A";
  }
  return "?";
}

std::string_view MarkupEntity(char c) {
  switch (c) {
    case '&':
      return "&amp;";
    case '<':
      return "&lt;";
    case '>':
      return "&gt;";
    case '"':
      return "&quot;";
    case '\'':
      return "&#39;";
    default:
      return {};
  }
}

namespace {

std::string XmlEscape(std::string_view raw) {
  std::string text = ValidUtf8(raw);  // the file is declared UTF-8
  std::string out;
  for (char c : text) {
    if (std::string_view entity = MarkupEntity(c); !entity.empty()) {
      out += entity;
    } else if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') {
      out += "?";  // XML 1.0 forbids most control characters, even escaped
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Seconds(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

}  // namespace

std::map<std::string, std::vector<const Scenario*>> ClauseIndex(
    const std::vector<Scenario>& scenarios) {
  std::map<std::string, std::vector<const Scenario*>> index;
  for (const Scenario& s : scenarios) {
    for (const std::string& clause : s.clauses) {
      index[clause].push_back(&s);
    }
  }
  return index;
}

bool IsFailure(JobStatus status) {
  return status == JobStatus::kFail || status == JobStatus::kError ||
         status == JobStatus::kDeviationFixed;
}

namespace {

int LevelRank(Level level) { return static_cast<int>(GradeOf(level)); }

LevelCount* CountAt(LevelTotals* totals, Grade grade) {
  switch (grade) {
    case Grade::kNormative:
      return &totals->normative;
    case Grade::kInferred:
      return &totals->inferred;
    case Grade::kImplementationDefined:
    case Grade::kNote:
      break;
  }
  return &totals->implementation_defined;
}

void CountLevelsOf(const JobResult& r, LevelTotals* totals) {
  if (r.status == JobStatus::kKnownDeviation || r.status == JobStatus::kNotApplicable) {
    return;
  }
  if (r.status == JobStatus::kError || r.status == JobStatus::kDeviationFixed ||
      r.verdict.checks.empty()) {
    LevelCount* count = CountAt(totals, GradeOf(r.scenario->level));
    ++count->total;
    count->passed += r.status == JobStatus::kPass;
    return;
  }
  for (Grade grade : {Grade::kNormative, Grade::kInferred, Grade::kImplementationDefined}) {
    if (r.verdict.HasChecksAt(grade)) {
      LevelCount* count = CountAt(totals, grade);
      ++count->total;
      count->passed += !r.verdict.FailsAt(grade);
    }
  }
  totals->notes += r.verdict.FailsAt(Grade::kNote);
}

}  // namespace

std::vector<const JobResult*> TargetResults(const std::vector<JobResult>& results,
                                            const std::string& name) {
  std::vector<const JobResult*> out;
  for (const JobResult& r : results) {
    if (r.target->name == name) {
      out.push_back(&r);
    }
  }
  return out;
}

namespace {

// ChoiceConnections returns the judged connections of `r` that allow more than one
// outcome, or every judged connection when none does.
std::vector<const ConnectionVerdict*> ChoiceConnections(const JobResult& r) {
  std::vector<const ConnectionVerdict*> judged, choices;
  for (const ConnectionVerdict& cv : r.verdict.connections) {
    if (!cv.expected.empty()) {
      judged.push_back(&cv);
      if (cv.expected.size() > 1) {
        choices.push_back(&cv);
      }
    }
  }
  return choices.empty() ? judged : choices;
}

bool OffersChoice(const Scenario& s) {
  return std::any_of(s.expect.begin(), s.expect.end(),
                     [](const auto& entry) { return entry.second.size() > 1; });
}

// ShownChoice returns what `r` showed on its choice connections: "accept", or
// "edge accept, edge2 reject" when they differ.
std::string ShownChoice(const JobResult& r) {
  std::vector<const ConnectionVerdict*> connections = ChoiceConnections(r);
  bool same = std::all_of(connections.begin(), connections.end(), [&](const ConnectionVerdict* cv) {
    return cv->observed == connections[0]->observed;
  });
  if (connections.empty()) {
    return OutcomeName(r.verdict.headline);
  }
  if (same) {
    return OutcomeName(connections[0]->observed);
  }
  std::string out;
  for (const ConnectionVerdict* cv : connections) {
    out += (out.empty() ? "" : ", ") + cv->connection + " " + OutcomeName(cv->observed);
  }
  return out;
}

// Offer returns the choice a scenario offers: its choice connections with their allowed
// outcomes ("edge: accept, exit"); scenarios of one clause with equal offers should agree.
std::string Offer(const Scenario& s) {
  bool choice = OffersChoice(s);
  std::string out;
  for (const auto& [connection, outcomes] : s.expect) {
    if (choice && outcomes.size() < 2) {
      continue;
    }
    out += (out.empty() ? "" : "; ") + connection + ":";
    for (Outcome o : outcomes) {
      out += std::string(" ") + OutcomeName(o);
    }
  }
  return out;
}

std::string TrimPeriod(std::string text) {
  if (!text.empty() && text.back() == '.') {
    text.pop_back();
  }
  return text;
}

}  // namespace

LevelTotals CountLevels(const std::vector<const JobResult*>& results) {
  LevelTotals totals;
  for (const JobResult* r : results) {
    CountLevelsOf(*r, &totals);
  }
  return totals;
}

LevelTotals CountLevels(const std::vector<JobResult>& results) {
  LevelTotals totals;
  for (const JobResult& r : results) {
    CountLevelsOf(r, &totals);
  }
  return totals;
}

std::string LevelLine(const LevelTotals& t) {
  auto part = [](const char* name, const LevelCount& c) {
    return std::string(name) + " " + std::to_string(c.passed) + "/" + std::to_string(c.total);
  };
  std::string line = part("normative", t.normative) + ", " + part("inferred", t.inferred) + ", " +
                     part("implementation-defined", t.implementation_defined);
  if (t.notes > 0) {
    line += ", " + std::to_string(t.notes) + (t.notes == 1 ? " note" : " notes");
  }
  return line;
}

bool FailsAtOrAbove(const JobResult& r, Level gate) {
  switch (r.status) {
    case JobStatus::kPass:
    case JobStatus::kKnownDeviation:
    case JobStatus::kNotApplicable:
      return false;
    case JobStatus::kError:
      return true;
    case JobStatus::kDeviationFixed:
      return LevelRank(r.scenario->level) <= LevelRank(gate);
    case JobStatus::kFail:
      break;
  }
  if (r.verdict.checks.empty()) {
    return LevelRank(r.scenario->level) <= LevelRank(gate);
  }
  return std::any_of(r.verdict.checks.begin(), r.verdict.checks.end(), [&](const Check& c) {
    return !c.ok && c.grade != Grade::kNote && static_cast<int>(c.grade) <= LevelRank(gate);
  });
}

std::vector<ProfileEntry> BuildProfile(const ReportInputs& in) {
  std::vector<ProfileEntry> profile;
  for (const TargetDescriptor& t : *in.targets) {
    std::vector<const JobResult*> results = TargetResults(*in.results, t.name);
    for (const Clause& clause : *in.clauses) {
      if (clause.level != Level::kImplementationDefined) {
        continue;
      }
      // The runs of scenarios citing the clause, grouped by scenario in report order.
      std::vector<std::pair<const Scenario*, std::vector<const JobResult*>>> runs;
      for (const JobResult* r : results) {
        const std::vector<std::string>& cited = r->scenario->clauses;
        if (r->status == JobStatus::kError ||
            std::find(cited.begin(), cited.end(), clause.id) == cited.end()) {
          continue;
        }
        if (runs.empty() || runs.back().first != r->scenario) {
          runs.push_back({r->scenario, {}});
        }
        runs.back().second.push_back(r);
      }
      // Scenarios that offer a choice show it; the others only when none does.
      bool any_choice = std::any_of(runs.begin(), runs.end(),
                                    [](const auto& run) { return OffersChoice(*run.first); });
      ProfileEntry entry;
      entry.target = t.name;
      entry.clause = clause.id;
      entry.summary = TrimPeriod(clause.summary);
      std::vector<std::pair<std::string, int>> counts;  // first repeat's choice -> scenarios
      std::map<std::string, std::vector<std::pair<std::string, std::string>>> by_offer;
      for (const auto& [scenario, scenario_runs] : runs) {
        if (any_choice && !OffersChoice(*scenario)) {
          continue;
        }
        std::vector<std::string> shown;
        std::set<std::string> distinct;
        for (const JobResult* r : scenario_runs) {
          shown.push_back(ShownChoice(*r));
          distinct.insert(shown.back());
        }
        if (distinct.size() > 1) {
          entry.unstable = true;
          std::string list;
          for (const std::string& d : distinct) {
            list += (list.empty() ? "" : ", ") + d;
          }
          entry.why += (entry.why.empty() ? "" : "; ") + std::string("repeats of ") + scenario->id +
                       " differ: " + list;
        }
        auto count = std::find_if(counts.begin(), counts.end(),
                                  [&](const auto& c) { return c.first == shown[0]; });
        if (count == counts.end()) {
          counts.push_back({shown[0], 1});
        } else {
          ++count->second;
        }
        by_offer[Offer(*scenario)].push_back({scenario->id, shown[0]});
        entry.scenarios.push_back({scenario->id, std::move(shown)});
      }
      if (entry.scenarios.empty()) {
        continue;
      }
      for (const auto& [offer, shown] : by_offer) {
        const std::string& first = shown[0].second;  // clang 14 cannot capture a binding
        bool agree = std::all_of(shown.begin(), shown.end(),
                                 [&first](const auto& s) { return s.second == first; });
        if (!agree) {
          entry.unstable = true;
          std::string list;
          for (const auto& [id, choice] : shown) {
            list += (list.empty() ? "" : ", ") + id + " " + choice;
          }
          entry.why += (entry.why.empty() ? "" : "; ") +
                       std::string(
                           "scenarios offering the "
                           "same choice (") +
                       offer + ") disagree: " + list;
        }
      }
      std::stable_sort(counts.begin(), counts.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; });
      if (counts.size() == 1) {
        entry.shown = counts[0].first;
      } else {
        for (const auto& [choice, n] : counts) {
          entry.shown +=
              (entry.shown.empty() ? "" : "; ") + choice + " (" + std::to_string(n) + ")";
        }
      }
      profile.push_back(std::move(entry));
    }
  }
  return profile;
}

std::string ProfileLine(const ProfileEntry& e) {
  std::string line = "profile " + e.target + " " + e.clause + ": " + e.shown;
  if (e.unstable) {
    line += " UNSTABLE (" + e.why + ")";
  }
  return line + " -- " + e.summary;
}

Totals CountResults(const std::vector<JobResult>& results) {
  Totals t;
  for (const JobResult& r : results) {
    switch (r.status) {
      case JobStatus::kPass:
        ++t.passed;
        break;
      case JobStatus::kKnownDeviation:
        ++t.known_deviations;
        break;
      case JobStatus::kError:
        ++t.errors;
        ++t.failed;
        break;
      case JobStatus::kFail:
      case JobStatus::kDeviationFixed:
        ++t.failed;
        break;
      case JobStatus::kNotApplicable:
        ++t.not_applicable;
        break;
    }
  }
  return t;
}

std::string SummaryLine(const Totals& totals) {
  std::string line =
      std::to_string(totals.passed) + " passed, " + std::to_string(totals.failed) + " failed";
  if (totals.known_deviations > 0) {
    line += ", " + std::to_string(totals.known_deviations) +
            (totals.known_deviations == 1 ? " known deviation" : " known deviations");
  }
  if (totals.not_applicable > 0) {
    line += ", " + std::to_string(totals.not_applicable) + " not applicable";
  }
  return line;
}

std::string TerminalSafe(std::string_view raw, bool keep_newlines) {
  std::string text = ValidUtf8(raw);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    char buf[8];
    if ((byte == '\n' && keep_newlines) || byte == '\t') {
      out.push_back(text[i]);
    } else if (byte < 0x20 || byte == 0x7f) {
      std::snprintf(buf, sizeof(buf), "\\x%02X", byte);
      out += buf;
    } else if (byte == 0xC2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9F) {
      std::snprintf(buf, sizeof(buf), "\\u%04X", static_cast<unsigned char>(text[i + 1]));
      out += buf;
      ++i;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string MarkdownSafe(std::string_view raw) {
  std::string text = TerminalSafe(raw);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
      case '<':
      case '>':
        out += MarkupEntity(c);
        break;
      case '\\':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
      case '(':
      case ')':
      case '#':
      case '!':
      case '|':
      case '~':
        out.push_back('\\');
        out.push_back(c);
        break;
      case '\t':
        out.push_back(' ');
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string ResultLine(const JobResult& r) {
  std::string line = StatusWord(r.status) + " " + r.scenario->id + " [" + r.target->name;
  if (r.repeat > 0) {
    line += " #" + std::to_string(r.repeat + 1);
  }
  line += "]";
  if (r.status != JobStatus::kPass && r.status != JobStatus::kNotApplicable) {
    // The level and the clauses, so that a failure line says what is at stake.
    line += std::string(" ") + LevelName(r.scenario->level);
    for (size_t i = 0; i < r.scenario->clauses.size(); ++i) {
      line += (i == 0 ? " " : ",") + r.scenario->clauses[i];
    }
  }
  line += ": " + r.message;
  if (r.status == JobStatus::kKnownDeviation) {
    line += " -- known deviation: " + r.deviation;
  }
  if (r.status != JobStatus::kPass && r.status != JobStatus::kNotApplicable) {
    line += " -- rerun: " + r.rerun;
  }
  return TerminalSafe(line);
}

namespace {

// FailureType returns the JUnit failure@type of a failed result: "harness-error",
// "deviation-fixed", or "fpconform.<level>" of the firmest failed check.
std::string FailureType(const JobResult& r) {
  if (r.status == JobStatus::kError) {
    return "harness-error";
  }
  if (r.status == JobStatus::kDeviationFixed) {
    return "deviation-fixed";
  }
  for (Grade g : {Grade::kNormative, Grade::kInferred, Grade::kImplementationDefined}) {
    if (r.verdict.FailsAt(g)) {
      return std::string("fpconform.") + GradeName(g);
    }
  }
  return std::string("fpconform.") + LevelName(r.scenario->level);
}

}  // namespace

std::string JunitReport(const ReportInputs& in) {
  std::map<std::string, std::vector<const JobResult*>> by_target;
  for (const JobResult& r : *in.results) {
    by_target[r.target->name].push_back(&r);
  }
  Totals all = CountResults(*in.results);
  std::vector<ProfileEntry> profile = BuildProfile(in);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"fpconform\" tests=\"" + std::to_string(in.results->size()) +
         "\" failures=\"" + std::to_string(all.failed - all.errors) + "\" errors=\"" +
         std::to_string(all.errors) + "\" time=\"" + Seconds(in.duration) + "\">\n";
  // Ant writes the timestamp in ISO 8601 without a zone; this one is UTC.
  std::string timestamp, hostname = "localhost";
  if (in.info != nullptr) {
    timestamp = in.info->started_at;
    if (!timestamp.empty() && timestamp.back() == 'Z') {
      timestamp.pop_back();
    }
    if (!in.info->host.empty()) {
      hostname = in.info->host;
    }
  }
  int suite_id = 0;
  for (const TargetDescriptor& t : *in.targets) {
    const std::vector<const JobResult*>& results = by_target[t.name];
    int failures = 0;
    int errors = 0;
    int skipped = 0;
    std::chrono::milliseconds time{0};
    for (const JobResult* r : results) {
      failures += r->status == JobStatus::kFail || r->status == JobStatus::kDeviationFixed;
      errors += r->status == JobStatus::kError;
      skipped += r->status == JobStatus::kKnownDeviation || r->status == JobStatus::kNotApplicable;
      time += r->duration;
    }
    out += "  <testsuite name=\"" + XmlEscape(t.name) + "\" package=\"fpconform\" id=\"" +
           std::to_string(suite_id++) + "\" hostname=\"" + XmlEscape(hostname) + "\"" +
           (timestamp.empty() ? "" : " timestamp=\"" + XmlEscape(timestamp) + "\"") + " tests=\"" +
           std::to_string(results.size()) + "\" failures=\"" + std::to_string(failures) +
           "\" errors=\"" + std::to_string(errors) + "\" skipped=\"" + std::to_string(skipped) +
           "\" time=\"" + Seconds(time) + "\">\n";
    // The results per level and the implementation-defined profile, as properties.
    LevelTotals levels = CountLevels(results);
    out += "    <properties>\n";
    auto property = [&](const std::string& name, const std::string& value) {
      out +=
          "      <property name=\"" + XmlEscape(name) + "\" value=\"" + XmlEscape(value) + "\"/>\n";
    };
    for (const auto& [name, count] :
         {std::pair{"normative", &levels.normative}, std::pair{"inferred", &levels.inferred},
          std::pair{"implementation-defined", &levels.implementation_defined}}) {
      property(std::string("fpconform.level.") + name,
               std::to_string(count->passed) + "/" + std::to_string(count->total));
    }
    property("fpconform.notes", std::to_string(levels.notes));
    for (const ProfileEntry& e : profile) {
      if (e.target == t.name) {
        property("fpconform.profile." + e.clause,
                 e.shown + (e.unstable ? " UNSTABLE (" + e.why + ")" : ""));
      }
    }
    out += "    </properties>\n";
    for (const JobResult* r : results) {
      const std::string& id = r->scenario->id;
      size_t slash = id.rfind('/');
      std::string classname = t.name + "." + id.substr(0, slash);
      std::string name = id.substr(slash + 1);
      if (r->repeat > 0) {
        name += " #" + std::to_string(r->repeat + 1);
      }
      out += "    <testcase classname=\"" + XmlEscape(classname) + "\" name=\"" + XmlEscape(name) +
             "\" time=\"" + Seconds(r->duration) + "\"";
      if (r->status == JobStatus::kPass) {
        out += "/>\n";
        continue;
      }
      out += ">\n";
      std::string details = ResultLine(*r) + "\n\nstderr (tail):\n" + r->stderr_tail;
      if (r->status == JobStatus::kKnownDeviation) {
        out +=
            "      <skipped message=\"" + XmlEscape("known deviation: " + r->deviation) + "\"/>\n";
      } else if (r->status == JobStatus::kNotApplicable) {
        out += "      <skipped message=\"" + XmlEscape(r->message) + "\"/>\n";
      } else {
        std::string tag = r->status == JobStatus::kError ? "error" : "failure";
        out += "      <" + tag + " message=\"" + XmlEscape(r->message) + "\" type=\"" +
               FailureType(*r) + "\">" + XmlEscape(details) + "</" + tag + ">\n";
      }
      out += "    </testcase>\n";
    }
    out += "    <system-out/>\n    <system-err/>\n  </testsuite>\n";
  }
  out += "</testsuites>\n";
  return out;
}

namespace {

// kMarkdownFailureLines: how many failures the short part of the Markdown lists.
constexpr size_t kMarkdownFailureLines = 30;

// RunFooter returns the run's identity as one Markdown line (empty parts left out).
std::string RunFooter(const ReportInputs& in) {
  std::vector<std::string> parts;
  if (in.info != nullptr) {
    const RunInfo& i = *in.info;
    if (!i.suite_version.empty()) {
      parts.push_back("fpconform " + MarkdownSafe(i.suite_version));
    }
    if (!i.catalog_digest.empty()) {
      parts.push_back("catalog " + MarkdownSafe(i.catalog_digest));
    }
    if (!i.revision.empty()) {
      parts.push_back("revision " + MarkdownSafe(i.revision));
    }
    if (!i.started_at.empty()) {
      parts.push_back("started " + MarkdownSafe(i.started_at));
    }
    if (!i.host.empty()) {
      parts.push_back("on " + MarkdownSafe(i.host));
    }
    if (!i.complete) {
      parts.push_back("**incomplete run**");
    }
  }
  char seconds[32];
  std::snprintf(seconds, sizeof(seconds), "%.1f s",
                static_cast<double>(in.duration.count()) / 1000.0);
  parts.emplace_back(seconds);
  std::string line;
  for (const std::string& p : parts) {
    line += (line.empty() ? "" : " · ") + p;
  }
  return "<sub>" + line + "</sub>\n";
}

}  // namespace

std::string MarkdownReport(const ReportInputs& in) {
  std::map<std::pair<std::string, std::string>, std::vector<const JobResult*>> cell;
  for (const JobResult& r : *in.results) {
    cell[{r.scenario->id, r.target->name}].push_back(&r);
  }
  auto mark = [&](const Scenario& s, const TargetDescriptor& t) -> std::string {
    auto it = cell.find({s.id, t.name});
    if (it == cell.end()) {
      return "n/a";
    }
    bool any_fail = false;
    bool any_deviation = false;
    bool all_not_applicable = true;
    for (const JobResult* r : it->second) {
      any_fail |= IsFailure(r->status);
      any_deviation |= r->status == JobStatus::kKnownDeviation;
      all_not_applicable &= r->status == JobStatus::kNotApplicable;
    }
    if (all_not_applicable) {
      return "not applicable";
    }
    return any_fail ? "**FAIL**" : (any_deviation ? "known deviation" : "pass");
  };
  Totals totals = CountResults(*in.results);
  // The short part: what a reviewer reads in a pull request.
  std::string out = "## fpconform: " + SummaryLine(totals) + "\n\n";
  out += "| target | normative | inferred | implementation-defined | notes |\n";
  out += "|---|---|---|---|---|\n";
  for (const TargetDescriptor& t : *in.targets) {
    LevelTotals levels = CountLevels(TargetResults(*in.results, t.name));
    auto fraction = [](const LevelCount& c) {
      std::string text = std::to_string(c.passed) + "/" + std::to_string(c.total);
      return c.passed < c.total ? "**" + text + "**" : text;
    };
    out += "| " + MarkdownSafe(t.name) + " | " + fraction(levels.normative) + " | " +
           fraction(levels.inferred) + " | " + fraction(levels.implementation_defined) + " | " +
           std::to_string(levels.notes) + " |\n";
  }
  std::vector<const JobResult*> failures;
  for (const JobResult& r : *in.results) {
    if (IsFailure(r.status)) {
      failures.push_back(&r);
    }
  }
  if (!failures.empty()) {
    out += "\n### Failures (" + std::to_string(failures.size()) + ")\n\n";
    for (size_t i = 0; i < failures.size() && i < kMarkdownFailureLines; ++i) {
      const JobResult* r = failures[i];
      std::string clauses;
      for (const std::string& c : r->scenario->clauses) {
        clauses += (clauses.empty() ? "" : ", ") + c;
      }
      out += "- `" + r->scenario->id + "` [" + MarkdownSafe(r->target->name) + "] " +
             LevelName(r->scenario->level) + " " + clauses + ": " + MarkdownSafe(r->message) + "\n";
    }
    if (failures.size() > kMarkdownFailureLines) {
      out += "- ... and " + std::to_string(failures.size() - kMarkdownFailureLines) +
             " more (the full list is in the JSON and HTML reports)\n";
    }
  }
  std::vector<ProfileEntry> profile = BuildProfile(in);
  if (!profile.empty()) {
    out += "\n### Implementation-defined profile\n\n";
    out += "| target | point | behaviour shown | stable |\n|---|---|---|---|\n";
    for (const ProfileEntry& e : profile) {
      out += "| " + MarkdownSafe(e.target) + " | " + e.clause + " " + e.summary + " | " + e.shown +
             " | " + (e.unstable ? "**unstable**: " + e.why : "yes") + " |\n";
    }
  }
  // The long part, folded: the whole matrix, the profile's scenarios, what did not apply.
  out += "\n<details><summary>Every clause and scenario (" + std::to_string(in.scenarios->size()) +
         " scenarios)</summary>\n\n";
  std::string header = "| clause | scenario | level |";
  std::string rule = "|---|---|---|";
  for (const TargetDescriptor& t : *in.targets) {
    header += " " + MarkdownSafe(t.name) + " |";
    rule += "---|";
  }
  out += header + "\n" + rule + "\n";
  auto index = ClauseIndex(*in.scenarios);
  for (const Clause& clause : *in.clauses) {
    const std::vector<const Scenario*>& scenarios = index[clause.id];
    if (scenarios.empty()) {
      out += "| " + clause.id + " | (no scenario selected) | " + LevelName(clause.level) + " |";
      for (size_t i = 0; i < in.targets->size(); ++i) {
        out += " |";
      }
      out += "\n";
      continue;
    }
    for (const Scenario* s : scenarios) {
      out += "| " + clause.id + " | `" + s->id + "` | " + LevelName(s->level) + " |";
      for (const TargetDescriptor& t : *in.targets) {
        out += " " + mark(*s, t) + " |";
      }
      out += "\n";
    }
  }
  if (!profile.empty()) {
    out += "\n| target | point | scenarios |\n|---|---|---|\n";
    for (const ProfileEntry& e : profile) {
      std::string scenarios;
      for (const auto& [id, shown] : e.scenarios) {
        std::string outcomes;
        for (const std::string& o : shown) {
          outcomes += (outcomes.empty() ? "" : ", ") + o;
        }
        scenarios += (scenarios.empty() ? "" : "<br>") + ("`" + id + "`: " + outcomes);
      }
      out += "| " + MarkdownSafe(e.target) + " | " + e.clause + " | " + scenarios + " |\n";
    }
  }
  std::vector<const JobResult*> not_applicable;
  for (const JobResult& r : *in.results) {
    if (r.status == JobStatus::kNotApplicable && r.repeat == 0) {
      not_applicable.push_back(&r);
    }
  }
  if (!not_applicable.empty()) {
    out += "\n**Not applicable**\n\n";
    for (const JobResult* r : not_applicable) {
      out += "- `" + r->scenario->id + "` [" + MarkdownSafe(r->target->name) +
             "]: " + MarkdownSafe(r->deviation) + "\n";
    }
  }
  out += "\n</details>\n\n" + RunFooter(in);
  return out;
}

}  // namespace fpconform::harness
