#include "harness/cli/fuzz_expect.h"

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <set>

#include "base/ossl.h"
#include "harness/run/render.h"
#include "reference/fpref.h"
#include "reference/verify.h"

namespace fpconform::harness {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// kFirstPort: the ports written into configurations the reference judges (never dialled).
constexpr uint16_t kFirstPort = 41001;

// ChainNames returns the certificates a server presents on handshake `chain`.
std::vector<std::string> ChainNames(const certs::Pki& pki, const std::vector<std::string>& names,
                                    bool from_issuers) {
  if (!from_issuers || names.size() != 1) {
    return names;
  }
  std::vector<std::string> out;
  if (const certs::Certificate* leaf = pki.Find(names.front()); leaf != nullptr) {
    for (const certs::Certificate* c : leaf->Chain()) {
      out.push_back(c->name);
    }
  }
  return out;
}

// DecideChain returns the reference's decision on a server presenting `names` (leaf first)
// to a connection checked with `policy`: accept or reject.
Outcome DecideChain(const certs::Pki& pki, const ref::VerifyPolicy& policy,
                    const std::vector<std::string>& names) {
  if (names.empty() || pki.Find(names.front()) == nullptr) {
    return Outcome::kReject;
  }
  UniquePtr<X509_STORE> store(X509_STORE_new());
  if (policy.validate) {
    for (const std::string& file : policy.ca_files) {
      if (X509_STORE_load_file(store.get(), file.c_str()) != 1) {
        // The reference refuses to start on a CA file it cannot load; a rendered
        // configuration always names an existing bundle, so this is not reached.
        return Outcome::kExit;
      }
    }
  }
  UniquePtr<STACK_OF(X509)> presented(sk_X509_new_null());
  for (const std::string& name : names) {
    if (const certs::Certificate* c = pki.Find(name); c != nullptr) {
      sk_X509_push(presented.get(), UpRef(c->cert.get()).release());
    }
  }
  UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  X509* leaf = pki.Find(names.front())->cert.get();
  if (ctx == nullptr || X509_STORE_CTX_init(ctx.get(), store.get(), leaf, presented.get()) != 1) {
    return Outcome::kReject;
  }
  X509_STORE_CTX_set_default(ctx.get(), "ssl_server");
  ref::Decision decision = ref::DecideServerCertificate(policy, ctx.get());
  return decision.accepted ? Outcome::kAccept : Outcome::kReject;
}

}  // namespace

Result<ProfileChoices> LoadProfileChoices(const fs::path& report, const std::string& target) {
  Result<std::string> text = ReadFile(report);
  if (!text.ok()) {
    return text.take_error();
  }
  json doc = json::parse(*text, nullptr, false);
  if (!doc.is_object() || !doc.contains("profile") || !doc["profile"].is_array()) {
    return MakeError(ErrorCode::kInvalidInput,
                     report.string() + ": profile: missing; want a report of fpconform run --json");
  }
  ProfileChoices out;
  bool seen = false;
  for (size_t i = 0; i < doc["profile"].size(); ++i) {
    const json& entry = doc["profile"][i];
    const std::string where = report.string() + ": profile[" + std::to_string(i) + "]";
    if (!entry.is_object() || !entry.contains("target") || !entry["target"].is_string() ||
        !entry.contains("clause") || !entry["clause"].is_string() || !entry.contains("scenarios") ||
        !entry["scenarios"].is_array()) {
      return MakeError(ErrorCode::kInvalidInput,
                       where + ": want an object with target, clause and scenarios");
    }
    if (entry["target"] != target) {
      continue;
    }
    seen = true;
    bool any_exit = false, any_start = false;
    for (const json& scenario : entry["scenarios"]) {
      if (!scenario.is_object() || !scenario.contains("shown") || !scenario["shown"].is_array()) {
        return MakeError(ErrorCode::kInvalidInput, where + ": scenarios: want objects with shown");
      }
      for (const json& shown : scenario["shown"]) {
        // "exit", or one outcome per connection ("edge exit, edge2 exit").
        bool exit = shown.is_string() && shown.get<std::string>().find("exit") != std::string::npos;
        any_exit = any_exit || exit;
        any_start = any_start || !exit;
      }
    }
    const bool unstable = entry.value("unstable", false);
    out[entry["clause"].get<std::string>()] = unstable || any_exit == any_start
                                                  ? ProfileChoice::kNone
                                              : any_exit ? ProfileChoice::kExits
                                                         : ProfileChoice::kStarts;
  }
  if (!seen) {
    return MakeError(ErrorCode::kInvalidInput,
                     report.string() + ": profile: no entry for target " + target +
                         " (want a report of fpconform run --json --target " + target + ")");
  }
  return out;
}

