#include "harness/run/report_json.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>

#include "base/files.h"
#include "base/json_text.h"
#include "harness/suite/json_fields.h"

namespace fpconform::harness {

using nlohmann::ordered_json;

namespace {

std::string EndName(ConnectionEnd end) {
  switch (end) {
    case ConnectionEnd::kOpen:
      return "open";
    case ConnectionEnd::kClientClosed:
      return "client-closed";
    case ConnectionEnd::kClientAlert:
      return "client-alert";
    case ConnectionEnd::kReset:
      return "reset";
    case ConnectionEnd::kServerClosed:
      return "server-closed";
    case ConnectionEnd::kIdleTimeout:
      return "idle-timeout";
    case ConnectionEnd::kProtocolError:
      return "protocol-error";
    case ConnectionEnd::kServerStopped:
      return "server-stopped";
  }
  return "?";
}

ordered_json OutcomesJson(const std::vector<Outcome>& outcomes) {
  ordered_json out = ordered_json::array();
  for (Outcome o : outcomes) {
    out.push_back(OutcomeName(o));
  }
  return out;
}

ordered_json ObservationJson(const ServerObservation& o, std::chrono::steady_clock::time_point t0) {
  auto ms = [&](std::chrono::steady_clock::time_point t) -> ordered_json {
    if (t.time_since_epoch().count() == 0) {
      return nullptr;
    }
    return std::chrono::duration<double, std::milli>(t - t0).count();
  };
  ordered_json j;
  j["index"] = o.index;
  j["tls"] = o.tls;
  j["client_hello_seen"] = o.client_hello_seen;
  j["handshake_index"] = o.handshake_index;
  j["chain_index"] = o.chain_index;
  j["sni"] = o.sni;
  j["offered_versions"] = o.offered_versions;
  j["handshake_completed"] = o.handshake_completed;
  j["negotiated_version"] = o.negotiated_version;
  j["alert_received"] = o.alert_received ? ordered_json(*o.alert_received) : ordered_json();
  j["alert_description"] = o.alert_description;
  j["alert_sent"] = o.alert_sent ? ordered_json(*o.alert_sent) : ordered_json();
  j["app_bytes"] = o.app_bytes;
  j["first_request_line"] = o.first_request_line;
  j["websocket_upgrade"] = o.websocket_upgrade;
  j["end"] = EndName(o.end);
  j["detail"] = o.detail;
  j["accepted_ms"] = ms(o.accepted_at);
  j["handshake_done_ms"] = ms(o.handshake_done_at);
  j["first_data_ms"] = ms(o.first_data_at);
  j["ended_ms"] = ms(o.ended_at);
  return j;
}

ordered_json ResultJson(const JobResult& r) {
  ordered_json j;
  j["scenario"] = r.scenario->id;
  j["target"] = r.target->name;
  j["product"] = ProductName(r.target->product);
  j["level"] = LevelName(r.scenario->level);
  j["clauses"] = r.scenario->clauses;
  j["description"] = r.scenario->description;
  j["repeat"] = r.repeat;
  j["status"] = JobStatusName(r.status);
  j["got"] = OutcomeName(r.verdict.headline);
  ordered_json want = ordered_json::object();
  for (const auto& [connection, outcomes] : r.scenario->expect) {
    want[connection] = OutcomesJson(outcomes);
  }
  j["want"] = want;
  j["message"] = r.message;
  j["deviation"] = r.deviation.empty() ? ordered_json() : ordered_json(r.deviation);
  j["duration_ms"] = r.duration.count();
  j["rerun"] = r.rerun;
  ordered_json connections = ordered_json::array();
  std::chrono::steady_clock::time_point t0{};
  for (const ConnectionEvidence& e : r.connections) {
    for (const ServerObservation& o : e.observations) {
      if (t0.time_since_epoch().count() == 0 || o.accepted_at < t0) {
        t0 = o.accepted_at;
      }
    }
  }
  for (size_t i = 0; i < r.connections.size(); ++i) {
    const ConnectionEvidence& e = r.connections[i];
    ordered_json c;
    c["connection"] = e.connection;
    c["plain_http"] = e.plain_http;
    if (i < r.verdict.connections.size()) {
      const ConnectionVerdict& v = r.verdict.connections[i];
      c["expected"] = OutcomesJson(v.expected);
      c["observed"] = OutcomeName(v.observed);
      c["ok"] = v.ok;
      c["evidence"] = v.evidence;
    }
    ordered_json observations = ordered_json::array();
    for (const ServerObservation& o : e.observations) {
      observations.push_back(ObservationJson(o, t0));
    }
    c["observations"] = observations;
    connections.push_back(c);
  }
  j["connections"] = connections;
  // The verdict itself, for readers (ReadJsonReport): every judged connection.
  ordered_json judged = ordered_json::array();
  for (const ConnectionVerdict& v : r.verdict.connections) {
    judged.push_back({{"connection", v.connection},
                      {"expected", OutcomesJson(v.expected)},
                      {"observed", OutcomeName(v.observed)},
                      {"ok", v.ok},
                      {"evidence", v.evidence}});
  }
  j["verdict"] = {{"pass", r.verdict.pass},
                  {"headline", OutcomeName(r.verdict.headline)},
                  {"connections", judged}};
  ordered_json checks = ordered_json::array();
  ordered_json problems = ordered_json::array();
  for (const Check& c : r.verdict.checks) {
    checks.push_back({{"check", CheckKindName(c.kind)},
                      {"subject", c.subject.empty() ? ordered_json() : ordered_json(c.subject)},
                      {"level", GradeName(c.grade)},
                      {"clauses", c.clauses},
                      {"ok", c.ok},
                      {"detail", c.detail.empty() ? ordered_json() : ordered_json(c.detail)}});
    if (!c.ok && c.kind != CheckKind::kConnection && c.grade != Grade::kNote) {
      problems.push_back(c.detail);
    }
  }
  j["checks"] = checks;
  j["problems"] = problems;
  ordered_json failed_levels = ordered_json::array();
  for (Grade g : {Grade::kNormative, Grade::kInferred, Grade::kImplementationDefined}) {
    if (r.verdict.FailsAt(g)) {
      failed_levels.push_back(GradeName(g));
    }
  }
  j["failed_levels"] = failed_levels;
  ordered_json process;
  process["description"] = Describe(r.process);
  process["exit_code"] =
      r.process.kind == ExitKind::kExited ? ordered_json(r.process.exit_code) : ordered_json();
  process["signal"] =
      r.process.kind == ExitKind::kSignaled ? ordered_json(r.process.signal) : ordered_json();
  process["killed_by_harness"] = r.process.killed_by_harness;
  j["process"] = process;
  j["stdout_tail"] = r.stdout_tail;
  j["stderr_tail"] = r.stderr_tail;
  j["log_tail"] = r.log_tail;
  j["workdir"] = r.workdir.empty() ? ordered_json() : ordered_json(r.workdir);
  return j;
}

ordered_json LevelTotalsJson(const LevelTotals& t) {
  auto count = [](const LevelCount& c) {
    return ordered_json{{"passed", c.passed}, {"total", c.total}};
  };
  return ordered_json{{"normative", count(t.normative)},
                      {"inferred", count(t.inferred)},
                      {"implementation-defined", count(t.implementation_defined)},
                      {"notes", t.notes}};
}

ordered_json NullIfEmpty(const std::string& text) {
  return text.empty() ? ordered_json() : ordered_json(text);
}

ordered_json RunInfoJson(const RunInfo& info) {
  return {{"suite_version", NullIfEmpty(info.suite_version)},
          {"catalog_digest", NullIfEmpty(info.catalog_digest)},
          {"revision", NullIfEmpty(info.revision)},
          {"started_at", NullIfEmpty(info.started_at)},
          {"host", NullIfEmpty(info.host)},
          {"complete", info.complete}};
}

// ScenarioJson: what the reports show of a scenario, enough to render them again.
ordered_json ScenarioJson(const Scenario& s) {
  ordered_json products = ordered_json::array();
  for (Product p : s.products) {
    products.push_back(ProductName(p));
  }
  ordered_json want = ordered_json::object();
  for (const auto& [connection, outcomes] : s.expect) {
    want[connection] = OutcomesJson(outcomes);
  }
  ordered_json sequences = ordered_json::object();
  for (const auto& [connection, steps] : s.sequences) {
    ordered_json list = ordered_json::array();
    for (const std::vector<Outcome>& step : steps) {
      list.push_back(OutcomesJson(step));
    }
    sequences[connection] = list;
  }
  return {{"id", s.id},
          {"level", LevelName(s.level)},
          {"clauses", s.clauses},
          {"description", s.description},
          {"products", products},
          {"want", want},
          {"sequences", sequences}};
}

}  // namespace

std::string JsonReport(const ReportInputs& in) {
  ordered_json doc;
  doc["tool"] = "fpconform";
  doc["report_version"] = kJsonReportVersion;
  RunInfo none;
  doc["run"] = RunInfoJson(in.info != nullptr ? *in.info : none);
  doc["duration_ms"] = in.duration.count();
  Totals totals = CountResults(*in.results);
  doc["totals"] = {{"passed", totals.passed},
                   {"failed", totals.failed},
                   {"known_deviations", totals.known_deviations},
                   {"errors", totals.errors},
                   {"not_applicable", totals.not_applicable}};
  doc["levels"] = LevelTotalsJson(CountLevels(*in.results));
  ordered_json targets = ordered_json::array();
  for (const TargetDescriptor& t : *in.targets) {
    targets.push_back(
        {{"name", t.name},
         {"product", ProductName(t.product)},
         {"file", t.file},
         {"description", t.description},
         {"levels", LevelTotalsJson(CountLevels(TargetResults(*in.results, t.name)))}});
  }
  doc["targets"] = targets;
  ordered_json profile = ordered_json::array();
  for (const ProfileEntry& e : BuildProfile(in)) {
    ordered_json scenarios = ordered_json::array();
    for (const auto& [id, shown] : e.scenarios) {
      scenarios.push_back({{"scenario", id}, {"shown", shown}});
    }
    profile.push_back({{"target", e.target},
                       {"clause", e.clause},
                       {"summary", e.summary},
                       {"shown", e.shown},
                       {"unstable", e.unstable},
                       {"why", e.unstable ? ordered_json(e.why) : ordered_json()},
                       {"scenarios", scenarios}});
  }
  doc["profile"] = profile;
  ordered_json results = ordered_json::array();
  for (const JobResult& r : *in.results) {
    results.push_back(ResultJson(r));
  }
  doc["results"] = results;
  ordered_json scenarios = ordered_json::array();
  for (const Scenario& s : *in.scenarios) {
    scenarios.push_back(ScenarioJson(s));
  }
  doc["scenarios"] = scenarios;
  ordered_json configurations = ordered_json::array();
  if (in.configurations != nullptr) {
    for (const auto& [key, text] : *in.configurations) {
      configurations.push_back({{"target", key.first}, {"scenario", key.second}, {"text", text}});
    }
  }
  doc["configurations"] = configurations;
  // By clause: which sentence of the documentation each target meets or breaks.
  std::map<std::string, std::vector<const JobResult*>> by_clause;
  for (const JobResult& r : *in.results) {
    for (const std::string& clause : r.scenario->clauses) {
      by_clause[clause].push_back(&r);
    }
  }
  auto index = ClauseIndex(*in.scenarios);
  ordered_json clauses = ordered_json::array();
  for (const Clause& clause : *in.clauses) {
    ordered_json c;
    c["id"] = clause.id;
    c["level"] = LevelName(clause.level);
    c["summary"] = clause.summary;
    ordered_json scenario_ids = ordered_json::array();
    for (const Scenario* s : index[clause.id]) {
      scenario_ids.push_back(s->id);
    }
    c["scenarios"] = scenario_ids;
    ordered_json per_target = ordered_json::object();
    for (const JobResult* r : by_clause[clause.id]) {
      ordered_json& t = per_target[r->target->name];
      if (t.is_null()) {
        t = {{"passed", 0},
             {"failed", 0},
             {"known_deviations", 0},
             {"failing", ordered_json::array()}};
      }
      if (r->status == JobStatus::kNotApplicable) {
        t["not_applicable"] = t.value("not_applicable", 0) + 1;
      } else if (r->status == JobStatus::kPass) {
        t["passed"] = t["passed"].get<int>() + 1;
      } else if (r->status == JobStatus::kKnownDeviation) {
        t["known_deviations"] = t["known_deviations"].get<int>() + 1;
      } else {
        t["failed"] = t["failed"].get<int>() + 1;
        t["failing"].push_back(r->scenario->id);
      }
    }
    c["targets"] = per_target;
    clauses.push_back(c);
  }
  doc["clauses"] = clauses;
  // Target output and client-chosen bytes (SNI, request lines) need not be UTF-8.
  return doc.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

namespace {

template <typename Enum, int kCount, typename NameFn>
std::optional<Enum> ParseByName(std::string_view text, NameFn name) {
  for (int i = 0; i < kCount; ++i) {
    if (text == name(static_cast<Enum>(i))) {
      return static_cast<Enum>(i);
    }
  }
  return std::nullopt;
}

// EnumField reads the string at `key` as one of the `kCount` values named by `name`.
template <typename Enum, int kCount, typename NameFn>
Enum EnumField(JsonFields& f, std::string_view key, NameFn name) {
  std::vector<std::string> names;
  for (int i = 0; i < kCount; ++i) {
    names.emplace_back(name(static_cast<Enum>(i)));
  }
  std::string text = f.Choice(key, names, names[0]);
  std::optional<Enum> value = ParseByName<Enum, kCount>(text, name);
  return value.value_or(static_cast<Enum>(0));
}

const char* LevelNameOf(Level level) { return LevelName(level); }
const char* ProductNameOf(Product product) { return ProductName(product); }
const char* OutcomeNameOf(Outcome outcome) { return OutcomeName(outcome); }
const char* GradeNameOf(Grade grade) { return GradeName(grade); }
const char* KindNameOf(CheckKind kind) { return CheckKindName(kind); }
const char* StatusNameOf(JobStatus status) { return JobStatusName(status); }
std::string EndNameOf(ConnectionEnd end) { return EndName(end); }

constexpr int kLevels = 3;
constexpr int kProducts = 3;
constexpr int kOutcomes = 9;
constexpr int kGrades = 4;
constexpr int kCheckKinds = 9;
constexpr int kStatuses = 6;
constexpr int kEnds = 8;

// OutcomeList reads an array of outcome names at `path`.
std::vector<Outcome> OutcomeList(JsonFields& parent, const nlohmann::json& value,
                                 const std::string& path) {
  std::vector<Outcome> out;
  if (!value.is_array()) {
    parent.Absorb(MakeError(ErrorCode::kInvalidInput, path + ": want an array of outcomes"));
    return out;
  }
  for (size_t i = 0; i < value.size(); ++i) {
    std::optional<Outcome> o =
        value[i].is_string() ? ParseOutcome(value[i].get<std::string>()) : std::nullopt;
    if (!o) {
      parent.Absorb(MakeError(ErrorCode::kInvalidInput,
                              path + "[" + std::to_string(i) + "]: want an outcome name"));
      return out;
    }
    out.push_back(*o);
  }
  return out;
}

// NullableString reads a string or null (as "") at `key`.
std::string NullableString(JsonFields& f, std::string_view key) {
  const nlohmann::json* value = f.Any(key);
  if (value == nullptr || value->is_null()) {
    return "";
  }
  if (!value->is_string()) {
    f.Fail(key, "want a string or null");
    return "";
  }
  return value->get<std::string>();
}

// NullableInt reads an integer or null at `key`.
std::optional<int64_t> NullableInt(JsonFields& f, std::string_view key) {
  const nlohmann::json* value = f.Any(key);
  if (value == nullptr || value->is_null()) {
    return std::nullopt;
  }
  if (!value->is_number_integer()) {
    f.Fail(key, "want an integer or null");
    return std::nullopt;
  }
  return value->get<int64_t>();
}

// Milliseconds reads a number of milliseconds (possibly fractional) or null at `key`.
std::optional<double> Milliseconds(JsonFields& f, std::string_view key) {
  const nlohmann::json* value = f.Any(key);
  if (value == nullptr || value->is_null()) {
    return std::nullopt;
  }
  if (!value->is_number() || value->get<double>() < 0) {
    f.Fail(key, "want a number of milliseconds or null");
    return std::nullopt;
  }
  return value->get<double>();
}

// Objects calls `read` with a JsonFields of each element of the array at `key`.
template <typename Fn>
void Objects(JsonFields& f, std::string_view key, bool required, Fn read) {
  const nlohmann::json* array = f.Array(key, required);
  if (array == nullptr) {
    return;
  }
  for (size_t i = 0; i < array->size() && f.ok(); ++i) {
    JsonFields element((*array)[i], JoinPath(f.path(), key) + "[" + std::to_string(i) + "]");
    read(element);
    if (Status done = element.Finish(); !done.ok()) {
      f.Absorb(done.error());
    }
  }
}

// Ignore marks keys that readers derive again (totals, levels, ...) as known.
void Ignore(JsonFields& f, std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    (void)f.Any(key);
  }
}

std::chrono::steady_clock::time_point At(std::chrono::steady_clock::time_point base,
                                         std::optional<double> ms) {
  if (!ms) {
    return {};
  }
  return base + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double, std::milli>(*ms));
}

ServerObservation ReadObservation(JsonFields& f, std::chrono::steady_clock::time_point base) {
  ServerObservation o;
  o.index = static_cast<uint64_t>(f.Integer("index", 0, 0, INT64_MAX));
  o.tls = f.Bool("tls", true);
  o.client_hello_seen = f.Bool("client_hello_seen", false);
  o.handshake_index = static_cast<uint64_t>(f.Integer("handshake_index", 0, 0, INT64_MAX));
  o.chain_index = static_cast<uint32_t>(f.Integer("chain_index", 0, 0, UINT32_MAX));
  o.sni = f.String("sni");
  o.offered_versions = f.StringList("offered_versions");
  o.handshake_completed = f.Bool("handshake_completed", false);
  o.negotiated_version = f.String("negotiated_version");
  if (std::optional<int64_t> alert = NullableInt(f, "alert_received")) {
    o.alert_received = static_cast<int>(*alert);
  }
  o.alert_description = f.String("alert_description");
  if (std::optional<int64_t> alert = NullableInt(f, "alert_sent")) {
    o.alert_sent = static_cast<int>(*alert);
  }
  o.app_bytes = static_cast<uint64_t>(f.Integer("app_bytes", 0, 0, INT64_MAX));
  o.first_request_line = f.String("first_request_line");
  o.websocket_upgrade = f.Bool("websocket_upgrade", false);
  o.end = EnumField<ConnectionEnd, kEnds>(f, "end", EndNameOf);
  o.detail = f.String("detail");
  o.accepted_at = At(base, Milliseconds(f, "accepted_ms"));
  o.handshake_done_at = At(base, Milliseconds(f, "handshake_done_ms"));
  o.first_data_at = At(base, Milliseconds(f, "first_data_ms"));
  o.ended_at = At(base, Milliseconds(f, "ended_ms"));
  return o;
}

// Owned: the scenarios and targets of a report by name, before results point to them.
struct Owned {
  std::map<std::string, size_t> scenario_index;
  std::map<std::string, size_t> target_index;
};

JobResult ReadResult(JsonFields& f, const ReportData& data, const Owned& owned) {
  JobResult r;
  std::string scenario = f.String("scenario");
  std::string target = f.String("target");
  if (auto it = owned.scenario_index.find(scenario); it != owned.scenario_index.end()) {
    r.scenario = &data.scenarios[it->second];
  } else if (f.ok()) {
    f.Fail("scenario", "'" + scenario + "' is not in the report's scenarios");
  }
  if (auto it = owned.target_index.find(target); it != owned.target_index.end()) {
    r.target = &data.targets[it->second];
  } else if (f.ok()) {
    f.Fail("target", "'" + target + "' is not in the report's targets");
  }
  Ignore(f, {"product", "level", "clauses", "description", "want", "problems", "failed_levels"});
  r.repeat = static_cast<int>(f.Integer("repeat", 0, 0, 1000000));
  r.status = EnumField<JobStatus, kStatuses>(f, "status", StatusNameOf);
  (void)f.String("got");
  r.message = f.String("message");
  r.deviation = NullableString(f, "deviation");
  r.duration = std::chrono::milliseconds(f.Integer("duration_ms", 0, 0, INT64_MAX));
  r.rerun = f.String("rerun");
  // Connections: evidence; the time points are rebuilt relative to one base.
  const nlohmann::json* connections = f.Array("connections", true);
  bool unset_accept = false;
  if (connections != nullptr) {
    for (const nlohmann::json& c : *connections) {
      if (c.is_object() && c.contains("observations") && c["observations"].is_array()) {
        for (const nlohmann::json& o : c["observations"]) {
          unset_accept |= o.is_object() && o.contains("accepted_ms") && o["accepted_ms"].is_null();
        }
      }
    }
  }
  auto base = unset_accept ? std::chrono::steady_clock::time_point{}
                           : std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  Objects(f, "connections", true, [&](JsonFields& c) {
    ConnectionEvidence e;
    e.connection = c.String("connection");
    e.plain_http = c.Bool("plain_http", false);
    Ignore(c, {"expected", "observed", "ok", "evidence"});
    Objects(c, "observations", true,
            [&](JsonFields& o) { e.observations.push_back(ReadObservation(o, base)); });
    r.connections.push_back(std::move(e));
  });
  if (const nlohmann::json* verdict = f.Object("verdict", true)) {
    JsonFields v(*verdict, JoinPath(f.path(), "verdict"));
    r.verdict.pass = v.Bool("pass", false);
    r.verdict.headline = EnumField<Outcome, kOutcomes>(v, "headline", OutcomeNameOf);
    Objects(v, "connections", true, [&](JsonFields& c) {
      ConnectionVerdict cv;
      cv.connection = c.String("connection");
      if (const nlohmann::json* expected = c.Array("expected", true)) {
        cv.expected = OutcomeList(c, *expected, JoinPath(c.path(), "expected"));
      }
      cv.observed = EnumField<Outcome, kOutcomes>(c, "observed", OutcomeNameOf);
      cv.ok = c.Bool("ok", true);
      cv.evidence = c.String("evidence");
      r.verdict.connections.push_back(std::move(cv));
    });
    if (Status done = v.Finish(); !done.ok()) {
      f.Absorb(done.error());
    }
  }
  Objects(f, "checks", true, [&](JsonFields& c) {
    Check check;
    check.kind = EnumField<CheckKind, kCheckKinds>(c, "check", KindNameOf);
    check.subject = NullableString(c, "subject");
    check.grade = EnumField<Grade, kGrades>(c, "level", GradeNameOf);
    check.clauses = c.StringList("clauses");
    check.ok = c.Bool("ok", true);
    check.detail = NullableString(c, "detail");
    r.verdict.checks.push_back(std::move(check));
  });
  if (const nlohmann::json* process = f.Object("process", true)) {
    JsonFields p(*process, JoinPath(f.path(), "process"));
    (void)p.String("description");
    std::optional<int64_t> exit_code = NullableInt(p, "exit_code");
    std::optional<int64_t> signal = NullableInt(p, "signal");
    if (exit_code) {
      r.process.kind = ExitKind::kExited;
      r.process.exit_code = static_cast<int>(*exit_code);
    } else if (signal) {
      r.process.kind = ExitKind::kSignaled;
      r.process.signal = static_cast<int>(*signal);
    }
    r.process.killed_by_harness = p.Bool("killed_by_harness", false);
    if (Status done = p.Finish(); !done.ok()) {
      f.Absorb(done.error());
    }
  }
  r.stdout_tail = f.String("stdout_tail");
  r.stderr_tail = f.String("stderr_tail");
  r.log_tail = f.String("log_tail");
  r.workdir = NullableString(f, "workdir");
  return r;
}

Scenario ReadScenario(JsonFields& f) {
  Scenario s;
  s.id = f.String("id");
  s.level = EnumField<Level, kLevels>(f, "level", LevelNameOf);
  s.clauses = f.StringList("clauses");
  s.description = f.String("description");
  for (const std::string& name : f.StringList("products")) {
    std::optional<Product> p = ParseProduct(name);
    if (!p) {
      f.Fail("products", "unknown product '" + name + "'");
    } else {
      s.products.push_back(*p);
    }
  }
  if (const nlohmann::json* want = f.Object("want", true)) {
    for (const auto& [connection, outcomes] : want->items()) {
      s.expect[connection] = OutcomeList(f, outcomes, JoinPath(f.path(), "want." + connection));
    }
  }
  if (const nlohmann::json* sequences = f.Object("sequences", true)) {
    for (const auto& [connection, steps] : sequences->items()) {
      std::string path = JoinPath(f.path(), "sequences." + connection);
      if (!steps.is_array()) {
        f.Fail("sequences." + connection, "want an array of outcome arrays");
        continue;
      }
      for (size_t i = 0; i < steps.size(); ++i) {
        s.sequences[connection].push_back(
            OutcomeList(f, steps[i], path + "[" + std::to_string(i) + "]"));
      }
    }
  }
  return s;
}

std::string Prefixed(std::string_view source, const Error& error) {
  return std::string(source) + ": " + error.message;
}

}  // namespace

