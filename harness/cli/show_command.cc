// fpconform show: one scenario as a reader needs it, and the dry render `run` reuses.
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/command_line.h"
#include "base/files.h"
#include "harness/cli/commands.h"
#include "harness/run/render.h"

namespace fpconform::harness {

Result<std::string> DryRender(const Scenario& scenario, const TargetDescriptor& target,
                              const certs::Pki& pki, const std::string& template_text) {
  if (target.config_file.empty() ||
      (target.product != Product::kEms && target.product != Product::kLsr)) {
    return std::string();
  }
  RenderContext render;
  render.scenario = &scenario;
  render.pki = &pki;
  render.fixtures_dir = "fixtures";
  if (target.Lacks(Capability::kIpLiteralHost)) {
    render.host = "localhost";
  }
  render.ports = {{"http_server", 50000},
                  {"platform", 50001},
                  {"edge", 50002},
                  {"edge2", 50003},
                  {"edge3", 50004}};
  for (const ServerSpec& spec : scenario.servers) {
    if (!spec.same_as.empty() && render.ports.count(spec.same_as) != 0) {
      render.ports[spec.connection] = render.ports[spec.same_as];
    }
  }
  if (target.product == Product::kEms) {
    return RenderEmsConfig(render, template_text, target.config_template.string());
  }
  return RenderLsrConfig(render, template_text);
}

Configurations DryRenderJobs(const std::vector<Job>& jobs, const RunEnvironment& environment) {
  Configurations out;
  for (const Job& job : jobs) {
    auto key = std::pair{job.target->name, job.scenario->id};
    if (job.repeat > 0 || out.count(key) != 0 || job.target->config_file.empty()) {
      continue;
    }
    Result<std::string> text =
        DryRender(*job.scenario, *job.target, environment.pki(), environment.Template(*job.target));
    if (!text.ok() || text->empty()) {
      continue;
    }
    // A 10000-entry allowlist would make the report megabytes long: its head and tail do.
    if (text->size() > kReportConfigurationBytes) {
      size_t head = kReportConfigurationBytes * 3 / 4;
      size_t tail = kReportConfigurationBytes / 4;
      *text = text->substr(0, head) + "\n[... " + std::to_string(text->size() - head - tail) +
              " bytes cut ...]\n" + text->substr(text->size() - tail);
    }
    out[key] = std::move(*text);
  }
  return out;
}

namespace {

struct ShowOptions {
  std::string scenario;
  std::string product;
};

std::string Hex(const std::array<uint8_t, 32>& digest) {
  std::string out;
  char buf[4];
  for (size_t i = 0; i < digest.size(); ++i) {
    std::snprintf(buf, sizeof(buf), i == 0 ? "%02X" : ":%02X", digest[i]);
    out += buf;
  }
  return out;
}

std::string Outcomes(const std::vector<Outcome>& outcomes) {
  std::string out;
  for (Outcome o : outcomes) {
    out += (out.empty() ? "" : " or ") + std::string(OutcomeName(o));
  }
  return out;
}

const char* TlsName(ScenarioTls tls) {
  switch (tls) {
    case ScenarioTls::kAny:
      return "any version";
    case ScenarioTls::kTls12:
      return "TLS 1.2 only";
    case ScenarioTls::kTls13:
      return "TLS 1.3 only";
  }
  return "?";
}

int Show(const ShowOptions& options, const Paths& paths, const SuiteLoader& load) {
  auto fail = [](const std::string& message) {
    std::cerr << "fpconform: " << message << "\n";
    return kExitUsage;
  };
  std::optional<Product> only;
  if (!options.product.empty()) {
    only = ParseProduct(options.product);
    if (!only || *only == Product::kClient) {
      return fail("--product " + options.product + ": want ems or lsr");
    }
  }
  std::vector<Clause> clauses;
  Result<std::vector<Scenario>> scenarios = load(&clauses);
  if (!scenarios.ok()) {
    return fail(scenarios.error().message);
  }
  const Scenario* s = nullptr;
  for (const Scenario& candidate : *scenarios) {
    if (candidate.id == options.scenario) {
      s = &candidate;
    }
  }
  if (s == nullptr) {
    return fail("no scenario '" + options.scenario + "' ('fpconform list' shows the ids)");
  }
  if (only && !s->AppliesTo(*only)) {
    return fail("--product " + options.product + ": " + s->id + " does not apply to it");
  }
  std::cout << s->id << " (" << LevelName(s->level) << ", " << s->file << ")\n  " << s->description
            << "\n\nclauses:\n";
  for (const std::string& id : s->clauses) {
    for (const Clause& c : clauses) {
      if (c.id == id) {
        std::printf("  %-4s %-22s %s\n", c.id.c_str(), LevelName(c.level), c.summary.c_str());
      }
    }
  }
  std::cout << "\nproducts:";
  for (Product p : s->products) {
    std::cout << " " << ProductName(p);
  }
  std::cout << "\n\nexpected:\n";
  for (const auto& [connection, outcomes] : s->expect) {
    auto sequence = s->sequences.find(connection);
    if (sequence == s->sequences.end()) {
      std::cout << "  " << connection << ": " << Outcomes(outcomes) << "\n";
      continue;
    }
    std::cout << "  " << connection << ", handshake by handshake:";
    for (size_t i = 0; i < sequence->second.size(); ++i) {
      std::cout << (i == 0 ? " " : ", then ") << Outcomes(sequence->second[i]);
    }
    std::cout << "\n";
  }
  if (s->keeps_running) {
    std::cout << "  the product must still run afterwards (keeps_running)\n";
  }
  if (s->watch_ms > 0) {
    std::cout << "  rejected servers stay watched " << s->watch_ms << " ms\n";
  }
  if (s->diagnostic) {
    std::cout << "  diagnostic pattern: " << s->diagnostic->pattern() << "\n";
  }
  Result<certs::PkiDescription> description = certs::LoadPkiDescription(paths.PkiDescription());
  if (!description.ok()) {
    return fail(description.error().message);
  }
  Result<certs::Pki> pki = certs::Pki::Generate(*description);
  if (!pki.ok()) {
    return fail(pki.error().message);
  }
  std::cout << "\nservers:\n";
  std::vector<std::string> names;
  auto note = [&](const std::string& name) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  };
  for (const ServerSpec& spec : s->servers) {
    std::cout << "  " << spec.connection << ": ";
    if (!spec.same_as.empty()) {
      std::cout << "the server of " << spec.same_as << " (another entry for it)\n";
      continue;
    }
    std::string chain;
    for (const std::string& name : spec.chain) {
      chain += (chain.empty() ? "" : ", ") + name;
      note(name);
    }
    std::cout << "presents " << chain << (spec.chain_from_issuers ? " and its intermediates" : "")
              << ", " << TlsName(spec.tls) << (spec.plain_http ? ", plain HTTP" : "") << "\n";
    for (size_t i = 0; i < spec.later_chains.size(); ++i) {
      std::string later;
      for (const std::string& name : spec.later_chains[i].names) {
        later += (later.empty() ? "" : ", ") + name;
        note(name);
      }
      std::cout << "    handshake " << i + 2 << (i + 1 == spec.later_chains.size() ? " on" : "")
                << ": " << later << "\n";
    }
  }
  std::cout << "\ncertificates:\n";
  for (const std::string& name : names) {
    const certs::Certificate* cert = pki->Find(name);
    if (cert == nullptr) {
      continue;
    }
    for (const certs::Certificate* c : cert->Chain()) {
      std::cout << "  " << c->name << ": " << c->subject << ", issued by " << c->issuer_name
                << "\n    SHA-256 " << Hex(c->sha256) << "\n";
    }
  }
  for (Product product : {Product::kEms, Product::kLsr}) {
    if ((only && *only != product) || !s->AppliesTo(product)) {
      continue;
    }
    TargetDescriptor target;
    target.product = product;
    target.config_file = product == Product::kEms ? "config.json" : "config.lua";
    target.config_template = paths.DefaultTemplate(product);
    Result<std::string> templ = ReadFile(target.config_template);
    if (!templ.ok()) {
      return fail(templ.error().message);
    }
    Result<std::string> config = DryRender(*s, target, *pki, *templ);
    if (!config.ok()) {
      return fail(s->file + ": " + config.error().message);
    }
    std::cout << "\n"
              << target.config_file << " for " << ProductName(product)
              << " (dry render: a run writes its own ports and fixture paths):\n"
              << *config << (config->empty() || config->back() == '\n' ? "" : "\n");
  }
  return 0;
}

}  // namespace

Subcommand AddShowCommand(CLI::App& app, const std::function<void(CLI::App*)>& add_common,
                          std::function<Paths()> paths, SuiteLoader load) {
  auto options = std::make_shared<ShowOptions>();
  CLI::App* command = app.add_subcommand(
      "show",
      "Show one scenario: description, clauses, level, expected outcomes, servers and "
      "certificates, and the configuration the harness would write (a dry render)");
  command->add_option("SCENARIO", options->scenario, "A scenario id (fpconform list)")->required();
  command->add_option("--product", options->product, "ems or lsr")
      ->default_str("every product the scenario applies to");
  add_common(command);
  return {command, [options, paths = std::move(paths), load = std::move(load)] {
            return Show(*options, paths(), load);
          }};
}

}  // namespace fpconform::harness