Result<std::unique_ptr<ReferenceExpectation>> ReferenceExpectation::Create(
    const certs::Pki* pki, fs::path fixtures_dir, Product product, std::string template_text,
    std::string template_name, ScenarioVocabulary vocabulary) {
  Result<TempDir> scratch = TempDir::Create("fpconform-fuzz-ref-");
  if (!scratch.ok()) {
    return scratch.take_error();
  }
  std::unique_ptr<ReferenceExpectation> out(new ReferenceExpectation());
  out->pki_ = pki;
  out->fixtures_dir_ = std::move(fixtures_dir);
  out->product_ = product;
  out->template_text_ = std::move(template_text);
  out->template_name_ = std::move(template_name);
  out->vocabulary_ = std::move(vocabulary);
  out->scratch_ = std::make_unique<TempDir>(std::move(*scratch));
  return out;
}

Result<Scenario> ReferenceExpectation::ParseOne(const json& scenario) const {
  json file{{"description", "generated"}, {"scenarios", json::array({scenario})}};
  Result<std::vector<Scenario>> parsed =
      ParseScenarioFile(file.dump(), "fuzz.json", "fuzz", vocabulary_);
  if (!parsed.ok()) {
    return parsed.take_error();
  }
  if (parsed->size() != 1) {
    return MakeError(ErrorCode::kInvalidInput, "fuzz.json: want one scenario");
  }
  return std::move(parsed->front());
}