ReportInputs ReportData::Inputs() const {
  ReportInputs in{&results, &targets, &scenarios, &clauses, duration};
  in.info = &info;
  in.configurations = &configurations;
  return in;
}

Result<ReportData> ReadJsonReport(std::string_view text, std::string_view source) {
  Result<nlohmann::json> parsed = ParseJsonText(text, source);
  if (!parsed.ok()) {
    return parsed.take_error();
  }
  ReportData data;
  data.source = std::string(source);
  JsonFields f(*parsed, "");
  if (f.String("tool") != "fpconform" && f.ok()) {
    f.Fail("tool", "want \"fpconform\": not an fpconform report");
  }
  int64_t version = f.Integer("report_version", 0, 0, 1000);
  if (f.ok() && version != kJsonReportVersion) {
    f.Fail("report_version", "want " + std::to_string(kJsonReportVersion) + ", got " +
                                 std::to_string(version) +
                                 " (write the report again with this fpconform)");
  }
  if (const nlohmann::json* run = f.Object("run", true)) {
    JsonFields r(*run, "run");
    data.info.suite_version = NullableString(r, "suite_version");
    data.info.catalog_digest = NullableString(r, "catalog_digest");
    data.info.revision = NullableString(r, "revision");
    data.info.started_at = NullableString(r, "started_at");
    data.info.host = NullableString(r, "host");
    data.info.complete = r.Bool("complete", true);
    if (Status done = r.Finish(); !done.ok()) {
      f.Absorb(done.error());
    }
  }
  data.duration = std::chrono::milliseconds(f.Integer("duration_ms", 0, 0, INT64_MAX));
  Ignore(f, {"totals", "levels", "profile"});
  Owned owned;
  Objects(f, "targets", true, [&](JsonFields& t) {
    TargetDescriptor target;
    target.name = t.String("name");
    target.product = EnumField<Product, kProducts>(t, "product", ProductNameOf);
    target.file = t.String("file");
    target.description = t.String("description");
    Ignore(t, {"levels"});
    if (!owned.target_index.emplace(target.name, data.targets.size()).second) {
      t.Fail("name", "target '" + target.name + "' is listed twice");
    }
    data.targets.push_back(std::move(target));
  });
  Objects(f, "scenarios", true, [&](JsonFields& s) {
    Scenario scenario = ReadScenario(s);
    if (!owned.scenario_index.emplace(scenario.id, data.scenarios.size()).second) {
      s.Fail("id", "scenario '" + scenario.id + "' is listed twice");
    }
    data.scenarios.push_back(std::move(scenario));
  });
  Objects(f, "clauses", true, [&](JsonFields& c) {
    Clause clause;
    clause.id = c.String("id");
    clause.level = EnumField<Level, kLevels>(c, "level", LevelNameOf);
    clause.summary = c.String("summary");
    Ignore(c, {"scenarios", "targets"});
    data.clauses.push_back(std::move(clause));
  });
  // Results last: they point into the vectors above, which no longer grow.
  if (f.ok()) {
    Objects(f, "results", true,
            [&](JsonFields& r) { data.results.push_back(ReadResult(r, data, owned)); });
  }
  Objects(f, "configurations", true, [&](JsonFields& c) {
    std::string target = c.String("target");
    std::string scenario = c.String("scenario");
    data.configurations[{target, scenario}] = c.String("text");
  });
  if (Status done = f.Finish(); !done.ok()) {
    return MakeError(ErrorCode::kInvalidInput, Prefixed(source, done.error()));
  }
  return data;
}

Result<ReportData> ReadJsonReportFile(const std::filesystem::path& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return text.take_error();
  }
  return ReadJsonReport(*text, path.string());
}

Result<ReportData> MergeReports(std::vector<ReportData> parts) {
  ReportData merged;
  if (parts.empty()) {
    return MakeError(ErrorCode::kInvalidInput, "no report to merge");
  }
  merged.source = parts[0].source;
  merged.info = parts[0].info;
  merged.clauses = parts[0].clauses;
  std::map<std::string, size_t> target_index, scenario_index;
  std::set<std::string> hosts;
  std::vector<std::string> host_order;
  for (const ReportData& part : parts) {
    const std::string& digest = part.info.catalog_digest;
    if (!digest.empty() && !merged.info.catalog_digest.empty() &&
        digest != merged.info.catalog_digest) {
      return MakeError(ErrorCode::kInvalidInput,
                       part.source + ": run.catalog_digest: " + digest + " differs from " +
                           parts[0].source + "'s " + merged.info.catalog_digest +
                           " (reports of different catalogs do not merge)");
    }
    if (merged.info.catalog_digest.empty()) {
      merged.info.catalog_digest = digest;
    }
    if (!part.info.started_at.empty() &&
        (merged.info.started_at.empty() || part.info.started_at < merged.info.started_at)) {
      merged.info.started_at = part.info.started_at;
    }
    if (!part.info.host.empty() && hosts.insert(part.info.host).second) {
      host_order.push_back(part.info.host);
    }
    merged.info.complete = merged.info.complete && part.info.complete;
    merged.duration = std::max(merged.duration, part.duration);
    for (const TargetDescriptor& t : part.targets) {
      auto [it, added] = target_index.emplace(t.name, merged.targets.size());
      if (added) {
        merged.targets.push_back(t);
      } else if (merged.targets[it->second].product != t.product) {
        return MakeError(ErrorCode::kInvalidInput,
                         part.source + ": targets: '" + t.name + "' is a " +
                             ProductName(t.product) + " target here and a " +
                             ProductName(merged.targets[it->second].product) + " one in " +
                             parts[0].source);
      }
    }
    for (const Scenario& s : part.scenarios) {
      if (scenario_index.emplace(s.id, 0).second) {
        merged.scenarios.push_back(s);
      }
    }
    for (const auto& [key, text] : part.configurations) {
      merged.configurations.emplace(key, text);
    }
  }
  merged.info.host.clear();
  for (const std::string& host : host_order) {
    merged.info.host += (merged.info.host.empty() ? "" : ", ") + host;
  }
  std::sort(merged.scenarios.begin(), merged.scenarios.end(),
            [](const Scenario& a, const Scenario& b) { return a.id < b.id; });
  for (size_t i = 0; i < merged.scenarios.size(); ++i) {
    scenario_index[merged.scenarios[i].id] = i;
  }
  std::map<std::tuple<size_t, std::string, int>, const ReportData*> seen;
  for (const ReportData& part : parts) {
    for (const JobResult& r : part.results) {
      size_t t = target_index.at(r.target->name);
      auto [it, added] = seen.emplace(std::tuple{t, r.scenario->id, r.repeat}, &part);
      if (!added) {
        return MakeError(ErrorCode::kInvalidInput,
                         part.source + ": results: " + r.scenario->id + " [" + r.target->name +
                             " #" + std::to_string(r.repeat + 1) + "] is also in " +
                             it->second->source + " (overlapping shards)");
      }
      JobResult copy = r;
      copy.target = &merged.targets[t];
      copy.scenario = &merged.scenarios[scenario_index.at(r.scenario->id)];
      merged.results.push_back(std::move(copy));
    }
  }
  std::stable_sort(merged.results.begin(), merged.results.end(),
                   [&](const JobResult& a, const JobResult& b) {
                     return std::tuple{a.target - merged.targets.data(), a.scenario->id, a.repeat} <
                            std::tuple{b.target - merged.targets.data(), b.scenario->id, b.repeat};
                   });
  return merged;
}