Result<ReferenceExpectation::ReadingOutcomes> ReferenceExpectation::Decide(
    const json& scenario_json, std::string* load_error) const {
  load_error->clear();
  json with_expect = scenario_json;
  with_expect["expect"] = json{{"edge", "accept"}};
  Result<Scenario> scenario = ParseOne(with_expect);
  if (!scenario.ok()) {
    return scenario.take_error();
  }
  RenderContext context;
  context.scenario = &*scenario;
  context.pki = pki_;
  context.fixtures_dir = fixtures_dir_;
  std::map<uint16_t, std::string> connection_of_port;
  uint16_t port = kFirstPort;
  for (const ServerSpec& server : scenario->servers) {
    if (server.same_as.empty()) {
      context.ports[server.connection] = port;
      connection_of_port[port] = server.connection;
      ++port;
    }
  }
  if (product_ == Product::kEms && context.ports.count("platform") == 0) {
    context.ports["platform"] = port;
    connection_of_port[port] = "platform";
    ++port;
  }
  for (const ServerSpec& server : scenario->servers) {
    if (!server.same_as.empty() && context.ports.count(server.same_as) != 0) {
      context.ports[server.connection] = context.ports[server.same_as];
    }
  }
  context.ports["http_server"] = port;
  Result<std::string> text = product_ == Product::kEms
                                 ? RenderEmsConfig(context, template_text_, template_name_)
                                 : RenderLsrConfig(context, template_text_);
  if (!text.ok()) {
    return text.take_error();
  }
  fs::path config = scratch_->path() / (product_ == Product::kEms ? "config.json" : "config.lua");
  if (Status written = WriteFile(config, *text); !written.ok()) {
    return written.take_error();
  }
  last_config_ = *text;
  // The judged connections: every server of the product (the platform too, for the EMS).
  ReadingOutcomes out;
  std::vector<std::string> judged;
  for (const auto& [p, connection] : connection_of_port) {
    judged.push_back(connection);
  }
  Result<std::unique_ptr<ref::ProductClient>> client = ref::ProductClient::Load(
      product_ == Product::kEms ? ref::Product::kEms : ref::Product::kLsr, config);
  Status prepared = client.ok() ? (*client)->Prepare() : Status::Ok();
  if (!client.ok() || !prepared.ok()) {
    // The reference exits on a file it refuses and on CA files it cannot load (fpref.h).
    *load_error = !client.ok() ? client.error().message : prepared.error().message;
    for (const std::string& connection : judged) {
      out[connection] = {Outcome::kExit};
    }
    return out;
  }
  // One policy per port: the first plan that dials it (a same_as entry shares its policy).
  std::map<uint16_t, const ref::ConnectionPlan*> plan_of_port;
  for (const ref::ConnectionPlan& plan : (*client)->plans()) {
    if (plan.port > 0 && plan.port < 65536 &&
        plan_of_port.count(static_cast<uint16_t>(plan.port)) == 0) {
      plan_of_port[static_cast<uint16_t>(plan.port)] = &plan;
    }
  }
  for (const auto& [p, connection] : connection_of_port) {
    const ServerSpec* server = scenario->Server(connection);
    std::vector<std::vector<std::string>> chains;
    if (server != nullptr) {
      chains.push_back(ChainNames(*pki_, server->chain, server->chain_from_issuers));
      for (const ChainSpec& later : server->later_chains) {
        chains.push_back(ChainNames(*pki_, later.names, later.from_issuers));
      }
    } else {
      chains.push_back(ChainNames(*pki_, {"platform"}, true));
    }
    auto plan = plan_of_port.find(p);
    std::vector<Outcome> outcomes;
    for (const std::vector<std::string>& chain : chains) {
      if (plan == plan_of_port.end() || !plan->second->tls) {
        outcomes.push_back(Outcome::kNeverDialled);
      } else {
        outcomes.push_back(DecideChain(*pki_, plan->second->policy, chain));
      }
    }
    out[connection] = outcomes;
  }
  return out;
}