const char* ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kFixed:
      return "fixed";
    case ChangeKind::kRegressed:
      return "regressed";
    case ChangeKind::kNew:
      return "new";
    case ChangeKind::kRemoved:
      return "removed";
  }
  return "?";
}

namespace {

// LevelState: how a target's runs of one scenario did at one level of check.
struct LevelState {
  bool failed = false;
  std::string status;  // the status of the first run that decided it
  std::string message;
};

// LevelStates returns, per (target, scenario, level), how the runs did there; a run
// counts at a level as in CountLevels.
std::map<std::tuple<std::string, std::string, std::string>, LevelState> LevelStates(
    const ReportData& report) {
  std::map<std::tuple<std::string, std::string, std::string>, LevelState> states;
  for (const JobResult& r : report.results) {
    std::vector<std::pair<Grade, bool>> levels;  // level, failed there
    if (r.status == JobStatus::kKnownDeviation || r.status == JobStatus::kNotApplicable ||
        r.status == JobStatus::kError || r.status == JobStatus::kDeviationFixed ||
        r.verdict.checks.empty()) {
      levels.push_back({GradeOf(r.scenario->level), IsFailure(r.status)});
    } else {
      for (Grade g : {Grade::kNormative, Grade::kInferred, Grade::kImplementationDefined}) {
        if (r.verdict.HasChecksAt(g)) {
          levels.push_back({g, r.verdict.FailsAt(g)});
        }
      }
    }
    for (const auto& [grade, failed] : levels) {
      auto key = std::tuple{r.target->name, r.scenario->id, std::string(GradeName(grade))};
      auto [it, added] = states.emplace(key, LevelState{});
      LevelState& state = it->second;
      std::string status =
          failed && r.status == JobStatus::kPass ? "fail" : JobStatusName(r.status);
      if (added || (failed && !state.failed)) {
        state.status = status;
        state.message = r.message;
      }
      state.failed = state.failed || failed;
    }
  }
  return states;
}

}  // namespace