Result<json> ReferenceExpectation::Complete(const std::vector<Reading>& readings,
                                            ProfileChoice profile) const {
  if (readings.empty()) {
    return MakeError(ErrorCode::kInvalidInput, "no reading");
  }
  std::vector<ReadingOutcomes> decided;
  bool exit_allowed = false;
  std::string first_error;
  for (const Reading& reading : readings) {
    std::string load_error;
    Result<ReadingOutcomes> outcomes = Decide(reading.scenario, &load_error);
    if (decided.empty()) {
      first_error = load_error;
      first_config_ = last_config_;
    }
    if (!outcomes.ok()) {
      return outcomes.take_error();
    }
    decided.push_back(std::move(*outcomes));
    exit_allowed = exit_allowed || reading.exit_allowed;
  }
  // The product's own choice at the case's choice point (LoadProfileChoices).
  auto refuses = [](const ReadingOutcomes& r) {
    return std::all_of(r.begin(), r.end(), [](const auto& entry) {
      return entry.second.size() == 1 && entry.second.front() == Outcome::kExit;
    });
  };
  if (profile == ProfileChoice::kExits) {
    for (ReadingOutcomes& r : decided) {
      for (auto& [connection, outcomes] : r) {
        outcomes = {Outcome::kExit};
      }
    }
  } else if (profile == ProfileChoice::kStarts) {
    exit_allowed = false;
    std::vector<ReadingOutcomes> started;
    for (ReadingOutcomes& r : decided) {
      if (!refuses(r)) {
        started.push_back(std::move(r));
      }
    }
    if (!started.empty()) {  // else the reference refuses the file for another reason
      decided = std::move(started);
    } else {
      decided.resize(1);
    }
  }
  // Edge endpoints may wait for the platform (the variant edges-after-platform, C8): where
  // the platform is refused, an edge that is never dialled is allowed.
  bool platform_refused = false;
  for (const ReadingOutcomes& r : decided) {
    auto it = r.find("platform");
    platform_refused =
        platform_refused ||
        (it != r.end() && std::count(it->second.begin(), it->second.end(), Outcome::kReject) > 0);
  }
  json expect = json::object();
  bool any_exit = false;
  for (const auto& judged : decided.front()) {
    const std::string& connection = judged.first;
    // The handshakes judged: the most any reading that starts the product decides (a
    // reading that refuses the configuration decides one exit, whatever the servers).
    size_t steps = 0;
    for (const ReadingOutcomes& r : decided) {
      const std::vector<Outcome>& outcomes = r.at(connection);
      if (!(outcomes.size() == 1 && outcomes.front() == Outcome::kExit)) {
        steps = std::max(steps, outcomes.size());
      }
    }
    steps = std::max<size_t>(steps, 1);
    int exits = 0;
    std::vector<std::set<Outcome>> allowed(steps);
    for (const ReadingOutcomes& r : decided) {
      const std::vector<Outcome>& outcomes = r.at(connection);
      if (outcomes.size() == 1 && outcomes.front() == Outcome::kExit) {
        ++exits;
        continue;
      }
      for (size_t i = 0; i < steps && i < outcomes.size(); ++i) {
        allowed[i].insert(outcomes[i]);
      }
    }
    const bool all_exit = exits == static_cast<int>(decided.size());
    if (all_exit) {
      expect[connection] = "exit";
      any_exit = true;
      continue;
    }
    if (platform_refused && connection != "platform") {
      for (std::set<Outcome>& step : allowed) {
        step.insert(Outcome::kNeverDialled);
      }
    }
    auto names = [](const std::set<Outcome>& set) {
      json out = json::array();
      for (Outcome o : set) {
        out.push_back(OutcomeName(o));
      }
      return out.size() == 1 ? out.front() : out;
    };
    if (steps > 1) {
      if (exits > 0 || exit_allowed) {
        return MakeError(ErrorCode::kInvalidInput,
                         "a configuration exit beside a per-handshake sequence on " + connection);
      }
      json sequence = json::array();
      for (const std::set<Outcome>& step : allowed) {
        sequence.push_back(names(step));
      }
      expect[connection] = json{{"sequence", sequence}};
      continue;
    }
    if (exits > 0 || exit_allowed) {
      allowed[0].insert(Outcome::kExit);
      any_exit = true;
    }
    expect[connection] = names(allowed[0]);
  }
  json scenario = readings.front().scenario;
  scenario["expect"] = expect;
  if (!any_exit) {
    scenario["keeps_running"] = true;
  } else if (scenario.contains("watch_ms")) {
    scenario.erase("watch_ms");
  }
  if (any_exit) {
    // C5 is cited for a legacy key: the diagnostic is then required after the exit.
    // A legacy key: the message must name the key to use, in the output and in the log
    // (C5), when the legacy key is what the reference refused and no other choice point
    // gives the product another reason to refuse the file first.
    if (scenario.contains("legacy_allowlist") && !exit_allowed &&
        first_error.find("fingerprint_allowlist") != std::string::npos) {
      scenario["diagnostic"] = "fingerprint_allowlist";
      scenario["diagnostic_in"] = "both";
    } else {
      scenario["diagnostic"] = nullptr;
      json clauses = json::array();
      for (const json& c : scenario["clauses"]) {
        if (c != "C5") {
          clauses.push_back(c);
        }
      }
      scenario["clauses"] = clauses;
    }
  }
  return scenario;
}

}  // namespace fpconform::harness