std::vector<ReportChange> CompareReports(const ReportData& before, const ReportData& after) {
  auto old_states = LevelStates(before);
  auto new_states = LevelStates(after);
  std::vector<ReportChange> changes;
  auto change = [&](ChangeKind kind, const auto& key, const LevelState* was,
                    const LevelState* now) {
    changes.push_back(ReportChange{kind, std::get<0>(key), std::get<1>(key), std::get<2>(key),
                                   was != nullptr ? was->status : "",
                                   now != nullptr ? now->status : "",
                                   now != nullptr ? now->message : was->message});
  };
  for (const auto& [key, now] : new_states) {
    auto it = old_states.find(key);
    if (it == old_states.end()) {
      change(ChangeKind::kNew, key, nullptr, &now);
    } else if (it->second.failed && !now.failed && now.status == "pass") {
      change(ChangeKind::kFixed, key, &it->second, &now);
    } else if (!it->second.failed && it->second.status == "pass" && now.failed) {
      change(ChangeKind::kRegressed, key, &it->second, &now);
    }
  }
  for (const auto& [key, was] : old_states) {
    if (new_states.find(key) == new_states.end()) {
      change(ChangeKind::kRemoved, key, &was, nullptr);
    }
  }
  std::stable_sort(
      changes.begin(), changes.end(), [](const ReportChange& a, const ReportChange& b) {
        return std::tie(a.target, a.scenario, a.level) < std::tie(b.target, b.scenario, b.level);
      });
  return changes;
}

std::string ChangeLine(const ReportChange& c) {
  std::string kind = ChangeKindName(c.kind);
  std::transform(kind.begin(), kind.end(), kind.begin(), [](char ch) { return std::toupper(ch); });
  std::string line = kind + " " + c.scenario + " [" + c.target + "] (" + c.level + "): ";
  if (c.kind == ChangeKind::kNew) {
    line += c.after;
  } else if (c.kind == ChangeKind::kRemoved) {
    line += "was " + c.before;
  } else {
    line += c.before + " -> " + c.after;
  }
  if (!c.message.empty()) {
    line += ": " + c.message;
  }
  return TerminalSafe(line);
}

}  // namespace fpconform::harness
